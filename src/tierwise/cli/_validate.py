"""`tierwise validate`: check the raw tables against the data contract, quarantine bad rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings
from tierwise.cli._generate import data_config

if TYPE_CHECKING:
    from tierwise.features import ContractRules, ValidationReport
    from tierwise.settings import Settings

REJECTED_DIR = "_rejected"


def validate_folder(data: Path, *, rules: ContractRules) -> ValidationReport:
    """Read `clients` and `monthly` from `data`, validate, write rejects to `data/_rejected/`."""
    from tierwise.features import read_raw_tables, table_path, validate_tables, write_rejects

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


def validation_rules(data: Path, settings: Settings, *, check_branches: bool | None) -> ContractRules:
    """The reference lists `tierwise validate` checks: the bank's own (`branches`, `industries`
    in DATA, see `reference_rules`); for a synthetic bank written with `tierwise generate
    --dirty` (its defects include branch codes the population does not have), data.yaml's
    branch list. `check_branches` False drops the branch check, True asks for it (data.yaml's
    list when DATA has none). Rows after data.yaml's `end_month` (default: this month) are
    quarantined."""
    from tierwise.features import ContractRules, reference_rules
    from tierwise.synthetic import read_manifest

    rules = reference_rules(data, ContractRules(end_month=data_config(settings).end_date()))
    if check_branches is False:
        return replace(rules, branches=None)
    if rules.branches is None and (check_branches or read_manifest(data).get("dirty") is True):
        rules = replace(rules, branches=frozenset(data_config(settings).branch_codes()))
    return rules


@app.command("validate")
def validate(
    data: Annotated[Path, typer.Option("--data", help="Folder holding clients and monthly (.parquet or .csv).")],
    check_branches: bool | None = typer.Option(
        None, "--check-branches/--any-branch", show_default=False,
        help="Branch codes are checked when the bank supplies its list (DATA/branches.parquet or .csv, "
             "column branch) or DATA is a synthetic bank generated with --dirty; --any-branch accepts "
             "any code, --check-branches checks against DATA's list, else data.yaml's."),
    config: Path | None = ConfigDirOption,
) -> None:
    """Validate raw tables; rejected rows go to DATA/_rejected/ with their reasons.

    Exits 1 when the data cannot be used (missing file or column, no usable rows), 0 when
    only rows were quarantined.
    """
    rules = validation_rules(data, load_settings(config), check_branches=check_branches)
    report = validate_folder(data, rules=rules)
    console = Console()
    rejected = sum(report.rows_rejected.values())
    if rejected:
        console.print(report_table(report))
        console.print(f"{summary_line(report)}; reasons in {data / REJECTED_DIR}", highlight=False)
    else:
        console.print(f"no problems found; {summary_line(report)}", highlight=False)
