"""Logging is configured once, by the CLI; library modules only call `getLogger(__name__)`."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

stderr_console = Console(stderr=True)


def configure_logging(verbosity: int = 0) -> None:
    """0: warnings and the CLI's own info lines; 1: info everywhere; 2: debug."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=stderr_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    logging.getLogger("tierwise").setLevel(min(level, logging.INFO))
    for noisy in ("mlflow", "alembic", "py4j", "urllib3", "numba", "matplotlib", "optuna", "shap"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
