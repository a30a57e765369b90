"""Two fixes that let Theano 1.0.5 reuse the C code it compiled before.

Theano keeps each compiled C module in its compile folder, so that a later
run loads it instead of calling g++. Two bugs in 1.0.5 defeat that for
this network and cost about 4 s at every start on two cores:

- An op whose `__props__` is empty (Dot22, Softmax, LogSoftmax,
  ScalarFromTensor) makes its module count as unversioned, so the module
  is compiled again in every process and deleted at exit.
- COp versions its C code by Python's `hash()` of the source text, which
  changes from one process to the next, so DimShuffle is compiled again
  in every run and each run leaves one more copy in the compile folder.

PyTensor fixed both: props count only when there are some, and the code
is versioned by a digest of its text. `apply()` does the same to Theano.
"""
from theano.gof import cc, op
from theano.gof.utils import hash_from_code

_cmodule_key = cc.CLinker.cmodule_key_


def cmodule_key(self, fgraph, *args, **kwargs):
    """Return Theano's module key, versioned where only empty props hid it.

    Theano appends every op's `__props__` to the version, and an empty
    tuple there makes the whole key unversioned.
    """
    key = _cmodule_key(self, fgraph, *args, **kwargs)
    if key is None or key[0]:
        return key
    version = []
    for node in self.schedule(fgraph):
        if hasattr(node.op, 'c_code_cache_version_apply'):
            version.append(node.op.c_code_cache_version_apply(node))
        if getattr(node.op, '__props__', None):
            version.append(node.op.__props__)
        version += [v.type.c_code_cache_version()
                    for v in node.inputs + node.outputs]
    return (tuple(version), key[1]) if all(version) else key


def cop_version(self):
    """Return a COp's version from a digest of its C code, not hash()."""
    version = (hash_from_code('\n'.join(self.func_codes)),)
    if hasattr(self, 'params_type'):
        version += (self.params_type.c_code_cache_version(),)
    return version


def apply():
    """Patch Theano's CLinker and COp; call once, after importing theano."""
    cc.CLinker.cmodule_key_ = cmodule_key
    op.COp.c_code_cache_version = cop_version
