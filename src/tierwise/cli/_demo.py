"""`tierwise demo`: the default synthetic bank end to end (this stage: generate, validate, summarise)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from features import ContractRules
from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, progress_bar
from tierwise.cli._generate import load_data_config
from tierwise.cli._validate import REJECTED_DIR, summary_line, validate_folder
from tierwise.synthetic import (
    DataConfig,
    bank_fingerprint,
    clients_by_segment_and_band,
    generate_bank,
    label_base_rates,
    oracle_auc,
    read_manifest,
    read_oracle,
    write_bank,
)

logger = logging.getLogger(__name__)
DEFAULT_OUT = Path("outputs/bank")


def ensure_bank(cfg: DataConfig, out: Path, *, console: Console) -> None:
    """Generate the default bank into `out` unless the same config and seed are already there."""
    b = cfg.bank
    fingerprint = bank_fingerprint(cfg, clients=b.clients, months=b.months, seed=b.seed,
                                   start=b.start_date().isoformat(), dirty=False)
    files = [out / f"{name}.parquet" for name in ("clients", "monthly", "oracle")]
    if read_manifest(out).get("fingerprint") == fingerprint and all(f.is_file() for f in files):
        console.print(f"bank already generated in {out} (same config and seed)", highlight=False)
        return
    with progress_bar("simulating months", total=b.months) as advance:
        bank = generate_bank(cfg, progress=advance)
    write_bank(bank, out, fingerprint=fingerprint, seed=b.seed)
    console.print(f"generated {b.clients:,} clients x {b.months} months (seed {b.seed}) into {out}", highlight=False)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo bank.")] = DEFAULT_OUT,
    config: Path | None = ConfigDirOption,
) -> None:
    """Run the demo on the built-in synthetic bank: generate, validate, summarise."""
    console = Console()
    cfg = load_data_config(config)
    ensure_bank(cfg, out, console=console)
    report = validate_folder(out, rules=ContractRules(branches=frozenset(cfg.branch_codes())))
    rejected = sum(report.rows_rejected.values())
    console.print(f"validated: {summary_line(report)}"
                  + (f"; reasons in {out / REJECTED_DIR}" if rejected else ""), highlight=False)

    by_band = clients_by_segment_and_band(report.clients, report.monthly)
    table = Table(title="clients by segment and assets (latest month)")
    table.add_column("segment")
    for col in by_band.columns:
        table.add_column(str(col), justify="right")
    for seg, row in by_band.iterrows():
        table.add_row(str(seg), *[f"{int(v):,}" for v in row])
    console.print(table)

    rates = label_base_rates(report.monthly, cfg.labels)
    auc = oracle_auc(read_oracle(out))
    t2 = Table(title="labels from the data, and the oracle's accuracy limit")
    for col in ("label", "base rate / mean", "oracle ROC AUC"):
        t2.add_column(col, justify="left" if col == "label" else "right")
    t2.add_row(f"churn within {cfg.labels.churn_horizon_months} months", f"{rates['churn_6m']:.1%}", f"{auc['churn_6m']:.3f}")
    t2.add_row(f"default within {cfg.labels.default_horizon_months} months (borrowers)", f"{rates['default_12m']:.1%}", f"{auc['default_12m']:.3f}")
    t2.add_row(f"growth over {cfg.labels.growth_horizon_months} months (mean log ratio)", f"{rates['growth_12m_mean']:+.3f}", "")
    console.print(t2)
