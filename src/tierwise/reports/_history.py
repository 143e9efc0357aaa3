"""The monitor over time: up to a year of scored months ending at the monitored month.

Pure functions over a frame holding several months of the recommendations table (read from the
client archive, or from a recommendations file that holds months): which months to read, tier
counts and migration month by month, fund movements of the top-tier clients, exit reviews, and
model performance before labels mature (expected rates and expected AUC from the calibrated
scores) beside the realised figures once they have. Nothing here reads files.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tierwise.features import CLIENT_KEY, DataError, FeatureConfig, add_months, month_label
from tierwise.models import REVIEW_STATUSES, TIERS
from tierwise.reports._config import HistoryConfig
from tierwise.reports._monitor import fund_flows, matured_labels, migration_matrix

logger = logging.getLogger(__name__)

OPEN_STATUSES: tuple[str, ...] = ("opened", "open")
#: task -> (score column, column that must be positive for the client to count, or None)
PERFORMANCE_TASKS: dict[str, tuple[str, str | None]] = {
    "churn": ("p_churn", None),
    "default": ("p_default", "credit_exposure"),
}


# --------------------------------------------------------------------------- which months
@dataclass(frozen=True)
class MonitorMonths:
    """The monitored month, its baseline, the history window and every month to read."""

    month: dt.date
    baseline: dt.date
    window: tuple[dt.date, ...]
    read: tuple[dt.date, ...]


def window_months(present: Sequence[dt.date], month: dt.date, *, length: int) -> list[dt.date]:
    """The months of `present` among the `length` months ending at `month`, oldest first."""
    first = add_months(month, -(length - 1))
    return sorted({m for m in present if first <= m <= month})


def resolve_months(present: Sequence[dt.date], month: dt.date | None, baseline: dt.date | None, *,
                   length: int, archived: bool) -> MonitorMonths:
    """`--month` (default: the latest present month) and `--baseline` (default: the latest
    present month before it), both checked against `present`; a one-line `DataError` otherwise.
    `archived`: the months come from the archive (else from a recommendations file)."""
    present = sorted({m.replace(day=1) for m in present})
    kind = "archived" if archived else "scored"
    shown = ", ".join(month_label(m) for m in present[-6:]) or "none"
    if not present:
        raise DataError(f"no {kind} month to monitor")
    month = present[-1] if month is None else month.replace(day=1)

    def check(value: dt.date, option: str) -> None:
        if value not in present:
            where = "is not archived" if archived else "is not in the recommendations"
            raise DataError(f"{option} {month_label(value)} {where}; {kind} months: {shown}")

    check(month, "--month")
    if baseline is None:
        earlier = [m for m in present if m < month]
        if not earlier:
            raise DataError(f"--baseline: no {kind} month before {month_label(month)} to compare with "
                            f"({kind} months: {shown}); give --baseline or score an earlier month")
        baseline = earlier[-1]
    baseline = baseline.replace(day=1)
    check(baseline, "--baseline")
    if baseline == month:
        raise DataError(f"--baseline {month_label(baseline)} is the same month as --month")
    window = tuple(window_months(present, month, length=length))
    year_ago = add_months(month, -12)  # the seasonal PSI baseline, read when present
    extra = {year_ago} if year_ago in present else set()
    return MonitorMonths(month=month, baseline=baseline, window=window,
                         read=tuple(sorted({*window, baseline, *extra})))


# --------------------------------------------------------------------------- tiers over time
def _month_rows(recs: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    return recs[recs["month"] == pd.Timestamp(month)]


def tier_history(recs: pd.DataFrame, months: Sequence[pd.Timestamp], top_tiers: Sequence[str]) -> list[dict[str, Any]]:
    """Per month: clients per tier (every tier, zeros kept), all clients, the top-tier share."""
    rows = []
    for month in months:
        tiers = _month_rows(recs, month)["tier"]
        counts = tiers.value_counts().reindex(list(TIERS), fill_value=0)
        total = int(counts.sum())
        top = int(counts.reindex(list(top_tiers), fill_value=0).sum())
        rows.append({"month": month_label(month), "clients": total,
                     "tiers": {str(t): int(n) for t, n in counts.items()},
                     "top_tier_clients": top, "top_tier_share": top / total if total else None})
    return rows


def migration_summary(matrix: pd.DataFrame) -> dict[str, int]:
    """Clients who stayed, moved up, moved down, are new and were lost, from a `migration_matrix`."""
    rank = {t: i for i, t in enumerate(TIERS)}  # TIERS run from the highest tier down
    out = {"stayed": 0, "up": 0, "down": 0}
    for src in TIERS:
        for dst in TIERS:
            n = int(matrix.loc[src, dst])
            key = "stayed" if src == dst else "up" if rank[dst] < rank[src] else "down"
            out[key] += n
    out["new"] = int(matrix.loc["new", list(TIERS)].sum())
    out["lost"] = int(matrix.loc[list(TIERS), "left"].sum())
    return out


def _matrix_record(matrix: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> dict[str, Any]:
    return {"from": month_label(first), "to": month_label(last),
            "rows": [str(i) for i in matrix.index], "columns": [str(c) for c in matrix.columns],
            "counts": matrix.to_numpy().tolist(), **migration_summary(matrix)}


def migration_history(recs: pd.DataFrame, months: Sequence[pd.Timestamp]) -> dict[str, Any]:
    """Tier migration of each consecutive pair of `months` (clients new and lost included),
    and the matrix from the first month to the last (None with fewer than two months)."""
    steps = [_matrix_record(migration_matrix(_month_rows(recs, a), _month_rows(recs, b)), a, b)
             for a, b in zip(months[:-1], months[1:], strict=True)]
    window = None
    if len(months) >= 2:
        first, last = months[0], months[-1]
        window = _matrix_record(migration_matrix(_month_rows(recs, first), _month_rows(recs, last)), first, last)
    return {"steps": steps, "window": window}


# --------------------------------------------------------------------------- money
def top_tier_flows(recs: pd.DataFrame, months: Sequence[pd.Timestamp], top_tiers: Sequence[str]) -> list[dict[str, Any]]:
    """Per month after the first: for the clients in the top tiers the month before, their
    assets then and now, net flow and its share, by that tier and in total (a client who left
    counts with 0 now)."""
    out = []
    for before, month in zip(months[:-1], months[1:], strict=True):
        prev = _month_rows(recs, before)
        prev = prev[prev["tier"].isin(top_tiers)]
        cur = _month_rows(recs, month)
        flows = fund_flows(prev, cur).set_index("tier").reindex(list(top_tiers), fill_value=0)
        left = (~prev[CLIENT_KEY].isin(cur[CLIENT_KEY])).groupby(prev["tier"]).sum()
        rows = [_flow_row(str(tier), int(r.clients), int(left.get(tier, 0)), r.assets_baseline, r.assets_month)
                for tier, r in flows.iterrows()]
        rows.append(_flow_row("total", sum(r["clients"] for r in rows), sum(r["left"] for r in rows),
                              sum(r["assets_previous"] for r in rows), sum(r["assets_month"] for r in rows)))
        out.append({"month": month_label(month), "previous": month_label(before), "rows": rows})
    return out


def _flow_row(tier: str, clients: int, left: int, before: float, after: float) -> dict[str, Any]:
    before, after = float(before), float(after)
    return {"tier": tier, "clients": clients, "left": left, "assets_previous": before, "assets_month": after,
            "net_flow": after - before, "net_flow_pct": (after - before) / before if before > 0 else None}


# --------------------------------------------------------------------------- exit reviews
def exit_reviews(recs: pd.DataFrame, months: Sequence[pd.Timestamp], month: pd.Timestamp) -> dict[str, Any]:
    """Per month the reviews by status, and the reviews open at `month` (opened or still
    open), longest under review first. Without the review columns: `available` False."""
    if "exit_review_status" not in recs.columns:
        return {"available": False, "note": "the recommendations carry no exit-review columns (score into the archive)",
                "counts": [], "open_at_month": []}
    counts = []
    for m in months:
        status = _month_rows(recs, m)["exit_review_status"]
        found = status[status.notna()].astype("str").value_counts()
        counts.append({"month": month_label(m), **{s: int(found.get(s, 0)) for s in REVIEW_STATUSES}})
    cur = _month_rows(recs, month)
    is_open = cur["exit_review_status"].astype("str").isin(OPEN_STATUSES) & cur["exit_review_status"].notna()
    rows = cur[is_open]
    frame = pd.DataFrame({
        "client_id": rows[CLIENT_KEY].astype("str").to_numpy(),
        "tier": rows["tier"].astype("str").to_numpy(),
        "status": rows["exit_review_status"].astype("str").to_numpy(),
        "since": pd.to_datetime(rows.get("exit_review_since", pd.Series(pd.NaT, index=rows.index))).to_numpy(),
        "months": pd.to_numeric(rows.get("exit_review_months", pd.Series(np.nan, index=rows.index)),
                                errors="coerce").to_numpy(dtype="float64"),
        "p_default": pd.to_numeric(rows["p_default"], errors="coerce").to_numpy(dtype="float64"),
    }).sort_values(["months", "p_default", "client_id"], ascending=[False, False, True], na_position="last",
                   kind="stable")
    listed = [{"client_id": r.client_id, "tier": r.tier, "status": r.status,
               "since": month_label(r.since) if pd.notna(r.since) else None,
               "months": int(r.months) if np.isfinite(r.months) else None,
               "p_default": float(r.p_default) if np.isfinite(r.p_default) else None}
              for r in frame.itertuples(index=False)]
    return {"available": True, "note": "", "counts": counts, "open_at_month": listed}


# --------------------------------------------------------------------------- performance
def expected_auc(p: np.ndarray | pd.Series) -> float:
    """The ROC AUC the scores `p` would reach if they were the true probabilities.

    Each client i is a positive with probability p_i, independently; over every ordered pair
    i != j, weight p_i (1 - p_j) the pair (positive i, negative j) and count it as ranked right
    when p_i > p_j (half when tied): sum p_i (1 - p_j) 1[p_i > p_j] (+ 0.5 ties) over
    sum_i p_i * sum_j (1 - p_j) - sum_i p_i (1 - p_i). O(n log n): one sort and cumulative sums
    over the distinct values. NaN with no pair to rank (fewer than two values, or all 0 or 1 alike).
    """
    values = np.asarray(pd.to_numeric(pd.Series(p), errors="coerce"), dtype="float64")
    values = values[np.isfinite(values)]
    if values.size < 2:
        return float("nan")
    distinct, counts = np.unique(values, return_counts=True)  # sorted ascending
    pos = distinct * counts  # sum of p within each distinct value
    neg = (1.0 - distinct) * counts  # sum of 1 - p
    neg_below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    self_pairs = counts * distinct * (1.0 - distinct)  # the i = j terms within each value
    numerator = float(np.sum(pos * neg_below) + 0.5 * np.sum(pos * neg - self_pairs))
    denominator = float(values.sum() * (1.0 - values).sum() - np.sum(values * (1.0 - values)))
    return numerator / denominator if denominator > 0 else float("nan")


def _task_rows(rows: pd.DataFrame, task: str) -> pd.DataFrame:
    score, needed = PERFORMANCE_TASKS[task]
    part = rows[pd.to_numeric(rows[score], errors="coerce").notna()]
    if needed is not None and needed in part.columns:
        part = part[pd.to_numeric(part[needed], errors="coerce").fillna(0) > 0]
    return part


def _realised(part: pd.DataFrame, labels: pd.DataFrame | None, task: str) -> dict[str, Any]:
    if labels is None or labels[task].isna().all():
        return {"matured": False, "labelled": 0, "realised_rate": None, "realised_auc": None}
    score = PERFORMANCE_TASKS[task][0]
    merged = part[[CLIENT_KEY, score]].merge(labels[[CLIENT_KEY, task]], on=CLIENT_KEY, how="inner")
    merged = merged[merged[task].notna()]
    y = merged[task].to_numpy(dtype="float64")
    both = len(merged) > 0 and 0 < y.sum() < len(y)
    return {"matured": True, "labelled": int(len(merged)),
            "realised_rate": float(y.mean()) if len(y) else None,
            "realised_auc": float(roc_auc_score(y, merged[score].to_numpy(dtype="float64"))) if both else None}


def _labels_for(monthly: pd.DataFrame | None, month: pd.Timestamp, clients: pd.Series,
                features: FeatureConfig, events: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """`matured_labels` at `month`, skipped (None) when no horizon can be covered yet."""
    if monthly is None or monthly.empty:
        return None
    shortest = min(getattr(features.labels, task).horizon_months for task in PERFORMANCE_TASKS)
    if pd.Timestamp(add_months(month, shortest)) > pd.to_datetime(monthly["month"]).max():
        return None
    return matured_labels(monthly, month, clients, features, events)


def performance_history(recs: pd.DataFrame, months: Sequence[pd.Timestamp], monthly: pd.DataFrame | None,
                        features: FeatureConfig, events: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per month and task (churn, default): the expected event rate (mean score) and expected
    AUC of the scores, and the realised rate and AUC once the month's labels have matured in
    `monthly`. Default counts clients with credit exposure only."""
    out = []
    for month in months:
        rows = _month_rows(recs, month)
        labels = _labels_for(monthly, month, rows[CLIENT_KEY], features, events)
        entry: dict[str, Any] = {"month": month_label(month)}
        for task, (score, _) in PERFORMANCE_TASKS.items():
            part = _task_rows(rows, task)
            p = part[score].to_numpy(dtype="float64")
            entry[task] = {"clients": int(len(part)),
                           "expected_rate": float(p.mean()) if len(p) else None,
                           "expected_auc": expected_auc(p),
                           **_realised(part, labels, task)}
        out.append(entry)
    return out


def history_block(recs: pd.DataFrame, month: pd.Timestamp, cfg: HistoryConfig, *, top_tiers: Sequence[str],
                  monthly: pd.DataFrame | None, features: FeatureConfig,
                  events: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every figure over time for the months of `recs` among the `cfg.months` ending at `month`."""
    present = [pd.Timestamp(m).date() for m in pd.to_datetime(recs["month"]).dropna().unique()]
    months = [pd.Timestamp(m) for m in window_months(present, pd.Timestamp(month).date(), length=cfg.months)]
    logger.info("monitor history: %d month(s) from %s to %s", len(months), month_label(months[0]),
                month_label(months[-1]))
    return {
        "months": [month_label(m) for m in months],
        "tiers": tier_history(recs, months, top_tiers),
        "migration": migration_history(recs, months),
        "top_tier_flows": top_tier_flows(recs, months, top_tiers),
        "exit_reviews": {**exit_reviews(recs, months, pd.Timestamp(month)), "shown": cfg.open_reviews_shown},
        "performance": performance_history(recs, months, monthly, features, events),
    }
