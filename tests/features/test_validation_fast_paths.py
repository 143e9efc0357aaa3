"""The fast paths of `validate_tables` give the answers of the plain pandas code they replace:
duplicate keys through integer codes (`_key_groups`), the timeline through positions and
codes, whole numbers straight to `Int64`.

The references below are the plain pandas forms (`DataFrame.duplicated`, `Series.map`,
`groupby().min()`, `round().astype("Int64")`); hypothesis draws small frames with repeated
keys, missing values and closures. Seeded: the same examples every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tierwise.features._io import MONTH_DTYPE, ROW_ID
from tierwise.features._validation import (
    _duplicate_failures,
    _key_groups,
    _shared,
    _timeline_failures,
    _to_int64,
)

PROPERTY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
IDS = st.sampled_from(["c1", "c2", "c3", "c10", None])
MONTHS = st.sampled_from([pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01"), pd.NaT])


@st.composite
def keyed_rows(draw, max_rows: int = 12, nulls: bool = True) -> pd.DataFrame:
    """Rows with repeated keys; `nulls` False: no missing key (the not-null rules before the
    duplicate check reject those rows, and the key text of the report needs a value)."""
    n = draw(st.integers(0, max_rows))
    ids = IDS if nulls else IDS.filter(lambda v: v is not None)
    kinds = ["owns", "pays", None] if nulls else ["owns", "pays"]
    months = MONTHS if nulls else MONTHS.filter(lambda m: not pd.isna(m))
    return pd.DataFrame({
        ROW_ID: np.arange(n, dtype=np.int64) * 3 + 1,
        "client_id": pd.Series([draw(ids) for _ in range(n)], dtype="str"),
        "kind": pd.Series([draw(st.sampled_from(kinds)) for _ in range(n)], dtype="str"),
        "month": pd.Series([draw(months) for _ in range(n)], dtype=MONTH_DTYPE),
        "amount": pd.Series([draw(st.sampled_from([1.0, 2.0, np.nan])) for _ in range(n)], dtype="float64"),
    })


def _reference_duplicates(df: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """`_duplicate_failures` as it was written on `DataFrame.duplicated`."""
    dup_any = df.duplicated(keys, keep=False)
    if not dup_any.any():
        return pd.DataFrame(columns=[ROW_ID, "column", "rule", "value"])
    sub = df.loc[dup_any, [ROW_ID, *columns]].sort_values(ROW_ID)
    distinct = sub.drop_duplicates(columns).groupby(keys, sort=False).size()
    is_conflict = sub.set_index(keys).index.isin(distinct[distinct > 1].index)
    later_copy = sub.duplicated(keys, keep="first").to_numpy()
    key_text = sub[keys].astype("str").agg(" ".join, axis=1).to_numpy()
    rows = sub[ROW_ID].to_numpy()
    return pd.concat([
        pd.DataFrame({ROW_ID: rows[is_conflict], "column": "+".join(keys), "rule": "conflicting duplicate key",
                      "value": key_text[is_conflict]}),
        pd.DataFrame({ROW_ID: rows[later_copy & ~is_conflict], "column": "+".join(keys), "rule": "duplicate row",
                      "value": key_text[later_copy & ~is_conflict]}),
    ], ignore_index=True)


KEY_SETS = st.sampled_from([["client_id"], ["client_id", "month"], ["client_id", "kind", "month"]])


@seed(19)
@PROPERTY
@given(df=keyed_rows(), keys=KEY_SETS)
def test_key_groups_are_the_groups_of_equal_keys(df, keys):
    group = _key_groups(df, keys)
    assert group.dtype == np.int64 and len(group) == len(df)
    expected = df.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    # the same partition of the rows: equal numbers exactly where pandas puts rows in one group
    assert (group[:, None] == group[None, :]).tolist() == (expected[:, None] == expected[None, :]).tolist()
    assert _shared(group).tolist() == df.duplicated(keys, keep=False).tolist()


@seed(19)
@PROPERTY
@given(df=keyed_rows(nulls=False), keys=KEY_SETS)
def test_duplicate_failures_as_pandas_finds_them(df, keys):
    columns = ["client_id", "kind", "month", "amount"]
    got = _duplicate_failures(df, keys, columns)
    want = _reference_duplicates(df, keys, columns)
    assert got[[ROW_ID, "column", "rule", "value"]].astype("str").values.tolist() \
        == want[[ROW_ID, "column", "rule", "value"]].astype("str").values.tolist()


def test_key_groups_renumber_many_wide_keys():
    """Four keys of 50,000 distinct values each would overflow int64 multiplied out: the codes
    are renumbered on the way and stay the groups of equal keys."""
    rng = np.random.default_rng(19)
    n = 50_000
    df = pd.DataFrame({f"k{i}": pd.Series(rng.permutation(n).astype(str), dtype="str") for i in range(4)})
    df = pd.concat([df, df.iloc[[7, 7, 123]]], ignore_index=True)
    group = _key_groups(df, list(df.columns))
    assert group.min() >= 0 and len(np.unique(group)) == n
    assert _shared(group).tolist() == df.duplicated(keep=False).tolist()


@st.composite
def timelines(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = ["c1", "c2", "c3"]
    onboarded = draw(st.lists(MONTHS.filter(lambda m: not pd.isna(m)), min_size=3, max_size=3))
    clients = pd.DataFrame({"client_id": pd.Series(ids, dtype="str"),
                            "onboarding_month": pd.Series(onboarded, dtype=MONTH_DTYPE)})
    n = draw(st.integers(1, 14))
    monthly = pd.DataFrame({
        ROW_ID: np.arange(n, dtype=np.int64),
        "client_id": pd.Series([draw(st.sampled_from(ids)) for _ in range(n)], dtype="str"),
        "month": pd.Series([draw(MONTHS) for _ in range(n)], dtype=MONTH_DTYPE),
        "relationship_closed": pd.Series([draw(st.sampled_from([True, False, None])) for _ in range(n)],
                                         dtype="boolean"),
    })
    return monthly, clients


def _reference_timeline(monthly: pd.DataFrame, clients: pd.DataFrame) -> tuple[list[int], list[int]]:
    onboarding = monthly["client_id"].map(clients.set_index("client_id")["onboarding_month"]).astype(MONTH_DTYPE)
    early = monthly["month"] < onboarding
    closed = monthly[monthly["relationship_closed"].fillna(False).astype(bool)]
    late = pd.Series(False, index=monthly.index)
    if len(closed):
        close = monthly["client_id"].map(closed.groupby("client_id")["month"].min())
        late = close.notna() & (monthly["month"] > close)
    return monthly.loc[early, ROW_ID].tolist(), monthly.loc[late & ~early, ROW_ID].tolist()


@seed(19)
@PROPERTY
@given(tables=timelines())
def test_timeline_failures_as_map_and_groupby_find_them(tables):
    monthly, clients = tables
    got = _timeline_failures(monthly, clients)
    early, late = _reference_timeline(monthly, clients)
    assert got.loc[got["rule"] == "before onboarding_month", ROW_ID].tolist() == early
    assert got.loc[got["rule"] == "after the relationship closed", ROW_ID].tolist() == late


@pytest.mark.parametrize("values", [[0.0, 3.0, np.nan, 2.0**53, -7.0], [], [np.nan]])
def test_to_int64_is_round_astype_int64(values):
    series = pd.Series(values, dtype="float64", index=np.arange(len(values)) * 2, name="n")
    pd.testing.assert_series_equal(_to_int64(series), series.round().astype("Int64"))
