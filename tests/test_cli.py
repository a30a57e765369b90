import importlib.util
import re
import shlex

import numpy as np
import pytest

from conftest import ROOT
from test_data import toy_pickle_sets, write_pickle
from test_train import stop_in_epoch


def load_script(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_script = load_script('train')

EPOCH_LINE = re.compile(
    r'^epoch (\d+)/(\d+)  cost (\d+\.\d{4})  valid_acc (\d\.\d{4})  '
    r'test_acc (\d\.\d{4})  time (\d+\.\d)s$')


def test_one_epoch_end_to_end(idx_folder, tmp_path, capsys):
    out = tmp_path / 'out'
    rc = train_script.main(['--data', str(idx_folder), '--epochs', '1',
                            '--n-hidden', '32', '--batch-size', '50',
                            '--out', str(out)])
    lines = capsys.readouterr().out.splitlines()

    assert rc == 0
    settings = dict(pair.split('=', 1) for pair in lines[0].split())
    assert settings['device'] == 'cpu' and settings['floatX'] == 'float32'
    assert settings['n_hidden'] == '32' and settings['n_train'] == '500'
    assert {'backend', 'blas', 'compiledir'} <= set(settings)
    match = EPOCH_LINE.match(lines[1])
    assert match and match.group(1, 2) == ('1', '1')
    assert re.match(r'^done  1 epoch in \d+\.\ds  best_epoch 1  '
                    rf'valid_acc {match.group(4)}  '
                    rf'test_acc {match.group(5)}  '
                    rf'weights {re.escape(str(out))}/weights.npz$', lines[2])
    weights = np.load(out / 'weights.npz', allow_pickle=False)
    assert weights['w_h'].shape == (784, 32)
    assert weights['w_o'].shape == (32, 10)
    assert sorted(p.name for p in out.iterdir()) == [
        'checkpoint.npz', 'confusion_matrix.png', 'hidden_weights.png',
        'history.csv', 'learning_curve.png', 'weights.npz']


def test_epoch_number_is_padded_to_width_of_epochs(idx_folder, capsys):
    train_script.main(['--data', str(idx_folder), '--epochs', '10',
                       '--n-hidden', '8', '--batch-size', '250'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith('epoch  1/10  ')
    assert lines[10].startswith('epoch 10/10  ')


@pytest.mark.parametrize('make, message', [
    (lambda p: p / 'missing.pkl.gz', 'no such file or folder'),
    (lambda p: p, 'missing train-images-idx3-ubyte'),
    (lambda p: '/dev/null', 'found something that is neither a file nor '
                            'a folder'),
])
def test_bad_data_path_is_one_error_line(tmp_path, capsys, make, message):
    rc = train_script.main(['--data', str(make(tmp_path)), '--epochs', '1'])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith('error: ') and message in err
    assert err.count('\n') == 1


def test_failed_run_leaves_no_out_folder_it_made(tmp_path, capsys):
    out = tmp_path / 'runs' / 'first'
    rc = train_script.main(['--data', str(tmp_path / 'missing'), '--out',
                            str(out)])
    assert rc == 1 and 'no such file or folder' in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_refused_before_training(idx_folder, tmp_path,
                                                   capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    rc = train_script.main(['--data', str(idx_folder),
                            '--out', str(blocker / 'out')])
    captured = capsys.readouterr()
    assert rc == 1 and captured.out == ''
    assert captured.err.startswith(f'error: {blocker / "out"}: cannot write')


@pytest.mark.parametrize('flag, value, message', [
    ('--epochs', '0', '0 is less than 1'),
    ('--epochs', '2.5', "'2.5' is not a whole number"),
    ('--batch-size', '0', '0 is less than 1'),
    ('--batch-size', '-128', '-128 is less than 1'),
    ('--n-hidden', '0', '0 is less than 1'),
    ('--n-hidden', str(2 ** 31), '2147483648 is more than 2147483647'),
    ('--patience', '0', '0 is less than 1'),
    ('--learning-rate', '0', '0 is not a positive finite number'),
    ('--learning-rate', '-0.05', '-0.05 is not a positive finite number'),
    ('--learning-rate', 'nan', 'nan is not a positive finite number'),
    ('--learning-rate', 'inf', 'inf is not a positive finite number'),
    ('--learning-rate', 'fast', "'fast' is not a number"),
    ('--seed', '-1', '-1 is less than 0'),
    ('--seed', '4294967296', '4294967296 is more than 4294967295'),
    ('--out', '', 'an empty path; give a file or folder'),
    ('--data', '', 'an empty path; give a file or folder'),
])
def test_nonsense_flag_is_refused_by_the_parser(capsys, flag, value,
                                                message):
    with pytest.raises(SystemExit) as exit_info:
        train_script.main([flag, value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.splitlines()[-1].endswith(
        f'error: argument {flag}: {message}')


def test_resume_without_out_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_script.main(['--resume'])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        'error: --resume needs --out, the folder of the run to resume')


@pytest.mark.parametrize('argv, message', [
    (['--batch-size', '501'], '--batch-size 501 is larger than the 500 '
                              'training images; choose a smaller one'),
    (['--resume', '--out', '{tmp}'], '{tmp}/checkpoint.npz: no checkpoint '
                                     'there to resume; start again without '
                                     '--resume'),
])
def test_known_after_loading_is_one_error_line(idx_folder, tmp_path, capsys,
                                               argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    rc = train_script.main(['--data', str(idx_folder), *argv])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.err == f'error: {message.format(tmp=tmp_path)}\n'


def test_diverging_cost_is_one_error_line(idx_folder, capsys):
    rc = train_script.main(['--data', str(idx_folder), '--epochs', '2',
                            '--n-hidden', '8', '--batch-size', '100',
                            '--learning-rate', '1e38'])
    captured = capsys.readouterr()
    assert rc == 1
    assert not any(line.startswith('epoch')
                   for line in captured.out.splitlines())
    assert re.match(r'error: the cost became (nan|inf) in epoch 1, '
                    r'minibatch [2-5] of 5, at learning rate 1e\+38; try a '
                    r'smaller --learning-rate', captured.err)
    assert captured.err.count('\n') == 1


def test_ctrl_c_prints_a_resume_command_that_finishes_the_run(
        idx_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    stop_in_epoch(2, monkeypatch)
    args = ['--data', str(idx_folder), '--epochs', '3', '--n-hidden', '8',
            '--batch-size', '100', '--shuffle']
    out = tmp_path / 'stopped'
    rc = train_script.main(args + ['--out', str(out)])
    err = capsys.readouterr().err
    monkeypatch.undo()

    assert rc == 130
    said = (f'interrupted in epoch 2; epoch 1 is saved in '
            f'{out / "checkpoint.npz"}; resume with: ')
    assert err.startswith(said) and err.count('\n') == 1
    command = shlex.split(err[len(said):])
    assert command[:2] == ['python', 'scripts/train.py']
    assert train_script.main(command[2:]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(
        'done  3 epochs')

    whole = tmp_path / 'whole'
    assert train_script.main(args + ['--out', str(whole)]) == 0
    for name in ('weights.npz', 'checkpoint.npz'):
        with np.load(out / name) as got, np.load(whole / name) as want:
            for key in ('w_h', 'w_o'):
                np.testing.assert_array_equal(got[key], want[key])


def test_resume_command_names_the_script_as_found_from_here(tmp_path,
                                                            monkeypatch):
    script = str(ROOT / 'scripts' / 'train.py')
    monkeypatch.chdir(ROOT / 'scripts')
    assert train_script.resume_command(['--out', 'o']) == (
        'python train.py --out o --resume')
    monkeypatch.chdir(tmp_path)
    assert train_script.resume_command(['--out', 'o']) == (
        f'python {script} --out o --resume')


def test_data_variable_may_name_the_pickle_itself(tmp_path, capsys,
                                                  monkeypatch):
    sets = toy_pickle_sets(np.random.RandomState(4), sizes=(256, 64, 64))
    path = write_pickle(tmp_path / 'mnist.pkl.gz', sets)
    monkeypatch.setenv('MLP_MNIST_DATA', str(path))
    rc = train_script.main(['--epochs', '1', '--n-hidden', '8'])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0] == f'data: using {path}'
    assert f'data={path} n_train=256 ' in out[1]
