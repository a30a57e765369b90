import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, write_idx_folder
from mlp_mnist import backend

THEANO = backend.BACKENDS['theano']
PYTENSOR = backend.BACKENDS['pytensor']


def test_user_settings_read_rc_then_flags(tmp_path):
    rc = tmp_path / 'rc'
    rc.write_text('[global]\nfloatX = float64\ndevice = cpu\n'
                  '[blas]\nldflags = -lmkl_rt\n')
    environ = {'THEANORC': str(rc),
               'THEANO_FLAGS': 'device=cuda,,mode=FAST_RUN'}
    assert backend.user_settings(THEANO, environ) == {
        'floatx': 'float64', 'device': 'cuda', 'blas.ldflags': '-lmkl_rt',
        'mode': 'FAST_RUN'}


def test_pytensor_flags_use_double_underscore(tmp_path):
    environ = {'PYTENSORRC': str(tmp_path / 'none'),
               'PYTENSOR_FLAGS': 'blas__ldflags=-lblas,floatX=float16'}
    assert backend.user_settings(PYTENSOR, environ) == {
        'blas.ldflags': '-lblas', 'floatx': 'float16'}


@pytest.fixture
def no_rc(tmp_path):
    return {'THEANORC': str(tmp_path / 'none'), 'HOME': str(tmp_path)}


def test_configure_fills_in_float32_and_blas(no_rc, monkeypatch):
    monkeypatch.setattr(backend, 'find_blas',
                        lambda: ('-L/x -lopenblasp', 'openblas:scipy'))
    environ = dict(no_rc, THEANO_FLAGS='mode=FAST_RUN')
    chosen = backend.configure('theano', environ)
    assert environ['THEANO_FLAGS'] == (
        "floatX=float32,blas.ldflags='-L/x -lopenblasp',mode=FAST_RUN")
    assert chosen['blas'] == 'openblas:scipy'
    assert chosen['filled_in'] == ['floatX', 'blas']


def test_configure_keeps_what_the_user_set(no_rc, monkeypatch):
    monkeypatch.setattr(backend, 'find_blas', pytest.fail)
    monkeypatch.setattr(backend, 'link_error', lambda flags, cxx: None)
    environ = dict(no_rc, THEANO_FLAGS='floatX=float64,blas.ldflags=-lblas')
    chosen = backend.configure('theano', environ)
    assert environ['THEANO_FLAGS'] == 'floatX=float64,blas.ldflags=-lblas'
    assert chosen == {'filled_in': [], 'blas': 'user:-lblas', 'gpu': '',
                      'user': {'floatx', 'blas.ldflags'}}


def test_each_backend_reads_only_its_own_spelling_of_a_flag(no_rc):
    # Theano ignores blas__ldflags and PyTensor blas.ldflags, so neither
    # is the user's choice, and the package still fills in a BLAS
    theano = dict(no_rc, THEANO_FLAGS='blas__ldflags=-lx,floatX=float64')
    assert backend.user_settings(THEANO, theano) == {'floatx': 'float64'}
    pytensor = dict(no_rc, PYTENSOR_FLAGS='blas.ldflags=-lx,floatX=float64',
                    PYTENSORRC=no_rc['THEANORC'])
    assert backend.user_settings(PYTENSOR, pytensor) == {'floatx': 'float64'}


@pytest.mark.parametrize('name', ['theano', 'pytensor'])
@pytest.mark.parametrize('cxx, reason', [
    ('{tmp}/g++', 'not a program that can be run'),
    ('/bin/true', 'it made no program'),
    # a C compiler builds the C++ object but cannot link libstdc++
    ('gcc', 'undefined reference to'),
])
def test_user_compiler_that_cannot_build_is_one_line(no_rc, tmp_path, name,
                                                     cxx, reason):
    cxx = cxx.format(tmp=tmp_path)
    ours = backend.BACKENDS[name]
    rc = no_rc['THEANORC']
    environ = dict(no_rc, PYTENSORRC=rc)
    environ[ours.flags_var] = f'cxx={cxx}'
    with pytest.raises(backend.BackendError) as info:
        backend.configure(name, environ)
    message = str(info.value)
    assert message.startswith(f'cxx={cxx} cannot build a C++ program (')
    assert reason in message
    assert message.endswith(
        f'); fix it in {ours.flags_var} or {rc}, or set cxx= (empty) to run '
        'without C code, much more slowly')


def test_a_flag_without_a_value_is_one_line(no_rc):
    # a value with a comma, unquoted, splits in two
    environ = dict(no_rc, THEANO_FLAGS='blas.ldflags=-L/x -Wl,--as-needed')
    with pytest.raises(backend.BackendError) as info:
        backend.user_settings(THEANO, environ)
    assert str(info.value) == (
        "cannot read THEANO_FLAGS: '--as-needed' is not key=value; write "
        'key=value, and put a value that holds a comma in quotes')
    quoted = dict(no_rc, THEANO_FLAGS="blas.ldflags='-L/x -Wl,--as-needed'")
    assert backend.user_settings(THEANO, quoted) == {
        'blas.ldflags': '-L/x -Wl,--as-needed'}


@pytest.mark.parametrize('name', ['theano', 'pytensor'])
def test_user_blas_that_does_not_link_is_one_line(no_rc, name):
    ours = backend.BACKENDS[name]
    environ = dict(no_rc, PYTENSORRC=no_rc['THEANORC'])
    environ[ours.flags_var] = f'{ours.flag("blas.ldflags")}=-lno_such_blas'
    with pytest.raises(backend.BackendError) as info:
        backend.configure(name, environ)
    message = str(info.value)
    # the middle is the linker's own words
    assert message.startswith(
        f'{ours.flag("blas.ldflags")}=-lno_such_blas does not link (')
    assert 'cannot find -lno_such_blas' in message
    assert message.endswith(
        f'); fix it in {ours.flags_var} or {no_rc["THEANORC"]}, or remove '
        'it so that the package finds a BLAS')


def test_no_blas_warns_once_with_the_fix(no_rc, monkeypatch, capsys):
    monkeypatch.setattr(backend, 'link_test', lambda flags: False)
    environ = dict(no_rc)
    chosen = backend.configure('theano', environ)
    err = capsys.readouterr().err
    assert chosen['blas'] == 'none'
    assert 'blas.ldflags=' in environ['THEANO_FLAGS']
    assert err.count('\n') == 1 and 'libopenblas-dev' in err


def test_system_openblas_comes_before_scipy(monkeypatch):
    tried = []
    monkeypatch.setattr(backend, 'link_test',
                        lambda flags: tried.append(flags) or True)
    assert backend.find_blas() == ('-lopenblas', 'openblas:system')
    assert tried == [['-lopenblas']]


def test_scipy_openblas_when_no_system_one(monkeypatch):
    monkeypatch.setattr(
        backend, 'link_test', lambda flags: flags != ['-lopenblas'])
    ldflags, label = backend.find_blas()
    assert label == 'openblas:scipy'
    assert 'openblas' in ldflags and 'scipy.libs' in ldflags


def test_scipy_openblas_really_links():
    flags = backend.scipy_openblas()
    if flags is None:
        pytest.skip('this scipy wheel ships no plain sgemm_')
    libdir = flags[0][2:]
    assert backend.link_test(flags + [f'-Wl,-rpath,{libdir}'])
    assert not backend.link_test(flags[:2] + ['-lno_such_blas'])


def test_unknown_forced_backend_is_one_line():
    with pytest.raises(backend.BackendError, match="'theano' or 'pytensor'"):
        backend.choose_backend({'MLP_MNIST_BACKEND': 'torch'})


def test_user_flags_win_in_a_real_import(tmp_path):
    code = ('import json; from mlp_mnist import backend; '
            'print(json.dumps(backend.settings()))')
    ours = backend.BACKENDS[backend.NAME]
    env = dict(os.environ, HOME=str(tmp_path))
    env[ours.rc_var] = str(tmp_path / 'rc')
    env[ours.flags_var] = f'floatX=float64,{ours.flag("blas.ldflags")}='

    run = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    settings = json.loads(run.stdout.splitlines()[-1])
    assert settings['floatX'] == 'float64'
    assert settings['blas'] == 'none'
    assert 'defaults' not in settings
    assert 'no BLAS library found' not in run.stderr


def test_forcing_a_missing_backend_is_one_line():
    missing = [name for name in backend.BACKENDS
               if importlib.util.find_spec(name) is None]
    if not missing:
        pytest.skip('both back-ends are installed here')
    with pytest.raises(backend.BackendError,
                       match=f'MLP_MNIST_BACKEND={missing[0]} but '
                             f'{missing[0]} is not installed'):
        backend.choose_backend({'MLP_MNIST_BACKEND': missing[0]})


def test_the_installed_backend_is_chosen_without_forcing():
    installed = [name for name in backend.BACKENDS
                 if importlib.util.find_spec(name) is not None]
    assert backend.choose_backend({}) == installed[0] == backend.NAME


def test_forcing_ignores_case_and_spaces():
    forced = f' {backend.NAME.upper()} '
    assert backend.choose_backend({'MLP_MNIST_BACKEND': forced}) == (
        backend.NAME)


def test_unclosed_quote_in_flags_is_one_line(no_rc):
    environ = dict(no_rc, THEANO_FLAGS='floatX="float32')
    with pytest.raises(backend.BackendError,
                       match='^cannot read THEANO_FLAGS: no closing '
                             'quotation; close the quotes'):
        backend.user_settings(THEANO, environ)


def test_rc_file_that_is_not_text_is_one_line(tmp_path):
    rc = tmp_path / 'rc'
    rc.write_bytes(b'[global]\nfloatX = \xff\xfe\n')
    with pytest.raises(backend.BackendError,
                       match=f'^cannot read {rc}: it is not text'):
        backend.user_settings(THEANO, {'THEANORC': str(rc)})


def test_a_mode_the_backend_refuses_stops_the_script(tmp_path):
    data = tmp_path / 'idx'
    write_idx_folder(data, n_train=120, n_test=20)
    env = dict(os.environ)
    env[backend.BACKENDS[backend.NAME].flags_var] = 'mode=NO_SUCH_MODE'
    run = subprocess.run(
        [sys.executable, str(ROOT / 'scripts' / 'train.py'), '--data',
         str(data), '--epochs', '1', '--n-hidden', '8'],
        env=env, capture_output=True, text=True, timeout=300)
    # a warning about the BLAS may come first
    *_, last = run.stderr.splitlines()
    assert run.returncode == 1 and 'Traceback' not in run.stderr
    assert last.startswith(f'error: {backend.NAME} refused a setting: ')
    assert 'Expected one of' in last and run.stderr.count('error:') == 1


def test_pytensor_keeps_generated_source_in_the_compile_folder():
    if backend.NAME != 'pytensor':
        pytest.skip('Theano writes no generated source')
    assert backend.config.generated_src_dir == str(
        backend.config.compiledir / 'generated_src')
