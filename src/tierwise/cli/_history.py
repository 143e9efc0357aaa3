"""`tierwise history`: a client's trail through the archive, month by month, in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierwise.cli import app

DEFAULT_ARCHIVE = Path("outputs/archive")
_NUMBERS = frozenset({"p_churn", "p_default", "growth"})
PIPED_WIDTH = 1000
"""Width when the output is not a terminal (a file, a pipe): a row is one line, nothing wraps or is cut."""


@app.command("history")
def history(
    client: Annotated[str, typer.Option("--client", help="Client id, e.g. C0000042.")],
    archive: Annotated[Path, typer.Option("--archive", help="Client archive folder.")] = DEFAULT_ARCHIVE,
    lang: Annotated[str, typer.Option("--lang", help="Language of the table: en or zh.")] = "en",
    months: Annotated[int | None, typer.Option("--months", min=1, help="Only the last N archived months "
                                               "(default: all).")] = None,
) -> None:
    """Print a client's archived months: tier, channel, scores, flags, each model's top reason, exit review."""
    from tierwise.archive import archived_months, check_archive, read_archive
    from tierwise.features import DataError, month_label
    from tierwise.reports import client_trail, trail_headers, trail_title

    if lang not in ("en", "zh"):
        raise typer.BadParameter(f"'{lang}' is not a language; use en or zh", param_hint="--lang")
    client_id = client.strip()
    check_archive(archive)
    searched = archived_months(archive)
    if months is not None:
        searched = searched[-months:]
    rows = read_archive(archive, months=searched, clients=[client_id])
    if rows.empty:
        span = month_label(searched[0]) if len(searched) == 1 else f"{month_label(searched[0])} to {month_label(searched[-1])}"
        raise DataError(f"client {client_id!r} is not in the archive {archive}: {len(searched)} month(s) searched "
                        f"({span})")
    headers = trail_headers(lang)
    table = Table(title=trail_title(lang, client_id, len(rows), len(searched)), show_lines=True)
    for field, title in headers.items():
        table.add_column(title, justify="right" if field in _NUMBERS else "left", overflow="fold",
                         no_wrap=field in ("month", *_NUMBERS))
    for trail in client_trail(rows, lang):
        table.add_row(*(trail[field] for field in headers))
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPED_WIDTH)
    console.print(table)
