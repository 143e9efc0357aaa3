"""Point-in-time snapshot features: one row per client alive at month t, from history <= t.

How it works: the monthly rows the features may read (months t-L+1 .. t, L = the longest
window + 1) are laid out as dense client x month arrays (NaN where a client has no row), and
every windowed feature is an array slice. Recency, first month of history and closures use a
boolean client x month array over all history up to t. Rows after t are never read: the
first thing `snapshot_features` does is cut them off (the leakage property test checks it).

Decisions:
- "Alive at t": the client has a row at t and no month <= t with `relationship_closed`
  (a client closing in month t is gone by the time month t is scored).
- A gap (a month with no row between a client's first row and t) is missing data: that
  month's values are NaN, so a change reaching back to it is NaN and averages skip it; the
  number of clients with gaps is logged.
- Less history than a window gives NaN for that window's features, never zero.
- `age_band` is derived from the protected `birth_year`: it is a carried column, a feature
  only when `protected.use_as_features` is set.

Every feature of a client depends only on that client's rows, so the function can run per
partition of clients (e.g. Spark `applyInPandas` over client-hash buckets) and the union of
the partitions equals the whole (tested). No global state.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.features._catalog import (
    BALANCE_SERIES,
    CHANNELS,
    COUNT_SERIES,
    SLOPE_SERIES,
    VOL_SERIES,
    carried_columns,
    feature_catalog,
)
from tierwise.features._contract import (
    CLIENT_COLUMNS,
    CLIENT_KEY,
    MONTH_KEY,
    MONTHLY_COLUMNS,
)
from tierwise.features._errors import DataError
from tierwise.features._feature_config import FeatureConfig
from tierwise.features._months import check_month_in_range, month_date, month_index, month_label

logger = logging.getLogger(__name__)

NUMERIC_MONTHLY: tuple[str, ...] = tuple(c.name for c in MONTHLY_COLUMNS if c.kind in ("int", "float"))
CLOSED = "relationship_closed"
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 25, "<25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"), (65, 200, "65+"),
)
"""The age bands (lower age included, upper excluded, label), youngest first: the one
definition used by the features, the model card's fairness check and the monitor's."""


# --------------------------------------------------------------------------------------------
# input checks: one line naming table, column and what was expected


def _require_columns(frame: pd.DataFrame, names: list[str], table: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(f"{table}: missing column{'s' * (len(missing) > 1)} {', '.join(repr(m) for m in missing)} "
                        f"(required by the raw-table contract, features._contract)")


def _to_months(series: pd.Series, table: str, column: str) -> np.ndarray:
    """A month column as integer months; datetime64, dates and ISO strings are accepted."""
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise DataError(f"{table}: column '{column}' is empty in row {row}; expected a month (YYYY-MM-01)")
    if not pd.api.types.is_datetime64_any_dtype(series):
        try:
            series = pd.to_datetime(series, format="ISO8601") if pd.api.types.is_string_dtype(series) \
                else pd.to_datetime(series)
        except (ValueError, TypeError):
            raise DataError(f"{table}: column '{column}' has type {series.dtype}, expected a month "
                            f"(a date such as 2024-03-01)") from None
    values = series.to_numpy()
    if getattr(series.dt, "tz", None) is not None:
        values = series.dt.tz_localize(None).to_numpy()
    return values.astype("datetime64[M]").astype(np.int64)


@dataclass(frozen=True)
class Monthly:
    """Validated monthly rows with integer client codes and months; a selection is a list of
    row positions into the (unchanged, uncopied) frame.

    `codes` index `ids` (sorted client ids); codes depend only on the ids present, so any
    result is re-keyed by id before leaving this module.
    """

    frame: pd.DataFrame
    ids: pd.Index
    codes: np.ndarray
    months: np.ndarray
    rows: np.ndarray

    @property
    def first_month(self) -> int:
        return int(self.months.min())

    @property
    def last_month(self) -> int:
        return int(self.months.max())

    def take(self, keep: np.ndarray) -> Monthly:
        return Monthly(self.frame, self.ids, self.codes[keep], self.months[keep], self.rows[keep])

    def column(self, name: str) -> np.ndarray:
        """The selected rows of a numeric column as float64 (NaN for missing values)."""
        col = self.frame[name]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufb":
            return col.to_numpy()[self.rows].astype(np.float64)
        return col.to_numpy(dtype=np.float64, na_value=np.nan)[self.rows]


def prepare_monthly(monthly: pd.DataFrame, *, table: str = "monthly") -> Monthly:
    """Check columns and types of the raw `monthly` table and index it; raises `DataError`."""
    required = [c.name for c in MONTHLY_COLUMNS]
    _require_columns(monthly, required, table)
    converted = {}
    for name in NUMERIC_MONTHLY:
        col = monthly[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        numbers = pd.to_numeric(col, errors="coerce") if pd.api.types.is_string_dtype(col) else None
        if numbers is None or (numbers.isna() & col.notna()).any():  # text that is not all numbers (e.g. CSV)
            raise DataError(f"{table}: column '{name}' has type {col.dtype}, expected numbers{_first_non_numeric(col)}")
        converted[name] = numbers
    closed = monthly[CLOSED]
    if pd.api.types.is_string_dtype(closed):
        flags = closed.str.strip().str.lower().map({"true": True, "false": False, "1": True, "0": False})
        if flags.isna().any():
            row = int(np.flatnonzero(flags.isna().to_numpy())[0])
            raise DataError(f"{table}: column '{CLOSED}' holds {closed.iloc[row]!r} in row {row}; expected true/false")
        converted[CLOSED] = flags.astype(bool)
    elif not (pd.api.types.is_bool_dtype(closed) or pd.api.types.is_integer_dtype(closed)):
        raise DataError(f"{table}: column '{CLOSED}' has type {closed.dtype}, expected true/false")
    if converted:
        monthly = monthly.assign(**converted)
    ids_col = monthly[CLIENT_KEY]
    if ids_col.isna().any():
        row = int(np.flatnonzero(ids_col.isna().to_numpy())[0])
        raise DataError(f"{table}: column '{CLIENT_KEY}' is empty in row {row}")
    months = _to_months(monthly[MONTH_KEY], table, MONTH_KEY)
    if not pd.api.types.is_string_dtype(ids_col):
        ids_col = ids_col.astype("str")
    codes, ids = pd.factorize(ids_col, sort=True)
    frame = monthly.reset_index(drop=True)
    return Monthly(frame, pd.Index(ids, dtype="str", name=CLIENT_KEY), codes.astype(np.int64), months,
                   np.arange(len(frame), dtype=np.int64))


def _first_non_numeric(col: pd.Series) -> str:
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        return f" (row {row} holds {col.iloc[row]!r})"
    return ""


def check_no_duplicates(data: Monthly, table: str = "monthly") -> None:
    """Two rows for the same client and month: a one-line error naming the first one."""
    if len(data.codes) < 2:
        return
    lo = int(data.months.min())
    span = int(data.months.max()) - lo + 1
    cell = data.codes * span + (data.months - lo)
    counts = np.bincount(cell)
    if counts.max() > 1:
        first = int(np.argmax(counts > 1))
        code, offset = divmod(first, span)
        n = int((counts[counts > 1] - 1).sum())
        raise DataError(f"{table}: duplicate client-month: client_id {str(data.ids[code])!r}, "
                        f"month {month_label(lo + offset)} appears more than once ({n} duplicate "
                        f"row{'s' * (n > 1)} in all); quarantine them first (`tierwise validate`, or --quarantine)")


def prepare_clients(clients: pd.DataFrame, *, table: str = "clients") -> pd.DataFrame:
    """Check the raw `clients` table; returns it indexed by client id (str)."""
    names = [c.name for c in CLIENT_COLUMNS]
    _require_columns(clients, names, table)
    ids = clients[CLIENT_KEY]
    if ids.isna().any():
        raise DataError(f"{table}: column '{CLIENT_KEY}' is empty in row {int(np.flatnonzero(ids.isna().to_numpy())[0])}")
    dup = ids.duplicated()
    if dup.any():
        raise DataError(f"{table}: client_id {ids[dup].iloc[0]!r} appears more than once "
                        f"({int(dup.sum())} duplicate rows); each client needs exactly one row")
    if not pd.api.types.is_numeric_dtype(clients["birth_year"]) or pd.api.types.is_bool_dtype(clients["birth_year"]):
        raise DataError(f"{table}: column 'birth_year' has type {clients['birth_year'].dtype}, expected a year (integer)")
    out = clients.loc[:, names].copy()
    out["_onboarding"] = _to_months(out["onboarding_month"], table, "onboarding_month")
    out.index = pd.Index(ids.astype("str").to_numpy(), name=CLIENT_KEY)
    return out


# --------------------------------------------------------------------------------------------
# array helpers (rows: clients; columns: months, oldest first, t last)


RECENCY = {"months_since_mobile_login": "mobile_logins", "months_since_salary": "salary_inflow",
           "months_since_branch_visit": "branch_txn_count"}


@dataclass(frozen=True)
class Dense:
    """Monthly rows laid out as (all clients x months) arrays.

    Numbers (NaN where a client has no row) cover months `value_start` .. `end`; the boolean
    arrays (a row exists, the relationship closed, recency events) cover `bool_start` .. `end`
    (the whole history, for recency and the first month of each client).
    """

    ids: pd.Index
    value_start: int
    bool_start: int
    end: int
    values: dict[str, np.ndarray]
    present: np.ndarray
    closed: np.ndarray
    hits: dict[str, np.ndarray]

    def window(self, name: str, rows: np.ndarray, first: int, last: int) -> np.ndarray:
        """values[name] for `rows` and months first..last, NaN outside the covered months."""
        return _slice(self.values[name], rows, first - self.value_start, last - self.value_start, np.nan)

    def flags(self, arr: np.ndarray, rows: np.ndarray, first: int, last: int) -> np.ndarray:
        return _slice(arr, rows, first - self.bool_start, last - self.bool_start, False)


def _slice(arr: np.ndarray, rows: np.ndarray, a: int, b: int, fill) -> np.ndarray:
    """arr[rows, a..b] (inclusive), padded with `fill` where a..b runs outside the array."""
    width = arr.shape[1]
    if a >= 0 and b < width:
        return arr[rows, a:b + 1]
    lo, hi = max(a, 0), min(b, width - 1)
    out = np.full((len(rows), b - a + 1), fill, dtype=arr.dtype)
    if lo <= hi:
        out[:, lo - a:hi - a + 1] = arr[rows, lo:hi + 1]
    return out


def densify(data: Monthly, value_start: int, end: int) -> Dense:
    """Lay out the rows up to `end` (and numbers from `value_start`); checks duplicates."""
    used = data.take(data.months <= end)
    check_no_duplicates(used)
    n = len(data.ids)
    bool_start = int(used.months.min()) if len(used.months) else end
    width_b = end - bool_start + 1
    present = np.zeros((n, width_b), dtype=bool)
    present[used.codes, used.months - bool_start] = True
    closed = np.zeros((n, width_b), dtype=bool)
    is_closed = used.column(CLOSED) > 0
    closed[used.codes[is_closed], used.months[is_closed] - bool_start] = True
    hits = {}
    for column in RECENCY.values():
        positive = used.column(column) > 0
        arr = np.zeros((n, width_b), dtype=bool)
        arr[used.codes[positive], used.months[positive] - bool_start] = True
        hits[column] = arr
    recent = used.take(used.months >= value_start)
    width_v = end - value_start + 1
    values = {}
    for name in NUMERIC_MONTHLY:
        arr = np.full((n, width_v), np.nan)
        arr[recent.codes, recent.months - value_start] = recent.column(name)
        values[name] = arr
    return Dense(data.ids, value_start, bool_start, end, values, present, closed, hits)


def alive_in(dense: Dense, t: int) -> np.ndarray:
    """Client codes (sorted) with a row at t and no closure at or before t."""
    col = t - dense.bool_start
    if col < 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(dense.present[:, col] & ~dense.closed[:, :col + 1].any(axis=1))


def _last(x: np.ndarray, w: int) -> np.ndarray:
    return x[:, x.shape[1] - w:]


def _nan_reduce(fn, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(x, axis=1)


def _slope(x: np.ndarray) -> np.ndarray:
    """Least-squares slope per column step, ignoring NaN; NaN with fewer than 2 points."""
    pos = np.arange(x.shape[1], dtype=np.float64)
    ok = ~np.isnan(x)
    n = ok.sum(axis=1).astype(np.float64)
    xs = np.where(ok, pos, 0.0)
    ys = np.where(ok, x, 0.0)
    sx, sy = xs.sum(axis=1), ys.sum(axis=1)
    sxx, sxy = (xs * xs).sum(axis=1), (xs * ys).sum(axis=1)
    den = n * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / den
    return np.where((n >= 2) & (den > 0), slope, np.nan)


def _log_ratio(now: np.ndarray, then: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(now, 0.0) + 100.0) - np.log(np.maximum(then, 0.0) + 100.0)


def age_band(birth_year: pd.Series, month: dt.date | pd.Timestamp) -> np.ndarray:
    """The `AGE_BANDS` label of each client's age in the year of `month` (object array);
    NaN where `birth_year` is missing or the age falls in no band."""
    years = pd.to_numeric(pd.Series(birth_year), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    age = pd.Timestamp(month).year - years
    out = np.full(len(age), np.nan, dtype=object)
    for lo, hi, label in AGE_BANDS:
        out[(age >= lo) & (age < hi)] = label
    return out


# --------------------------------------------------------------------------------------------
# the snapshot


def snapshot_features(clients: pd.DataFrame, monthly: pd.DataFrame, month: dt.date,
                      config: FeatureConfig) -> pd.DataFrame:
    """Features at snapshot `month` for every client alive then, from history up to `month`.

    Columns: `client_id`, `snapshot_month`, the features of `feature_catalog(config)` in
    order, then the carried columns (`gender`, `birth_year`, `age_band`, `branch`, `rm_id`).
    Rows are sorted by `client_id`. Raises `DataError` for unusable input.
    """
    data = prepare_monthly(monthly)
    static = prepare_clients(clients)
    t = month_index(month)
    check_month_inside(data, t)
    return features_from_dense(static, densify(data, t - config.lookback_months + 1, t), t, config)


def check_month_inside(data: Monthly, t: int, table: str = "monthly") -> None:
    if not len(data.months):
        raise DataError(f"{table}: no rows")
    check_month_in_range(month_date(t), (month_date(data.first_month), month_date(data.last_month)),
                         source=table, what="snapshot month")


def months_inside(data: Monthly, months: Iterable[dt.date], what: str) -> list[int]:
    """The distinct month indices of `months`, sorted, each checked to lie inside the data;
    `DataError` naming `what` when none is given."""
    wanted = sorted({month_index(m) for m in months})
    if not wanted:
        raise DataError(f"no {what} months given")
    for t in wanted:
        check_month_inside(data, t)
    return wanted


def features_from_dense(clients: pd.DataFrame, dense: Dense, t: int, config: FeatureConfig) -> pd.DataFrame:
    """`snapshot_features` on already-validated, laid-out inputs (reused across snapshots)."""
    alive = alive_in(dense, t)
    n = len(alive)
    if not n:
        logger.warning("%s: no client is alive in this month (no rows, or all closed)", month_label(t))
    ids = dense.ids[alive]

    # boolean history over all months up to t: presence, recency, first month
    present = dense.flags(dense.present, alive, dense.bool_start, t)
    width_all = present.shape[1]
    first_offset = present.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    history = (width_all - first_offset).astype(np.float64)  # months from first row to t, inclusive
    gaps = int(((history - present.sum(axis=1)) > 0).sum())
    if gaps:
        logger.info("%s: %d client(s) have gap months before t; gap months count as missing data",
                    month_label(t), gaps)

    # windows over the last L months, t last
    start = t - config.lookback_months + 1
    cube = {name: dense.window(name, alive, start, t) for name in NUMERIC_MONTHLY}
    s = dict(cube)
    s["deposit_total"] = s["deposit_current"] + s["deposit_time"]
    s["investment_total"] = s["wealth_balance"] + s["fund_balance"] + s["insurance_balance"]
    s["assets_total"] = s["deposit_total"] + s["investment_total"]
    s["credit_exposure"] = s["loan_balance"] + s["card_balance"]
    s["txn_count_total"] = s["branch_txn_count"] + s["mobile_txn_count"] + s["atm_txn_count"]
    s["txn_amount_total"] = s["branch_txn_amount"] + s["mobile_txn_amount"] + s["atm_txn_amount"]
    with np.errstate(invalid="ignore", divide="ignore"):
        s["card_utilisation"] = np.where(s["card_limit"] > 0, s["card_balance"] / s["card_limit"], np.nan)

    def now(name: str) -> np.ndarray:
        return s[name][:, -1]

    def ago(name: str, w: int) -> np.ndarray:
        return s[name][:, -1 - w]

    def enough(w: int, values: np.ndarray) -> np.ndarray:
        return np.where(history >= w, values, np.nan)

    cols: dict[str, np.ndarray] = {}
    g = config.groups
    if g.levels:
        for name in ("deposit_current", "deposit_time", "deposit_total", "wealth_balance", "fund_balance",
                     "insurance_balance", "investment_total"):
            cols[name] = now(name)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["investment_share"] = np.where(now("assets_total") > 0,
                                                now("investment_total") / now("assets_total"), np.nan)
        for name in ("assets_total", "loan_balance", "card_limit", "card_balance", "credit_exposure",
                     "card_spend", "salary_inflow", "fee_income"):
            cols[name] = now(name)
    if g.changes:
        for series in BALANCE_SERIES:
            for w in config.windows:
                cols[f"{series}_chg_{w}m"] = _log_ratio(now(series), ago(series, w))
        for series in COUNT_SERIES:
            if series == "products_held" and not g.products:
                continue
            for w in config.windows:
                cols[f"{series}_chg_{w}m"] = now(series) - ago(series, w)
    if g.trends:
        for series in SLOPE_SERIES:
            for w in config.trend_windows:
                cols[f"{series}_slope_{w}m"] = enough(w, _slope(_last(s[series], w)))
        for series in VOL_SERIES:
            for w in config.trend_windows:
                window = _last(s[series], w)
                vol = _nan_reduce(np.nanstd, window) / (np.abs(_nan_reduce(np.nanmean, window)) + 1000.0)
                cols[f"{series}_vol_{w}m"] = enough(w, vol)
    if g.activity:
        cols["txn_count_total"] = now("txn_count_total")
        cols["txn_amount_total"] = now("txn_amount_total")
        for w in config.trend_windows:
            cols[f"txn_count_total_avg_{w}m"] = enough(w, _nan_reduce(np.nanmean, _last(s["txn_count_total"], w)))
        cols["mobile_logins"] = now("mobile_logins")
        for w in config.trend_windows:
            cols[f"mobile_logins_avg_{w}m"] = enough(w, _nan_reduce(np.nanmean, _last(s["mobile_logins"], w)))
        for w in config.trend_windows:
            cols[f"salary_inflow_avg_{w}m"] = enough(w, _nan_reduce(np.nanmean, _last(s["salary_inflow"], w)))
    if g.recency:
        for feature, column in RECENCY.items():
            rev = dense.flags(dense.hits[column], alive, dense.bool_start, t)[:, ::-1]
            cols[feature] = np.where(rev.any(axis=1), rev.argmax(axis=1), np.nan).astype(np.float64)
    if g.products:
        cols["products_held"] = now("products_held")
    if g.channels:
        sums = {c: _nan_reduce(np.nansum, _last(s[f"{c}_txn_count"], 3)) for c in CHANNELS}
        total = sum(sums.values())
        for c in CHANNELS:
            with np.errstate(invalid="ignore", divide="ignore"):
                cols[f"{c}_txn_share_3m"] = np.where(total > 0, sums[c] / total, np.nan)
    if g.arrears:
        dpd = s["days_past_due"]
        cols["days_past_due"] = now("days_past_due")
        for w in config.trend_windows:
            cols[f"days_past_due_max_{w}m"] = enough(w, _nan_reduce(np.nanmax, _last(dpd, w)))
        for w in config.trend_windows:
            cols[f"months_in_arrears_{w}m"] = enough(w, (_last(dpd, w) > 0).sum(axis=1).astype(np.float64))
    if g.card:
        cols["card_utilisation"] = now("card_utilisation")
        for w in config.trend_windows:
            cols[f"card_utilisation_avg_{w}m"] = enough(w, _nan_reduce(np.nanmean, _last(s["card_utilisation"], w)))
        for w in config.windows:
            cols[f"card_utilisation_chg_{w}m"] = now("card_utilisation") - ago("card_utilisation", w)
    if g.service:
        for column in ("complaints", "rm_contacts"):
            for w in config.trend_windows:
                cols[f"{column}_sum_{w}m"] = enough(w, _nan_reduce(np.nansum, _last(s[column], w)))
    where = clients.index.get_indexer(ids)
    missing = where < 0
    if missing.any():
        raise DataError(f"monthly: {int(missing.sum())} client(s) alive at {month_label(t)} are missing from "
                        f"clients (e.g. client_id {str(ids[int(np.flatnonzero(missing)[0])])!r}); "
                        f"quarantine them first (`tierwise validate`, or --quarantine)")
    static = clients.iloc[where]
    if g.tenure:
        cols["tenure_months"] = (t - static["_onboarding"].to_numpy(dtype=np.float64, na_value=np.nan))
    if g.value:
        avg = config.value.average_months
        earn = config.value.fee_share * s["fee_income"]
        for column, margin in config.value.margins_annual.items():
            earn = earn + s[column] * (margin / 12.0)
        cost = np.zeros_like(earn)
        for column, unit_cost in config.value.cost_per_unit.items():
            cost = cost + s[column] * unit_cost
        cols["contribution_monthly"] = _nan_reduce(np.nanmean, _last(earn, avg))
        cols["cost_to_serve_monthly"] = _nan_reduce(np.nanmean, _last(cost, avg))
        cols["net_contribution_monthly"] = cols["contribution_monthly"] - cols["cost_to_serve_monthly"]

    out = pd.DataFrame(cols, index=pd.RangeIndex(n))
    strings = {}
    for name in ("segment", "region", "industry", "income_band", "gender", "branch", "rm_id"):
        strings[name] = static[name].astype("str").array
    strings["age_band"] = pd.array(age_band(static["birth_year"], month_date(t)), dtype="str")
    if g.static:
        for name in ("segment", "region", "industry", "income_band"):
            out[name] = strings[name]
    catalog = feature_catalog(config)
    if config.protected.use_as_features:
        out["gender"] = strings["gender"]
        out["age_band"] = strings["age_band"]
    if list(out.columns) != list(catalog):  # a bug, not a user mistake
        raise RuntimeError(f"snapshot columns out of step with the catalogue: {sorted(set(out.columns) ^ set(catalog))}")
    for name in carried_columns(config):
        if name == "birth_year":
            out[name] = pd.array(static["birth_year"].to_numpy(), dtype="Int64")
        else:
            out[name] = strings[name]
    out.insert(0, "snapshot_month", pd.Series(np.full(n, np.datetime64(month_date(t), "ns"))))
    out.insert(0, CLIENT_KEY, ids.array)
    return out
