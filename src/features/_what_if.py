"""What-if snapshot features: a client's features after one monthly column changes at month t.

The next-tier search (`models.next_tier`) asks "what if this client held X more in time
deposits this month?". The answer must follow the snapshot's own definitions
(`_snapshot.features_from_dense`), so it lives here, beside them: a change `d` of a raw
monthly column `c` at the snapshot month t moves

- the level feature `c` and the sums it is part of (`deposit_total`, `investment_total`,
  `assets_total`), and `investment_share`;
- the changes of those balance series (log ratios `<series>_chg_<w>m`: the new level against
  the unchanged level w months ago) and of the counts (`mobile_logins_chg_<w>m`: differences);
- the slopes of the sums over the trend windows (a least-squares slope whose last point moves
  by d moves by 6d / (w (w + 1)) over a full window);
- the averages over the trend windows that include t (`mobile_logins_avg_<w>m`,
  `salary_inflow_avg_<w>m`: d / w), and the recency of logins and salary (0 once positive);
- `products_held` (and its changes) when the column shows a product family
  (`PRODUCT_COLUMNS`) that goes from not held to held;
- contribution and cost to serve (`value.margins_annual`, `value.cost_per_unit`, averaged
  over `value.average_months`: month t is one of them) and the net contribution.

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


def with_change(frame: pd.DataFrame, column: str, delta: np.ndarray, config: FeatureConfig) -> pd.DataFrame:
    """`frame` (snapshot rows holding at least `column`) after `delta` (one number per row) is
    added to `column` at the snapshot month; features absent from the frame are skipped."""
    if column not in frame.columns:
        raise ValueError(f"what-if: the rows have no column {column!r}")
    delta = np.asarray(delta, dtype=np.float64)
    out = frame.copy()
    cols = out.columns
    moved = moved_features(column, config)

    def num(name: str) -> np.ndarray:
        return out[name].to_numpy(dtype=np.float64, na_value=np.nan)

    before_level = num(column)
    levels_before = {s: num(s) for s in series_of(column) if s in cols}
    for series, old in levels_before.items():
        new = old + delta
        out[series] = new
        if series in BALANCE_SERIES:
            for w in config.windows:
                name = f"{series}_chg_{w}m"
                if name in cols:
                    out[name] = num(name) + _log_level(new) - _log_level(old)
        if series in COUNT_SERIES:
            for w in config.windows:
                name = f"{series}_chg_{w}m"
                if name in cols:
                    out[name] = num(name) + delta
        if series in SLOPE_SERIES:
            for w in config.trend_windows:
                name = f"{series}_slope_{w}m"
                if name in cols:
                    out[name] = num(name) + delta * 6.0 / (w * (w + 1))
    if "investment_share" in moved and {"investment_share", "investment_total", "assets_total"} <= set(cols):
        assets, invest = num("assets_total"), num("investment_total")
        with np.errstate(invalid="ignore", divide="ignore"):
            out["investment_share"] = np.where(assets > 0, invest / assets, np.nan)
    if column in AVERAGED:
        for w in config.trend_windows:
            name = f"{column}_avg_{w}m"
            if name in cols:
                out[name] = num(name) + delta / w
    after_level = before_level + delta
    for feature, source in RECENCY.items():
        if source == column and feature in cols:
            out[feature] = np.where(after_level > 0, 0.0, num(feature))
    if column in PRODUCT_COLUMNS.values():
        opened = ((np.nan_to_num(before_level) <= 0) & (after_level > 0)).astype(np.float64)
        for name in ("products_held", *(f"products_held_chg_{w}m" for w in config.windows)):
            if name in cols:
                out[name] = num(name) + opened
    value = config.value
    earn = value.margins_annual.get(column, 0.0) / 12.0 / value.average_months
    cost = value.cost_per_unit.get(column, 0.0) / value.average_months
    if earn and "contribution_monthly" in cols:
        out["contribution_monthly"] = num("contribution_monthly") + delta * earn
    if cost and "cost_to_serve_monthly" in cols:
        out["cost_to_serve_monthly"] = num("cost_to_serve_monthly") + delta * cost
    if (earn or cost) and {"net_contribution_monthly", "contribution_monthly", "cost_to_serve_monthly"} <= set(cols):
        out["net_contribution_monthly"] = num("contribution_monthly") - num("cost_to_serve_monthly")
    return out


def linear_effects(column: str, config: FeatureConfig) -> dict[str, float]:
    """Features that move by a fixed multiple of the change (feature -> multiple): levels and
    sums 1, count changes 1, slopes 6 / (w (w + 1)), averages 1 / w, contribution and cost by
    their margin and unit cost. The next-tier search turns the models' split thresholds on
    these features into candidate amounts; the other moved features follow `with_change`."""
    out: dict[str, float] = {}
    for series in series_of(column):
        out[series] = 1.0
        if series in COUNT_SERIES:
            out |= {f"{series}_chg_{w}m": 1.0 for w in config.windows}
        if series in SLOPE_SERIES:
            out |= {f"{series}_slope_{w}m": 6.0 / (w * (w + 1)) for w in config.trend_windows}
    if column in AVERAGED:
        out |= {f"{column}_avg_{w}m": 1.0 / w for w in config.trend_windows}
    value = config.value
    earn = value.margins_annual.get(column, 0.0) / 12.0 / value.average_months
    cost = value.cost_per_unit.get(column, 0.0) / value.average_months
    if earn:
        out["contribution_monthly"] = earn
    if cost:
        out["cost_to_serve_monthly"] = cost
    if earn - cost:
        out["net_contribution_monthly"] = earn - cost
    return out
