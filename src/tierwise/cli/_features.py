"""`tierwise features` (one snapshot) and `tierwise trainset` (stacked snapshots with labels)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import (
    ConfigDirOption,
    existing_dir,
    load_settings,
    parse_month,
    progress_bar,
)

if TYPE_CHECKING:
    from tierwise.settings import Settings

logger = logging.getLogger(__name__)

DataOpt = Annotated[Path, typer.Option("--data", help="Folder with clients.parquet and monthly.parquet.")]
QuarantineOpt = Annotated[bool, typer.Option(
    "--quarantine", help="Validate first: set bad rows aside in DATA/_rejected/ (with reasons) and use the rest.")]


def _read(data: Path, quarantine: bool, settings: Settings):
    """The raw tables; with `quarantine`, only the rows that pass `tierwise validate`'s contract
    rules (rejects written to DATA/_rejected/), with the reference lists the bank supplies in
    DATA (`reference_rules`): any branch code when it supplies none; rows after data.yaml's
    `end_month` (default: this month) are set aside."""
    from tierwise.features import ROW_ID, ContractRules, read_raw_tables, reference_rules

    if not quarantine:
        return read_raw_tables(data)
    from tierwise.cli._generate import data_config
    from tierwise.cli._validate import REJECTED_DIR, summary_line, validate_folder

    report = validate_folder(data, rules=reference_rules(data, ContractRules(end_month=data_config(settings).end_date())))
    if sum(report.rows_rejected.values()):
        logger.warning("quarantined rows: %s; reasons in %s", summary_line(report), data / REJECTED_DIR)
    return report.clients.drop(columns=[ROW_ID], errors="ignore"), report.monthly.drop(columns=[ROW_ID], errors="ignore")




@app.command("features")
def features_command(
    data: DataOpt,
    month: Annotated[str, typer.Option("--month", help="Snapshot month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write (one row per client alive that month).")],
    quarantine: QuarantineOpt = False,
    config_dir_opt: Path = ConfigDirOption,
) -> None:
    """Point-in-time features of every client alive in one month, from history up to that month."""
    from tierwise.features import output_lock, snapshot_features, write_table

    t = parse_month(month, option="--month")
    existing_dir(data, option="--data")
    settings = load_settings(config_dir_opt)
    config = settings.require("features")
    with progress_bar("features", 3) as advance:
        clients, monthly = _read(data, quarantine, settings)
        advance(1)
        table = snapshot_features(clients, monthly, t, config)
        advance(1)
        with output_lock(out):
            write_table(table, out)
        advance(1)
    typer.echo(f"wrote {out}: {len(table):,} clients x {table.shape[1] - 2} columns at {t:%Y-%m}")


@app.command("trainset")
def trainset_command(
    data: DataOpt,
    first: Annotated[str, typer.Option("--from", help="First snapshot month, YYYY-MM.")],
    last: Annotated[str, typer.Option("--to", help="Last snapshot month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write (features + labels + split).")],
    quarantine: QuarantineOpt = False,
    config_dir_opt: Path = ConfigDirOption,
) -> None:
    """Features and labels stacked over monthly snapshots, split out of time and by client (train/valid/test/unused)."""
    from tierwise.features import build_training_table, month_range, output_lock, write_table

    t0, t1 = parse_month(first, option="--from"), parse_month(last, option="--to")
    if t1 < t0:
        raise typer.BadParameter(f"{last} is before --from {first}", param_hint="--to")
    existing_dir(data, option="--data")
    settings = load_settings(config_dir_opt)
    config = settings.require("features")
    months = month_range(t0, t1)
    clients, monthly = _read(data, quarantine, settings)
    with progress_bar("snapshots", len(months)) as advance:
        table = build_training_table(clients, monthly, months, config, progress=advance)
    with output_lock(out):
        write_table(table, out)
    counts = table["split"].value_counts()
    shown = ", ".join(f"{s} {counts.get(s, 0):,}" for s in ("train", "valid", "test", "unused"))
    typer.echo(f"wrote {out}: {len(table):,} rows from {table['snapshot_month'].nunique()} snapshots ({shown})")
