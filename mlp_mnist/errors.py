"""The one exception type for mistakes a user can fix.

Scripts print its message as a single `error: ...` line and exit 1; every
other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's files, flags or set-up, told in one line."""
