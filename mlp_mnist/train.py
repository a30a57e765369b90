"""The training loop: minibatch SGD over epochs, accuracy after each one.

The tutorial's loop runs 100 epochs of 128-image minibatches in order and
prints the test accuracy after each. This one also prints the epoch's mean
cost, the validation accuracy and the time, keeps the weights of the best
validation epoch, can stop early and shuffle, and stops on a NaN cost.
With an out folder it saves a checkpoint after every epoch, from which a
run resumes exactly, a history and, at the end, pictures of the run.
"""
import math
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .data import N_CLASSES, N_PIXELS, one_hot
from .errors import UserError
from .files import ensure_writable, write_atomically

CHECKPOINT = 'checkpoint.npz'
WEIGHTS = 'weights.npz'
HISTORY = 'history.csv'
HISTORY_FIELDS = ('epoch', 'cost', 'valid_acc', 'test_acc', 'seconds')
PICTURES = ('learning_curve.png', 'hidden_weights.png',
            'confusion_matrix.png')
# what a checkpoint must share with the run that resumes it
RUN_KEYS = ('n_hidden', 'batch_size', 'learning_rate', 'seed', 'shuffle')
DATA_KEYS = ('n_train', 'labels_crc32')
CHECKPOINT_ONLY = {'epoch', 'best_w_h'}  # what tells a checkpoint apart


class DivergedError(UserError):
    """The training cost became NaN or infinite."""


class Interrupted(Exception):
    """Ctrl-C stopped training; `saved` is the last epoch on disk, or 0."""

    def __init__(self, message, saved):
        super().__init__(message)
        self.saved = saved


def to_shared(X, y):
    """Return shared variables for images X and labels y (stored one-hot).

    The tutorial keeps labels as floatX too: a GPU holds only floats.
    """
    from . import backend
    from .model import floatX
    return (backend.shared_data(floatX(X)),
            backend.shared_data(one_hot(y, N_CLASSES)))


def save_weights(path, w_h, w_o):
    """Write the weight arrays to `path` (.npz) as w_h and w_o, atomically."""
    write_atomically(path, lambda f: np.savez(f, w_h=w_h, w_o=w_o))


def load_weights(path):
    """Return (w_h, w_o) from a weights.npz, checked, without unpickling.

    w_h is (784, n_hidden) and w_o (n_hidden, 10), both floating point;
    anything else raises UserError.
    """
    fix = 'give the weights.npz that scripts/train.py --out DIR writes'
    if not Path(path).is_file():
        what = 'not a file' if Path(path).exists() else 'no such file'
        raise UserError(f'{path}: {what}; {fix}')
    if not zipfile.is_zipfile(path):
        raise UserError(f'{path}: not a weights file (not an .npz '
                        f'archive); {fix}')
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if CHECKPOINT_ONLY <= set(arrays.files):
                raise UserError(
                    f'{path}: a checkpoint, whose weights are of the last '
                    'epoch, not the best; give the weights.npz that the '
                    'same run wrote beside it')
            if not {'w_h', 'w_o'} <= set(arrays.files):
                raise UserError(
                    f'{path}: holds {", ".join(arrays.files) or "nothing"}'
                    f', not the arrays w_h and w_o; {fix}')
            w_h, w_o = arrays['w_h'], arrays['w_o']
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0] if str(e) else 'unreadable'
        raise UserError(f'{path}: not a weights file ({reason}); '
                        f'{fix}') from None
    if not (w_h.ndim == 2 and w_h.shape[0] == N_PIXELS and w_h.shape[1]
            and w_o.shape == (w_h.shape[1], N_CLASSES)
            and np.issubdtype(w_h.dtype, np.floating)
            and np.issubdtype(w_o.dtype, np.floating)):
        raise UserError(
            f'{path}: holds w_h {w_h.shape} {w_h.dtype} and w_o '
            f'{w_o.shape} {w_o.dtype}, expected float arrays (784, n) and '
            f'(n, 10), n at least 1; {fix}')
    if not (np.isfinite(w_h).all() and np.isfinite(w_o).all()):
        raise UserError(f'{path}: the weights hold NaN or inf; {fix}')
    return w_h, w_o


def settings_line(**settings):
    """Return 'key=value' pairs separated by spaces, back-end first."""
    from . import backend
    pairs = {**backend.settings(), **settings}
    return ' '.join(f'{k}={v}' for k, v in pairs.items())


def labels_crc32(data):
    """Return a CRC-32 of all labels: a cheap check that data is the same."""
    crc = 0
    for _, y in data:
        crc = zlib.crc32(np.ascontiguousarray(y, np.int32).tobytes(), crc)
    return crc


def save_checkpoint(path, state, run):
    """Write the state after an epoch, and the run's settings, to `path`.

    `state` holds epoch, w_h, w_o, best_epoch, best_w_h, best_w_o, the
    history (list of dicts) and rng, the RandomState; only plain arrays are
    written, so the file loads with allow_pickle=False.
    """
    _, keys, pos, has_gauss, gauss = state['rng'].get_state()
    history = np.array([[h[k] for k in HISTORY_FIELDS]
                        for h in state['history']], np.float64)
    arrays = {k: state[k] for k in ('epoch', 'w_h', 'w_o', 'best_epoch',
                                    'best_w_h', 'best_w_o')}
    arrays.update(
        history=history.reshape(-1, len(HISTORY_FIELDS)),
        rng_keys=keys, rng_pos=pos, rng_has_gauss=has_gauss,
        rng_gauss=gauss, **{f'run_{k}': v for k, v in run.items()})
    write_atomically(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path, run, rng):
    """Return the state saved in `path` and set `rng` to its random state.

    Raises UserError when the file is missing or unreadable, or was made
    by a run with other settings or data than `run`.
    """
    from .model import floatX
    fix = 'start again without --resume'
    try:
        with np.load(path, allow_pickle=False) as arrays:
            saved = {k: arrays[k] for k in arrays.files}
        state = {k: saved[k] for k in ('w_h', 'w_o', 'best_w_h',
                                       'best_w_o')}
        state.update(epoch=int(saved['epoch']),
                     best_epoch=int(saved['best_epoch']))
        for key in ('w_h', 'w_o', 'best_w_h', 'best_w_o'):
            if not np.issubdtype(state[key].dtype, np.floating):
                raise ValueError(f'{key} holds {state[key].dtype}')
            # a run in float64 resumes in float32 and the reverse
            state[key] = floatX(state[key])
        if saved['history'].shape[1:] != (len(HISTORY_FIELDS),):
            raise ValueError(f'history of shape {saved["history"].shape}')
        state['history'] = [
            dict(zip(HISTORY_FIELDS, [int(row[0]), *map(float, row[1:])]))
            for row in saved['history']]
        rng_state = ('MT19937', saved['rng_keys'], int(saved['rng_pos']),
                     int(saved['rng_has_gauss']), float(saved['rng_gauss']))
        made = {k: saved[f'run_{k}'].item() for k in run}
        _check_state(state, made['n_hidden'])
        np.random.RandomState().set_state(rng_state)  # a whole state?
    except FileNotFoundError:
        raise UserError(f'{path}: no checkpoint there to resume; '
                        f'{fix}') from None
    except (OSError, ValueError, KeyError, IndexError, TypeError,
            zipfile.BadZipFile) as e:
        raise UserError(f'{path}: not a checkpoint ({type(e).__name__}: '
                        f'{e}); {fix}') from None
    if any(made[k] != run[k] for k in DATA_KEYS):
        raise UserError(f'{path}: the checkpoint was trained on other data; '
                        f'resume with the same --data, or {fix}')
    changed = [f'{k}={made[k]} (now {run[k]})'
               for k in RUN_KEYS if made[k] != run[k]]
    if changed:
        raise UserError(f'{path}: the checkpoint was made with '
                        f'{", ".join(changed)}; resume with the same '
                        f'settings, or {fix}')
    rng.set_state(rng_state)
    return state


def _check_state(state, n_hidden):
    """Raise ValueError unless a loaded checkpoint's parts fit together."""
    shapes = {'w_h': (N_PIXELS, n_hidden), 'w_o': (n_hidden, N_CLASSES)}
    for name, shape in shapes.items():
        for key in (name, f'best_{name}'):
            if state[key].shape != shape:
                raise ValueError(f'{key} is {state[key].shape}, not {shape}')
    epoch, best = state['epoch'], state['best_epoch']
    if not (epoch >= 1 and 1 <= best <= epoch
            and len(state['history']) == epoch):
        raise ValueError(f'epoch {epoch}, best epoch {best} and '
                         f'{len(state["history"])} rows of history')


def write_history(path, history):
    """Write the history as CSV: epoch, cost, valid_acc, test_acc, seconds."""
    lines = [','.join(HISTORY_FIELDS)] + [
        f'{h["epoch"]},{h["cost"]:.6f},{h["valid_acc"]:.6f},'
        f'{h["test_acc"]:.6f},{h["seconds"]:.3f}' for h in history]
    text = '\n'.join(lines) + '\n'
    write_atomically(path, lambda f: f.write(text.encode()))


def write_pictures(out, history, best_epoch, w_h, y_test, y_pred):
    """Write the learning curve, hidden weights and confusion matrix PNGs."""
    from . import plots  # matplotlib takes a second to import
    curve, weights, confusion = (Path(out) / name for name in PICTURES)
    plots.save_learning_curve(curve, history, best_epoch)
    plots.save_weight_grid(weights, w_h)
    plots.save_confusion_matrix(confusion, y_test, y_pred)


def predict_labels(predict_fn, X, batch_size=1000):
    """Return the predicted digit of each row of X, in batches."""
    labels = [predict_fn(X[i:i + batch_size]).argmax(axis=1)
              for i in range(0, len(X), batch_size)]
    return np.concatenate(labels or [np.zeros(0, np.int64)])


def epoch_count(n):
    """Return '1 epoch', '2 epochs', ..."""
    return f'{n} epoch' if n == 1 else f'{n} epochs'


def train_epoch(train_fn, n_batches, epoch, n_epochs, learning_rate,
                progress):
    """Run `train_fn` on minibatches 0 to n_batches - 1; return the mean cost.

    Raises DivergedError, naming the minibatch, when a cost is not finite.
    """
    costs = []
    with tqdm(range(n_batches), desc=f'epoch {epoch}/{n_epochs}',
              unit='batch', leave=False, disable=not progress,
              file=sys.stdout) as bar:
        for i in bar:
            cost = train_fn(i)
            if not np.isfinite(cost):
                raise DivergedError(
                    f'the cost became {float(cost)} in epoch {epoch}, '
                    f'minibatch {i + 1} of {n_batches}, at learning rate '
                    f'{learning_rate}; try a smaller --learning-rate (the '
                    'tutorial uses 0.05), and check the data for NaN pixels')
            costs.append(cost)
            if progress:
                bar.set_postfix_str(f'cost {cost:.4f}', refresh=False)
    return float(np.mean(costs))


def train(data, n_epochs=100, batch_size=128, learning_rate=0.05,
          n_hidden=625, seed=1234, patience=None, shuffle=False, out=None,
          resume=False, progress=None, source=None, log=print):
    """Train the tutorial network on `data` and return its best weights.

    Parameters
    ----------
    data : what `load_mnist` returns: train, valid and test (X, y) pairs.
    n_epochs, batch_size, learning_rate, n_hidden : the tutorial's.
    seed : seeds the one RandomState that draws the initial weights and,
        with `shuffle`, every epoch's minibatch order.
    patience : stop after this many epochs without a better validation
        accuracy; None trains all `n_epochs`.
    shuffle : draw a new minibatch order every epoch; else the order is
        the data's, as in the tutorial.
    out : folder for checkpoint.npz and history.csv (every epoch),
        weights.npz (the best epoch's w_h and w_o) and the pictures.
    resume : continue from out/checkpoint.npz; the weights then end
        exactly as those of a run never stopped.
    progress : show a bar within each epoch; None shows one when stdout
        is a terminal.
    source : the data's path, for the settings line.
    log : takes the settings line, the epoch lines and the summary.

    Returns
    -------
    dict of w_h, w_o (numpy arrays of the best epoch), best_epoch, history
    (a dict per epoch with the keys of HISTORY_FIELDS) and last (the last
    epoch's w_h and w_o).

    Raises UserError for a batch larger than the training set or a
    checkpoint of another run, DivergedError when the cost turns NaN or
    infinite, and Interrupted on Ctrl-C.
    """
    # imported here, so that scripts read the defaults above without Theano
    from . import backend
    from .model import compile_functions, init_weights

    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = data
    n_in = X_train.shape[1]
    # NOTE: the last partial minibatch is skipped, as in the tutorial
    n_batches = len(X_train) // batch_size
    if n_batches < 1:
        raise UserError(
            f'--batch-size {batch_size} is larger than the '
            f'{len(X_train)} training images; choose a smaller one')
    if len(X_valid) == 0:
        raise UserError('the data has no validation images, which pick the '
                        'best epoch; use a larger training set')
    if len(X_test) == 0:
        raise UserError('the data has no test images, whose accuracy each '
                        'epoch reports; use a set with a test part')
    if resume and out is None:
        raise UserError('--resume needs the --out folder of the run')
    if out is not None:
        out = Path(out)
        ensure_writable(out, 'choose another --out folder')
    if progress is None:
        progress = sys.stdout.isatty()

    rng = np.random.RandomState(seed)
    w_h = init_weights((n_in, n_hidden), rng)
    w_o = init_weights((n_hidden, N_CLASSES), rng)

    def weights(prefix=''):
        # numpy copies; PyTensor's JAX mode holds JAX arrays
        return {prefix + 'w_h': np.array(w_h.get_value()),
                prefix + 'w_o': np.array(w_o.get_value())}

    run = dict(n_hidden=n_hidden, batch_size=batch_size,
               learning_rate=learning_rate, seed=seed, shuffle=shuffle,
               n_train=len(X_train), labels_crc32=labels_crc32(data))
    if resume:
        state = load_checkpoint(out / CHECKPOINT, run, rng)
        if state['epoch'] > n_epochs:
            raise UserError(
                f'{out / CHECKPOINT}: the run is already at epoch '
                f'{state["epoch"]}, past --epochs {n_epochs}; ask for '
                'more epochs')
        w_h.set_value(state['w_h'])
        w_o.set_value(state['w_o'])
    else:
        state = dict(epoch=0, best_epoch=0, history=[], **weights('best_'))
    state['rng'] = rng
    history = state['history']

    sets = {'train': to_shared(X_train, y_train),
            'valid': to_shared(X_valid, y_valid),
            'test': to_shared(X_test, y_test)}
    train_fn, evaluate, predict_fn = compile_functions(
        sets, w_h, w_o, batch_size=batch_size, learning_rate=learning_rate)
    backend.check_device(train_fn)
    if shuffle:
        # reorders the training set where it lives (GPU memory on a GPU)
        X_shared, Y_shared = sets['train']
        perm = backend.T.lvector('perm')
        reorder_fn = backend.function([perm], [], updates=[
            (X_shared, X_shared[perm]), (Y_shared, Y_shared[perm])])
        order = np.arange(len(X_train))  # rows of X_train now in X_shared

    if out is not None and not resume:
        # a fresh run: nothing another run left in `out` stays beside it
        for name in (CHECKPOINT, WEIGHTS, HISTORY, *PICTURES):
            (out / name).unlink(missing_ok=True)

    extra = {'data': source} if source else {}
    options = {k: v for k, v in (('shuffle', shuffle),
                                 ('patience', patience),
                                 ('checkpoint_epoch', state['epoch']))
               if v}  # shown only when used
    log(settings_line(**extra, n_train=len(X_train), n_hidden=n_hidden,
                      batch_size=batch_size, learning_rate=learning_rate,
                      n_epochs=n_epochs, seed=seed, **options))
    width = len(str(n_epochs))
    epoch = saved = state['epoch']
    stage = f'after epoch {epoch}' if epoch else 'before epoch 1'
    started = time.perf_counter()
    try:
        while epoch < n_epochs and not (
                patience and epoch - state['best_epoch'] >= patience):
            epoch += 1
            stage = f'in epoch {epoch}'
            tic = time.perf_counter()
            if shuffle:
                new_order = rng.permutation(len(X_train))
                reorder_fn(np.argsort(order)[new_order])
                order = new_order
            cost = train_epoch(train_fn, n_batches, epoch, n_epochs,
                               learning_rate, progress)
            seconds = time.perf_counter() - tic
            valid_acc = evaluate('valid')
            test_acc = evaluate('test')
            history.append(dict(epoch=epoch, cost=cost, valid_acc=valid_acc,
                                test_acc=test_acc, seconds=seconds))
            best_valid = (history[state['best_epoch'] - 1]['valid_acc']
                          if state['best_epoch'] else -math.inf)
            improved = valid_acc > best_valid
            if improved:
                state.update(best_epoch=epoch, **weights('best_'))
            if out is not None:
                if improved:
                    save_weights(out / WEIGHTS, state['best_w_h'],
                                 state['best_w_o'])
                write_history(out / HISTORY, history)
                state.update(epoch=epoch, **weights())
                save_checkpoint(out / CHECKPOINT, state, run)
                saved = epoch
            stage = f'after epoch {epoch}'
            log(f'epoch {epoch:{width}d}/{n_epochs}  cost {cost:.4f}  '
                f'valid_acc {valid_acc:.4f}  test_acc {test_acc:.4f}  '
                f'time {seconds:.1f}s')

        if epoch < n_epochs:
            log('early stop: valid_acc has not improved for '
                f'{epoch_count(patience)}')
        last = weights()
        best = history[state['best_epoch'] - 1]
        summary = (f'done  {epoch_count(epoch)} in '
                   f'{time.perf_counter() - started:.1f}s  '
                   f'best_epoch {best["epoch"]}  '
                   f'valid_acc {best["valid_acc"]:.4f}  '
                   f'test_acc {best["test_acc"]:.4f}')
        if out is not None:
            w_h.set_value(state['best_w_h'])
            w_o.set_value(state['best_w_o'])
            y_pred = predict_labels(predict_fn, X_test)
            save_weights(out / WEIGHTS, state['best_w_h'],
                         state['best_w_o'])
            write_pictures(out, history, best['epoch'], state['best_w_h'],
                           y_test, y_pred)
            summary += f'  weights {out / WEIGHTS}'
    except KeyboardInterrupt:
        if out is None:
            where = 'nothing is saved without an out folder'
        elif saved == 0:
            where = 'no epoch finished, so there is nothing to resume'
        else:
            where = f'epoch {saved} is saved in {out / CHECKPOINT}'
        raise Interrupted(f'interrupted {stage}; {where}', saved) from None
    log(summary)
    return dict(w_h=state['best_w_h'], w_o=state['best_w_o'],
                best_epoch=best['epoch'], history=history, last=last)
