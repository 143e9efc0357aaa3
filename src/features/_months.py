"""Months: the one definition of month arithmetic and of the "month outside the data" check.

A month is the first day of a calendar month (`datetime.date(2024, 3, 1)`); inside the
feature pipeline it is also an integer index, the months since 1970-01 (`month_index`),
and people read it as `YYYY-MM` (`month_label`). Anything with a date (a `date`, a
`Timestamp`, a `datetime64`) is accepted where a month is expected; its day is ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tierwise.features._errors import DataError

MonthLike = dt.date | pd.Timestamp | np.datetime64 | str

_LABEL = re.compile(r"^([0-9]{4})-([0-9]{2})$")  # ASCII digits only: "２０２５-１２" is not a month


def parse_month(text: str) -> dt.date:
    """`'2024-03'` -> `date(2024, 3, 1)`; anything else raises `ValueError` saying how to write it."""
    match = _LABEL.match(text.strip()) if isinstance(text, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"'{text}' is not a month; write it as YYYY-MM, e.g. 2024-03")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_index(value: MonthLike) -> int:
    """Months since 1970-01 (the integer month used internally)."""
    return int(np.datetime64(pd.Timestamp(value).to_period("M").start_time, "M").astype(np.int64))


def month_date(index: int) -> dt.date:
    """The first day of the month with index `index` (inverse of `month_index`)."""
    year, month = divmod(int(index), 12)
    return dt.date(1970 + year, month + 1, 1)


def month_label(value: MonthLike | int) -> str:
    """`YYYY-MM` of a month, given as a date-like value or as a `month_index`."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(np.datetime64(int(value), "M"))
    return pd.Timestamp(value).strftime("%Y-%m")


def add_months(value: MonthLike, months: int) -> dt.date:
    """The month `months` after (negative: before) the month of `value`, as its first day."""
    return month_date(month_index(value) + int(months))


def month_range(first: MonthLike, last: MonthLike) -> list[dt.date]:
    """Every month from `first` to `last`, both included (empty when `last` is earlier)."""
    return [month_date(i) for i in range(month_index(first), month_index(last) + 1)]


def check_month_in_range(month: MonthLike, available: Iterable[MonthLike] | pd.Series, *, source: str,
                         what: str = "month") -> None:
    """Raise `DataError` unless `month` lies between the first and last of `available`.

    `available` is any collection of months (a column, or just `(first, last)`); missing
    values are ignored. The message is one line, the same everywhere:
    `<what> 2030-01 is outside the data: <source> covers 2022-01 to 2024-06`.
    """
    if isinstance(available, pd.Series) and pd.api.types.is_datetime64_any_dtype(available):
        values = available.dropna()
    else:
        items = available if isinstance(available, pd.Series) else pd.Series(list(available), dtype="object")
        values = pd.to_datetime(items, errors="coerce", format="mixed").dropna()
    label = month_label(month)
    if values.empty:
        raise DataError(f"{what} {label} is outside the data: {source} has no valid month")
    first, last = month_index(values.min()), month_index(values.max())
    if not first <= month_index(month) <= last:
        raise DataError(f"{what} {label} is outside the data: {source} covers "
                        f"{month_label(first)} to {month_label(last)}")
