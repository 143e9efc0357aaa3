"""A few served rows through the recommender without pandas (issue 19, item 1).

`recommend_rows(recommender, rows)` answers what `Recommender.recommend(frame,
columns=recommender.pyfunc_columns)` answers for the frame of those rows, as records (one dict
per client, Python values, missing numbers NaN and missing text None), by the same code: the
input matrices are built straight from the rows (a category as its code in the model's fixed
list, through a dict built once per recommender; unseen or missing: NaN), then the same
`Recommender.scores_of` (LightGBM, calibration, TreeSHAP, reason texts), the same policy
(`models.decision_arrays` on `PolicyRows`, the policy's inputs by `policy_data`) and the same
reason outputs (`reason_outputs`). Only the frames are gone.

The rows must already be checked (`models.pyfunc.answer_records` does it): text fields text or
None, number fields int, float or None. Rows this path does not take raise `NotFast`: a
recommender with product models (the offers read a frame) or a model with its own preprocessor
or without a LightGBM booster; the caller then takes the frame path, which gives the same answer.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from tierwise.models._policy import decision_arrays
from tierwise.models._policy_inputs import OPTIONAL_COLUMNS as POLICY_OPTIONAL
from tierwise.models._policy_inputs import PolicyRows
from tierwise.models._recommender import Recommender, _input_key, policy_data, reason_outputs
from tierwise.models._train import MatrixColumns, TierwiseModel

_NAN = float("nan")
_TEXT_OUT = ("client_id", "segment", "region", "industry", "branch", "rm_id")
_POLICY_NUMBERS = ("p_default_prev", "days_past_due")


class NotFast(Exception):  # noqa: N818 - a signal, not an error
    """These rows take the frame path (`Recommender.recommend`), which checks them and names any
    problem."""


@functools.lru_cache(maxsize=64)
def _codes(categories: tuple) -> dict[Any, float]:
    return {label: float(code) for code, label in enumerate(categories)}


_SPECS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _spec(model: TierwiseModel) -> tuple[tuple[str, dict[Any, float] | None], ...]:
    """Per feature in model order: (name, label -> code of its fixed list; None for a number),
    worked out once per model."""
    spec = _SPECS.get(model)
    if spec is None:
        cats = model.categories_
        spec = _SPECS[model] = tuple((name, _codes(tuple(cats[name])) if name in cats else None)
                                     for name in model.feature_names_)
    return spec


def row_matrix(rows: Sequence[Mapping[str, Any]], spec: Sequence[tuple[str, dict | None]]) -> np.ndarray:
    """The model's input matrix of `rows` (what `TierwiseModel.model_matrix` gives for their
    frame): C-contiguous float64, a category as its code (missing or unseen: NaN), a missing
    number NaN."""
    out = np.empty((len(rows), len(spec)), dtype=np.float64)
    for i, row in enumerate(rows):
        out[i] = [(_NAN if (v := row[name]) is None else float(v)) if codes is None
                  else (_NAN if (v := row[name]) is None else codes.get(v, _NAN))
                  for name, codes in spec]
    return out


def _column(rows: Sequence[Mapping[str, Any]], name: str, numbers: bool) -> np.ndarray:
    if numbers:
        return np.array([_NAN if (v := row[name]) is None else float(v) for row in rows], dtype=np.float64)
    return np.array([row[name] for row in rows], dtype=object)


def recommend_rows(recommender: Recommender, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pyfunc's answer for checked `rows` as records (see the module docstring)."""
    if recommender.products:
        raise NotFast("offers read a frame")
    models = recommender.models
    if any(m.booster_ is None or m.preprocessor_ is not None for m in models.values()):
        raise NotFast("a model without a booster or with its own preprocessor")
    n = len(rows)
    prepared: dict[tuple, tuple[np.ndarray, MatrixColumns]] = {}

    def matrix_of(model: TierwiseModel) -> tuple[np.ndarray, MatrixColumns]:
        key = _input_key(model)
        if key not in prepared:
            matrix = row_matrix(rows, _spec(model))
            prepared[key] = matrix, MatrixColumns(matrix, model.feature_names_, model.categories_)  # index 0..n-1
        return prepared[key]

    scores, reasons = recommender.scores_of(matrix_of, n)
    present = rows[0].keys()
    optional = {c: _column(rows, c, c in _POLICY_NUMBERS) for c in POLICY_OPTIONAL if c in present}
    data = policy_data(lambda c: _column(rows, c, True), lambda c: _column(rows, c, False), optional, n, scores)
    decided = decision_arrays(PolicyRows(data), recommender.policy)
    cols: dict[str, Any] = {c: data[c] for c in ("p_churn", "p_default", "growth", "assets_total", "credit_exposure",
                                                "contribution_monthly", "cost_to_serve_monthly")}
    for col in _TEXT_OUT:
        cols[col] = [row.get(col) for row in rows]
    cols.update(decided)
    no_credit = ~(data["credit_exposure"] > 0)
    cols.update(reason_outputs(reasons, no_credit, cols))
    columns = recommender.pyfunc_columns
    values = [_plain(cols[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _plain(values: Any) -> list[Any]:
    """A column as Python values: numbers float (NaN where missing), flags bool, text str or None."""
    if isinstance(values, list):
        return [None if isinstance(v, float) and math.isnan(v) else v for v in values]
    if isinstance(values, pa.Array):
        return values.to_pylist()
    return values.tolist()
