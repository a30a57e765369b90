from setuptools import find_packages, setup

# Theano 1.0.5 installs only on Python 3.11 and imports only with numpy
# below 1.24; on Python 3.12 and later the package runs on PyTensor,
# Theano's maintained successor, with numpy 2. Theano's GPU code imports
# pkg_resources, which setuptools 82 removed.
THEANO = "python_version < '3.12'"
PYTENSOR = "python_version >= '3.12'"

setup(
    name='mlp_mnist',
    version='0.1.0',
    description='The classic Theano MNIST tutorial network, packaged to '
                'run on a current machine',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mlp_mnist', 'mlp_mnist.*']),
    python_requires='>=3.11',
    install_requires=[
        f'theano==1.0.5; {THEANO}',
        f'numpy>=1.23,<1.24; {THEANO}',
        f'scipy>=1.11,<1.12; {THEANO}',
        f'setuptools<82; {THEANO}',
        f'pytensor>=3.3,<4; {PYTENSOR}',
        f'numpy>=2; {PYTENSOR}',
        f'scipy>=1.13; {PYTENSOR}',
        'requests>=2.28',
        'tqdm>=4.60',
        'matplotlib>=3.7',
        'Pillow>=9',
    ],
    extras_require={
        'test': ['pytest>=7'],
        'bench': ['threadpoolctl>=3', 'torch'],
    },
)
