"""Theano's sigmoid, compiled so that the C compiler can vectorize it.

Theano 1.0.5 computes the sigmoid of each float32 element with a scalar
call to expf. On 128 x 625 hidden units that loop takes about an eighth
of a training step on the CPU, more than all the other elementwise work
together. glibc's libmvec has vector versions of expf; declaring expf a
SIMD function lets gcc call them, 4 to 16 elements at a time. The formula
and its cut-offs are Theano's; libmvec's expf is within an ulp or so of
the scalar one, so the network trains to the same numbers.

Elsewhere (not x86-64, not glibc, float64) the code is Theano's own.
"""
from theano import scalar
from theano.tensor.elemwise import Elemwise
from theano.tensor.nnet.sigm import ScalarSigmoid

SUPPORT_CODE = """
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) \\
    && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 22)
extern "C" float expf(float) throw() __attribute__((__simd__("notinbranch")));
#endif
static inline float mlp_mnist_sigmoidf(float x)
{
    return x < -88.0f ? 0.0f : x > 15.0f ? 1.0f : 1.0f / (1.0f + expf(-x));
}
"""


class VectorSigmoid(ScalarSigmoid):
    """ScalarSigmoid whose float32 C code is a loop gcc can vectorize."""

    def grad(self, inputs, output_gradients):
        # ScalarSigmoid's grad recomputes y with its own op; use this one,
        # so the forward pass's result is reused
        x, = inputs
        gz, = output_gradients
        y = self(x)
        return [gz * y * (1.0 - y)]

    def c_support_code(self):
        return SUPPORT_CODE

    def c_code(self, node, name, inputs, outputs, sub):
        if node.inputs[0].type != scalar.float32:
            return super().c_code(node, name, inputs, outputs, sub)
        x, = inputs
        z, = outputs
        return f'{z} = mlp_mnist_sigmoidf({x});'

    def c_code_cache_version(self):
        version = super().c_code_cache_version()
        return ('mlp_mnist', 1) + version if version else version


scalar_sigmoid = VectorSigmoid(scalar.upgrade_to_float, name='scalar_sigmoid')
sigmoid = Elemwise(scalar_sigmoid, name='sigmoid')
