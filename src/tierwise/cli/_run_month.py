"""`tierwise run-month`: the monthly job (validate, score, archive, RM pages, monitor)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import (
    ConfigDirOption,
    existing_dir,
    load_settings,
    parse_month,
    progress_bar,
)
from tierwise.cli._score import DEFAULT_ARCHIVE, DEFAULT_BANK, DEFAULT_MODEL


@app.command("run-month")
def run_month(
    data: Annotated[Path, typer.Option("--data", help="Folder with the clients and monthly tables.")] = DEFAULT_BANK,
    month: Annotated[str | None, typer.Option("--month", help="The month to run, YYYY-MM.")] = None,
    first: Annotated[str | None, typer.Option("--from", help="Backfill: first month, YYYY-MM (with --to).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Backfill: last month, YYYY-MM (with --from).")] = None,
    archive: Annotated[Path, typer.Option("--archive", help="The client archive folder.")] = DEFAULT_ARCHIVE,
    outputs: Annotated[Path, typer.Option("--outputs", help="Folder for rm_pages/ and monitor/.")] = Path("outputs"),
    model: Annotated[str, typer.Option("--model", help="The recommender model URI.")] = DEFAULT_MODEL,
    engine: Annotated[str, typer.Option("--engine", help="pandas or spark.")] = "pandas",
    lang: Annotated[str, typer.Option("--lang", help="Language of the RM pages: en or zh.")] = "en",
    chunk_clients: Annotated[int, typer.Option("--chunk-clients", min=1, help="Clients per chunk (pandas).")] = 50_000,
    config_path: Path | None = ConfigDirOption,
) -> None:
    """The monthly job for one month or a range, oldest first: validate and score with the
    archive's tier memory, archive the month, write every RM's page and the index, monitor.
    Rerunning a month gives the same archive partition."""
    from tierwise.features import TierwiseError, month_label
    from tierwise.monthly import MonthlyJob, months_between, run_months
    from tierwise.registry import load_recommender

    months = _months(month, first, last)
    existing_dir(data, option="--data")
    if engine not in ("pandas", "spark"):
        raise typer.BadParameter(f"'{engine}' is not an engine; one of pandas, spark", param_hint="--engine")
    if lang not in ("en", "zh"):
        raise typer.BadParameter(f"'{lang}' is not a language; use en or zh", param_hint="--lang")
    if archive.exists() and not archive.is_dir():
        raise TierwiseError(f"--archive: {archive} is a file, not an archive folder")
    settings = load_settings(config_path)
    job = MonthlyJob(data=data, archive=archive, outputs=outputs, model_uri=model, loaded=load_recommender(model),
                     monitor_config=settings.require("monitor"), engine=engine, chunk_clients=chunk_clients,
                     lang=lang, next_tier=settings.next_tier)
    chosen = months_between(*months)
    for summary in run_months(job, chosen, progress=progress_bar):
        typer.echo(summary.line())
    typer.echo(f"archive {archive}: {len(chosen)} month(s) written ({month_label(chosen[0])} to "
               f"{month_label(chosen[-1])}); RM pages and monitor under {outputs}")


def _months(month: str | None, first: str | None, last: str | None):  # noqa: ANN202 - (date, date)
    from tierwise.features import month_label

    if month is not None:
        if first is not None or last is not None:
            raise typer.BadParameter("give --month, or --from and --to, not both", param_hint="--month")
        one = parse_month(month)
        return one, one
    if first is None or last is None:
        raise typer.BadParameter("give --month YYYY-MM, or --from YYYY-MM and --to YYYY-MM", param_hint="--month")
    start, end = parse_month(first, option="--from"), parse_month(last, option="--to")
    if end < start:
        raise typer.BadParameter(f"--to {month_label(end)} is before --from {month_label(start)}", param_hint="--to")
    return start, end
