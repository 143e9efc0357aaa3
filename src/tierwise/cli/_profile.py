"""`tierwise profile`: which contract columns carry values, which features, labels and tasks
the extract can give, before anything is trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tierwise.cli import app
from tierwise.cli._common import ConfigDirOption, load_settings
from tierwise.features import read_events, read_raw_tables, table_path, write_text_atomic
from tierwise.profile import MIN_EVENTS, Profile, profile_tables


def extent_line(profile: Profile) -> str:
    rejected = {k: profile.rows_in[k] - profile.rows_kept[k] for k in profile.rows_in}
    shown = ", ".join(f"{k} {v:,}" for k, v in rejected.items() if v)
    dropped = f" ({shown} rows fail the contract and are left out; see tierwise validate)" if shown else ""
    return (f"{profile.clients:,} clients, {profile.rows_kept['monthly']:,} monthly rows, {profile.months} months "
            f"{profile.first_month} to {profile.last_month} ({profile.history_months} months of history){dropped}")


def columns_table(profile: Profile) -> Table:
    table = Table(title="contract columns without signal")
    for name in ("table", "column", "kind", "missing", "distinct", "status"):
        table.add_column(name, justify="right" if name in ("missing", "distinct") else "left")
    for c in profile.columns:
        if c.status != "ok":
            table.add_row(c.table, c.column, c.kind, f"{c.missing_share:.0%}", f"{c.distinct:,}", c.status)
    return table


def features_table(profile: Profile) -> Table:
    table = Table(title="features that cannot be built")
    table.add_column("features", justify="right")
    table.add_column("examples")
    table.add_column("why")
    for reason, names in profile.unusable_features().items():
        table.add_row(f"{len(names)}", ", ".join(names[:3]) + (", ..." if len(names) > 3 else ""), reason)
    return table


def tasks_table(profile: Profile) -> Table:
    table = Table(title="labels and tasks")
    for name in ("task", "label", "snapshots", "rows", "events", "clients with event", "trainable"):
        table.add_column(name, justify="right" if name in ("snapshots", "rows", "events", "clients with event") else "left")
    for lab, task in zip(profile.labels, profile.tasks, strict=True):
        events = ("-", "-") if lab.task == "growth" else (f"{lab.events:,}", f"{lab.clients_with_event:,}")
        table.add_row(lab.task, lab.label, f"{lab.months}", f"{lab.rows:,}", *events,
                      "yes" if task.trainable else "no")
    return table


def print_profile(profile: Profile, console: Console) -> None:
    console.print(extent_line(profile), highlight=False, soft_wrap=True)
    if any(c.status != "ok" for c in profile.columns):
        console.print(columns_table(profile))
    ok = sum(c.status == "ok" for c in profile.columns)
    console.print(f"{ok} of {len(profile.columns)} contract columns carry values", highlight=False, soft_wrap=True)
    usable = sum(f.usable for f in profile.features)
    if usable < len(profile.features):
        console.print(features_table(profile))
    console.print(f"{usable} of {len(profile.features)} features can be built", highlight=False, soft_wrap=True)
    horizons = ", ".join(f"{task} {months}" for task, months in profile.horizons.items())
    console.print(f"features.yaml: windows {', '.join(map(str, profile.windows))} ({profile.lookback_months} months "
                  f"up to a snapshot), label horizons {horizons} months", highlight=False, soft_wrap=True)
    if profile.snapshot_months:
        console.print(f"snapshot months to train on: {len(profile.snapshot_months)} "
                      f"({profile.snapshot_months[0]} to {profile.snapshot_months[-1]})", highlight=False, soft_wrap=True)
    else:
        console.print(profile.snapshot_note, highlight=False, soft_wrap=True)
    note = next((lab.note for lab in profile.labels if lab.note), "")
    console.print(tasks_table(profile))
    if note:
        console.print(f"labels {note}", highlight=False, soft_wrap=True)
    for task in profile.tasks:
        if not task.trainable:
            console.print(task.reason, highlight=False, soft_wrap=True)
    trainable = [t.task for t in profile.tasks if t.trainable]
    console.print(f"tasks that can be trained: {', '.join(trainable) if trainable else 'none'}", highlight=False, soft_wrap=True)


@app.command("profile")
def profile(
    data: Annotated[Path, typer.Option("--data", help="Folder holding clients and monthly (.parquet or .csv).")],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the profile as JSON to this file.")] = None,
    min_events: Annotated[int, typer.Option(
        "--min-events", min=1,
    help="Fewest clients with an event (and rows without) a task needs to count as trainable.")] = MIN_EVENTS,
    config: Path | None = ConfigDirOption,
) -> None:
    """Profile an extract: empty columns, features, labels and tasks it can give.

    Names the contract columns that are missing, empty (all zero) or constant, the features
    they leave unusable, the snapshot months that features.yaml windows and label horizons
    leave in the history, each label's events there, and which tasks can be trained, with
    the reason when not. Rows that fail the data contract are left out (branch codes are not
    checked); exits 1 when the data cannot be used at all.
    """
    feature_config = load_settings(config).require("features")
    clients, monthly = read_raw_tables(data)
    sources = (str(table_path(data, "clients")), str(table_path(data, "monthly")))
    result = profile_tables(clients, monthly, feature_config, sources=sources, min_events=min_events,
                            events=read_events(data))
    print_profile(result, Console())
    if out is not None:
        write_text_atomic(out, json.dumps(result.to_dict(), indent=2) + "\n")
        Console().print(f"profile written to {out}", highlight=False, soft_wrap=True)
