"""What-if snapshot features: a client's features after one monthly column changes.

The next-tier search (`models.next_tier`) asks "what if this client held X more in time
deposits over the last h months?" (h = 1: the snapshot month alone). The answer must follow the
snapshot's own definitions (`_snapshot.features_from_dense`), so it lives here, beside them: a
change `d` of a raw monthly column `c` in months t-h+1 .. t moves

- the level feature `c` and the sums it is part of (`deposit_total`, `investment_total`,
  `assets_total`), and `investment_share`;
- the changes of those balance series (log ratios `<series>_chg_<w>m`: the new level against
  the level w months ago, itself raised when w < h) and of the counts (`mobile_logins_chg_<w>m`:
  differences, moved only when w >= h);
- the slopes of the sums over the trend windows (the last min(h, w) points of a full window
  rise by d: the slope moves by 6 d k (w - k) / (w (w^2 - 1)), k = min(h, w));
- the averages over the trend windows (`mobile_logins_avg_<w>m`, `salary_inflow_avg_<w>m`:
  d min(h, w) / w), and the recency of logins and salary (0 once positive);
- `products_held` (and its changes) when the column shows a product family
  (`PRODUCT_COLUMNS`) that goes from not held to held (not held at t is taken as not held in
  the months changed);
- contribution and cost to serve (`value.margins_annual`, `value.cost_per_unit`, averaged
  over `value.average_months`, min(h, average_months) of which are changed) and the net
  contribution.

Not moved (a stated limit): volatilities (they need the whole window) and everything the
column does not enter. Each function is pure; numbers only, the frame's other columns are
carried as they are.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from tierwise.features._catalog import BALANCE_SERIES, COUNT_SERIES, SLOPE_SERIES
from tierwise.features._feature_config import FeatureConfig
from tierwise.features._products import PRODUCT_COLUMNS
from tierwise.features._snapshot import RECENCY

SUMS: Mapping[str, tuple[str, ...]] = {
    "deposit_total": ("deposit_current", "deposit_time"),
    "investment_total": ("wealth_balance", "fund_balance", "insurance_balance"),
    "assets_total": ("deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"),
}
"""Sum series of the snapshot -> the monthly columns they add up (`features_from_dense`)."""

AVERAGED: tuple[str, ...] = ("mobile_logins", "salary_inflow")
"""Monthly columns with `<column>_avg_<w>m` features."""

WHAT_IF_COLUMNS: tuple[str, ...] = (
    "deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance",
    "salary_inflow", "mobile_logins",
)
"""The monthly columns a what-if may change (the others are not modelled here)."""


def series_of(column: str) -> list[str]:
    """The column itself and the sum series it enters."""
    return [column, *[s for s, parts in SUMS.items() if column in parts]]


def moved_features(column: str, config: FeatureConfig) -> set[str]:
    """Every feature a change of `column` at month t can move (see the module docstring)."""
    if column not in WHAT_IF_COLUMNS:
        raise ValueError(f"{column!r} is not a what-if column; one of {', '.join(WHAT_IF_COLUMNS)}")
    out: set[str] = set(series_of(column))
    if column in SUMS["assets_total"]:
        out.add("investment_share")
    for series in series_of(column):
        if series in BALANCE_SERIES or series in COUNT_SERIES:
            out |= {f"{series}_chg_{w}m" for w in config.windows}
        if series in SLOPE_SERIES:
            out |= {f"{series}_slope_{w}m" for w in config.trend_windows}
    if column in AVERAGED:
        out |= {f"{column}_avg_{w}m" for w in config.trend_windows}
    out |= {feature for feature, source in RECENCY.items() if source == column}
    if column in PRODUCT_COLUMNS.values():
        out |= {"products_held", *(f"products_held_chg_{w}m" for w in config.windows)}
    if column in config.value.margins_annual or column in config.value.cost_per_unit:
        out |= {"contribution_monthly", "cost_to_serve_monthly", "net_contribution_monthly"}
    return out


def _log_level(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, 0.0) + 100.0)


def _slope_shift(w: int, k: int) -> float:
    """How much a least-squares slope over a full window of w months moves when its last k
    points rise by 1: sum of (i - mean) over them / Sxx = 6 k (w - k) / (w (w^2 - 1))."""
    return 6.0 * k * (w - k) / (w * (w * w - 1)) if w > 1 else 0.0


def with_change(frame: pd.DataFrame, column: str, delta: np.ndarray, config: FeatureConfig,
                months: int = 1) -> pd.DataFrame:
    """`frame` (snapshot rows holding at least `column`) after `delta` (one number per row) is
    added to `column` in each of the last `months` months up to the snapshot month (1: the
    snapshot month alone; 3: the change held for three months); features absent from the frame
    are skipped. Averages, slopes and contribution assume the client has every month of their
    windows (a gap month would count differently)."""
    if column not in frame.columns:
        raise ValueError(f"what-if: the rows have no column {column!r}")
    if months < 1:
        raise ValueError(f"what-if: months must be at least 1, got {months}")
    delta = np.asarray(delta, dtype=np.float64)
    out = frame.copy(deep=False)
    cols = out.columns
    h = months

    def num(name: str) -> np.ndarray:
        return out[name].to_numpy(dtype=np.float64, na_value=np.nan)

    before_level = num(column)
    for series in series_of(column):
        if series not in cols:
            continue
        old = num(series)
        new = old + delta
        out[series] = new
        if series in BALANCE_SERIES:
            for w in config.windows:
                name = f"{series}_chg_{w}m"
                if name not in cols:
                    continue
                chg = num(name)
                if w >= h:  # the month w ago is unchanged
                    out[name] = chg + _log_level(new) - _log_level(old)
                else:  # both ends raised
                    ago = np.exp(_log_level(old) - chg) - 100.0
                    out[name] = _log_level(new) - _log_level(ago + delta)
        if series in COUNT_SERIES:
            for w in config.windows:
                name = f"{series}_chg_{w}m"
                if name in cols and w >= h:
                    out[name] = num(name) + delta
        if series in SLOPE_SERIES:
            for w in config.trend_windows:
                name = f"{series}_slope_{w}m"
                if name in cols:
                    out[name] = num(name) + delta * _slope_shift(w, min(h, w))
    if column in SUMS["assets_total"] and {"investment_share", "investment_total", "assets_total"} <= set(cols):
        assets, invest = num("assets_total"), num("investment_total")
        with np.errstate(invalid="ignore", divide="ignore"):
            out["investment_share"] = np.where(assets > 0, invest / assets, np.nan)
    if column in AVERAGED:
        for w in config.trend_windows:
            name = f"{column}_avg_{w}m"
            if name in cols:
                out[name] = num(name) + delta * min(h, w) / w
    after_level = before_level + delta
    for feature, source in RECENCY.items():
        if source == column and feature in cols:
            out[feature] = np.where(after_level > 0, 0.0, num(feature))
    if column in PRODUCT_COLUMNS.values():  # not held at t: taken as not held in the months changed
        opened = ((np.nan_to_num(before_level) <= 0) & (after_level > 0)).astype(np.float64)
        if "products_held" in cols:
            out["products_held"] = num("products_held") + opened
        for w in config.windows:
            name = f"products_held_chg_{w}m"
            if name in cols and w >= h:
                out[name] = num(name) + opened
    earn, cost = _value_rates(column, config, h)
    if earn and "contribution_monthly" in cols:
        out["contribution_monthly"] = num("contribution_monthly") + delta * earn
    if cost and "cost_to_serve_monthly" in cols:
        out["cost_to_serve_monthly"] = num("cost_to_serve_monthly") + delta * cost
    if (earn or cost) and {"net_contribution_monthly", "contribution_monthly", "cost_to_serve_monthly"} <= set(cols):
        out["net_contribution_monthly"] = num("contribution_monthly") - num("cost_to_serve_monthly")
    return out


def _value_rates(column: str, config: FeatureConfig, months: int) -> tuple[float, float]:
    """Monthly contribution and cost to serve per unit of `column` held `months` months."""
    value = config.value
    share = min(months, value.average_months) / value.average_months
    return (value.margins_annual.get(column, 0.0) / 12.0 * share, value.cost_per_unit.get(column, 0.0) * share)


def linear_effects(column: str, config: FeatureConfig, months: int = 1) -> dict[str, float]:
    """Features that move by a fixed multiple of the change held `months` months (feature ->
    multiple): levels and sums 1, count changes 1, slopes, averages, contribution and cost by
    their definitions. The next-tier search turns the models' split thresholds on these
    features into candidate amounts; the other moved features follow `with_change`."""
    h = months
    out: dict[str, float] = {}
    for series in series_of(column):
        out[series] = 1.0
        if series in COUNT_SERIES:
            out |= {f"{series}_chg_{w}m": 1.0 for w in config.windows if w >= h}
        if series in SLOPE_SERIES:
            out |= {f"{series}_slope_{w}m": _slope_shift(w, min(h, w)) for w in config.trend_windows
                    if _slope_shift(w, min(h, w))}
    if column in AVERAGED:
        out |= {f"{column}_avg_{w}m": min(h, w) / w for w in config.trend_windows}
    earn, cost = _value_rates(column, config, h)
    if earn:
        out["contribution_monthly"] = earn
    if cost:
        out["cost_to_serve_monthly"] = cost
    if earn - cost:
        out["net_contribution_monthly"] = earn - cost
    return out
