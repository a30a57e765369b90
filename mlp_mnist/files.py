"""File helpers shared by the loader, the downloader and the training loop."""
import io
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

    `write` fills a buffer in memory; its bytes go to a hidden file beside
    `path`, which replaces `path` only once it is complete and on disk.
    When that fails (a full disk, a folder in the way) or Ctrl-C stops it,
    the hidden file is removed and `path` keeps its old contents; a failure
    raises UserError naming the file.
    """
    path = Path(path)
    buffer = io.BytesIO()
    write(buffer)
    tmp = path.with_name(f'.{path.name}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # not ours to remove: a folder of that name
        if isinstance(e, OSError):
            raise UserError(
                f'{path.absolute()}: cannot write it ({e.strerror}); free '
                'some space, or move what is in the way') from None
        raise


def missing_folders(folder):
    """Return the folders that creating `folder` makes, deepest first."""
    missing = []
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty(folders):
    """Remove `folders`, deepest first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break
