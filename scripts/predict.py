"""Classify digit pictures, or MNIST test images, with trained weights.

The tutorial's predict function applied to what a user has: a weights.npz
written by scripts/train.py --out, and PNG or JPEG pictures of digits of
any size, made to look like MNIST's (white on black, 28x28) first. Prints
one line per picture: its path, the digit and the network's probability.

Usage: python scripts/predict.py --weights FILE [--invert] IMAGE...
       python scripts/predict.py --weights FILE --test-index N...
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from mlp_mnist.errors import UserError, os_error_line  # noqa: E402
from mlp_mnist.flags import nonempty_path, whole_number  # noqa: E402


def parse_args(argv=None):
    # no ArgumentDefaultsHelpFormatter: no flag here has a default to show
    parser = argparse.ArgumentParser(
        description='classify digit pictures with trained weights')
    parser.add_argument('images', metavar='IMAGE', type=nonempty_path,
                        nargs='*',
                        help='PNG or JPEG pictures of single digits')
    parser.add_argument('--weights', metavar='FILE', type=nonempty_path,
                        required=True,
                        help='weights.npz written by scripts/train.py --out')
    parser.add_argument('--invert', action='store_true',
                        help='the pictures are dark ink on light paper')
    parser.add_argument('--test-index', metavar='N', nargs='+',
                        type=whole_number(0),
                        default=[],
                        help='classify these MNIST test images too')
    parser.add_argument(
        '--data', metavar='PATH', type=nonempty_path, default=None,
        help='MNIST for --test-index; by default $MLP_MNIST_DATA, else '
             "this checkout's data/, fetched when missing")
    args = parser.parse_args(argv)
    if not args.images and not args.test_index:
        parser.error('give IMAGE files, --test-index N, or both')
    return args


def load_test_images(data_path, indexes):
    """Return (names, X, labels) of the MNIST test images at `indexes`."""
    from mlp_mnist.data import default_data_dir, load_mnist
    from mlp_mnist.download import fetch_mnist
    if data_path is None:
        data_path = fetch_mnist(
            default_data_dir(), log=lambda line: print(line, file=sys.stderr))
    _, _, (X_test, y_test) = load_mnist(data_path)
    for i in indexes:
        if i >= len(X_test):
            raise UserError(
                f'--test-index {i} is past the last test image, '
                f'{len(X_test) - 1}')
    return [f'test[{i}]' for i in indexes], X_test[indexes], y_test[indexes]


def main(argv=None):
    args = parse_args(argv)
    failed = False
    try:
        from mlp_mnist.images import read_digit
        from mlp_mnist.backend import shared
        from mlp_mnist.model import compile_predict, floatX
        from mlp_mnist.train import load_weights
        w_h, w_o = load_weights(args.weights)
        names, rows = [], []
        for path in args.images:
            try:
                rows.append(read_digit(path, invert=args.invert))
                names.append(str(path))
            except UserError as e:
                print(f'error: {e}', file=sys.stderr)
                failed = True
        labels = [None] * len(rows)
        if args.test_index:
            test_names, X_test, y_test = load_test_images(
                args.data, args.test_index)
            names += test_names
            rows += list(X_test)
            labels += list(y_test)
        if rows:
            predict_fn = compile_predict(shared(floatX(w_h)),
                                         shared(floatX(w_o)))
            py_x = predict_fn(floatX(rows))  # (n, 10)
            for name, p, label in zip(names, py_x, labels):
                line = (f'{name}  digit {p.argmax()}  '
                        f'probability {p.max():.4f}')
                print(line if label is None else f'{line}  label {label}')
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except OSError as e:
        print(f'error: {os_error_line(e)}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
