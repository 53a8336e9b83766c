"""Exceptions for mistakes a user can fix; the CLI prints them as one line, without a traceback."""


class RWAEError(Exception):
    """Base class for user-facing errors (bad input, missing files, bad config)."""


class DataError(RWAEError, ValueError):
    """A data file or folder is missing, corrupt, or not what a loader expected."""
