"""Raw tables drawn against the data contract, for property tests of validation (here and of
`tierwise validate` in tests/tierwise/cli): a few messy columns among clean ones (wrong types,
text in number columns, NaN and infinities, odd dates: mid-month, out of range, unparseable,
mixed time zones), sometimes a column missing, no rows, duplicated keys."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import event
from hypothesis import strategies as st

from tierwise.features import CLIENT_COLUMNS, MONTHLY_COLUMNS
from tierwise.features._contract import RawColumn

CLIENT_IDS = ("C0", "C1", "C2", "C3", "C4", "C5")
MONTHS = tuple(pd.Timestamp(f"2023-{m:02d}-01") for m in (1, 2, 3, 4, 5, 6))

# valid values of each column (a kept row holds only these)
_VALID_BY_NAME = {
    "client_id": CLIENT_IDS, "segment": ("retail", "sme"), "gender": ("F", "M"),
    "region": ("EA", "NO"), "branch": ("EA01", "NO02"), "industry": ("finance", "retail trade"),
    "income_band": ("<5k", "5k-10k"), "rm_id": ("RM1", "RM2"), "birth_year": (1950, 1980, 2001),
}
_VALID = {
    "int": (0, 1, 3, 1980),
    "float": (0.0, 12.5, 1e6),
    "bool": (False, True),
    "month": MONTHS,
}
# values a real extract holds where the contract asks for something else
_ODD = (
    None, np.nan, float("inf"), float("-inf"), -1, -2.5, 2.5, 10**20, 1e308, "", "  ", "n/a", "1,000",
    " 12 ", "1e3", "abc", "TRUE", "no", "maybe", True, False, "ünï", "ZZ99",
    pd.NaT, pd.Timestamp("2023-02-15"), pd.Timestamp("2023-03-01", tz="UTC"),
    pd.Timestamp("2023-03-01", tz="Asia/Shanghai"), pd.Timestamp("2023-04-01 10:30"),
    dt.date(2023, 1, 1), "2023-01-01", "2023-13-01", "1600-01-01", "2300-01-01", "01/02/2023",
    20230101, "not a date",
)


def _valid(col: RawColumn) -> tuple:
    return _VALID_BY_NAME.get(col.name) or (("x", "y") if col.kind == "str" else _VALID[col.kind])


def _typed(col: RawColumn, values: list) -> pd.Series:
    """A clean column as a bank's warehouse would type it."""
    if col.kind == "month":
        return pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
    if col.kind == "bool":
        return pd.Series(values, dtype=bool)
    if col.kind == "int":
        return pd.Series(values, dtype="int64")
    if col.kind == "float":
        return pd.Series(values, dtype="float64")
    return pd.Series(values, dtype="str")


@st.composite
def column(draw, col: RawColumn, n: int, style: str) -> pd.Series:
    """`n` values of one column: typed and valid ("clean"), or as a messy extract holds them."""
    valid = st.sampled_from(_valid(col))
    if style == "clean":
        return _typed(col, [draw(valid) for _ in range(n)])
    odd = st.sampled_from(_ODD)
    pool = {"mixed": st.one_of(valid, odd), "text": valid, "odd text": st.one_of(valid, odd), "all odd": odd}[style]
    values = [draw(pool) for _ in range(n)]
    if style in ("text", "odd text"):  # as a CSV reader or a text export hands it over
        return pd.Series([None if v is None else str(v) for v in values], dtype="str")
    return pd.Series(values, dtype=object)


@st.composite
def table(draw, columns: tuple[RawColumn, ...], max_rows: int) -> pd.DataFrame:
    """A raw table: a few messy columns among clean ones, sometimes a column missing, no rows,
    duplicated keys (identical or conflicting) or an index that is not 0..n-1."""
    names = [c.name for c in columns]
    n = 0 if draw(st.integers(0, 11)) == 5 else draw(st.integers(1, max_rows))  # not 0: hypothesis favours ends
    messy = draw(st.dictionaries(st.sampled_from(names), st.sampled_from(["text", "mixed", "odd text", "all odd"]),
                                 max_size=2))
    df = pd.DataFrame({c.name: draw(column(c, n, messy.get(c.name, "clean"))) for c in columns}, index=pd.RangeIndex(n))
    if columns is CLIENT_COLUMNS and "client_id" not in messy:  # one row per client, as a bank keeps them
        df["client_id"] = pd.Series(CLIENT_IDS[:n], dtype="str")
    if draw(st.integers(0, 15)) == 7:
        df = df.drop(columns=draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)))
    if n and draw(st.booleans()):  # duplicated keys: copies of some rows, some edited
        copies = df.iloc[draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))].copy()
        if draw(st.booleans()) and len(df.columns) > 2:  # conflicting copies
            last = df.columns[-1]
            copies[last] = pd.Series(copies[last].iloc[::-1].to_numpy(), index=copies.index, dtype=df[last].dtype)
        df = pd.concat([df, copies], ignore_index=True)
    if draw(st.integers(0, 15)) == 7:  # a column of the extract named like validation's row number
        df["_row"] = draw(st.sampled_from([0, "x"]))
    if draw(st.booleans()):  # an index that is not 0..n-1, as after a filter
        df.index = df.index * 3 + 7
    return df


def check_report(report, clients: pd.DataFrame, monthly: pd.DataFrame) -> None:
    """What every report promises: rows add up, every rejected row has a reason, kept rows are
    typed and clean as the contract says."""
    for name, raw, kept, rejected in (("clients", clients, report.clients, report.rejected_clients),
                                      ("monthly", monthly, report.monthly, report.rejected_monthly)):
        assert report.rows_in[name] == len(raw) == report.rows_kept[name] + report.rows_rejected[name]
        assert sorted([*kept["_row"], *rejected["_row"]]) == list(range(len(raw)))
        assert rejected["reason"].notna().all() and rejected["reason"].str.len().gt(0).all()
        assert len(kept) > 0
    assert not report.clients["client_id"].duplicated().any()
    assert not report.monthly.duplicated(["client_id", "month"]).any()
    assert report.monthly["client_id"].isin(report.clients["client_id"]).all()
    for cols, kept in ((CLIENT_COLUMNS, report.clients), (MONTHLY_COLUMNS, report.monthly)):
        for col in cols:
            values = kept[col.name]
            if not col.nullable:
                assert values.notna().all(), col.name
            if col.kind == "month":
                assert pd.api.types.is_datetime64_dtype(values) and values.dropna().dt.day.eq(1).all(), col.name
            elif col.kind == "float":
                assert values.dtype == "float64" and np.isfinite(values).all(), col.name
            elif col.kind == "int" and not col.nullable:
                assert values.dtype == "int64", col.name


def one_line(exc: Exception) -> None:
    message = str(exc)
    assert message and "\n" not in message, repr(message)
    event("one-line error", message.split("most common problem: ")[-1] if "problem" in message else message.split(": ", 1)[-1])
