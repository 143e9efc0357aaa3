"""The fast frames of served answers (`models._fast_frame`), the one place that touches pandas'
internals. When a test here fails after a pandas upgrade, the message says what changed and
what to fix in `src/models/_fast_frame.py`; the rest of the package does not depend on it."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tierwise.models._fast_frame import (
    Recommendations,
    column_arrays,
    frame_of_columns,
    plain_records,
)


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


# -- what the module relies on, checked so that a pandas upgrade fails here, loudly ---------

FIX = "pandas changed what src/models/_fast_frame.py relies on ({}); fix that module (or drop the shortcut)"

STR = pd.StringDtype(na_value=np.nan)
HANDLED = {  # every column type `plain_records` writes itself, with a missing value where it has one
    "float64": np.array([1.5, np.nan, -0.0]),
    "float32": np.array([0.25, np.nan, 3.0], dtype=np.float32),
    "int64": np.array([1, -2, 2**40], dtype=np.int64),
    "int32": np.array([1, -2, 3], dtype=np.int32),
    "uint8": np.array([0, 7, 255], dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "object": np.array(["a", None, np.nan], dtype=object),
    "object_numpy_scalars": np.array([np.int64(3), np.float32(0.5), np.bool_(True)], dtype=object),
    "str": pd.array(["a", None, "c"], dtype=STR),
}
REFUSED = {  # column types it hands back to pandas (`plain_records` gives None)
    "string_pd_na": pd.array(["a", None, "c"], dtype="string"),
    "datetime64": np.array(["2025-06-01", "NaT", "2025-07-01"], dtype="datetime64[ns]"),
    "category": pd.Categorical(["x", None, "y"]),
    "Int64": pd.array([1, None, 3], dtype="Int64"),
    "object_datetime": np.array([np.datetime64("2025-01-01", "ns"), None, None], dtype=object),
}


def test_the_internals_exist_with_the_signatures_used():
    params = list(inspect.signature(frame_of_columns.__globals__["create_dataframe_from_blocks"]).parameters)
    assert params[:3] == ["blocks", "index", "columns"], FIX.format(
        f"pandas.api.internals.create_dataframe_from_blocks takes {params}, not (blocks, index, columns)")
    manager = getattr(pd.DataFrame({"a": [1.0]}), "_mgr", None)
    assert manager is not None, FIX.format("a DataFrame has no _mgr (block manager)")
    assert callable(getattr(manager, "iget_values", None)), FIX.format(
        "the block manager has no iget_values(i): Recommendations.to_dict fell back to the slow path")
    assert list(inspect.signature(manager.iget_values).parameters) == ["i"], FIX.format(
        f"BlockManager.iget_values takes {list(inspect.signature(manager.iget_values).parameters)}, not (i)")


@pytest.mark.parametrize("name", list(HANDLED))
def test_each_column_array_is_the_array_pandas_holds(name):
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], name: HANDLED[name]})
    for j, array in enumerate(column_arrays(frame)):
        column = frame.iloc[:, j]
        expected = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        assert type(array) is type(expected) and array.dtype == expected.dtype, FIX.format(
            f"_mgr.iget_values gives {type(array).__name__}[{array.dtype}] for a {column.dtype} column, "
            f"not {type(expected).__name__}[{expected.dtype}]")
        assert _typed([{"v": v} for v in array]) == _typed([{"v": v} for v in expected]), FIX.format(
            f"_mgr.iget_values gives other values for a {column.dtype} column")


@pytest.mark.parametrize("name", list(HANDLED))
def test_records_of_every_handled_column_type_are_pandas_records(name):
    frame = pd.DataFrame({"id": pd.array(["a", "b", "c"], dtype=STR), name: HANDLED[name]})
    records = plain_records(frame)
    assert records is not None, f"plain_records no longer writes a {frame[name].dtype} column itself"
    assert _typed(records) == _typed(frame.to_dict(orient="records")), FIX.format(
        f"to_dict(orient='records') now gives other Python values for a {frame[name].dtype} column "
        f"({frame.to_dict(orient='records')!r}, the fast path {records!r})")


@pytest.mark.parametrize("name", list(REFUSED))
def test_other_column_types_go_to_pandas(name):
    frame = pd.DataFrame({"id": [1.0, 2.0, 3.0], name: REFUSED[name]})
    assert plain_records(frame) is None
    assert _typed(Recommendations(frame, copy=False).to_dict(orient="records")) == _typed(
        frame.to_dict(orient="records"))


def test_frame_of_columns_is_the_frame_pandas_builds():
    columns = {"id": pd.array(["a", None], dtype="str"), "x": np.array([1.5, np.nan]),
               "flag": np.array([True, False]), "n": np.array([1, 2]), "y": np.array([0.0, 2.0]),
               "month": np.array(["2025-06-01", "NaT"], dtype="datetime64[ns]"),
               "text": pd.array([None, "b"], dtype="str"), "other": np.array([None, "c"], dtype=object)}
    index = pd.RangeIndex(2)
    out = frame_of_columns(columns, index)
    pandas_own = {k: v for k, v in columns.items() if k != "other"}
    pd.testing.assert_frame_equal(out.drop(columns="other"), pd.DataFrame(pandas_own, index=index),
                                  obj=FIX.format("create_dataframe_from_blocks builds another frame"))
    assert out["other"].dtype == object and out["other"].tolist() == [None, "c"]  # taken as it is
    assert list(out.columns) == list(columns)
