"""What a bank's extract can build and train, before anything is trained (`tierwise profile`).

`profile_tables(clients, monthly, config)` validates the two raw tables against the contract
(reference lists such as branch codes are not checked: the profile is about content) and
profiles the rows that pass:

- the extent: rows, clients, months, months of history;
- every contract column: share missing, number of distinct values, and a status: `ok`,
  `missing` (no value at all), `empty` (numbers all zero, flags all false) or `constant`
  (one value);
- every engineered feature of the feature config: usable, or why not (all its contract
  inputs are missing, empty or constant; its window is longer than the history);
- the snapshot months a training run can stack (the longest window behind each, the longest
  label horizon after it), and at those months the labels of each task with their events;
- each task (churn, default, growth): trainable, or the reason in one line, e.g.
  "churn: 0 events at 9 snapshot months: 0 closures recorded, 0 clients leave the extract
  and no client meets the dormancy rule".

Pure: tables and config in, a frozen `Profile` out; the CLI prints and writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import (
    BALANCE_COLUMNS,
    CLIENT_COLUMNS,
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
    ROW_ID,
    TASKS,
    ContractRules,
    FeatureConfig,
    RawColumn,
    feature_catalog,
    label_column,
    label_history,
    month_date,
    month_index,
    month_label,
    validate_tables,
)

MIN_EVENTS = 20
"""Fewest clients with an event (and rows without one) a classifier needs, and rows of
retained clients a growth model needs, at the usable snapshot months before the profile
calls its task trainable. Clients, not rows: one default is a positive in up to 12
neighbouring snapshots."""

STATUSES = ("ok", "missing", "empty", "constant")
_CHANNEL_COUNTS = ("branch_txn_count", "mobile_txn_count", "atm_txn_count")
_CHANNEL_AMOUNTS = ("branch_txn_amount", "mobile_txn_amount", "atm_txn_amount")
_INVESTMENTS = ("wealth_balance", "fund_balance", "insurance_balance")
_DERIVED: dict[str, tuple[str, ...]] = {
    "deposit_total": ("deposit_current", "deposit_time"),
    "investment_total": _INVESTMENTS,
    "investment_share": _INVESTMENTS,
    "assets_total": BALANCE_COLUMNS,
    "credit_exposure": ("loan_balance", "card_balance"),
    "txn_count_total": _CHANNEL_COUNTS,
    "txn_amount_total": _CHANNEL_AMOUNTS,
    "months_since_mobile_login": ("mobile_logins",),
    "months_since_salary": ("salary_inflow",),
    "months_since_branch_visit": ("branch_txn_count",),
    "branch_txn_share": ("branch_txn_count",),
    "mobile_txn_share": ("mobile_txn_count",),
    "atm_txn_share": ("atm_txn_count",),
    "months_in_arrears": ("days_past_due",),
    "card_utilisation": ("card_balance", "card_limit"),
    "tenure_months": ("onboarding_month",),
    "age_band": ("birth_year",),
}
_NEEDS_EVERY_INPUT = frozenset({"card_utilisation"})  # a ratio: empty when either side is
_WINDOWED = re.compile(r"^(?P<base>.+?)(?:_(?P<stat>chg|slope|vol|avg|sum|max))?_(?P<window>\d+)m$")
_CONTRACT = {c.name for c in (*CLIENT_COLUMNS, *MONTHLY_COLUMNS)}


@dataclass(frozen=True)
class ColumnProfile:
    table: str
    column: str
    kind: str
    missing_share: float
    distinct: int
    status: str  # one of STATUSES


@dataclass(frozen=True)
class FeatureProfile:
    name: str
    usable: bool
    reason: str = ""


@dataclass(frozen=True)
class LabelProfile:
    task: str
    label: str
    months: int  # snapshot months the label was counted at
    rows: int  # rows where the label is known and defined
    events: int  # positive rows (churn, default); for growth, rows with assets grown
    clients_with_event: int
    note: str = ""


@dataclass(frozen=True)
class TaskProfile:
    task: str
    trainable: bool
    reason: str = ""


@dataclass(frozen=True)
class Profile:
    rows_in: dict[str, int]
    rows_kept: dict[str, int]
    clients: int
    months: int  # distinct months with rows
    first_month: str
    last_month: str
    history_months: int  # first to last month, both included
    snapshot_months: list[str]  # usable for training: lookback behind, every horizon after
    snapshot_note: str
    windows: list[int] = field(default_factory=list)  # features.yaml, as profiled against
    lookback_months: int = 0
    horizons: dict[str, int] = field(default_factory=dict)
    columns: list[ColumnProfile] = field(default_factory=list)
    features: list[FeatureProfile] = field(default_factory=list)
    labels: list[LabelProfile] = field(default_factory=list)
    tasks: list[TaskProfile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def columns_with(self, status: str) -> list[str]:
        return [f"{c.table}.{c.column}" for c in self.columns if c.status == status]

    def unusable_features(self) -> dict[str, list[str]]:
        """Unusable feature names grouped by their reason."""
        out: dict[str, list[str]] = {}
        for f in self.features:
            if not f.usable:
                out.setdefault(f.reason, []).append(f.name)
        return out


def column_status(values: pd.Series, kind: str) -> tuple[float, int, str]:
    """(share missing, distinct non-missing values, status) of one contract column."""
    n = len(values)
    present = values.dropna()
    missing_share = 1.0 - len(present) / n if n else 1.0
    distinct = int(present.nunique())
    if len(present) == 0:
        status = "missing"
    elif kind in ("int", "float", "bool") and not present.astype(float).to_numpy().any():
        status = "empty"
    elif distinct == 1:
        status = "constant"
    else:
        status = "ok"
    return missing_share, distinct, status


def profile_columns(table: str, frame: pd.DataFrame, columns: tuple[RawColumn, ...]) -> list[ColumnProfile]:
    out = []
    for col in columns:
        share, distinct, status = column_status(frame[col.name], col.kind)
        out.append(ColumnProfile(table, col.name, col.kind, round(share, 6), distinct, status))
    return out


def feature_inputs(name: str, config: FeatureConfig) -> tuple[str, ...]:
    """The contract columns a catalogue feature is computed from (`ValueError` if unknown)."""
    base = _base(name)
    if base in _CONTRACT:
        return (base,)
    if base in _DERIVED:
        return _DERIVED[base]
    value = config.value
    margins, costs = tuple(value.margins_annual), tuple(value.cost_per_unit)
    if base == "contribution_monthly":
        return (*margins, "fee_income")
    if base == "cost_to_serve_monthly":
        return costs
    if base == "net_contribution_monthly":
        return tuple(dict.fromkeys((*margins, "fee_income", *costs)))
    raise ValueError(f"feature {name!r}: no known contract inputs")


def _base(name: str) -> str:
    """`deposit_total_chg_3m` -> `deposit_total`; an unwindowed name is its own base."""
    match = _WINDOWED.match(name)
    return match["base"] if match else name


def feature_window(name: str) -> tuple[int, bool] | None:
    """(window in months, True for a change against t - w) of a windowed feature, else None."""
    match = _WINDOWED.match(name)
    if not match:
        return None
    return int(match["window"]), match["stat"] == "chg"


def profile_features(statuses: Mapping[str, str], history_months: int, config: FeatureConfig) -> list[FeatureProfile]:
    """Each catalogue feature: unusable when its inputs carry nothing (all of them missing,
    empty or constant; for a ratio, either side) or its window exceeds the history."""
    out = []
    for name in feature_catalog(config):
        inputs = feature_inputs(name, config)
        dead = [c for c in inputs if statuses.get(c, "ok") != "ok"]
        dead_enough = bool(dead) and (len(dead) == len(inputs) or _base(name) in _NEEDS_EVERY_INPUT)
        window = feature_window(name)
        if dead_enough:
            out.append(FeatureProfile(name, False, "inputs missing, empty or constant: " + ", ".join(dead)))
        elif window is not None and window[0] + window[1] > history_months:
            need = window[0] + window[1]
            out.append(FeatureProfile(name, False, f"window needs {need} months of history, the data has "
                                                   f"{history_months}"))
        else:
            out.append(FeatureProfile(name, True))
    return out


def usable_snapshot_months(first: int, last: int, config: FeatureConfig) -> tuple[list[int], str]:
    """The months a training run can stack (as `training.snapshot_months` picks them: the
    feature lookback behind each, the longest label horizon after it), and when there are
    none, one line naming what to change."""
    start = first + config.lookback_months - 1
    end = last - config.max_horizon
    if end >= start:
        return list(range(start, end + 1)), ""
    history = last - first + 1
    need = config.lookback_months + config.max_horizon
    return [], (f"no snapshot month can be trained on: the longest window ({max(config.windows)} months) needs "
                f"{config.lookback_months} months up to the snapshot and the longest label horizon "
                f"({config.max_horizon} months) as many after it, {need} months in all, and the data has "
                f"{history}; set history_months: {history} in features.yaml to fit the windows and horizons to it")


def _closures_and_leavers(monthly: pd.DataFrame, last: int) -> tuple[int, int]:
    closed = monthly["relationship_closed"].astype(bool)
    closures = int(monthly.loc[closed, CLIENT_KEY].nunique())
    last_row = monthly.groupby(CLIENT_KEY)[MONTH_KEY].max()
    ever_closed = set(monthly.loc[closed, CLIENT_KEY])
    gone = (last_row < pd.Timestamp(month_date(last))) & ~last_row.index.isin(ever_closed)
    return closures, int(gone.sum())


def profile_labels(monthly: pd.DataFrame, months: list[int], config: FeatureConfig, *,
                   counted_note: str, events: pd.DataFrame | None = None) -> list[LabelProfile]:
    if not months:
        return [LabelProfile(t, label_column(t, config), 0, 0, 0, 0, "no month to count at") for t in TASKS]
    labels = label_history(monthly, config, [month_date(m) for m in months], events=events)
    out = []
    for task in TASKS:
        column = label_column(task, config)
        y = labels[column]
        known = y.notna()
        positive = y > 0  # an event (churn, default); for growth, assets grew
        out.append(LabelProfile(task, column, len(months), int(known.sum()), int((known & positive).sum()),
                                int(labels.loc[known & positive, CLIENT_KEY].nunique()), counted_note))
    return out


def task_verdict(label: LabelProfile, statuses: Mapping[str, str], *, closures: int, leavers: int,
                 config: FeatureConfig, min_events: int = MIN_EVENTS) -> TaskProfile:
    """Whether a task can be trained from its label counts, with the reason when not."""
    task, at = label.task, f"at {label.months} snapshot month{'s' * (label.months != 1)}"
    if label.months == 0:
        return TaskProfile(task, False, f"{task}: no snapshot month to build the label at")
    if task == "growth":
        if all(statuses.get(c) != "ok" for c in BALANCE_COLUMNS):
            return TaskProfile(task, False, f"{task}: every asset column is missing, empty or constant")
        if label.rows < min_events:
            return TaskProfile(task, False, f"{task}: {label.rows:,} rows of retained clients {at}, {min_events} needed")
        return TaskProfile(task, True)
    non_events = label.rows - label.events
    if label.clients_with_event >= min_events and non_events >= min_events:
        return TaskProfile(task, True)
    if task == "churn":
        floor = config.labels.churn.asset_floor_share
        why = (f"{closures} closures recorded, {leavers} clients leave the extract"
               + (f" and no client meets the dormancy rule (assets below {floor:.0%} of their level with no "
                  f"activity)" if label.events == 0 else ""))
    elif label.rows == 0:
        why = "no client has credit exposure (loan_balance + card_balance) at a snapshot month"
    else:
        why = (f"days past due reach {config.labels.default.dpd_threshold} within "
               f"{config.labels.default.horizon_months} months in {label.events:,} of {label.rows:,} rows "
               f"with credit exposure")
    if label.clients_with_event < min_events:
        count = f"{label.clients_with_event:,} clients with an event"
    else:
        count = f"{non_events:,} rows without an event"
    return TaskProfile(task, False, f"{task}: {count} {at}, {min_events} needed: {why}")


def profile_tables(clients: pd.DataFrame, monthly: pd.DataFrame, config: FeatureConfig, *,
                   sources: tuple[str, str] = ("clients", "monthly"), min_events: int = MIN_EVENTS,
                   events: pd.DataFrame | None = None) -> Profile:
    """Validate (reference lists not checked) and profile the kept rows; `DataError` when the
    tables cannot be used at all (as `validate_tables`). `events`: the bank's recorded events
    (`read_events`), the label source where present, as in training."""
    report = validate_tables(clients, monthly, rules=ContractRules(branches=None), sources=sources)
    kept_c = report.clients.drop(columns=ROW_ID)
    kept_m = report.monthly.drop(columns=ROW_ID)
    columns = [*profile_columns("clients", kept_c, CLIENT_COLUMNS), *profile_columns("monthly", kept_m, MONTHLY_COLUMNS)]
    statuses = {c.column: c.status for c in columns if not (c.table == "monthly" and c.column == CLIENT_KEY)}
    month_ids = np.array(sorted(month_index(m) for m in kept_m[MONTH_KEY].unique()))
    first, last = int(month_ids[0]), int(month_ids[-1])
    history = last - first + 1
    snapshots, note = usable_snapshot_months(first, last, config)
    if snapshots:
        counted, counted_note = snapshots, ""
    else:  # still show what the labels would give: every month whose longest horizon fits
        counted = list(range(first, last - config.max_horizon + 1))
        counted_note = ("counted at every month whose label horizons fit (no month has the feature history too)"
                        if counted else "the history is shorter than the longest label horizon")
    labels = profile_labels(kept_m, counted, config, counted_note=counted_note, events=events)
    closures, leavers = _closures_and_leavers(kept_m, last)
    tasks = [task_verdict(lab, statuses, closures=closures, leavers=leavers, config=config, min_events=min_events)
             for lab in labels]
    if not snapshots:  # the history is the reason, whatever the labels would give
        tasks = [TaskProfile(t.task, False, f"{t.task}: {note}") if t.trainable or lab.months == 0 else t
                 for t, lab in zip(tasks, labels, strict=True)]
    return Profile(
        rows_in=dict(report.rows_in), rows_kept=dict(report.rows_kept),
        clients=int(kept_c[CLIENT_KEY].nunique()), months=len(month_ids),
        first_month=month_label(first), last_month=month_label(last), history_months=history,
        snapshot_months=[month_label(m) for m in snapshots], snapshot_note=note,
        windows=list(config.windows), lookback_months=config.lookback_months,
        horizons={t: getattr(config.labels, t).horizon_months for t in TASKS},
        columns=columns, features=profile_features(statuses, history, config), labels=labels, tasks=tasks,
    )
