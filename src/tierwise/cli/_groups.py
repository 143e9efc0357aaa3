"""`tierwise groups leads`: the supply-chain leads of an archived month, for the marketing team."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, existing_dir, load_settings, parse_month
from tierwise.cli._score import DEFAULT_ARCHIVE, DEFAULT_BANK

groups_app = typer.Typer(help="Related firms of the bank's clients (relations table).", no_args_is_help=True)
app.add_typer(groups_app, name="groups")


@groups_app.command("leads")
def leads(
    month: Annotated[str, typer.Option("--month", help="Scored (archived) month, YYYY-MM.")],
    data: Annotated[Path, typer.Option("--data", help="Folder with clients and relations tables.")] = DEFAULT_BANK,
    archive: Annotated[Path, typer.Option("--archive", help="The client archive the month is read from.")]
    = DEFAULT_ARCHIVE,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for leads.parquet and leads.csv "
                                             "(default: outputs/leads/YYYY-MM).")] = None,
    config_path: Path | None = ConfigDirOption,
) -> None:
    """Each core client's (Premier, Excellence) non-client counterparties and client counterparties
    with growth potential, ranked by the month's flow, owned by the core client's RM: Parquet and CSV.
    The monthly job (run-month) writes the same file."""
    from tierwise.archive import check_archive, read_archive
    from tierwise.features import output_lock, read_table
    from tierwise.groups import leads_dir, month_leads, write_leads

    when = parse_month(month)
    existing_dir(data, option="--data")
    report_cfg = load_settings(config_path).require("monitor").report
    check_archive(archive)
    recs = read_archive(archive, months=[when])
    clients = read_table(data, "clients")
    found = month_leads(data, when, recs, clients["client_id"], min_growth=report_cfg.growth_bands.high)
    if found is None:
        typer.echo(f"no relations table in {data}: no supply-chain leads written")
        return
    folder = out if out is not None else leads_dir(Path("outputs"), when)
    with output_lock(folder):
        parquet, csv = write_leads(found, folder)
    typer.echo(f"wrote {len(found):,} supply-chain lead(s) for {found['client_id'].nunique():,} core client(s) "
               f"of {found['rm_id'].nunique():,} RM(s): {parquet} and {csv}")
