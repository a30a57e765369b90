"""Write pickles the way Python 2's cPickle wrote mnist.pkl.gz.

Python 3 cannot produce them: it stores array data as bytes objects, while
Python 2 stored a str, which Python 3 can only read back as text, hence
encoding='latin1' in the loader. These opcodes are what pickletools shows
for arrays pickled with protocol 2 under Python 2 and numpy 1.x.
"""
import pickle
import struct


def _short_string(s):
    s = s.encode('latin1') if isinstance(s, str) else s
    return pickle.SHORT_BINSTRING + bytes([len(s)]) + s


def _int(i):
    if 0 <= i < 256:
        return pickle.BININT1 + bytes([i])
    return pickle.BININT + struct.pack('<i', i)


def _global(module, name):
    return pickle.GLOBAL + f'{module}\n{name}\n'.encode()


def _array(a):
    dtype = a.dtype.str  # e.g. '<f4'
    shape = b''.join(_int(d) for d in a.shape)
    data = a.tobytes()
    return b''.join([
        _global('numpy.core.multiarray', '_reconstruct'),
        _global('numpy', 'ndarray'),
        _int(0), pickle.TUPLE1, _short_string('b'), pickle.TUPLE3,
        pickle.REDUCE,
        pickle.MARK, _int(1),
        pickle.MARK, shape, pickle.TUPLE,
        _global('numpy', 'dtype'), _short_string(dtype[1:]), _int(0),
        _int(1), pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _int(3), _short_string(dtype[0]), pickle.NONE,
        pickle.NONE, pickle.NONE, pickle.BININT + struct.pack('<i', -1),
        pickle.BININT + struct.pack('<i', -1), _int(0), pickle.TUPLE,
        pickle.BUILD,
        pickle.NEWFALSE,
        pickle.BINSTRING + struct.pack('<I', len(data)) + data,
        pickle.TUPLE, pickle.BUILD,
    ])


def _value(v):
    if isinstance(v, tuple):
        return pickle.MARK + b''.join(_value(x) for x in v) + pickle.TUPLE
    if isinstance(v, str):
        return _short_string(v)
    return _array(v)


def dumps(value):
    """Return a protocol 2 pickle of nested tuples of numpy arrays."""
    return pickle.PROTO + b'\x02' + _value(value) + pickle.STOP
