"""The two ways a command fails: misuse (exit status 2) or a failed step (1)."""


class UsageError(Exception):
    """A bad argument: the message says which, and what would be accepted."""


class Failure(Exception):
    """A step that could not be done: the message says what and where."""
