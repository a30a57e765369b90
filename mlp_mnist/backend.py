"""The symbolic back-end, Theano or PyTensor, configured and imported once.

The original tutorial imports Theano and relies on a hand-written
~/.theanorc. A Theano 1.0.5 import on a current machine crashes unless
`blas.ldflags` is set, and floatX defaults to float64, so this module fills
in those settings where the user left them out, then imports the back-end.
Nothing else in the package imports Theano or PyTensor directly.
"""
import configparser
import importlib.util
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from .errors import UserError


class BackendError(UserError):
    """A set-up problem the user can fix; the message is one line."""


class Backend:
    """How one back-end spells its flags variable, rc file and keys."""

    def __init__(self, name, flags_var, rc_var, rc_default, sep):
        self.name = name
        self.flags_var = flags_var
        self.rc_var = rc_var
        self.rc_default = rc_default
        self.sep = sep  # between section and option in a flag name

    def flag(self, key):
        """Spell a dotted key ('blas.ldflags') as this back-end reads it."""
        return key.replace('.', self.sep)

    def where(self, environ=os.environ):
        """Name the places a user's setting comes from, for messages."""
        return (f'{self.flags_var} or '
                f'{environ.get(self.rc_var, self.rc_default)}')


BACKENDS = {
    'theano': Backend(
        'theano', 'THEANO_FLAGS', 'THEANORC', '~/.theanorc', '.'),
    'pytensor': Backend(
        'pytensor', 'PYTENSOR_FLAGS', 'PYTENSORRC', '~/.pytensorrc', '__'),
}

SGEMM_TEST = """
extern void sgemm_(char *, char *, int *, int *, int *, float *, float *,
                   int *, float *, int *, float *, float *, int *);
int main(void)
{
    int n = 1;
    char t = 'N';
    float a = 2, b = 3, c = 0, one = 1, zero = 0;
    sgemm_(&t, &t, &n, &n, &n, &one, &a, &n, &b, &n, &zero, &c, &n);
    return c == 6 ? 0 : 1;
}
"""


CXX_TEST = """
#include <iostream>
int main()
{
    std::cout << "";
    return 0;
}
"""


def choose_backend(environ=os.environ):
    """Return the back-end to use: forced, else Theano, else PyTensor."""
    forced = environ.get('MLP_MNIST_BACKEND', '').strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise BackendError(
                f'MLP_MNIST_BACKEND={forced!r} is not a back-end; '
                "set it to 'theano' or 'pytensor', or unset it")
        if importlib.util.find_spec(forced) is None:
            raise BackendError(
                f'MLP_MNIST_BACKEND={forced} but {forced} is not installed '
                f'for {sys.executable}; run pip install -e . with Python '
                f'{"3.11" if forced == "theano" else "3.12 or later"}, '
                'or unset MLP_MNIST_BACKEND')
        return forced
    for name in BACKENDS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise BackendError(
        'neither theano nor pytensor is installed for '
        f'{sys.executable}; run pip install -e . from the mlp_mnist checkout '
        '(Theano needs Python 3.11, PyTensor 3.12 or later)')


def user_settings(backend, environ=os.environ):
    """Return the settings the user made, as {dotted lower-case key: value}.

    Reads the rc files, then the flags variable, the way the back-end does:
    the flags variable wins, and options in [global] have no section part.
    """
    settings = {}
    rc_files = environ.get(backend.rc_var, backend.rc_default)
    rc = configparser.RawConfigParser()
    try:
        rc.read([os.path.expanduser(p) for p in rc_files.split(os.pathsep)])
    except (configparser.Error, UnicodeDecodeError) as e:
        reason = (e.message.splitlines()[0] if isinstance(
            e, configparser.Error) else 'it is not text')
        raise BackendError(
            f'cannot read {rc_files}: {reason}; fix or move that '
            'file') from None
    for section in rc.sections():
        for option in rc.options(section):
            key = option if section == 'global' else f'{section}.{option}'
            settings[key.lower()] = rc.get(section, option)

    lexer = shlex.shlex(environ.get(backend.flags_var, ''), posix=True)
    lexer.whitespace = ','
    lexer.whitespace_split = True
    try:
        pairs = list(lexer)
    except ValueError as e:  # an unclosed quote
        raise BackendError(
            f'cannot read {backend.flags_var}: {str(e).lower()}; close '
            'the quotes or drop them') from None
    # each back-end reads only its own spelling, blas.ldflags for Theano
    # and blas__ldflags for PyTensor, and ignores the other
    other_sep = '__' if backend.sep == '.' else '.'
    for pair in pairs:
        key, eq, value = pair.strip().partition('=')
        if key and not eq:
            raise BackendError(
                f'cannot read {backend.flags_var}: {key!r} is not '
                'key=value; write key=value, and put a value that holds a '
                'comma in quotes')
        if eq and other_sep not in key:
            settings[key.replace(backend.sep, '.').lower()] = value
    return settings


def link_test(flags, cxx='g++'):
    """Return True when a program calling sgemm_ links and runs."""
    return shutil.which(cxx) is not None and link_error(flags, cxx) is None


def link_error(flags, cxx='g++'):
    """Return why a program calling sgemm_ fails with `flags`, else None.

    The reason is the linker's first complaint, or that the program did
    not run and compute right.
    """
    # -x c: g++ would compile test.c as C++ and mangle the name sgemm_
    return _build_error(cxx, 'test.c', SGEMM_TEST, ['-x', 'c'], flags)


def compiler_error(cxx):
    """Return why `cxx` cannot build a C++ program, else None."""
    if shutil.which(cxx) is None:
        return 'not a program that can be run'
    return _build_error(cxx, 'test.cpp', CXX_TEST)


def _build_error(cxx, name, code, language=(), flags=()):
    """Build `code`, saved as `name`, with `cxx` and run it; say what fails.

    Returns None when the program builds and exits with status 0.
    """
    with tempfile.TemporaryDirectory(prefix='mlp_mnist_') as tmp:
        source = Path(tmp, name)
        source.write_text(code)
        program = Path(tmp, 'test')
        try:
            build = subprocess.run(
                [cxx, *language, str(source), '-o', str(program), *flags],
                capture_output=True, text=True)
        except OSError as e:
            return f'it cannot be run ({e.strerror})'
        if build.returncode != 0:
            return _complaint(build.stderr, 'it failed')
        if not program.is_file():
            return 'it made no program'
        if subprocess.run([str(program)], capture_output=True).returncode:
            return 'the program it built does not run'
    return None


def _complaint(stderr, otherwise):
    """Return the first line of a compiler's stderr that reports an error."""
    complaints = [line.strip() for line in stderr.splitlines()
                  if 'error' in line or 'cannot find' in line
                  or 'undefined reference' in line]
    return (complaints or [otherwise])[0]


def scipy_openblas():
    """Return flags for the scipy wheel's OpenBLAS if it exports sgemm_."""
    spec = importlib.util.find_spec('scipy')
    if spec is None or spec.origin is None:
        return None
    libs = Path(spec.origin).parent.parent / 'scipy.libs'
    for lib in sorted(libs.glob('lib*openblas*.so')):
        # NOTE: newer scipy wheels prefix their symbols (scipy_sgemm_),
        # which Theano's C code cannot call; the link test weeds them out.
        if ' ' in str(lib):
            continue  # blas.ldflags is split on spaces
        # The library finds its own libgfortran only through an old-style
        # RPATH, which, unlike RUNPATH, also serves its dependencies.
        flags = [f'-L{lib.parent}', f'-l{lib.name[3:-3]}',
                 '-Wl,--disable-new-dtags']
        if link_test(flags + [f'-Wl,-rpath,{lib.parent}']):
            return flags
    return None


def find_blas():
    """Return (ldflags, label) for the best BLAS this machine can link.

    The system OpenBLAS first, then the one inside the scipy wheel, else the
    empty value, which makes the back-end fall back to NumPy's slower path.
    """
    if link_test(['-lopenblas']):
        return '-lopenblas', 'openblas:system'
    flags = scipy_openblas()
    if flags:
        return ' '.join(flags), 'openblas:scipy'
    return '', 'none'


def check_user_blas(backend, ldflags, cxx, environ):
    """Stop when the user's own blas.ldflags cannot link.

    Otherwise the back-end fails at the first compile, with the linker's
    message deep in a long traceback.
    """
    if not ldflags or not cxx or shutil.which(cxx) is None:
        return  # no BLAS asked for, or no compiler: the back-end copes
    try:
        flags = shlex.split(ldflags)
    except ValueError:
        flags = ldflags.split()
    # as the back-end does, each library folder also goes in the RPATH
    rpaths = [f'-Wl,-rpath,{f[2:]}' for f in flags if f.startswith('-L')]
    reason = link_error(flags + rpaths, cxx)
    if reason and 'does not run' not in reason:
        raise BackendError(
            f'{backend.flag("blas.ldflags")}={ldflags} does not link '
            f'({reason}); fix it in {backend.where(environ)}, or remove '
            'it so that the package finds a BLAS')


def default_base_compiledir(backend):
    """Return the back-end's own compile folder when it can be written."""
    base = Path(os.path.expanduser(f'~/.{backend.name}'))
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return base if os.access(base, os.W_OK | os.X_OK) else None


def requested_gpu(name, user, environ):
    """Return the GPU device the user asked for ('' for none).

    Refuses what would otherwise end in a traceback or, worse, a silent run
    on the CPU: Theano's removed `gpu` back-end, and a device for PyTensor,
    which has no such flag.
    """
    asked = user.get('device', '')
    if name == 'pytensor':
        theano_user = user_settings(BACKENDS['theano'], environ)
        asked = asked or theano_user.get('device', '')
        if asked.startswith(('cuda', 'gpu', 'opencl')):
            raise BackendError(
                f'device={asked} is set, but this Python runs PyTensor, which '
                'has no device flag; drop device and use '
                'PYTENSOR_FLAGS=mode=JAX with jax[cuda] installed, or use '
                'Python 3.11 with Theano and pygpu (see README, GPU)')
        return ''
    for key in ('device', 'init_gpu_device'):
        if user.get(key, '').startswith('gpu'):
            raise BackendError(
                f"{key}={user[key]} names Theano's old GPU back-end, which "
                'Theano 1.0 removed; set it to cuda (or cuda0, cuda1, ...) in '
                'THEANO_FLAGS or ~/.theanorc')
    return asked if asked.startswith(('cuda', 'opencl')) else ''


def configure(name, environ=os.environ):
    """Fill in the package's defaults where the user set nothing.

    Writes them into the back-end's flags variable in `environ`, before the
    back-end is imported, and returns a dict describing what was chosen.
    """
    backend = BACKENDS[name]
    user = user_settings(backend, environ)
    defaults = {}
    chosen = {'filled_in': [], 'user': set(user)}

    if 'floatx' not in user:
        defaults['floatX'] = 'float32'  # what a GPU computes fast
    cxx = user.get('cxx', 'g++').strip()
    reason = 'cxx' in user and cxx and compiler_error(cxx)
    if reason:
        raise BackendError(
            f'cxx={cxx} cannot build a C++ program ({reason}); fix it in '
            f'{backend.where(environ)}, or set cxx= (empty) to run without '
            'C code, much more slowly')
    if 'blas.ldflags' in user:
        value = user['blas.ldflags'].strip()
        chosen['blas'] = f'user:{value}' if value else 'none'
        check_user_blas(backend, value, cxx, environ)
    else:
        defaults['blas.ldflags'], chosen['blas'] = find_blas()
        if not defaults['blas.ldflags']:
            print(
                'warning: no BLAS library found to link, so matrix products '
                "take NumPy's slower path; install OpenBLAS (Debian/Ubuntu: "
                'apt install libopenblas-dev) or set blas.ldflags in '
                f'{backend.flags_var}', file=sys.stderr)
    if not {'base_compiledir', 'compiledir'} & set(user):
        if default_base_compiledir(backend) is None:
            fallback = Path(
                tempfile.gettempdir(), f'mlp_mnist-{name}-{os.getuid()}')
            fallback.mkdir(mode=0o700, exist_ok=True)
            defaults['base_compiledir'] = str(fallback)
            print(f'note: ~/.{name} cannot be written, so compiled code goes '
                  f'to {fallback}; set base_compiledir in '
                  f'{backend.flags_var} to choose another place',
                  file=sys.stderr)
    chosen['gpu'] = requested_gpu(name, user, environ)
    floatX = user.get('floatx', 'float32')
    if chosen['gpu'] and floatX != 'float32':
        print(f'warning: floatX={floatX} with device={chosen["gpu"]}: the '
              'GPU computes float32 fast and float64 slowly, and some float64 '
              'operations stay on the CPU; set floatX=float32',
              file=sys.stderr)

    if defaults:
        ours = ','.join(
            f'{backend.flag(k)}={shlex.quote(v) if v else ""}'
            for k, v in defaults.items())
        theirs = environ.get(backend.flags_var, '')
        environ[backend.flags_var] = f'{ours},{theirs}' if theirs else ours
        chosen['filled_in'] = [
            'blas' if k == 'blas.ldflags' else k for k in defaults]
    return chosen


class _Records(logging.Handler):
    """Keep log records instead of printing them."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _import_theano(gpu):
    """Import Theano; with a GPU asked for, stop unless pygpu came up.

    Theano 1.0.5 only logs a traceback when pygpu is missing or broken and
    then runs everything on the CPU; its log is caught here and turned into
    one line that says why and what to do.
    """
    logger = logging.getLogger('theano.gpuarray')
    records = _Records()
    logger.addHandler(records)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            # Theano's GPU code, imported by `import theano` itself when
            # a GPU is asked for, uses pkg_resources; Theano's to act on
            warnings.filterwarnings('ignore', 'pkg_resources is deprecated')
            import theano
            if gpu:
                import theano.gpuarray
    except ImportError as e:
        if not gpu:
            raise
        fix = ("pip install 'setuptools<82'" if e.name == 'pkg_resources'
               else 'reinstall with pip install -e .')
        raise BackendError(
            f'device={gpu} is set, but Theano\'s GPU code cannot be '
            f'imported ({_first_line(e)}); {fix}') from None
    finally:
        logger.removeHandler(records)
        logger.propagate = True
    if gpu and not theano.gpuarray.pygpu_activated:
        problem, fix = _pygpu_problem(records.records)
        raise BackendError(
            f'device={gpu} is set, but {problem}; {fix} (see README, GPU), '
            'or train on the CPU with THEANO_FLAGS=device=cpu')
    return theano


def _first_line(error):
    """Return the first line of an exception's message, bytes decoded."""
    message = error.args[0] if error.args else ''
    if isinstance(message, bytes):
        message = message.decode(errors='replace')
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _pygpu_problem(records):
    """Return (what went wrong, what to do) when pygpu gave Theano no GPU."""
    install = 'install pygpu 0.7 with its libgpuarray'
    try:
        import pygpu
        import pygpu.gpuarray  # noqa: F401, the compiled part
    except Exception as e:
        return f'pygpu cannot be imported ({_first_line(e)})', install
    version = getattr(pygpu, '__version__', 'of unknown version')
    for record in records:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            continue
        problem = (f'pygpu {version} could not start the GPU '
                   f'({type(error).__name__}: {_first_line(error)})')
        if 'version' in _first_line(error):
            return problem, install
        return problem, ('check the NVIDIA driver and that libcuda.so, '
                         'libnvrtc.so and libcublas.so can be loaded')
    return f'pygpu {version} could not start the GPU', install


def _import(name, gpu=''):
    """Import the back-end and return the pieces the model module needs."""
    if name == 'theano':
        theano = _import_theano(gpu)
        import theano.tensor as T
        from . import cache
        from .sigmoid import sigmoid
        cache.apply()
        nnet = T.nnet
        return (theano, T, sigmoid, nnet.softmax,
                nnet.categorical_crossentropy)
    import pytensor
    import pytensor.tensor as T
    if str(pytensor.config.mode).upper() == 'JAX':
        # JAX computes in 32 bits unless told otherwise, and says so once
        # for the 64-bit accumulators of sums and for the int64 index
        warnings.filterwarnings(
            'ignore', r'Explicitly requested dtype (float|int)64 ',
            UserWarning)

    def softmax(x):
        # row by row, as Theano's; PyTensor's default takes all elements
        return T.special.softmax(x, axis=-1)

    def categorical_crossentropy(coding_dist, true_dist):
        # Theano's T.nnet.categorical_crossentropy for one-hot targets
        return -T.sum(true_dist * T.log(coding_dist), axis=-1)

    return pytensor, T, T.sigmoid, softmax, categorical_crossentropy


def _import_checked(name, gpu):
    """Return what _import does; a setting the back-end refuses stops it.

    The mode is looked up now, which would otherwise happen at the first
    compile, deep in a traceback.
    """
    backend = BACKENDS[name]
    try:
        pieces = _import(name, gpu)
        pieces[0].compile.mode.get_mode(pieces[0].config.mode)
    except ValueError as e:
        raise BackendError(
            f'{name} refused a setting: {_first_line(e).rstrip(".")}; '
            f'fix it in {backend.where()}') from None
    return pieces


NAME = choose_backend()
CHOSEN = configure(NAME)
(theano, T, sigmoid, softmax, categorical_crossentropy) = _import_checked(
    NAME, CHOSEN['gpu'])
config = theano.config
function = theano.function
shared = theano.shared
if (hasattr(config, 'generated_src_dir')
        and 'generated_src_dir' not in CHOSEN['user']):
    # PyTensor writes the source of each compiled function to a new file
    # in /tmp unless told a folder, where it reuses and prunes them
    config.generated_src_dir = str(Path(config.compiledir, 'generated_src'))


def shared_data(X):
    """Return a shared variable for a data set, kept where the work runs.

    Theano with device=cuda puts it in GPU memory by itself. PyTensor's JAX
    mode hands a shared value to its compiled function as it is, so a numpy
    array would be copied to the device at every call; a JAX array stays.
    """
    variable = shared(X, borrow=True)
    if NAME == 'pytensor' and str(config.mode).upper() == 'JAX':
        import jax
        variable.container.storage[0] = jax.device_put(X)
    return variable


def check_device(fn):
    """Stop when a GPU was asked for but compiled `fn` holds no GPU op.

    Skipped for float64, which the warning at import already covers.
    """
    if not CHOSEN['gpu'] or config.floatX != 'float32':
        return
    nodes = fn.maker.fgraph.apply_nodes
    if not any(type(node.op).__module__.startswith('theano.gpuarray')
               for node in nodes):
        raise BackendError(
            f'device={CHOSEN["gpu"]} is set and pygpu is up, but the compiled '
            'train function runs entirely on the CPU; check that floatX is '
            'float32 and that nothing in THEANO_FLAGS (such as '
            'optimizer_excluding) keeps the work off the GPU')


def device_used():
    """Return the device the compiled functions run on, e.g. 'cuda0:H200'."""
    if not CHOSEN['gpu']:
        return 'cpu'
    import theano.gpuarray
    contexts = theano.gpuarray.init_dev.devmap
    return ','.join(f'{dev}:{ctx.devname.replace(" ", "_")}'
                    for dev, ctx in contexts.items()) or CHOSEN['gpu']


def settings():
    """Return the effective back-end settings as an ordered dict of strings."""
    device = device_used()
    compiledir = str(config.compiledir)  # a Path in PyTensor
    home = os.path.expanduser('~')
    if compiledir.startswith(home + os.sep):
        compiledir = '~' + compiledir[len(home):]
    info = {
        'backend': f'{NAME}-{theano.__version__}',
        'device': device,
        'floatX': config.floatX,
        'blas': CHOSEN['blas'],
        'compiledir': compiledir,
    }
    if CHOSEN['filled_in']:
        info['defaults'] = ','.join(CHOSEN['filled_in'])
    return info
