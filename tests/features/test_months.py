"""Months: one set of helpers and one "month outside the data" message."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierwise.features import (
    DataError,
    add_months,
    check_month_in_range,
    month_date,
    month_index,
    month_label,
    month_range,
    parse_month,
)

months = st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2200, 12, 1)).map(lambda d: d.replace(day=1))


@given(months, st.integers(min_value=-300, max_value=300))
def test_index_date_and_arithmetic_agree(month, k):
    assert month_date(month_index(month)) == month
    assert month_index(add_months(month, k)) == month_index(month) + k
    assert parse_month(month_label(month)) == month
    assert month_label(month_index(month)) == month_label(month) == f"{month.year:04d}-{month.month:02d}"


def test_any_date_like_value_is_its_month():
    for value in (dt.date(2024, 3, 17), pd.Timestamp("2024-03-31 23:00"), np.datetime64("2024-03-05")):
        assert month_label(value) == "2024-03"
        assert add_months(value, 0) == dt.date(2024, 3, 1)
    assert add_months(dt.date(2024, 1, 1), -3) == dt.date(2023, 10, 1)
    assert month_label(np.int64(month_index(dt.date(2024, 3, 1)))) == "2024-03"


def test_month_range_includes_both_ends():
    assert month_range(dt.date(2023, 11, 1), pd.Timestamp("2024-02-15")) == [
        dt.date(2023, 11, 1), dt.date(2023, 12, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert month_range(dt.date(2024, 2, 1), dt.date(2024, 1, 1)) == []


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "March", "2024-3", "", "24-03", "２０２５-１２", "٢٠٢٥-١٢"])
def test_parse_month_says_how_to_write_a_month(text):
    with pytest.raises(ValueError, match=r"is not a month; write it as YYYY-MM, e.g. 2024-03$"):
        parse_month(text)


def test_month_inside_the_data_passes():
    column = pd.Series(pd.to_datetime(["2022-01-01", "2024-06-01", None]))
    check_month_in_range(dt.date(2022, 1, 1), column, source="monthly")
    check_month_in_range(pd.Timestamp("2024-06-30"), column, source="monthly")
    check_month_in_range(dt.date(2023, 5, 1), (dt.date(2022, 1, 1), dt.date(2024, 6, 1)), source="monthly")


@pytest.mark.parametrize("available", [
    pd.Series(pd.to_datetime(["2022-01-01", "2024-06-01"])),
    (dt.date(2022, 1, 1), pd.Timestamp("2024-06-01")),
    pd.Series(["2024-06-01", "2022-01-01", "junk"]),
])
def test_month_outside_the_data_is_one_line_naming_source_and_span(available):
    with pytest.raises(DataError, match=r"^--month 2030-01 is outside the data: data/monthly.parquet covers "
                                        r"2022-01 to 2024-06$"):
        check_month_in_range(dt.date(2030, 1, 1), available, source="data/monthly.parquet", what="--month")
    with pytest.raises(DataError, match=r"^month 2021-12 is outside the data"):
        check_month_in_range(dt.date(2021, 12, 1), available, source="monthly")


def test_no_months_at_all_is_said_so():
    with pytest.raises(DataError, match=r"^month 2024-01 is outside the data: monthly has no valid month$"):
        check_month_in_range(dt.date(2024, 1, 1), pd.Series([pd.NaT, pd.NaT]), source="monthly")
    with pytest.raises(DataError, match="has no valid month"):
        check_month_in_range(dt.date(2024, 1, 1), (pd.NaT, pd.NaT), source="monthly")
