"""`tierwise demo`: the monthly job end to end on the default synthetic bank.

generate -> validate -> train the three models -> register and promote -> build and register
the recommender -> the monthly job (`run-month`) over the last 12 months, oldest first: score
with the archive's tier memory, archive, every RM's page (Chinese) and the index, the monitor
-> tier distribution and sample client cards in English and Chinese -> one client's trail.
Every step is the same command a user runs; outputs go under `outputs/`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings, progress_bar
from tierwise.cli._generate import data_config
from tierwise.cli._validate import REJECTED_DIR, summary_line, validate_folder

if TYPE_CHECKING:
    import pandas as pd

    from tierwise.synthetic import DataConfig

logger = logging.getLogger(__name__)
DEFAULT_OUT = Path("outputs/bank")
OUTPUTS = Path("outputs")
DEMO_MONTHS = 12


def ensure_bank(cfg: DataConfig, out: Path, *, console: Console) -> None:
    """Generate the default bank into `out` unless the same config and seed are already there."""
    from tierwise.synthetic import bank_fingerprint, generate_bank, read_manifest, write_bank

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
    summary_only: Annotated[bool, typer.Option("--summary-only", help="Stop after generate, validate and the summary.")] = False,
    config: Path | None = ConfigDirOption,
) -> None:
    """Run the monthly job end to end on the built-in synthetic bank (outputs under outputs/)."""
    from tierwise.features import ContractRules
    from tierwise.synthetic import (
        clients_by_segment_and_band,
        label_base_rates,
        oracle_auc,
        read_oracle,
    )

    console = Console()
    settings = load_settings(config)
    cfg = data_config(settings)
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

    rates = label_base_rates(report.monthly, settings.require("features"))
    auc = oracle_auc(read_oracle(out))
    t2 = Table(title="labels from the data, and the oracle's accuracy limit")
    for col in ("label", "base rate / mean", "oracle ROC AUC"):
        t2.add_column(col, justify="left" if col == "label" else "right")
    t2.add_row(f"churn within {cfg.labels.churn_horizon_months} months", f"{rates['churn_6m']:.1%}", f"{auc['churn_6m']:.3f}")
    t2.add_row(f"default within {cfg.labels.default_horizon_months} months (borrowers)", f"{rates['default_12m']:.1%}", f"{auc['default_12m']:.3f}")
    t2.add_row(f"growth over {cfg.labels.growth_horizon_months} months (mean log ratio)", f"{rates['growth_12m_mean']:+.3f}", "")
    console.print(t2)

    if summary_only:
        return
    run_pipeline(out, config, console=console)


def _step(console: Console, title: str, args: list[str]) -> None:
    """Run one `tierwise` command in-process, exactly as a user would type it."""
    from tierwise.cli import app

    console.rule(f"[bold]{title}[/]  tierwise {' '.join(args)}")
    typer.main.get_command(app).main(args=args, prog_name="tierwise", standalone_mode=False)


def run_pipeline(bank: Path, config: Path | None, *, console: Console) -> None:
    """Train, register, promote, recommend, then the monthly job over the last months (see the
    module docstring)."""
    import pandas as pd

    from tierwise.archive import read_archive
    from tierwise.features import TASKS, add_months, month_label

    cfg_args = ["--config-dir", str(config)] if config else []
    monthly_months = pd.read_parquet(bank / "monthly.parquet", columns=["month"])["month"]
    latest = pd.Timestamp(monthly_months.max()).date().replace(day=1)
    first = max(add_months(latest, -(DEMO_MONTHS - 1)), pd.Timestamp(monthly_months.min()).date().replace(day=1))

    _step(console, "train", ["train", "--task", "all", "--data", str(bank), *cfg_args])
    for task in TASKS:
        _step(console, f"promote {task}", ["promote", "--task", task, "--data", str(bank), *cfg_args])
    _step(console, "recommender", ["recommend", "--data", str(bank), "--month", month_label(latest), *cfg_args])
    _step(console, "governance pack", ["governance", "--model", "tierwise-recommender", "--out",
                                       str(OUTPUTS / "governance"), *cfg_args])  # the task cards: by `promote`

    archive = OUTPUTS / "archive"
    _step(console, f"the monthly job, {month_label(first)} to {month_label(latest)}",
          ["run-month", "--data", str(bank), "--from", month_label(first), "--to", month_label(latest),
           "--archive", str(archive), "--outputs", str(OUTPUTS), "--lang", "zh", *cfg_args])

    current = read_archive(archive, months=[latest])
    print_tiers(console, current, latest)
    for lang in ("en", "zh"):
        for _, row in sample_clients(current).iterrows():
            console.print(client_card(row, lang))
    reviewed = reviewed_client(read_archive(archive, columns=["exit_review_status"]))
    if reviewed is not None:
        _step(console, "a client's trail", ["history", "--client", reviewed, "--archive", str(archive)])
    console.rule("[bold green]demo finished[/]")
    console.print(f"outputs in {OUTPUTS}/: archive/ (one partition per month), rm_pages/<month>/index.html, "
                  "monitor/<month>/, governance/; MLflow runs and models: "
                  "`mlflow ui --backend-store-uri sqlite:///mlflow.db`", highlight=False)


def reviewed_client(history: pd.DataFrame) -> str | None:
    """A client whose exit review ended in a downgrade (else one with any review), lowest id."""
    for statuses in (("downgraded",), ("opened", "open", "closed")):
        found = history.loc[history["exit_review_status"].isin(statuses), "client_id"]
        if len(found):
            return str(found.min())
    return None


SHOWN_FLAGS = {"flag_retention_priority": "retain", "flag_risk_watch": "risk", "flag_exit_review": "exit",
               "flag_cost_review": "cost", "flag_growth_lead": "lead"}


def print_tiers(console: Console, recs: pd.DataFrame, month: dt.date) -> None:
    from tierwise.features import month_label
    from tierwise.models import summarise_tiers

    summary = summarise_tiers(recs)
    rows = [[str(tier), str(row["tier_zh"]), f"{int(row['clients']):,}", f"{row['share']:.1%}",
             *[f"{int(row[f]):,}" if f in row else "" for f in SHOWN_FLAGS]] for tier, row in summary.iterrows()]
    table = Table(title=f"tier recommendations, {month_label(month)} (flags: retention priority, risk watch, "
                        "exit review, cost review, growth lead)", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, col in enumerate(("tier", "", "clients", "share", *SHOWN_FLAGS.values())):
        width = max(cell_len(col), *(cell_len(r[i]) for r in rows))
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def sample_clients(recs: pd.DataFrame) -> pd.DataFrame:
    """Three clients a relationship manager would look at first: the most valuable Premier
    client, the most valuable client flagged for retention, the riskiest client on risk watch
    (falling back to the next most valuable clients)."""
    import pandas as pd

    ranked = recs.sort_values(["expected_value_12m", "client_id"], ascending=[False, True])
    picks = [ranked[ranked["tier"] == "Premier"].head(1),
             ranked[ranked["flag_retention_priority"]].head(1),
             recs[recs["flag_risk_watch"]].sort_values(["p_default", "client_id"], ascending=[False, True]).head(1)]
    chosen = pd.concat([p for p in picks if len(p)]).drop_duplicates("client_id")
    if len(chosen) < 3:
        extra = ranked[~ranked["client_id"].isin(chosen["client_id"])].head(3 - len(chosen))
        chosen = pd.concat([chosen, extra])
    return chosen


def client_card(row: pd.Series, lang: str) -> str:
    import pandas as pd

    from tierwise.features import TASKS
    from tierwise.reports import score_percent  # the RM page's rounding

    zh = lang == "zh"
    tier = row["tier_zh"] if zh else row["tier"]
    channel = row["channel_zh"] if zh else str(row["channel"]).replace("_", " ")
    pd_text = "—" if pd.isna(row["p_default"]) else score_percent(row["p_default"])
    labels = (("流失可能性", "违约风险", "增长潜力") if zh else ("churn likelihood", "default risk", "growth potential"))
    lines = [f"[bold]{row['client_id']}[/]  {tier} · {channel}",
             f"  {labels[0]} {score_percent(row['p_churn'])} | {labels[1]} {pd_text} | {labels[2]} {math.expm1(row['growth']):+.0%}",
             f"  {row['tier_reason_zh'] if zh else row['tier_reason_en']}"]
    for task, label in zip(TASKS, labels, strict=True):
        reasons = [row.get(f"reason_{task}_{k}_{lang}") for k in (1, 2, 3)]
        shown = "; ".join(str(r) for r in reasons if isinstance(r, str) and r)
        if shown:
            lines.append(f"  {label}: {shown}")
    return "\n".join(lines) + "\n"
