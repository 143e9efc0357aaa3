"""Column roles for flat tables: numeric, categorical, or dropped with a reason.

One pure function, `infer_role`, decides what a column of an arbitrary table is. The
flat-table loader uses it for its report and the preprocessor uses it in `fit`, so both
always agree. Rules, in order:

1. a type override from the dataset config wins (numeric | categorical | drop);
2. no value at all -> drop ("empty"); a single distinct value -> drop ("constant");
3. datetimes -> drop (derive numeric features from them first);
4. booleans and numbers -> numeric, except an integer column whose values are unique per row
   and that is either named like an identifier (`id`, `..._id`, `...Id`, `...Number`, `no`,
   `key`, ...) or a counter (nearly consecutive, or increasing in row order) -> drop
   ("id-like");
5. anything else is text: unique per row -> drop ("id-like"); mostly unique, or values with
   spaces that are rarely repeated, or more distinct values than `max(100, 10% of rows)`
   -> drop ("free text / high cardinality": names, addresses, comments are never features);
   otherwise categorical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Role = Literal["numeric", "categorical", "drop"]

_ID_NAME = re.compile(
    r"(?:^|[_\W])(?:id|key|no|nr|num|number|uuid|guid)$"  # client_id, row_no, ID
    r"|^(?:id|uuid|guid|index|row)(?:[_\W]|$)",  # id, id_client, row
    re.IGNORECASE,
)
_ID_NAME_CAMEL = re.compile(r"(?<=[a-z])(?:Id|ID|Key|No|Nr|Num|Number)$")  # CustomerId, RowNumber
MIN_HIGH_CARDINALITY = 100


@dataclass(frozen=True)
class ColumnRole:
    role: Role
    reason: str = ""


def looks_like_id_name(name: str) -> bool:
    """`ID`, `client_id`, `CustomerId`, `RowNumber`, `row_no` -- not `NumOfProducts`."""
    return bool(_ID_NAME.search(name) or _ID_NAME_CAMEL.search(name))


def _is_counter(values: np.ndarray) -> bool:
    """A row number: distinct integers that are nearly consecutive (at most 5% gaps, e.g. rows
    removed) or strictly increasing in row order."""
    lo, hi = values.min(), values.max()
    if hi - lo + 1 <= 1.05 * len(values) + 1:
        return True
    return bool(np.all(np.diff(values) > 0))


def infer_role(
    series: pd.Series,
    *,
    override: str | None = None,
    max_unique_ratio: float = 0.1,
) -> ColumnRole:
    """The role of one column, with the reason when it is dropped."""
    name = str(series.name)
    if override is not None:
        if override == "drop":
            return ColumnRole("drop", "configured: type_overrides says drop")
        return ColumnRole(override)  # type: ignore[arg-type]
    present = series.dropna()
    n = len(present)
    if n == 0:
        return ColumnRole("drop", "empty: no values")
    n_unique = int(present.nunique())
    if n_unique == 1:
        return ColumnRole("drop", f"constant: one value ({present.iloc[0]!r})")
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnRole("drop", "datetime: derive numeric features from it first")
    if pd.api.types.is_bool_dtype(series):
        return ColumnRole("numeric")
    if pd.api.types.is_numeric_dtype(series):
        values = present.to_numpy(dtype=np.float64)
        integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if integral and n_unique == n and n >= 3:
            if _is_counter(values):
                return ColumnRole("drop", "id-like: distinct integers counting the rows (a row counter)")
            if looks_like_id_name(name):
                return ColumnRole("drop", "id-like: unique per row and named like an identifier")
        return ColumnRole("numeric")
    # text (pandas 3 `str`, object, category)
    text = present.astype(str)
    if n_unique == n and n >= 3:
        return ColumnRole("drop", "id-like: a text value unique per row")
    limit = max(MIN_HIGH_CARDINALITY, int(max_unique_ratio * len(series)))
    if n_unique > limit:
        return ColumnRole(
            "drop",
            f"free text / high cardinality: {n_unique} distinct values in {len(series)} rows "
            f"(limit {limit})",
        )
    spaced = float(text.str.contains(r"\s", regex=True).mean())
    if spaced >= 0.5 and n_unique > 0.5 * n and n_unique > 10:
        return ColumnRole("drop", f"free text: {spaced:.0%} of values contain spaces, mostly distinct")
    return ColumnRole("categorical")
