"""Train the tutorial's 784-625-10 network on MNIST and report accuracy.

The equivalent of running Newmu's 3_net.py: compiles the Theano functions
for whatever device Theano is set to (THEANO_FLAGS=device=cuda included),
fetching MNIST into the checkout's data/ folder first when it is missing.

Usage: python scripts/train.py [--data PATH] [--epochs N] [--out DIR] ...
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from mlp_mnist.data import default_data_dir  # noqa: E402
from mlp_mnist.download import fetch_mnist  # noqa: E402
from mlp_mnist.errors import UserError  # noqa: E402
from mlp_mnist.files import ensure_writable  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='train the tutorial MLP on MNIST',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--data', type=Path, default=None,
        help='mnist.pkl.gz or a folder of the four MNIST IDX files '
             "(default: $MLP_MNIST_DATA, else this checkout's data/, "
             'fetched when missing)')
    parser.add_argument('--epochs', type=int, default=100,
                        help='passes over the training set')
    parser.add_argument('--batch-size', type=int, default=128,
                        help='images per SGD step')
    parser.add_argument('--learning-rate', type=float, default=0.05,
                        help='SGD step size')
    parser.add_argument('--n-hidden', type=int, default=625,
                        help='hidden units')
    parser.add_argument('--seed', type=int, default=1234,
                        help='seed of the weight initialisation')
    parser.add_argument('--out', type=Path, default=None,
                        help='folder for weights.npz')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.out is not None:
            ensure_writable(args.out, 'choose another --out folder')
        data_path = args.data or fetch_mnist(default_data_dir())
        from mlp_mnist.data import load_mnist
        from mlp_mnist.train import train
        data = load_mnist(data_path)
        train(data, n_epochs=args.epochs, batch_size=args.batch_size,
              learning_rate=args.learning_rate, n_hidden=args.n_hidden,
              seed=args.seed, out=args.out, source=data_path)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
