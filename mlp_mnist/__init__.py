"""The classic Theano MNIST tutorial network, packaged to run today.

Importing the package does not import Theano; `mlp_mnist.backend` does,
after filling in the settings a current machine needs.
"""
__version__ = '0.1.0'
