"""The optional `events` table: the bank's own record of defaults, closures and write-offs.

A bank that records its events puts them in the data folder as `events.parquet` (or
`events.csv`), one row per event, next to `clients` and `monthly`:

- `client_id` (text): the client, as in `clients`;
- `month` (a month, first day): the month the event happened;
- `kind` (text): one of `EVENT_KINDS` -- `default` (the bank's own default definition was met),
  `closure` (the relationship was closed), `write_off` (the exposure was written off; it ends
  the relationship too).

Where the table is present it is the label source, before days past due and closure flags
(`tierwise.features._labels`), task by task:

- churn: a `closure` or `write_off` event in t+1 .. t+h is a churn event (and the client is
  not retained for growth). When the table records closures (at least one `closure` row),
  they take the place of `relationship_closed`; when it records none, `relationship_closed`
  still counts. Assets falling below the floor with no activity (dormancy), and leaving the
  extract, count as churn either way -- so a bank that records no closures, and whose
  `relationship_closed` is never set, gets churn from dormancy alone (plus clients who stop
  appearing in the extract).
- default: a `default` or `write_off` event in t+1 .. t+h is a default event. When the table
  records defaults (at least one `default` row), they take the place of
  `days_past_due >= dpd_threshold`, and a client whose default is already recorded (an event
  at or before t) is not scored when `exclude_defaulted_at_t`; when it records none, days past
  due still count.

Events of clients who are not in `monthly` are ignored, as are events after the last month
read; events before the first month read count as "at or before t".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tierwise.features._contract import CLIENT_KEY, MONTH_KEY, RawColumn
from tierwise.features._errors import DataError
from tierwise.features._io import read_file, to_month_dtype

logger = logging.getLogger(__name__)

EVENTS = "events"
EVENT_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("client_id", "str", False, "client identifier, as in clients"),
    RawColumn("month", "month", False, "first day of the month the event happened"),
    RawColumn("kind", "str", False, "default, closure or write_off"),
)
EVENT_KINDS: tuple[str, ...] = ("default", "closure", "write_off")
CHURN_KINDS: tuple[str, ...] = ("closure", "write_off")
"""Event kinds that end the relationship: a churn event (and the client is not retained)."""
DEFAULT_KINDS: tuple[str, ...] = ("default", "write_off")
"""Event kinds that are a default event."""


def events_path(folder: str | Path) -> Path | None:
    """`folder/events.parquet`, else `folder/events.csv`; None when the bank has neither."""
    for suffix in (".parquet", ".csv"):
        path = Path(folder) / f"{EVENTS}{suffix}"
        if path.is_file():
            return path
    return None


def read_events(folder: str | Path) -> pd.DataFrame | None:
    """The checked `events` table of `folder` (see `check_events`), or None when absent.

    An events file with no rows is allowed (a bank that recorded no events in the period):
    it gives an empty table, and every task falls back to its rule on `monthly`.
    """
    path = events_path(folder)
    if path is None:
        return None
    return check_events(read_file(path), source=str(path))


def check_events(events: pd.DataFrame, *, source: str = EVENTS) -> pd.DataFrame:
    """`events` with `month` as datetime64 and text `client_id`/`kind`, or `DataError`.

    The message names `source` (the file), the column and the first bad row (0-based, as
    read): a missing column, an empty value, a month that is not a date or not the first day
    of a month, or a kind that is not one of `EVENT_KINDS` (case and surrounding spaces are
    ignored: ` Default` is `default`). Extra columns are ignored.
    """
    missing = [c.name for c in EVENT_COLUMNS if c.name not in events.columns]
    if missing:
        raise DataError(f"{source}: missing column '{missing[0]}' (an events table has columns "
                        f"{', '.join(c.name for c in EVENT_COLUMNS)})")
    df = events[[c.name for c in EVENT_COLUMNS]].reset_index(drop=True)
    for name in (CLIENT_KEY, "kind", MONTH_KEY):
        _no_empty(df[name], source, name)
    given_kinds = df["kind"]
    df[CLIENT_KEY] = df[CLIENT_KEY].astype("str")
    df["kind"] = given_kinds.astype("str").str.strip().str.lower()
    raw = df[MONTH_KEY]
    wrong_type = f"{source}: column 'month' has type {raw.dtype}, expected a month (YYYY-MM-01)"
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        raise DataError(wrong_type)  # numbers would be read as nanoseconds since 1970
    try:
        months = to_month_dtype(raw)
    except (TypeError, ValueError):
        raise DataError(wrong_type) from None
    bad = months.isna() | (months.dt.day != 1)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{source}: column 'month' holds {raw.iloc[row]!r} in row {row}; "
                        f"expected the first day of a month (YYYY-MM-01)")
    df[MONTH_KEY] = months
    unknown = ~df["kind"].isin(EVENT_KINDS)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(f"{source}: column 'kind' holds {given_kinds.iloc[row]!r} in row {row}; "
                        f"expected one of {', '.join(EVENT_KINDS)}")
    return df


def _no_empty(values: pd.Series, source: str, column: str) -> None:
    empty = values.isna()
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)):
        empty |= values.astype("str").str.strip().eq("")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataError(f"{source}: column '{column}' is empty in row {row}")


@dataclass(frozen=True)
class EventMarks:
    """Checked events laid out like `Dense`'s boolean arrays: (clients x months first .. end).

    `churn` marks closure and write-off events, `default` default and write-off events;
    `closures_recorded` / `defaults_recorded` say whether the table holds any `closure` /
    `default` row, i.e. whether it replaces the task's rule on `monthly` or adds to it.
    Events before `first` are put in column 0 (they count as "at or before t"); events after
    `end` and of clients not laid out are dropped.
    """

    first: int
    churn: np.ndarray
    default: np.ndarray
    closures_recorded: bool
    defaults_recorded: bool

    def window(self, arr: np.ndarray, rows: np.ndarray, a: int, b: int) -> np.ndarray:
        """arr[rows, months a..b] (inclusive), False outside the laid-out months."""
        width = arr.shape[1]
        lo, hi = a - self.first, b - self.first
        out = np.zeros((len(rows), b - a + 1), dtype=bool)
        x, y = max(lo, 0), min(hi, width - 1)
        if x <= y:
            out[:, x - lo:y - lo + 1] = arr[rows, x:y + 1]
        return out

    def until(self, arr: np.ndarray, rows: np.ndarray, t: int) -> np.ndarray:
        """Per row: an event at or before month t."""
        col = min(t - self.first, arr.shape[1] - 1)
        if col < 0:
            return np.zeros(len(rows), dtype=bool)
        return arr[rows, :col + 1].any(axis=1)


def event_marks(events: pd.DataFrame, ids: pd.Index, first: int, end: int) -> EventMarks:
    """Lay out checked `events` over the clients `ids` (sorted) and months `first` .. `end`.

    Whether closures / defaults are recorded is judged on the whole table, so every partition
    of clients is labelled by the same rule."""
    codes = ids.get_indexer(events[CLIENT_KEY])
    months = events[MONTH_KEY].to_numpy().astype("datetime64[M]").astype(np.int64)
    keep = (codes >= 0) & (months <= end)
    dropped = int((~keep).sum())
    if dropped:
        logger.info("events: %d event(s) of clients not in monthly or after the last month are ignored", dropped)
    kinds = events["kind"].to_numpy()

    def lay_out(wanted: tuple[str, ...]) -> np.ndarray:
        sel = keep & np.isin(kinds, wanted)
        arr = np.zeros((len(ids), end - first + 1), dtype=bool)
        arr[codes[sel], np.maximum(months[sel], first) - first] = True
        return arr

    return EventMarks(first, lay_out(CHURN_KINDS), lay_out(DEFAULT_KINDS),
                      closures_recorded=bool((kinds == "closure").any()),
                      defaults_recorded=bool((kinds == "default").any()))
