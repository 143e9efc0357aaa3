"""Imports every command module so that each registers its verb on the app."""

# One line per command module, e.g.:
# from tierwise.cli import _generate  # noqa: F401
from tierwise.cli import (
    _demo,  # noqa: F401
    _explain,  # noqa: F401
    _features,  # noqa: F401
    _generate,  # noqa: F401
    _governance,  # noqa: F401
    _groups,  # noqa: F401
    _history,  # noqa: F401
    _profile,  # noqa: F401
    _report,  # noqa: F401
    _run_month,  # noqa: F401
    _score,  # noqa: F401
    _train,  # noqa: F401
    _validate,  # noqa: F401
)
