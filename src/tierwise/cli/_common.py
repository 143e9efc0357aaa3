"""Shared CLI helpers: month parsing, progress bars, path checks, the config folder and its settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tierwise._logging import stderr_console

if TYPE_CHECKING:
    from tierwise.settings import Settings


ConfigDirOption = typer.Option(
    None,
    "--config-dir",
    help="Folder of YAML configs (default: $TIERWISE_CONFIG_DIR, ./configs, or the shipped configs).",
    show_default=False,
)


def config_dir(value: Path | None) -> Path:
    from tierwise.config import default_config_dir

    path = value or default_config_dir()
    if not path.is_dir():
        raise typer.BadParameter(f"config folder {path} does not exist", param_hint="--config-dir")
    return path


def load_settings(value: Path | None) -> Settings:
    """Every configuration file of the `--config-dir` folder, read once (see `tierwise.settings`)."""
    from tierwise.settings import load_settings as load

    return load(config_dir(value))


def parse_month(value: str, *, option: str = "--month") -> dt.date:
    """'2024-03' -> date(2024, 3, 1); anything else is a one-line usage error."""
    from tierwise.features import parse_month as features_parse_month

    try:
        return features_parse_month(value or "")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def existing_dir(path: Path, *, option: str) -> Path:
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint=option)
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is not a folder", param_hint=option)
    return path


def existing_file(path: Path, *, option: str) -> Path:
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint=option)
    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint=option)
    return path


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)` for library code to call."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=False,
        disable=not stderr_console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
