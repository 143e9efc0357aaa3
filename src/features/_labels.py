"""Labels at snapshot month t, built from the data after t (DESIGN.md "Data model").

For every client alive at t (same definition as the snapshot features):
- `churn_<h>m` (default h = 6): 1 when, within months t+1 .. t+h, the relationship closes, or
  in some month the assets fall below `asset_floor_share` of their level at t with no activity
  (no transaction in any channel and no mobile login), or the client leaves the extract (no row
  at t+h nor at any later month read); else 0.
- `default_<h>m` (default h = 12): 1 when days past due reach `dpd_threshold` in a month within
  t+1 .. t+h; NaN for clients without credit exposure (loan + card balance) at t, and for
  clients already at or above the threshold at t when `exclude_defaulted_at_t`.
- `growth_<h>m` (default h = 12): log((assets_total at t+h + offset) / (assets_total at t +
  offset)); NaN when the client is not retained at t+h (no row then, or closed before).
- `adopt_<product>_<h>m` (default h = 3), one per product family (`features._products`):
  1 when the client, not holding the family at t (its column not above zero), holds it in
  some month within t+1 .. t+h; 0 when not; NaN for clients who hold it at t. Gap months are
  missing data, as above; a client who leaves without adopting is 0.
- `<task>_complete`: the data reaches t+h, so the label is known. When it does not, the
  label is NaN.

Gap months after t are missing data: they neither trigger nor rule out an event.

The bank's own `events` table (`tierwise.features._events`), when given, is the label source
before these rules: a closure or write-off event is a churn event (and ends retention), a
default or write-off event a default event; recorded closures take the place of
`relationship_closed`, recorded defaults the place of days past due, and each task keeps its
rule above when the table records none of its kind. A bank that records no closures (and
whose `relationship_closed` is never set) gets churn from dormancy alone -- assets below the
floor with no activity -- plus clients who leave the extract.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from tierwise.features._contract import BALANCE_COLUMNS, CLIENT_KEY
from tierwise.features._events import EventMarks, check_events, event_marks
from tierwise.features._feature_config import FeatureConfig
from tierwise.features._months import month_date, month_index
from tierwise.features._products import PRODUCT_COLUMNS, holds, task_product
from tierwise.features._snapshot import (
    Dense,
    alive_in,
    check_month_inside,
    densify,
    months_inside,
    prepare_monthly,
)

logger = logging.getLogger(__name__)

Task = Literal["churn", "default", "growth"]
TASKS: tuple[Task, ...] = get_args(Task)
"""The three task models, in the order they are trained, reported and explained."""
_ACTIVITY = ("branch_txn_count", "mobile_txn_count", "atm_txn_count", "mobile_logins")


def label_column(task: str, config: FeatureConfig) -> str:
    """`churn_6m`, `default_12m`, `growth_12m` with the default horizons; `adopt_wealth_3m`
    for the product propensity task `adopt_wealth`."""
    if task_product(task) is not None:
        return f"{task}_{config.labels.products.horizon_months}m"
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {TASKS} or adopt_<product>")
    return f"{task}_{getattr(config.labels, task).horizon_months}m"


def is_task(task: str) -> bool:
    """One of the three task models, or a product propensity task (`adopt_<product>`)."""
    return task in TASKS or task_product(task) is not None


def complete_column(task: str) -> str:
    return f"{task}_complete"


def build_labels(monthly: pd.DataFrame, month: dt.date, config: FeatureConfig, *,
                 data_end: dt.date | None = None, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Labels at `month` for every client alive then, sorted by `client_id`.

    `data_end` is the last month the extract covers (default: the last month in `monthly`);
    give it when `monthly` is one partition of clients, so horizons are judged the same way.
    `events` is the bank's events table (`read_events`), the label source where present.
    """
    data = prepare_monthly(monthly)
    t = month_index(month)
    check_month_inside(data, t)
    end = month_index(data_end) if data_end is not None else data.last_month
    dense = densify(data, t, min(end, t + config.max_horizon))
    return labels_from_dense(dense, t, config, data_end=end, events=_marks(events, dense))


def label_history(monthly: pd.DataFrame, config: FeatureConfig,
                  months: Sequence[dt.date] | None = None, *,
                  events: pd.DataFrame | None = None) -> pd.DataFrame:
    """`build_labels` at each of `months` (default: every month of `monthly`), stacked.

    The table is prepared and laid out once for all months, so this is the way to read label
    base rates over a whole history. Rows of a month whose horizon runs past the data carry
    NaN labels and `<task>_complete` False, as in `build_labels`.
    """
    data = prepare_monthly(monthly)
    if months is None:
        check_month_inside(data, data.first_month if len(data.months) else 0)
        wanted = list(range(data.first_month, data.last_month + 1))
    else:
        wanted = months_inside(data, months, "label")
    end = data.last_month
    dense = densify(data, wanted[0], min(end, wanted[-1] + config.max_horizon))
    marks = _marks(events, dense)
    return pd.concat([labels_from_dense(dense, t, config, data_end=end, events=marks) for t in wanted],
                     ignore_index=True)


def _marks(events: pd.DataFrame | None, dense: Dense) -> EventMarks | None:
    if events is None:
        return None
    return event_marks(check_events(events), dense.ids, dense.bool_start, dense.end)


def labels_from_dense(dense: Dense, t: int, config: FeatureConfig, *, data_end: int,
                      events: EventMarks | None = None) -> pd.DataFrame:
    """`build_labels` on laid-out inputs covering months t .. min(t + horizon, data_end);
    `events` laid out over the same clients (`event_marks`), or None for the rules alone."""
    end = data_end
    lab = config.labels
    h_max = config.max_horizon
    alive = alive_in(dense, t)
    n = len(alive)

    def window(name: str) -> np.ndarray:
        return dense.window(name, alive, t, t + h_max)

    assets = sum(window(c) for c in BALANCE_COLUMNS)
    activity = sum(window(c) for c in _ACTIVITY)
    dpd = window("days_past_due")
    exposure_t = window("loan_balance")[:, 0] + window("card_balance")[:, 0]
    closed = dense.flags(dense.closed, alive, t, t + h_max)
    if events is not None:
        marked = events.window(events.churn, alive, t, t + h_max)
        closed = marked if events.closures_recorded else closed | marked
    present = dense.flags(dense.present, alive, t, t + h_max)
    assets_t = assets[:, 0]

    out = pd.DataFrame({
        CLIENT_KEY: dense.ids[alive].array,
        "snapshot_month": pd.Series(np.full(n, np.datetime64(month_date(t), "ns"))),
    })

    # churn
    h = lab.churn.horizon_months
    fut = slice(1, h + 1)
    with np.errstate(invalid="ignore"):
        floor_hit = (assets[:, fut] < lab.churn.asset_floor_share * assets_t[:, None]) & (activity[:, fut] == 0)
    seen_to = min(end, t + h_max) - t  # last offset the data covers for this check
    gone = ~present[:, h:seen_to + 1].any(axis=1) if seen_to >= h else np.zeros(n, dtype=bool)
    churn = closed[:, fut].any(axis=1) | floor_hit.any(axis=1) | gone
    out[label_column("churn", config)] = _known(churn.astype(np.float64), end >= t + h)
    out[complete_column("churn")] = end >= t + h

    # default
    h = lab.default.horizon_months
    thr = lab.default.dpd_threshold
    with np.errstate(invalid="ignore"):
        eligible = exposure_t > 0
        defaulted = (dpd[:, 1:h + 1] >= thr).any(axis=1)
        in_default = dpd[:, 0] >= thr
        if events is not None:
            marked = events.window(events.default, alive, t + 1, t + h).any(axis=1)
            before = events.until(events.default, alive, t)
            defaulted = marked if events.defaults_recorded else defaulted | marked
            in_default = before if events.defaults_recorded else in_default | before
        if lab.default.exclude_defaulted_at_t:
            eligible &= ~in_default
    out[label_column("default", config)] = _known(np.where(eligible, defaulted.astype(np.float64), np.nan),
                                                  end >= t + h)
    out[complete_column("default")] = end >= t + h

    # growth
    h = lab.growth.horizon_months
    off = lab.growth.offset
    retained = present[:, h] & ~closed[:, 1:h + 1].any(axis=1)
    growth = np.log(np.maximum(assets[:, h], 0.0) + off) - np.log(np.maximum(assets_t, 0.0) + off)
    out[label_column("growth", config)] = _known(np.where(retained, growth, np.nan), end >= t + h)
    out[complete_column("growth")] = end >= t + h

    # product adoption: not held at t, held in some month of t+1 .. t+h
    h = lab.products.horizon_months
    for product, column in PRODUCT_COLUMNS.items():
        task = f"adopt_{product}"
        values = window(column)
        held_t = holds(values[:, 0])
        adopted = holds(values[:, 1:h + 1]).any(axis=1)
        out[label_column(task, config)] = _known(np.where(held_t, np.nan, adopted.astype(np.float64)),
                                                 end >= t + h)
        out[complete_column(task)] = end >= t + h
    return out


def _known(values: np.ndarray, complete: bool) -> np.ndarray:
    return values if complete else np.full(values.shape, np.nan)

