"""Errors a user can act on.

Every layer raises these for mistakes in input or configuration; the CLI turns them into one
clear line and a non-zero exit. Anything else is a bug and keeps its traceback.
"""


class TierwiseError(Exception):
    """A mistake the user can fix: the message names what is wrong and where."""

    exit_code = 1


class ConfigError(TierwiseError):
    """A configuration file is missing, not valid YAML, or has an unknown or mistyped key."""

    exit_code = 2


class DataError(TierwiseError):
    """Input data cannot be used: a missing file or column, a wrong type, an empty table."""

    exit_code = 1
