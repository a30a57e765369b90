"""Check that the walk-throughs in docs/ name only things that exist.

Every backticked name in docs/tutorial.*.md, every `$` command and every
`>>>` import in their code blocks is parsed: files must be in the
repository (or be files a run writes), functions must be defined in a
module named next to them (in the same table row or list item, else the
same paragraph, else the same section), other code names must occur in the
package's code, flags must be in the argparse parser of their script, and
each script command must pass that parser. The package is read with `ast`;
only the scripts' parsers run, so the check takes a fraction of a second.
"""
import ast
import contextlib
import functools
import importlib.util
import io
import re
import shlex

import pytest

from conftest import ROOT
from mlp_mnist.data import IDX_FILES, PICKLE_NAME
from mlp_mnist.train import CHECKPOINT, HISTORY, PICTURES, WEIGHTS

DOCS = ROOT / 'docs'
WALKTHROUGHS = ('tutorial.ko.md', 'tutorial.en.md')
CODE_FILES = sorted([*(ROOT / 'mlp_mnist').glob('*.py'),
                     *(ROOT / 'scripts').glob('*.py')])
WRITTEN = {CHECKPOINT, HISTORY, WEIGHTS, *PICTURES}  # what --out DIR holds
DATA_FILES = {PICKLE_NAME, *IDX_FILES, *(f'{n}.gz' for n in IDX_FILES)}
# files of the original tutorial that the documents name
ORIGINAL = {'3_net.py', 'load.py', 'Theano-Tutorials/3_net.py'}
EXTENSIONS = ('.py', '.md', '.png', '.npz', '.csv', '.gz', '.sh', '.cfg',
              '.example', '.txt')

SPAN = re.compile(r'`([^`]+)`')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
ITEM_START = re.compile(r'^\s*(\||[-*] |\d+\. )')
IDENTIFIER = re.compile(r'^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$')
CALL = re.compile(r'^([A-Za-z_][\w.]*)\(.*\)$')
PATH = re.compile(r'^[A-Za-z0-9_.~/-]+$')
ENV = re.compile(r'^[A-Za-z_]\w*=')
SHELL_BREAKS = {'|', '||', '&&', ';', '>', '>>', '2>', '2>&1'}
IMPORT = re.compile(r'^(?:from\s+(\S+)\s+import\s+(.+)|import\s+(\S+))$')


@functools.lru_cache(maxsize=None)
def syntax_tree(path):
    return ast.parse(path.read_text(encoding='utf-8'))


@functools.lru_cache(maxsize=None)
def defined_names(path):
    """Return the names a module defines anywhere: defs, classes,
    assignments and imports."""
    names = set()
    for node in ast.walk(syntax_tree(path)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split('.')[0])
    return names


@functools.lru_cache(maxsize=None)
def option_strings(path):
    """Return the flags a file's argparse parser takes (-h and --help too)."""
    flags = {'-h', '--help'}
    for node in ast.walk(syntax_tree(path)):
        if (isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'add_argument'):
            flags.update(arg.value for arg in node.args
                         if isinstance(arg, ast.Constant)
                         and str(arg.value).startswith('-'))
    return flags


@functools.lru_cache(maxsize=None)
def code_words():
    """Return every word in the package's and the scripts' source."""
    words = set()
    for path in CODE_FILES:
        words.update(re.findall(r'[A-Za-z_][\w.]*',
                                path.read_text(encoding='utf-8')))
    # 'T.nnet.sigmoid' also counts as 'T.nnet' and 'T'
    return words | {w.rsplit('.', i)[0] for w in words for i in (1, 2)}


@functools.lru_cache(maxsize=None)
def load_script(path):
    spec = importlib.util.spec_from_file_location(f'doc_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def module_file(dotted):
    """Return the file of a module named like mlp_mnist.model, or None."""
    path = ROOT.joinpath(*dotted.split('.'))
    for candidate in (path.with_suffix('.py'), path / '__init__.py'):
        if candidate.is_file():
            return candidate
    return None


def relative(path):
    return path.relative_to(ROOT).as_posix()


# Parsing the documents

def parse_doc(text):
    """Return the sections of a Markdown text.

    A section (from one heading to the next) is a list of paragraphs; a
    paragraph is ('code', lines) for a fenced block, or ('text', items),
    where an item is a table row, a list item with its continuation lines,
    or the whole paragraph.
    """
    sections, paragraph, fence = [[]], [], None

    def close():
        if paragraph:
            items = []
            for line in paragraph:
                if not items or ITEM_START.match(line):
                    items.append(line.strip())
                else:
                    items[-1] += ' ' + line.strip()
            sections[-1].append(('text', items))
            paragraph.clear()

    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith('```'):
                sections[-1].append(('code', fence))
                fence = None
            else:
                fence.append(line)
        elif line.strip().startswith('```'):
            close()
            fence = []
        elif line.startswith('#'):
            close()
            sections.append([('text', [line.lstrip('#').strip()])])
        elif not line.strip():
            close()
        else:
            paragraph.append(line)
    close()
    if fence is not None:
        sections[-1].append(('code', fence))
    return sections


def commands_of(lines):
    """Return the commands ('$ ' lines) of a code block."""
    return [line[2:].strip() for line in lines if line.startswith('$ ')]


def spans_of(paragraph):
    """Return [(item, spans)] of a paragraph: what it puts in backticks,
    and for a code block its commands."""
    kind, lines = paragraph
    if kind == 'code':
        return [(None, commands_of(lines))]
    return [(item, SPAN.findall(item)) for item in lines]


# What a span names

def split_command(text):
    """Return (program, args) of a command, or None when it is not ours.

    program is the script or module file run; environment assignments in
    front and anything after a pipe or redirection are left out.
    """
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    while words and ENV.match(words[0]):
        words.pop(0)
    for i, word in enumerate(words):
        if word in SHELL_BREAKS:
            words = words[:i]
            break
    if not words:
        return None
    if words[0] in ('python', 'python3'):
        words = words[1:]
        if words[:1] == ['-m'] and len(words) > 1:
            return ('-m', words[1]), words[2:]
        if words and words[0].endswith('.py'):
            return words[0], words[1:]
        return None
    if words[0].endswith('.py') and ' ' in text:
        return words[0], words[1:]
    return None


def named_module(span):
    """Return the .py file a span names (a path, a module or a command)."""
    command = split_command(span)
    if command:
        program = command[0]
        if isinstance(program, tuple):
            return module_file(program[1])
        span = program
    if span.endswith('.py') and (ROOT / span).is_file():
        return ROOT / span
    if re.match(r'^mlp_mnist\.\w+$', span):
        return module_file(span)
    return None


def named_modules(spans):
    return [m for m in map(named_module, spans) if m]


def argparse_files(modules):
    return [m for m in modules if len(option_strings(m)) > 2]


def out_folders(sections):
    """Return the --out folders of the commands in a document."""
    folders = set()
    for section in sections:
        for paragraph in section:
            for _, spans in spans_of(paragraph):
                for span in spans:
                    command = split_command(span)
                    args = command[1] if command else []
                    folders.update(args[i + 1] for i, a in
                                   enumerate(args[:-1]) if a == '--out')
    return {f.rstrip('/') for f in folders}


# The checks

def check_command(span, problems):
    program, args = split_command(span)
    if isinstance(program, tuple):
        path = module_file(program[1])
        if path is None:
            problems.append(f'{span!r}: no module {program[1]}')
            return
    else:
        path = ROOT / program
        if not path.is_file():
            problems.append(f'{span!r}: no file {program}')
            return
    flags = option_strings(path)
    for arg in args:
        name = arg.split('=', 1)[0]
        if name.startswith('-') and name not in flags:
            problems.append(f'{span!r}: {relative(path)} has no flag {name}')
            return
    if len(flags) == 2 and args:
        problems.append(f'{span!r}: {relative(path)} takes no arguments')
        return
    if path.parent.name != 'scripts' or {'-h', '--help'} & set(args):
        return
    module = load_script(path)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            module.parse_args(args)
    except SystemExit:
        error = stderr.getvalue().strip().splitlines()
        problems.append(f'{span!r}: {relative(path)} refuses it '
                        f'({error[-1] if error else "exit"})')


def check_flags(span, scripts, problems):
    if not scripts:
        problems.append(f'{span!r}: no script named in its paragraph or '
                        'section to hold this flag')
        return
    for word in span.split():
        flag = word.split('=', 1)[0]
        if flag.startswith('--') and not any(
                flag in option_strings(s) for s in scripts):
            names = ', '.join(relative(s) for s in scripts)
            problems.append(f'{span!r}: no flag {flag} in {names}')


def check_path(span, doc_dir, outs, problems):
    path = span.rstrip('/')
    name = path.rsplit('/', 1)[-1]
    if (ROOT / path).exists() or (doc_dir / path).exists():
        return
    folder = path.rsplit('/', 1)[0] if '/' in path else None
    if name in WRITTEN and (folder is None or folder in outs):
        return
    if name in DATA_FILES and folder in (None, 'data'):
        return
    if path in ORIGINAL:
        return
    problems.append(f'{span!r}: no such file')


def check_call(span, modules, problems):
    name = CALL.match(span).group(1)
    if name.startswith('mlp_mnist.'):
        check_dotted(name, problems, span)
        return
    if not modules:
        problems.append(f'{span!r}: no module named in its paragraph or '
                        'section to define it')
        return
    found = any(name in defined_names(m) if '.' not in name
                else f'{name}(' in m.read_text(encoding='utf-8')
                for m in modules)
    if not found:
        names = ', '.join(relative(m) for m in modules)
        problems.append(f'{span!r}: {name} is not in {names}')


def check_dotted(name, problems, span=None):
    """A name like mlp_mnist.model or mlp_mnist.model.init_weights."""
    parts = name.split('.')
    for n in range(len(parts), 1, -1):
        path = module_file('.'.join(parts[:n]))
        if path is not None:
            rest = parts[n:]
            if rest and rest[0] not in defined_names(path):
                problems.append(f'{span or name!r}: {relative(path)} has '
                                f'no {rest[0]}')
            return
    problems.append(f'{span or name!r}: no module {".".join(parts[:2])}')


def check_import(line, problems):
    match = IMPORT.match(line)
    if not match or not (match.group(1) or match.group(3)).startswith(
            'mlp_mnist'):
        return
    if match.group(3):
        check_dotted(match.group(3), problems, line)
        return
    for name in match.group(2).strip('()').split(','):
        check_dotted(f'{match.group(1)}.{name.split()[0]}', problems, line)


def check_span(span, modules, scripts, doc_dir, outs, problems):
    span = span.strip()
    if split_command(span):
        check_command(span, problems)
    elif span.startswith('--'):
        check_flags(span, scripts, problems)
    elif PATH.match(span) and ('/' in span or span.endswith(EXTENSIONS)):
        if not span.startswith(('~', '$')):
            check_path(span, doc_dir, outs, problems)
    elif CALL.match(span):
        check_call(span, modules, problems)
    elif span.startswith('mlp_mnist.') and IDENTIFIER.match(span):
        check_dotted(span, problems)
    elif IDENTIFIER.match(span) and span not in code_words():
        problems.append(f'{span!r}: not a name in mlp_mnist/ or scripts/')


def problems_in(text, doc_dir=DOCS):
    """Return one line per name in a Markdown text that does not exist."""
    problems = []
    sections = parse_doc(text)
    outs = out_folders(sections)
    for section in sections:
        in_section = named_modules(
            s for p in section for _, spans in spans_of(p) for s in spans)
        for paragraph in section:
            items = spans_of(paragraph)
            in_paragraph = named_modules(s for _, spans in items
                                         for s in spans)
            for item, spans in items:
                if item is not None and item.count('`') % 2:
                    problems.append(f'unmatched backtick in: {item[:60]}')
                # the nearest: named in the item, else the paragraph,
                # else the section
                scopes = (named_modules(spans), in_paragraph, in_section)
                modules = next((s for s in scopes if s), [])
                scripts = next((s for s in map(argparse_files, scopes)
                                if s), [])
                for span in spans:
                    check_span(span, modules, scripts, doc_dir, outs,
                               problems)
                for target in LINK.findall(item or ''):
                    if not re.match(r'^[a-z]+:|#', target) and not (
                            doc_dir / target.split('#')[0]).exists():
                        problems.append(f'link to a missing file: {target}')
            if paragraph[0] == 'code':
                for line in paragraph[1]:
                    if line.startswith('>>> '):
                        check_import(line[4:].strip(), problems)
    return problems


# The tests

def read(name):
    return (DOCS / name).read_text(encoding='utf-8')


def doc_commands(text):
    return [c for section in parse_doc(text) for kind, lines in section
            if kind == 'code' for c in commands_of(lines)]


@pytest.mark.parametrize('name', WALKTHROUGHS)
def test_every_name_in_the_walkthrough_exists(name):
    problems = problems_in(read(name))
    assert not problems, '\n'.join([f'{name}:', *problems])


def test_both_walkthroughs_run_the_same_commands():
    ko, en = (doc_commands(read(name)) for name in WALKTHROUGHS)
    assert ko == en and len(ko) >= 5


def test_pictures_in_docs_are_small():
    for picture in DOCS.glob('*.png'):
        assert picture.stat().st_size < 300_000, picture.name


def test_readme_links_both_walkthroughs():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    links = LINK.findall(readme)
    for name in WALKTHROUGHS:
        assert f'docs/{name}' in links
        assert (DOCS / name).is_file()


GOOD = """\
# Weights

`init_weights(shape, rng)` in `mlp_mnist/model.py` draws `w_h`; run
`python scripts/train.py --epochs 3 --out run`, then look at
`run/hidden_weights.png`. `--patience N` stops early.

`load_mnist()` in `mlp_mnist/data.py` reads [the data](../data).

```
$ python scripts/train.py --patience 5 --shuffle
>>> from mlp_mnist.data import load_mnist, one_hot
```
"""


def test_the_check_passes_correct_names():
    assert problems_in(GOOD) == []


@pytest.mark.parametrize('wrong, right', [
    ('init_weight(shape, rng)', 'init_weights(shape, rng)'),
    ('mlp_mnist/modle.py', 'mlp_mnist/model.py'),
    ('`w_hh`', '`w_h`'),
    ('--epoch 3', '--epochs 3'),
    ('--epochs 0', '--epochs 3'),
    ('run/hiden_weights.png', 'run/hidden_weights.png'),
    ('--patiense 5', '--patience 5'),
    ('scripts/trian.py --patience', 'scripts/train.py --patience'),
    ('import load_mnist, one_hat', 'import load_mnist, one_hot'),
    ('mlp_mnist.dta import', 'mlp_mnist.data import'),
    ('`--patiense N`', '`--patience N`'),
    ('`mlp_mnist/model.py` reads', '`mlp_mnist/data.py` reads'),
    ('(../dta)', '(../data)'),
])
def test_the_check_catches_a_misspelled_name(wrong, right):
    assert right in GOOD
    assert problems_in(GOOD.replace(right, wrong, 1)) != []
