"""MNIST loader: mnist.pkl.gz or the four IDX files, as floatX arrays.

The tutorial reads deeplearning.net's mnist.pkl.gz, a Python 2 pickle of
train 50,000 / valid 10,000 / test 10,000 images. `load_mnist` reads that
file, or a folder of the original IDX files (raw or gzipped), and returns
the same arrays: X of shape (n, 784) in floatX with pixels byte/256 in
[0, 1), y of int32 labels 0-9. The pickle is read with an unpickler that
builds numpy arrays and nothing else. Fetching the files lives in
`mlp_mnist.download`.
"""
import gzip
import io
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from .errors import UserError

N_PIXELS = 28 * 28
N_CLASSES = 10
GZIP_MAGIC = b'\x1f\x8b'
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

# The four IDX files of the original MNIST, and the SHA-256 of their raw
# (decompressed) bytes.
IDX_FILES = {
    'train-images-idx3-ubyte':
        'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte':
        '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte':
        '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte':
        'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
}
PICKLE_NAME = 'mnist.pkl.gz'


class DataError(UserError):
    """A data file that cannot be used; the message is one line for the user."""

    def __init__(self, path, problem, fix):
        super().__init__(f'{Path(path).absolute()}: {problem}; {fix}')


def default_data_dir():
    """Return the data folder: $MLP_MNIST_DATA, else the checkout's data/.

    Outside a checkout (a non-editable install) it is ~/.cache/mlp_mnist.
    Never the current directory.
    """
    if os.environ.get('MLP_MNIST_DATA'):
        return Path(os.environ['MLP_MNIST_DATA']).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / 'setup.py').is_file():
        return checkout / 'data'
    return Path('~/.cache/mlp_mnist').expanduser()


def find_data(folder):
    """Return the usable MNIST in `folder`: its mnist.pkl.gz, else the folder
    itself when all four IDX files are there, else None."""
    folder = Path(folder)
    if (folder / PICKLE_NAME).is_file():
        return folder / PICKLE_NAME
    if folder.is_dir() and not _missing_idx(folder):
        return folder
    return None


def read_bytes(path):
    """Return the bytes of `path`, gunzipped as often as its magic says.

    Raises DataError for an empty file, an HTML page and a cut-short gzip.
    """
    data = Path(path).read_bytes()
    if not data:
        raise DataError(path, 'the file is empty',
                        'delete it and download it again')
    depth = 0
    while data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            kind = 'cut short' if isinstance(e, EOFError) else 'corrupt'
            raise DataError(
                path, f'the gzip data is {kind} ({e})',
                'delete it and download it again') from None
        depth += 1
    head = data[:512].lstrip().lower()
    if head.startswith((b'<!doctype', b'<html', b'<?xml', b'<head')):
        raise DataError(
            path, 'this is an HTML page, not MNIST data (a download that '
            'saved an error or login page)',
            'delete it and download the file again')
    return data


def load_mnist(path):
    """Load MNIST from mnist.pkl.gz or from a folder of IDX files.

    Returns ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)), X of
    shape (n, 784) in floatX, y of shape (n,) int32. From IDX files the last
    sixth of the training images (the last 10,000 of 60,000) is validation,
    as in mnist.pkl.gz.
    """
    path = Path(path)
    if path.is_dir():
        sets = _load_idx_folder(path)
    elif path.is_file():
        sets = _load_pickle(path)
    else:
        raise DataError(
            path, 'no such file or folder',
            'give --data an mnist.pkl.gz file or a folder of the four MNIST '
            'IDX files, or run data/download.sh')
    from .backend import config
    return tuple((X.astype(config.floatX), y.astype(np.int32))
                 for X, y in sets)


def one_hot(y, n_classes=N_CLASSES):
    """Return floatX rows of shape (len(y), n_classes), 1 at each label."""
    from .backend import config
    return np.eye(n_classes, dtype=config.floatX)[np.asarray(y)]


def _idx_candidates(folder, name):
    """Yield the paths a file of that name may have: dotted, gzipped or not."""
    dotted = name.replace('-idx', '.idx')
    for stem in (name, dotted):
        for suffix in ('', '.gz'):
            yield folder / (stem + suffix)


def _missing_idx(folder):
    return [name for name in IDX_FILES
            if not any(p.is_file() for p in _idx_candidates(folder, name))]


def _find_idx(folder, name):
    for p in _idx_candidates(folder, name):
        if p.is_file():
            return p
    return None


def _load_idx_folder(folder):
    missing = _missing_idx(folder)
    if missing:
        searched = ', '.join(str(p.absolute()) for name in missing
                             for p in _idx_candidates(folder, name))
        raise DataError(
            folder, f'missing {", ".join(missing)} (looked for {searched})',
            'run data/download.sh or put the four MNIST IDX files there')
    X_train, y_train = _load_idx_pair(
        _find_idx(folder, 'train-images-idx3-ubyte'),
        _find_idx(folder, 'train-labels-idx1-ubyte'))
    X_test, y_test = _load_idx_pair(
        _find_idx(folder, 't10k-images-idx3-ubyte'),
        _find_idx(folder, 't10k-labels-idx1-ubyte'))
    # NOTE: mnist.pkl.gz took the last 10,000 of the 60,000 training images
    # as its validation set; other sizes keep that proportion.
    n_train = len(X_train) - len(X_train) // 6
    return ((X_train[:n_train], y_train[:n_train]),
            (X_train[n_train:], y_train[n_train:]),
            (X_test, y_test))


def read_idx(path, magic):
    """Return the uint8 array in an IDX file with the expected magic number."""
    data = read_bytes(path)
    kind = 'images' if magic == IDX_IMAGES_MAGIC else 'labels'
    fix = 'point --data at the original MNIST IDX files'
    ndim = 3 if kind == 'images' else 1
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise DataError(path, f'{len(data)} bytes is too short for IDX', fix)
    found = int.from_bytes(data[:4], 'big')
    if found != magic:
        other = {IDX_IMAGES_MAGIC: 'an images file',
                 IDX_LABELS_MAGIC: 'a labels file'}.get(found)
        what = other or f'magic number {found:#010x}'
        raise DataError(
            path, f'expected an IDX {kind} file (magic {magic:#010x}), '
            f'found {what}', 'check that image and label files are not '
            'swapped or renamed')
    if len(data) < header:
        raise DataError(path, 'the IDX header is cut short', fix)
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    if kind == 'images' and shape[1:] != (28, 28):
        raise DataError(
            path, f'images are {shape[1]}x{shape[2]}, expected 28x28', fix)
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(
            path, f'the header promises {expected} bytes, the file has '
            f'{len(data)}', 'delete it and download it again')
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _load_idx_pair(images_path, labels_path):
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            labels_path, f'{len(labels)} labels for {len(images)} images '
            f'in {images_path.name}', 'use image and label files of one set')
    _check_labels(labels_path, labels)
    X = images.reshape(len(images), N_PIXELS) / np.float32(256)
    return X.astype(np.float32), labels


def _check_labels(path, y):
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise DataError(
            path, f'labels run from {y.min()} to {y.max()}, expected 0-9',
            'use MNIST labels (digits 0-9)')


class SafeUnpickler(pickle.Unpickler):
    """Unpickle numpy arrays and nothing else.

    A pickle names the callables that rebuild its objects, and unpickling
    calls them, so an untrusted file could run any function. mnist.pkl.gz
    (written by Python 2) and its Python 3 re-pickles name only these.
    """

    def find_class(self, module, name):
        allowed = _allowed_globals()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f'refused to call {module}.{name}')


def _allowed_globals():
    import codecs
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    allowed = {}
    for package in ('numpy.core', 'numpy._core'):
        allowed[(f'{package}.multiarray', '_reconstruct')] = (
            multiarray._reconstruct)
        allowed[(f'{package}.numeric', '_frombuffer')] = numeric._frombuffer
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    allowed[('_codecs', 'encode')] = codecs.encode  # Python 3 protocol 2
    return allowed


def _load_pickle(path):
    data = read_bytes(path)
    # protocol 2 and later start with PROTO; protocols 0 and 1 with MARK
    # or GLOBAL
    if data[:1] not in (b'\x80', b'(', b'c', b']'):
        raise DataError(
            path, 'not a pickle nor gzip data (it starts with '
            f'{data[:8]!r})', 'give --data an mnist.pkl.gz file or a folder '
            'of the four MNIST IDX files')
    try:
        sets = SafeUnpickler(io.BytesIO(data), encoding='latin1').load()
    except pickle.UnpicklingError as e:
        raise DataError(
            path, f'unsafe or broken pickle: {e}',
            'use the original mnist.pkl.gz or the MNIST IDX files') from None
    except Exception as e:
        raise DataError(
            path, f'cannot unpickle ({type(e).__name__}: {e})',
            'use the original mnist.pkl.gz or the MNIST IDX files') from None
    return _check_sets(path, sets)


def _check_sets(path, sets):
    """Return the (X, y) pairs of an unpickled mnist.pkl.gz, checked."""
    fix = 'use the original mnist.pkl.gz or the MNIST IDX files'
    if not (isinstance(sets, (tuple, list)) and len(sets) == 3 and all(
            isinstance(s, (tuple, list)) and len(s) == 2 for s in sets)):
        raise DataError(
            path, 'expected a pickled 3-tuple of (images, labels) pairs '
            f'(train, valid, test), found {_describe(sets)}', fix)
    checked = []
    for split, (X, y) in zip(('train', 'valid', 'test'), sets):
        where = f'the {split} set'
        if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)):
            raise DataError(
                path, f'{where} holds {_describe(X)} and {_describe(y)}, '
                'expected numpy arrays', fix)
        if X.ndim == 3 and X.shape[1:] == (28, 28):
            raise DataError(
                path, f'{where} images are shaped 28x28, expected rows of '
                '784 pixels', 'reshape them to (n, 784) and save again')
        if X.ndim != 2 or X.shape[1] != N_PIXELS:
            raise DataError(
                path, f'{where} images have shape {X.shape}, expected '
                '(n, 784)', fix)
        if y.shape != (len(X),):
            raise DataError(
                path, f'{where} has labels of shape {y.shape} for '
                f'{len(X)} images', fix)
        if not np.issubdtype(X.dtype, np.floating):
            raise DataError(
                path, f'{where} pixels are {X.dtype} from {X.min()} to '
                f'{X.max()}, expected floats in [0, 1)',
                'divide the pixels by 256 and save as float32')
        if not np.isfinite(X).all():
            raise DataError(
                path, f'{where} images hold NaN or inf', fix)
        if X.size and (X.min() < 0 or X.max() > 1):
            raise DataError(
                path, f'{where} pixels run from {X.min()} to {X.max()}, '
                'expected [0, 1]', 'divide the pixels by 256 and save again')
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                path, f'{where} labels are {y.dtype}, expected integers', fix)
        _check_labels(path, y)
        checked.append((X, y))
    return checked


def _describe(value):
    if isinstance(value, np.ndarray):
        return f'an array of shape {value.shape}'
    if isinstance(value, (tuple, list)):
        return f'a {type(value).__name__} of {len(value)} items'
    return f'a {type(value).__name__}'
