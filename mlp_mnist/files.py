"""File helpers shared by the loader, the downloader and the training loop."""
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
