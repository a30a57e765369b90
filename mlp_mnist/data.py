"""MNIST loader: mnist.pkl.gz or the four IDX files, as floatX arrays.

The tutorial reads deeplearning.net's mnist.pkl.gz, a Python 2 pickle of
train 50,000 / valid 10,000 / test 10,000 images. `load_mnist` reads that
file (or a Python 3 re-pickle of it), or a folder of the four IDX files,
raw or gzipped, of MNIST or of a set in the same format such as
Fashion-MNIST, and returns the same arrays: X of shape (n, 784) in floatX
with pixels byte/256 in [0, 1), y of int32 labels 0-9. The pickle is read
with an unpickler that builds numpy arrays and nothing else. Every bad
file raises DataError, one line naming the file, what was expected, what
was found and the fix. Fetching the files lives in `mlp_mnist.download`.
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
# NOTE: the largest real input, mnist.pkl.gz unpacked, is 220 MB; the cap
# stops a small file that unpacks to gigabytes from filling the memory.
MAX_BYTES = 1 << 30
MAX_GZIP_DEPTH = 3

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
SPLITS = ('train', 'valid', 'test')
GET_DATA = 'run data/download.sh (or python -m mlp_mnist.download)'


class DataError(UserError):
    """A data file that cannot be used; the message is one line for the user.

    `problem` says what was expected and what was found, `fix` what to do;
    the message puts the absolute path in front of both.
    """

    def __init__(self, path, problem, fix):
        super().__init__(f'{Path(path).absolute()}: {problem}; {fix}')
        self.path = Path(path)
        self.problem = problem
        self.fix = fix


class UnsafePickle(pickle.UnpicklingError):
    """A pickle named a global that rebuilding MNIST never needs."""

    def __init__(self, module, name):
        super().__init__(f'{module}.{name}')
        self.refused = f'{module}.{name}'


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
    itself when all four IDX files are there, else None.

    A file given in place of the folder ($MLP_MNIST_DATA naming
    mnist.pkl.gz, say) is returned as it is, for the loader to check.
    """
    folder = Path(folder)
    if folder.is_file():
        return folder
    if (folder / PICKLE_NAME).is_file():
        return folder / PICKLE_NAME
    if folder.is_dir() and not missing_idx(folder):
        return folder
    return None


def looks_like_html(data):
    """Return True when the bytes start like an HTML or XML page."""
    head = data[:512].lstrip().lower()
    return head.startswith((b'<!doctype', b'<html', b'<?xml', b'<head',
                            b'<body', b'<title'))


def describe_bytes(data):
    """Name what the first bytes of a file look like, for error messages."""
    if looks_like_html(data):
        return 'an HTML page'
    if data[:4] == b'PK\x03\x04':
        return 'a zip archive'
    if data[:3] == b'BZh':
        return 'bzip2 data'
    if data[:6] == b'\xfd7zXZ\x00':
        return 'xz data'
    return f'bytes {data[:8].hex(" ")}'


def read_bytes(path):
    """Return the bytes of `path`, gunzipped as often as its magic says.

    The gzip magic decides, not the name: a raw file named .gz and a gzip
    file without .gz (or gzipped twice) are read all the same. Raises
    DataError for an empty file, an HTML page, a zip archive and a gzip
    stream that is cut short or corrupt.
    """
    data = Path(path).read_bytes()
    if not data:
        raise DataError(path, 'expected MNIST data, found an empty file',
                        f'delete it and {GET_DATA}')
    for depth in range(MAX_GZIP_DEPTH + 1):
        if data[:2] != GZIP_MAGIC:
            break
        if depth == MAX_GZIP_DEPTH:
            raise DataError(
                path, f'expected data gzipped at most {MAX_GZIP_DEPTH} '
                'times, found deeper nesting', f'delete it and {GET_DATA}')
        data = _gunzip(path, data)
    kind = describe_bytes(data)
    if kind == 'an HTML page':
        raise DataError(
            path, 'expected MNIST data, found an HTML page (a download '
            'that saved an error or login page)', f'delete it and {GET_DATA}')
    if kind == 'a zip archive':
        raise DataError(path, 'expected MNIST data, found a zip archive',
                        'unzip it and use the files inside')
    return data


def _gunzip(path, data):
    """Return one level of gzip undone, at most MAX_BYTES of it."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_BYTES + 1)
    except EOFError:
        raise DataError(
            path, f'expected a complete gzip file, found one cut short '
            f'({len(data):,} bytes)', f'delete it and {GET_DATA}') from None
    except (OSError, zlib.error) as e:
        raise DataError(
            path, f'expected gzip data, found a corrupt gzip stream ({e})',
            f'delete it and {GET_DATA}') from None
    if len(out) > MAX_BYTES:
        raise DataError(
            path, f'expected at most {MAX_BYTES:,} bytes once unpacked, '
            'found more', 'use the MNIST files, not this one')
    return out


def load_mnist(path):
    """Load MNIST from mnist.pkl.gz or from a folder of IDX files.

    A folder may hold mnist.pkl.gz (used first) or the four IDX files.
    Returns ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)), X of
    shape (n, 784) in floatX, y of shape (n,) int32. From IDX files the last
    sixth of the training images (the last 10,000 of 60,000) is validation,
    as in mnist.pkl.gz.
    """
    path = Path(path)
    try:
        if path.is_dir() and (path / PICKLE_NAME).is_file():
            sets = read_pickle(path / PICKLE_NAME)
        elif path.is_dir():
            sets = _load_idx_folder(path)
        elif path.is_file():
            sets = read_pickle(path)
        else:
            found = ('something that is neither a file nor a folder'
                     if path.exists() else 'no such file or folder')
            raise DataError(
                path, 'expected mnist.pkl.gz or a folder of the four MNIST '
                f'IDX files, found {found}',
                f'give --data an existing path, or {GET_DATA}')
    except OSError as e:  # no permission, a name too long, ...
        raise DataError(
            e.filename or path, f'expected a file to read, found that it '
            f'cannot be read ({e.strerror})',
            'check the path and its permissions') from None
    empty = [split for split, (X, _) in zip(SPLITS, sets) if len(X) == 0]
    if empty:
        raise DataError(
            path, 'expected images in the train, valid and test sets, found '
            f'none in {" and ".join(empty)}', 'use a set with more images '
            '(the valid set is the last sixth of the training images)')
    from .backend import config
    # copies only what needs it: other dtypes, and the read-only arrays
    # of a Python 3 pickle
    return tuple((np.require(X, config.floatX, ['C', 'W']),
                  np.require(y, np.int32, ['C', 'W']))
                 for X, y in sets)


def one_hot(y, n_classes=N_CLASSES):
    """Return floatX rows of shape (len(y), n_classes), 1 at each label."""
    from .backend import config
    return np.eye(n_classes, dtype=config.floatX)[np.asarray(y)]


def idx_candidates(folder, name):
    """Yield the paths a file of that name may have: dotted, gzipped or not."""
    dotted = name.replace('-idx', '.idx')
    for stem in (name, dotted):
        for suffix in ('', '.gz'):
            yield Path(folder) / (stem + suffix)


def missing_idx(folder):
    """Return the names of the four IDX files that `folder` lacks."""
    return [name for name in IDX_FILES if find_idx(folder, name) is None]


def find_idx(folder, name):
    """Return the first existing path of IDX file `name` in `folder`."""
    for p in idx_candidates(folder, name):
        if p.is_file():
            return p
    return None


def _load_idx_folder(folder):
    missing = missing_idx(folder)
    if missing:
        searched = ', '.join(
            [str((folder / PICKLE_NAME).absolute())]
            + [str(p.absolute()) for name in missing
               for p in idx_candidates(folder, name)])
        raise DataError(
            folder, 'expected mnist.pkl.gz or the four MNIST IDX files, '
            f'found {4 - len(missing)} of the four: missing '
            f'{", ".join(missing)} (looked for {searched})',
            f'{GET_DATA}, or put the missing files there')
    X_train, y_train = _load_idx_pair(
        find_idx(folder, 'train-images-idx3-ubyte'),
        find_idx(folder, 'train-labels-idx1-ubyte'))
    X_test, y_test = _load_idx_pair(
        find_idx(folder, 't10k-images-idx3-ubyte'),
        find_idx(folder, 't10k-labels-idx1-ubyte'))
    # NOTE: mnist.pkl.gz took the last 10,000 of the 60,000 training images
    # as its validation set; other sizes keep that proportion.
    n_train = len(X_train) - len(X_train) // 6
    return ((X_train[:n_train], y_train[:n_train]),
            (X_train[n_train:], y_train[n_train:]),
            (X_test, y_test))


def read_idx(path, magic):
    """Return the uint8 array in an IDX file with the expected magic number.

    Images come back as (n, 28, 28), labels as (n,).
    """
    data = read_bytes(path)
    kind = 'images' if magic == IDX_IMAGES_MAGIC else 'labels'
    names = {IDX_IMAGES_MAGIC: 'an IDX images file',
             IDX_LABELS_MAGIC: 'an IDX labels file'}
    fix = 'point --data at the original MNIST IDX files'
    found = int.from_bytes(data[:4], 'big') if len(data) >= 4 else None
    if found != magic:
        if found in names:
            raise DataError(
                path, f'expected {names[magic]} (magic {magic:#010x}), '
                f'found {names[found]} (magic {found:#010x})',
                'check that the image and label files are not swapped or '
                'renamed')
        raise DataError(
            path, f'expected {names[magic]} (magic {magic:#010x}), raw or '
            f'gzipped, found {describe_bytes(data)}', fix)
    ndim = magic & 0xff
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            path, f'expected a {header}-byte IDX header, found '
            f'{len(data)} bytes in all', f'delete it and {GET_DATA}')
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    if kind == 'images' and shape[1:] != (28, 28):
        raise DataError(
            path, f'expected 28x28 images, found {shape[1]}x{shape[2]}',
            'use MNIST or a set in the same format (Fashion-MNIST)')
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        what = 'shorter' if len(data) < expected else 'longer'
        raise DataError(
            path, f'expected {expected:,} bytes (the header says '
            f'{shape[0]:,} {kind}), found {len(data):,}: the file is '
            f'{what}', f'delete it and {GET_DATA}')
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _load_idx_pair(images_path, labels_path):
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            labels_path, f'expected one label for each of the '
            f'{len(images):,} images in {images_path.name}, found '
            f'{len(labels):,} labels', 'use image and label files of one set')
    _check_labels(labels_path, labels, 'the labels')
    X = images.reshape(len(images), N_PIXELS) / np.float32(256)
    return X.astype(np.float32, copy=False), labels


def _check_labels(path, y, where):
    if y.size and (y.min() < 0 or y.max() >= N_CLASSES):
        raise DataError(
            path, f'expected {where} to be digits 0-9, found values from '
            f'{y.min()} to {y.max()}', 'use MNIST labels (classes 0-9)')


class SafeUnpickler(pickle.Unpickler):
    """Unpickle numpy arrays and nothing else.

    A pickle names the callables that rebuild its objects, and unpickling
    calls them, so an untrusted file could run any function. The names
    allowed, one by one, are those pickletools shows in mnist.pkl.gz
    (Python 2, numpy 1.x) and in its Python 3 re-pickles at every protocol,
    under numpy 1 (numpy.core) and numpy 2 (numpy._core). Anything else
    raises UnsafePickle before it is called.
    """

    def find_class(self, module, name):
        allowed = _allowed_globals()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise UnsafePickle(module, name)


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
        # protocol 5 rebuilds arrays from a buffer
        allowed[(f'{package}.numeric', '_frombuffer')] = numeric._frombuffer
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    # protocols 0-2 under Python 3 store bytes as _codecs.encode(str)
    allowed[('_codecs', 'encode')] = codecs.encode
    return allowed


def read_pickle(path):
    """Return the three checked (X, y) pairs of an mnist.pkl.gz file.

    X and y come back as stored (float32 and int64 in the original);
    `load_mnist` casts them.
    """
    data = read_bytes(path)
    fix = 'use the original mnist.pkl.gz or the MNIST IDX files'
    magic = int.from_bytes(data[:4], 'big')
    if magic in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise DataError(
            path, 'expected mnist.pkl.gz or a folder of IDX files, found '
            'a single IDX file', 'give --data the folder that holds all '
            'four IDX files')
    try:
        sets = SafeUnpickler(io.BytesIO(data), encoding='latin1').load()
    except UnsafePickle as e:
        raise DataError(
            path, f'expected a pickle of numpy arrays, found one that '
            f'names {e.refused}, which MNIST never needs (a pickle can run '
            'any function it names; it was not called)', fix) from None
    except Exception as e:
        # protocol 2 and later start with PROTO, 0 and 1 mostly with MARK
        # or GLOBAL
        if data[:1] not in (b'\x80', b'(', b'c'):
            raise DataError(
                path, 'expected mnist.pkl.gz (a gzipped pickle), found '
                f'{describe_bytes(data)}', fix) from None
        raise DataError(
            path, f'expected a readable pickle, found one that fails '
            f'({type(e).__name__}: {e})', fix) from None
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
    for split, (X, y) in zip(SPLITS, sets):
        where = f'the {split} set'
        if not (isinstance(X, np.ndarray) and isinstance(y, np.ndarray)):
            raise DataError(
                path, f'expected numpy arrays in {where}, found '
                f'{_describe(X)} and {_describe(y)}', fix)
        if X.ndim == 3 and X.shape[1:] == (28, 28):
            raise DataError(
                path, f'expected {where} images as rows of 784 pixels, '
                f'found them shaped {X.shape}',
                'reshape them to (n, 784) and save again')
        if X.ndim != 2 or X.shape[1] != N_PIXELS:
            raise DataError(
                path, f'expected {where} images of shape (n, 784), found '
                f'{X.shape}', fix)
        if y.shape != (len(X),):
            raise DataError(
                path, f'expected {where} to have {len(X):,} labels in a '
                f'row, found labels of shape {y.shape}', fix)
        if not np.issubdtype(X.dtype, np.floating):
            found = str(X.dtype)
            if np.issubdtype(X.dtype, np.number) and X.size:
                found += f' from {X.min()} to {X.max()}'
            raise DataError(
                path, f'expected {where} pixels as floats in [0, 1), found '
                f'{found}', 'divide the pixels by 256 and save them as '
                'float32')
        if not np.isfinite(X).all():
            n_bad = int(np.size(X) - np.isfinite(X).sum())
            raise DataError(
                path, f'expected finite pixels in {where}, found {n_bad:,} '
                'NaN or inf', fix)
        if X.size and (X.min() < 0 or X.max() > 1):
            raise DataError(
                path, f'expected {where} pixels in [0, 1], found them from '
                f'{X.min()} to {X.max()}',
                'divide the pixels by 256 and save again')
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                path, f'expected integer labels in {where}, found {y.dtype}',
                fix)
        _check_labels(path, y, f'{where} labels')
        checked.append((X, y))
    return checked


def _describe(value):
    if isinstance(value, np.ndarray):
        return f'an array of shape {value.shape}'
    if isinstance(value, (tuple, list)):
        return f'a {type(value).__name__} of {len(value)} items'
    return f'a {type(value).__name__}'
