"""File helpers shared by the loader, the downloader and the training loop."""
import os
import tempfile
from pathlib import Path

from .errors import UserError


def ensure_writable(folder, fix):
    """Create `folder` if needed and check that a file can be made there.

    Raises UserError naming the folder and `fix` (what the user can do) when
    it cannot: callers run this before any long work, not after.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UserError(
            f'{folder.absolute()}: cannot write there ({e.strerror}); '
            f'{fix}') from None


def write_atomically(path, write):
    """Write a file through `write(f)`, f a binary file, all or nothing.

    The bytes go to a hidden file beside `path`, which replaces `path` only
    once it is complete and on disk; when `write` fails or Ctrl-C stops it,
    the hidden file is removed and `path` keeps its old contents.
    """
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp')
    try:
        with open(tmp, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
