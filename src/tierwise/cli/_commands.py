"""Imports every command module so that each registers its verb on the app."""

# One line per command module, e.g.:
# from tierwise.cli import _generate  # noqa: F401
