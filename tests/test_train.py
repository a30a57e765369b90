import csv
import re
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import toy_digits
from mlp_mnist.errors import UserError
from mlp_mnist import train as train_module
from mlp_mnist.train import DivergedError, Interrupted, train
from test_model import numpy_sgd_step

# 640 toy training images in minibatches of 64: 10 SGD steps an epoch
SETTINGS = dict(n_hidden=16, batch_size=64, learning_rate=0.5, seed=7)
N_EPOCHS = 9
OUT_FILES = ['checkpoint.npz', 'confusion_matrix.png', 'hidden_weights.png',
             'history.csv', 'learning_curve.png', 'weights.npz']


def quiet(line):
    pass


def untimed(lines):
    """Drop what may differ between two equal runs: times and out paths."""
    return [re.sub(r'(time|in|weights) (\d+\.\ds|\S+npz)', r'\1 -', line)
            for line in lines]


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != 'seconds'} for h in history]


def assert_same_run(result, expected):
    for key in ('w_h', 'w_o'):
        np.testing.assert_array_equal(result[key], expected[key])
        np.testing.assert_array_equal(result['last'][key],
                                      expected['last'][key])
    assert result['best_epoch'] == expected['best_epoch']
    assert without_seconds(result['history']) == without_seconds(
        expected['history'])


@pytest.fixture(scope='module')
def reference(toy_sets, tmp_path_factory):
    """An uninterrupted shuffled run with an out folder: result, lines, out."""
    out = tmp_path_factory.mktemp('reference')
    lines = []
    result = train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=out,
                   log=lines.append, **SETTINGS)
    return result, lines, out


def test_same_seed_gives_same_weights_and_numbers(toy_sets, reference,
                                                  tmp_path):
    result, lines, _ = reference
    np.random.rand(3)  # numpy's global generator must not matter...
    before = np.random.get_state()
    again_lines = []
    again = train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
                  log=again_lines.append, **SETTINGS)
    after = np.random.get_state()

    # ...and must not be touched
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]
    assert_same_run(again, result)
    assert untimed(again_lines) == untimed(lines)
    assert len(lines) == N_EPOCHS + 2


@pytest.mark.parametrize('shuffle', [False, True])
def test_training_matches_numpy_sgd(toy_sets, shuffle):
    # NumPy's SGD in float64 on the minibatches the seed implies: in order,
    # or a permutation drawn per epoch after the initial weights
    (X, y), _, _ = toy_sets
    Y = np.eye(10)[y]
    rng = np.random.RandomState(SETTINGS['seed'])
    w_h = np.float32(rng.randn(784, 16) * 0.01).astype(np.float64)
    w_o = np.float32(rng.randn(16, 10) * 0.01).astype(np.float64)
    costs = []
    for epoch in range(2):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        epoch_costs = []
        for i in range(10):
            rows = order[i * 64:(i + 1) * 64]
            cost, w_h, w_o = numpy_sgd_step(
                X[rows].astype(np.float64), Y[rows], w_h, w_o, 0.5)
            epoch_costs.append(cost)
        costs.append(np.mean(epoch_costs))

    result = train(toy_sets, n_epochs=2, shuffle=shuffle, log=quiet,
                   **SETTINGS)
    np.testing.assert_allclose(result['last']['w_h'], w_h, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(result['last']['w_o'], w_o, rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose([h['cost'] for h in result['history']],
                               costs, rtol=1e-5)


def test_shuffle_leaves_the_callers_arrays_alone(toy_sets, reference):
    rng = np.random.RandomState(0)  # how conftest made toy_sets
    for n, (X, y) in zip((640, 128, 128), toy_sets):
        images, labels = toy_digits(n, rng)
        np.testing.assert_array_equal(X, images.reshape(n, 784) / 256)
        np.testing.assert_array_equal(y, labels)


def test_resume_after_epoch_k_ends_as_uninterrupted_run(toy_sets, reference,
                                                        tmp_path):
    result, lines, out = reference
    train(toy_sets, n_epochs=3, shuffle=True, out=tmp_path, log=quiet,
          **SETTINGS)
    resumed_lines = []
    resumed = train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
                    resume=True, log=resumed_lines.append, **SETTINGS)

    assert_same_run(resumed, result)
    assert 'checkpoint_epoch=3' in resumed_lines[0].split()
    assert untimed(resumed_lines[1:]) == untimed(lines[4:])
    for name in ('weights.npz', 'checkpoint.npz'):
        with np.load(tmp_path / name) as got, np.load(out / name) as want:
            assert got.files == want.files
            for key in want.files:
                if key == 'history':  # all columns but the seconds
                    got_key, want_key = got[key][:, :4], want[key][:, :4]
                else:
                    got_key, want_key = got[key], want[key]
                np.testing.assert_array_equal(got_key, want_key)
    assert sorted(p.name for p in tmp_path.iterdir()) == OUT_FILES


def stop_in_epoch(stop_epoch, monkeypatch):
    """Make Ctrl-C strike after 3 SGD steps of epoch `stop_epoch`."""
    real_train_epoch = train_module.train_epoch

    def train_epoch(train_fn, n_batches, epoch, *args):
        if epoch == stop_epoch:
            real_train_epoch(train_fn, 3, epoch, *args)
            raise KeyboardInterrupt
        return real_train_epoch(train_fn, n_batches, epoch, *args)

    monkeypatch.setattr(train_module, 'train_epoch', train_epoch)


def test_ctrl_c_keeps_last_epoch_and_resume_finishes_the_run(
        toy_sets, reference, tmp_path, monkeypatch):
    stop_in_epoch(5, monkeypatch)
    with pytest.raises(Interrupted) as info:
        train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
              log=quiet, **SETTINGS)
    monkeypatch.undo()
    assert str(info.value) == (f'interrupted in epoch 5; epoch 4 is saved '
                               f'in {tmp_path / "checkpoint.npz"}')
    assert info.value.saved == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'checkpoint.npz', 'history.csv', 'weights.npz']

    resumed = train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
                    resume=True, log=quiet, **SETTINGS)
    assert_same_run(resumed, reference[0])


def test_ctrl_c_after_an_epoch_line_finds_it_saved(toy_sets, tmp_path):
    def interrupt(line):
        if line.startswith('epoch 2/'):
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match='^interrupted after epoch 2; '
                                          'nothing is saved without an out '
                                          'folder$'):
        train(toy_sets, n_epochs=3, n_hidden=4, log=interrupt)
    with pytest.raises(Interrupted, match='^interrupted after epoch 2; '
                                          'epoch 2 is saved in '):
        train(toy_sets, n_epochs=3, n_hidden=4, out=tmp_path, log=interrupt)


@pytest.mark.parametrize('change, message', [
    (dict(batch_size=32), 'made with batch_size=64 (now 32)'),
    (dict(learning_rate=0.1, shuffle=False),
     'made with learning_rate=0.5 (now 0.1), shuffle=True (now False)'),
])
def test_resume_refuses_other_settings(toy_sets, reference, change,
                                       message):
    out = reference[2]
    settings = {**SETTINGS, 'shuffle': True, **change}
    with pytest.raises(UserError, match=re.escape(message)):
        train(toy_sets, n_epochs=N_EPOCHS, out=out, resume=True, log=quiet,
              **settings)


def test_resume_refuses_other_data_and_missing_checkpoint(toy_sets,
                                                          reference,
                                                          tmp_path):
    (X, y), valid, test = toy_sets
    other = ((X, (y + 1) % 10), valid, test)
    with pytest.raises(UserError, match='trained on other data'):
        train(other, n_epochs=N_EPOCHS, shuffle=True, out=reference[2],
              resume=True, log=quiet, **SETTINGS)
    with pytest.raises(UserError, match='no checkpoint there to resume'):
        train(toy_sets, out=tmp_path, resume=True, log=quiet)


def test_nan_cost_stops_training_naming_epoch_minibatch_and_rate(toy_sets):
    (X, y), valid, test = toy_sets
    X = X.copy()
    X[37, 300] = np.nan
    with pytest.raises(DivergedError) as info:
        train(((X, y), valid, test), n_epochs=2, n_hidden=8, batch_size=16,
              learning_rate=0.05, log=quiet)
    # row 37 is in minibatch 37 // 16 + 1 = 3 of 640 / 16 = 40
    message = str(info.value)
    assert message.startswith('the cost became nan in epoch 1, minibatch 3 '
                              'of 40, at learning rate 0.05; try a smaller '
                              '--learning-rate')
    assert '\n' not in message


def test_best_validation_epoch_is_kept_and_reported(toy_sets, reference):
    result, lines, out = reference
    history = result['history']
    valid = [h['valid_acc'] for h in history]
    best = valid.index(max(valid)) + 1  # the first epoch at the maximum
    assert best < N_EPOCHS  # else this test would not tell best from last
    assert result['best_epoch'] == best

    stopped_there = train(toy_sets, n_epochs=best, shuffle=True, log=quiet,
                          **SETTINGS)
    with np.load(out / 'weights.npz', allow_pickle=False) as saved:
        for key in ('w_h', 'w_o'):
            np.testing.assert_array_equal(result[key],
                                          stopped_there['last'][key])
            np.testing.assert_array_equal(saved[key], result[key])
    assert not np.array_equal(result['w_h'], result['last']['w_h'])
    assert untimed(lines[-1:]) == [
        f'done  {N_EPOCHS} epochs in -  best_epoch {best}  '
        f'valid_acc {valid[best - 1]:.4f}  '
        f'test_acc {history[best - 1]["test_acc"]:.4f}  weights -']


@pytest.mark.parametrize('patience', [1, 2, 3])
def test_patience_stops_after_epochs_without_improvement(toy_sets,
                                                         reference,
                                                         patience):
    history = reference[0]['history']
    best_valid, best_epoch = -1, 0
    for h in history:  # where the run without patience would have stopped
        if h['valid_acc'] > best_valid:
            best_valid, best_epoch = h['valid_acc'], h['epoch']
        if h['epoch'] - best_epoch >= patience:
            break
    stop = h['epoch']
    assert stop < N_EPOCHS

    lines = []
    result = train(toy_sets, n_epochs=N_EPOCHS, patience=patience,
                   shuffle=True, log=lines.append, **SETTINGS)
    assert without_seconds(result['history']) == without_seconds(
        history[:stop])
    unit = 'epoch' if patience == 1 else 'epochs'
    assert lines[-2] == (f'early stop: valid_acc has not improved for '
                         f'{patience} {unit}')
    assert result['best_epoch'] == best_epoch


def test_out_folder_holds_history_and_pictures(reference):
    result, _, out = reference
    assert sorted(p.name for p in out.iterdir()) == OUT_FILES

    with open(out / 'history.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ['epoch', 'cost', 'valid_acc', 'test_acc',
                             'seconds']
    assert [int(r['epoch']) for r in rows] == list(range(1, N_EPOCHS + 1))
    for row, h in zip(rows, result['history']):
        for key in ('cost', 'valid_acc', 'test_acc', 'seconds'):
            assert float(row[key]) == pytest.approx(h[key], abs=1e-3)

    # 16 hidden units: a 4 x 4 grid of 56-pixel tiles, 2 pixels apart
    sizes = {'learning_curve.png': (800, 450),
             'hidden_weights.png': (4 * 58 + 2, 4 * 58 + 2),
             'confusion_matrix.png': (600, 600)}
    for name, size in sizes.items():
        with Image.open(out / name) as image:
            assert image.format == 'PNG' and image.size == size
            image.load()


def test_batch_larger_than_training_set_is_refused(toy_sets):
    with pytest.raises(UserError, match='--batch-size 641 is larger than '
                                        'the 640 training images'):
        train(toy_sets, batch_size=641, log=quiet)


def test_progress_bar_only_when_stdout_is_a_terminal(toy_sets, capsys,
                                                     monkeypatch):
    train(toy_sets, n_epochs=1, n_hidden=4, batch_size=64)
    plain = capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, 'isatty', lambda: True)
    train(toy_sets, n_epochs=1, n_hidden=4, batch_size=64)
    terminal = capsys.readouterr().out

    assert '\r' not in plain and len(plain.splitlines()) == 3
    assert '\repoch 1/1: ' in terminal and '0/10 [' in terminal
    # the bar is wiped before the epoch line, which then reads as without
    shown = [line.split('\r')[-1] for line in terminal.split('\n')]
    assert untimed(shown) == untimed(plain.split('\n'))


@pytest.mark.parametrize('edit, found', [
    (dict(best_epoch=99), 'best epoch 99'),
    (dict(epoch=-3), 'epoch -3'),
    (dict(w_h=np.zeros((784, 5), np.float32)), 'w_h is (784, 5)'),
    (dict(history=np.zeros((2, 3))), 'history of shape (2, 3)'),
    (dict(rng_keys=np.zeros(5, np.uint32)), 'Error'),
    (dict(w_o=np.zeros((16, 10), np.int64)), 'w_o holds int64'),
])
def test_resume_refuses_a_checkpoint_whose_parts_do_not_fit(
        toy_sets, reference, tmp_path, edit, found):
    with np.load(reference[2] / 'checkpoint.npz') as saved:
        arrays = {**saved, **edit}
    np.savez(tmp_path / 'checkpoint.npz', **arrays)
    with pytest.raises(UserError) as info:
        train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
              resume=True, log=quiet, **SETTINGS)
    message = str(info.value)
    assert message.startswith(f'{tmp_path / "checkpoint.npz"}: not a '
                              'checkpoint (')
    assert found in message and message.endswith('start again without '
                                                 '--resume')


def test_a_fresh_run_clears_what_another_run_left(toy_sets, tmp_path,
                                                  monkeypatch):
    for name in OUT_FILES:
        (tmp_path / name).write_text('from another run')
    (tmp_path / 'notes.txt').write_text('the user\'s')
    stop_in_epoch(1, monkeypatch)
    with pytest.raises(Interrupted, match='no epoch finished'):
        train(toy_sets, n_epochs=2, n_hidden=4, out=tmp_path, log=quiet)
    assert [p.name for p in tmp_path.iterdir()] == ['notes.txt']


def test_data_without_test_images_is_refused(toy_sets):
    train_set, valid, (X_test, y_test) = toy_sets
    with pytest.raises(UserError, match='no test images'):
        train((train_set, valid, (X_test[:0], y_test[:0])), n_epochs=1,
              log=quiet)


def test_checkpoint_in_float64_resumes_in_floatX(toy_sets, reference,
                                                 tmp_path):
    result, _, _ = reference
    train(toy_sets, n_epochs=3, shuffle=True, out=tmp_path, log=quiet,
          **SETTINGS)
    with np.load(tmp_path / 'checkpoint.npz') as saved:
        arrays = {k: saved[k].astype(np.float64) if 'w_' in k else saved[k]
                  for k in saved.files}
    np.savez(tmp_path / 'checkpoint.npz', **arrays)
    resumed = train(toy_sets, n_epochs=N_EPOCHS, shuffle=True, out=tmp_path,
                    resume=True, log=quiet, **SETTINGS)
    # float32 values survive the trip through float64 exactly
    assert_same_run(resumed, result)
