"""Reading raw tables: file-level problems are one-line DataErrors naming file and column."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tierwise.features import DataError, read_table, write_table


def _clients() -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": ["C1", "C2"], "segment": ["retail", "sme"], "birth_year": [1980, None],
        "gender": ["F", None], "region": ["EA", "NO"], "branch": ["EA01", "NO02"],
        "industry": [None, "finance"], "onboarding_month": pd.to_datetime(["2020-01-01", "2021-06-01"]),
        "income_band": ["<5k", None], "rm_id": [None, "RM1"],
    })


def test_parquet_round_trip_writes_months_as_dates(tmp_path):
    write_table(_clients(), tmp_path / "clients.parquet", month_columns=("onboarding_month",))
    schema = pq.read_schema(tmp_path / "clients.parquet")
    assert str(schema.field("onboarding_month").type) == "date32[day]"
    df = read_table(tmp_path, "clients")
    assert pd.api.types.is_datetime64_any_dtype(df["onboarding_month"])
    assert df["onboarding_month"].iloc[1] == pd.Timestamp(dt.date(2021, 6, 1))
    assert [p.name for p in tmp_path.iterdir()] == ["clients.parquet"]  # no temp files left


def test_csv_is_read_as_text_with_months_coerced(tmp_path):
    df = _clients()
    df["client_id"] = ["00123", "C2"]
    df.to_csv(tmp_path / "clients.csv", index=False)
    out = read_table(tmp_path, "clients")
    assert out["client_id"].iloc[0] == "00123"
    assert pd.api.types.is_datetime64_any_dtype(out["onboarding_month"])


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"nope: data folder not found$"):
        read_table(tmp_path / "nope", "clients")


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"clients\.parquet: file not found \(expected clients\.parquet or clients\.csv\)"):
        read_table(tmp_path, "clients")


def test_missing_column_names_file_and_column(tmp_path):
    write_table(_clients().drop(columns=["branch"]), tmp_path / "clients.parquet")
    with pytest.raises(DataError) as err:
        read_table(tmp_path, "clients")
    assert str(err.value) == f"{tmp_path / 'clients.parquet'}: missing column 'branch'"


def test_empty_table(tmp_path):
    write_table(_clients().iloc[0:0], tmp_path / "clients.parquet")
    with pytest.raises(DataError, match="clients.parquet: table is empty"):
        read_table(tmp_path, "clients")


def test_unreadable_file(tmp_path):
    (tmp_path / "clients.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="clients.parquet: cannot be read"):
        read_table(tmp_path, "clients")


MONTH_COLUMNS = [
    [dt.date(2024, 1, 1), None, dt.date(2025, 3, 31)],           # Parquet date32, as pandas reads it
    [dt.datetime(2024, 1, 1, 12, 30), float("nan"), dt.date(2024, 2, 1)],
    [dt.date(2024, 1, 1), "2024-02", 5],                         # a mix: one value at a time
    [pd.Timestamp("2023-01-01"), 20230201],                      # a bare number is not a date
    [dt.date(9999, 12, 31), dt.date(2024, 1, 1)],                # beyond datetime64[ns]: NaT
    [pd.Timestamp("2024-01-01 08:00", tz="Asia/Shanghai"), pd.Timestamp("2024-01-01", tz="UTC")],
    [None, None],
    [pd.NaT, dt.date(2020, 5, 5)],
]


@pytest.mark.parametrize("values", MONTH_COLUMNS)
def test_a_column_of_dates_reads_at_once_as_one_value_at_a_time_would(values):
    from tierwise.features._io import MONTH_DTYPE, _to_timestamp, to_month_dtype

    column = pd.Series(values, dtype=object)
    one_by_one = pd.Series([_to_timestamp(v) if pd.notna(v) else pd.NaT for v in values], dtype=MONTH_DTYPE)
    one_by_one = one_by_one.where(one_by_one.isna() | (one_by_one <= pd.Timestamp.max))
    got = to_month_dtype(column)
    assert str(got.dtype) == MONTH_DTYPE
    pd.testing.assert_series_equal(got, one_by_one.astype(MONTH_DTYPE))
