"""Train the tutorial's 784-625-10 network on MNIST and report accuracy.

The equivalent of running Newmu's 3_net.py: compiles the Theano functions
for whatever device Theano is set to (THEANO_FLAGS=device=cuda included),
fetching MNIST into the checkout's data/ folder first when it is missing.
With --out it checkpoints every epoch, and --resume continues a stopped run.

Usage: python scripts/train.py [--data PATH] [--epochs N] [--out DIR] ...
"""
import argparse
import inspect
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from mlp_mnist.data import default_data_dir  # noqa: E402
from mlp_mnist.download import fetch_mnist  # noqa: E402
from mlp_mnist.errors import UserError, os_error_line  # noqa: E402
from mlp_mnist.files import (ensure_writable, missing_folders,  # noqa: E402
                             remove_empty)
from mlp_mnist.flags import (nonempty_path, positive_number,  # noqa: E402
                             whole_number)
from mlp_mnist.train import Interrupted, train  # noqa: E402

DEFAULTS = {name: p.default
            for name, p in inspect.signature(train).parameters.items()}


positive_int = whole_number(1)
# past this numpy cannot even describe the weight matrix
n_hidden_value = whole_number(1, 2 ** 31 - 1)
seed_value = whole_number(0, 2 ** 32 - 1)  # what RandomState takes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='train the tutorial MLP on MNIST',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--data', metavar='PATH', type=nonempty_path, default=None,
        help='mnist.pkl.gz or a folder of the four MNIST IDX files; '
             "none: $MLP_MNIST_DATA, else this checkout's data/, fetched "
             'when missing')
    parser.add_argument('--epochs', metavar='N', type=positive_int,
                        default=DEFAULTS['n_epochs'],
                        help='passes over the training set')
    parser.add_argument('--batch-size', metavar='N', type=positive_int,
                        default=DEFAULTS['batch_size'],
                        help='images per SGD step')
    parser.add_argument('--learning-rate', metavar='F',
                        type=positive_number,
                        default=DEFAULTS['learning_rate'],
                        help='SGD step size')
    parser.add_argument('--n-hidden', metavar='N', type=n_hidden_value,
                        default=DEFAULTS['n_hidden'], help='hidden units')
    parser.add_argument('--seed', metavar='N', type=seed_value,
                        default=DEFAULTS['seed'],
                        help='seed of the weight initialisation and of '
                             '--shuffle')
    parser.add_argument('--patience', metavar='N', type=positive_int,
                        default=DEFAULTS['patience'],
                        help='stop after N epochs without a better '
                             'valid_acc; none: never')
    parser.add_argument('--shuffle', action='store_true',
                        default=DEFAULTS['shuffle'],
                        help='draw a new minibatch order every epoch')
    parser.add_argument('--out', metavar='DIR', type=nonempty_path,
                        default=DEFAULTS['out'],
                        help='folder for the checkpoint, weights.npz, '
                             'history.csv and pictures')
    parser.add_argument('--resume', action='store_true',
                        default=DEFAULTS['resume'],
                        help='continue the run whose checkpoint is in --out')
    args = parser.parse_args(argv)
    if args.resume and args.out is None:
        parser.error('--resume needs --out, the folder of the run to resume')
    return args


def resume_command(argv):
    """Return the command line that resumes the run started with argv.

    The script is named as it can be run from the current folder.
    """
    args = list(argv) + ([] if '--resume' in argv else ['--resume'])
    script = os.path.relpath(__file__)
    if script.startswith(os.pardir):
        script = str(Path(__file__).resolve())
    return shlex.join(['python', script, *args])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    made = []  # the folders of --out that this run creates
    try:
        if args.out is not None:
            made = missing_folders(args.out)
            ensure_writable(args.out, 'choose another --out folder')
        data_path = args.data or fetch_mnist(default_data_dir())
        from mlp_mnist.data import load_mnist
        data = load_mnist(data_path)
        train(data, n_epochs=args.epochs, batch_size=args.batch_size,
              learning_rate=args.learning_rate, n_hidden=args.n_hidden,
              seed=args.seed, patience=args.patience, shuffle=args.shuffle,
              out=args.out, resume=args.resume, source=data_path)
        return 0
    except UserError as e:
        status, message = 1, f'error: {e}'
    except OSError as e:
        status, message = 1, f'error: {os_error_line(e)}'
    except MemoryError:
        status, message = 1, ('error: not enough memory for this run; '
                              'choose a smaller --n-hidden or --batch-size')
    except Interrupted as e:
        hint = f'; resume with: {resume_command(argv)}' if e.saved else ''
        status, message = 130, f'{e}{hint}'
    except KeyboardInterrupt:
        status, message = 130, ('interrupted before training began; '
                                'nothing is saved')
    remove_empty(made)  # an --out folder this run made and left empty
    print(message, file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
