"""Errors a user can act on.

Every layer raises these for mistakes in input or configuration; the CLI turns them into one
clear line and a non-zero exit. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class TierwiseError(Exception):
    """A mistake the user can fix: the message names what is wrong and where."""

    exit_code = 1


class ConfigError(TierwiseError):
    """A configuration file is missing, not valid YAML, or has an unknown or mistyped key."""

    exit_code = 2


class DataError(TierwiseError):
    """Input data cannot be used: a missing file or column, a wrong type, an empty table."""

    exit_code = 1


class OutputError(TierwiseError):
    """An output cannot be written: the path is a folder, the disk is full or read-only, no
    permission, a file-size limit. The previous output is left as it was."""

    exit_code = 1


def missing_columns(given: Iterable[str], required: Iterable[str]) -> list[str]:
    """The `required` names not among `given`, in order (one pass over `given`: `in` on a
    fresh pandas Index would build its hash table)."""
    present = set(given)
    return [c for c in required if c not in present]


def first_names(names: list[str], shown: int = 5) -> str:
    """`names` for a one-line message: the first `shown`, then "(and N more)"."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" (and {more} more)" if more > 0 else "")
