"""The one error the local stack reports to `jobs dev`."""


class StackError(Exception):
    """The local stack cannot start; the message says why, in one line."""
