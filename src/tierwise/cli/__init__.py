"""The `tierwise` command line: one typer app, commands are verbs.

User mistakes (a wrong path, a bad flag value, a broken config) end in one clear line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from tierwise import __version__
from tierwise._logging import configure_logging, stderr_console

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="tierwise",
    help="Risk-adjusted client tiering for banks: generate, validate, train, score, explain, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tierwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log lines (-vv for debug)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    configure_logging(verbose)


# Command modules register themselves on `app` when imported. Each imports at its top only
# what its options need (typer, rich, paths); the library a command runs is imported in its
# body, so `tierwise score` does not load the synthetic bank, training or the reports.
from tierwise.cli import _commands  # noqa: E402,F401


def _is_user_error(exc: BaseException) -> bool:
    """A `TierwiseError` (the library is imported on this error path only, not for every command)."""
    from tierwise.features import TierwiseError

    return isinstance(exc, TierwiseError)


def main() -> None:
    """Console-script entry point: turns user errors into one line and an exit code."""
    try:
        app()
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        stderr_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr_console.print("[bold red]interrupted[/]")
        sys.exit(130)
