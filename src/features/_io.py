"""Reading and writing the raw tables (`clients`, `monthly`): Parquet, or CSV.

Reading checks what makes a file unusable (missing, unreadable, empty, a contract column
missing) and raises `DataError` naming the file and column; it does not judge rows (that is
`validate_tables`). Month columns are coerced to datetime64 (unparseable values become NaT
and are rejected by validation); in CSV files every column is read as text so that values
such as `00123` or `n/a` reach validation unchanged.

Rows are identified by `_row`: their 0-based position in the file as read (the generator's
`_injected.parquet` and validation's `_rejected/` use the same identifier).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.features._contract import CLIENT_COLUMNS, MONTHLY_COLUMNS, RawColumn
from tierwise.features._errors import DataError
from tierwise.features._files import make_folder, write_arrow_atomic

TABLES: dict[str, tuple[RawColumn, ...]] = {"clients": CLIENT_COLUMNS, "monthly": MONTHLY_COLUMNS}
ROW_ID = "_row"
MONTH_DTYPE = "datetime64[ns]"


def table_path(folder: str | Path, name: str) -> Path:
    """`folder/name.parquet`, else `folder/name.csv`; `DataError` when neither exists."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: data folder not found")
    for suffix in (".parquet", ".csv"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    raise DataError(f"{folder / (name + '.parquet')}: file not found (expected {name}.parquet or {name}.csv)")


def read_file(path: Path) -> pd.DataFrame:
    """A Parquet file, or a CSV read as text (the contract's types are cast later); a file
    that cannot be read is a one-line `DataError` naming it."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype="str", keep_default_na=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot be read: {first}") from None


def read_table(folder: str | Path, name: str) -> pd.DataFrame:
    """Read one raw table, check its columns against the contract, coerce month columns."""
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; expected one of {sorted(TABLES)}")
    path = table_path(folder, name)
    df = read_file(path)
    columns = TABLES[name]
    missing = [c.name for c in columns if c.name not in df.columns]
    if missing:
        more = f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise DataError(f"{path}: missing column '{missing[0]}'{more}")
    if len(df) == 0:
        raise DataError(f"{path}: table is empty (no rows)")
    df = df.reset_index(drop=True)
    for col in columns:
        if col.kind == "month":
            df[col.name] = to_month_dtype(df[col.name])
    return df


def to_month_dtype(values: pd.Series) -> pd.Series:
    """Dates, datetimes or text to datetime64 (unparseable or out of range -> NaT); day-of-month
    is kept; a time-zone-aware value keeps its local date and time (its zone is dropped); a bare
    number is not a date (pandas would read it as nanoseconds after 1970)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.Series(pd.NaT, index=values.index, dtype=MONTH_DTYPE)
    if values.dtype == object:
        dates = _plain_dates(values)
        if dates is not None:  # dates (Parquet date32 reads as Python dates) or naive datetimes only
            values = dates
        else:  # a mix of dates, text and numbers (pandas would give NaT for a second time zone):
            # one value at a time
            values = pd.Series([_to_timestamp(v) for v in values], index=values.index, dtype=MONTH_DTYPE)
    elif not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, errors="coerce", format="mixed")
        except (ValueError, TypeError, OverflowError):  # text in mixed time zones
            values = pd.Series([_to_timestamp(v) for v in values], index=values.index, dtype=MONTH_DTYPE)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    in_range = values.isna() | ((values >= pd.Timestamp.min) & (values <= pd.Timestamp.max))
    return values.where(in_range).astype(MONTH_DTYPE)


def _plain_dates(values: pd.Series) -> pd.Series | None:
    """`values` as datetime64 when every non-null value is a date or a naive datetime (what
    Arrow reads them as, at once); None for anything else (text, numbers, time zones), and for a
    date datetime64[ns] cannot hold, which the one-at-a-time path turns into NaT."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("date", "datetime", "datetime64"):
        return None  # Arrow would read a bare number among datetimes as nanoseconds
    try:
        array = pa.array(values.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return None
    if not (pa.types.is_date(array.type) or (pa.types.is_timestamp(array.type) and array.type.tz is None)):
        return None
    try:
        stamps = array.cast(pa.timestamp("ns"))  # safe cast: out-of-range values raise
    except (pa.ArrowException, OverflowError):
        return None
    return pd.Series(stamps.to_numpy(zero_copy_only=False), index=values.index).astype(MONTH_DTYPE)


def _to_timestamp(value: object) -> pd.Timestamp:
    if isinstance(value, (bool, int, float, np.number)):
        return pd.NaT
    try:
        out = pd.Timestamp(value)
        return out.tz_localize(None) if out.tzinfo is not None else out.as_unit("ns")
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def read_raw_tables(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(`clients`, `monthly`) as read from `folder`."""
    return read_table(folder, "clients"), read_table(folder, "monthly")


def write_table(df: pd.DataFrame, path: str | Path, *, month_columns: tuple[str, ...] = ()) -> Path:
    """Write Parquet atomically (temp file in the same folder, then rename).

    `month_columns` are written as dates (Parquet `date32`), the on-disk form of a month.
    """
    path = Path(path)
    make_folder(path.parent)
    table = pa.Table.from_pandas(df, preserve_index=False)
    for name in month_columns:
        if name in df.columns and pd.api.types.is_datetime64_any_dtype(df[name]):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, pa.field(name, pa.date32()), table.column(name).cast(pa.date32()))
    return write_arrow_atomic(table.replace_schema_metadata(None), path)
