"""`tierwise validate`: check the raw tables against the data contract, quarantine bad rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings
from tierwise.cli._generate import data_config
from tierwise.features import (
    ContractRules,
    ValidationReport,
    read_raw_tables,
    table_path,
    validate_tables,
    write_rejects,
)

REJECTED_DIR = "_rejected"


def validate_folder(data: Path, *, rules: ContractRules) -> ValidationReport:
    """Read `clients` and `monthly` from `data`, validate, write rejects to `data/_rejected/`."""
    clients, monthly = read_raw_tables(data)
    sources = (str(table_path(data, "clients")), str(table_path(data, "monthly")))
    report = validate_tables(clients, monthly, rules=rules, sources=sources)
    write_rejects(report, data / REJECTED_DIR)
    return report


def report_table(report: ValidationReport) -> Table:
    table = Table(title="rows quarantined", show_lines=False)
    for name in ("file", "column", "rule", "rows", "example rows"):
        table.add_column(name, justify="right" if name == "rows" else "left")
    for row in report.problems().itertuples(index=False):
        table.add_row(Path(row.table).name, row.column, row.rule, f"{row.rows:,}", row.example_rows)
    return table


def summary_line(report: ValidationReport) -> str:
    parts = [f"{name}: kept {report.rows_kept[name]:,} of {report.rows_in[name]:,} rows, "
             f"rejected {report.rows_rejected[name]:,}" for name in ("clients", "monthly")]
    return "; ".join(parts)


@app.command("validate")
def validate(
    data: Annotated[Path, typer.Option("--data", help="Folder holding clients and monthly (.parquet or .csv).")],
    check_branches: bool = typer.Option(
        True, "--check-branches/--any-branch",
        help="Reject branch codes not in the bank's list (data.yaml population), or accept any."),
    config: Path | None = ConfigDirOption,
) -> None:
    """Validate raw tables; rejected rows go to DATA/_rejected/ with their reasons.

    Exits 1 when the data cannot be used (missing file or column, no usable rows), 0 when
    only rows were quarantined.
    """
    cfg = data_config(load_settings(config))
    rules = ContractRules(branches=frozenset(cfg.branch_codes()) if check_branches else None)
    report = validate_folder(data, rules=rules)
    console = Console()
    rejected = sum(report.rows_rejected.values())
    if rejected:
        console.print(report_table(report))
        console.print(f"{summary_line(report)}; reasons in {data / REJECTED_DIR}", highlight=False)
    else:
        console.print(f"no problems found; {summary_line(report)}", highlight=False)
