"""The one exception type for mistakes a user can fix.

Scripts print its message as a single `error: ...` line and exit 1; every
other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's files, flags or set-up, told in one line."""


def os_error_line(e):
    """Return the one-line message for an OSError about the user's files.

    For what the scripts meet outside the places that check their files:
    a path too long, a permission missing, a disk full.
    """
    where = f'{e.filename}: ' if e.filename else ''
    return (f'{where}cannot use it ({e.strerror or e}); check the path, its '
            'permissions and the free space')
