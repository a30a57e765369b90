from setuptools import find_packages, setup

setup(
    name='mlp_mnist',
    version='0.1.0',
    description="The classic Theano MNIST tutorial network, packaged to "
                "run on a current machine",
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mlp_mnist', 'mlp_mnist.*']),
    python_requires='>=3.11,<3.12',
    install_requires=[
        # Theano 1.0.5 imports with numpy < 1.24 only (np.bool went away)
        'theano==1.0.5',
        'numpy>=1.23,<1.24',
        'scipy>=1.11,<1.12',
    ],
    extras_require={
        'test': ['pytest>=7'],
    },
)
