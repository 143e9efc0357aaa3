"""The pyfunc's answer frame: MLflow's scoring server writes it with `to_dict(orient="records")`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tierwise.models._recommender_pyfunc import Recommendations, plain_records


def _typed(records: list[dict]) -> str:
    """Records as JSON with each value's Python type (NaN compares equal to NaN as text)."""
    return json.dumps([{k: [type(v).__name__, repr(v)] for k, v in r.items()} for r in records])


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 5), data=st.data())
def test_records_are_pandas_records(rows, data):
    """Same records, same Python types as pandas' `to_dict(orient="records")`, for number, flag,
    `str` and object columns (text, None, NaN, numpy scalars) alike."""
    floats = hnp.arrays(np.float64, rows, elements=st.floats(allow_nan=True, allow_infinity=False))
    ints = hnp.arrays(np.int64, rows, elements=st.integers(-10**12, 10**12))
    flags = hnp.arrays(np.bool_, rows)
    item = st.one_of(st.none(), st.text(max_size=5), st.just(np.nan), st.floats(allow_nan=False),
                     st.integers(-5, 5).map(np.int64), st.floats(0, 1).map(np.float32), st.booleans().map(np.bool_))
    text = st.lists(item, min_size=rows, max_size=rows).map(lambda v: np.array(v + [0], dtype=object)[:rows])
    frame = pd.DataFrame({"a": data.draw(floats), "b": data.draw(ints), "c": data.draw(flags)})
    frame["d"] = pd.Series(data.draw(text), dtype=object)
    words = st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=rows, max_size=rows)
    frame["e"] = pd.Series(data.draw(words), dtype="str")  # the recommendations' text columns
    answer = Recommendations(frame, copy=False)
    assert answer["d"].dtype == object
    assert _typed(answer.to_dict(orient="records")) == _typed(frame.to_dict(orient="records"))


def test_other_column_types_and_orients_are_pandas_own():
    """Columns of other types (text with pd.NA, dates) and other orients go to pandas."""
    frame = pd.DataFrame({"t": pd.array(["x", None], dtype="string"), "m": pd.to_datetime(["2025-06-01", None]),
                          "o": np.array([np.datetime64("2025-01-01", "ns"), None], dtype=object)})
    answer = Recommendations(frame, copy=False)
    assert all(plain_records(frame[[c]]) is None for c in frame.columns)  # pd.NA text, dates
    assert _typed(answer.to_dict(orient="records")) == _typed(frame.to_dict(orient="records"))
    assert answer.to_dict() == frame.to_dict()
    assert answer.to_dict(orient="list") == frame.to_dict(orient="list")


def test_operations_return_plain_frames():
    answer = Recommendations(pd.DataFrame({"a": [1.0, 2.0]}), copy=False)
    assert type(answer.head(1)) is pd.DataFrame
    assert type(answer[["a"]]) is pd.DataFrame


@pytest.mark.parametrize("values", [[1.0, np.nan], [np.int64(3), None]])
def test_numpy_scalars_in_text_columns_are_unboxed(values):
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    assert [type(r["x"]) for r in plain_records(frame)] == [type(r["x"]) for r in frame.to_dict(orient="records")]
