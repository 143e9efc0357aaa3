"""A scikit-learn transformer that turns a raw flat table into LightGBM-ready columns.

`FlatTablePreprocessor` learns in `fit`, per column (see `_flat_types.infer_role`):

- numeric columns (numbers, booleans) -> float64, missing values stay NaN (LightGBM handles
  them natively);
- categorical columns (pandas 3 `str`, object text, `category`, integer codes the config
  names) -> `category` dtype with a FIXED list of categories learned in fit: the frequent
  labels (sorted), then `__rare__` (seen in fit fewer than `min_frequency` times),
  `__unseen__` (never seen in fit) and `__missing__`. The codes LightGBM sees are therefore
  the same for every table transformed by one fitted preprocessor;
- id-like, free-text, constant, empty and datetime columns are dropped, logged, and listed
  with their reason in `dropped_`.

Column names are kept (`get_feature_names_out`); the output is always a DataFrame (a numpy
array cannot hold categories), which is also what `set_output(transform="pandas")` gives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from tierwise.features._errors import DataError
from tierwise.features._flat_types import infer_role

logger = logging.getLogger(__name__)

RARE = "__rare__"
UNSEEN = "__unseen__"
MISSING = "__missing__"
SPECIAL_CATEGORIES = (RARE, UNSEEN, MISSING)


class FlatTablePreprocessor(TransformerMixin, BaseEstimator):
    """Infer column types, fold rare categories, drop identifiers and free text.

    Parameters
    ----------
    min_frequency : int or float, default=10
        A category seen fewer times than this in fit (an int: a count; a float in (0, 1): a
        share of the rows) is folded into `__rare__`.
    max_unique_ratio : float, default=0.1
        A text column with more distinct values than max(100, this share of the rows) is
        treated as free text and dropped.
    type_overrides : mapping of column -> "numeric" | "categorical" | "drop", optional
        Forces a column's role (e.g. integer codes that are really categories).
    categorical_codes : mapping of column -> {code: label}, optional
        Relabels coded columns before anything else (e.g. EDUCATION 1 -> "graduate school");
        codes not listed keep their own label. Such a column is categorical.
    """

    def __init__(
        self,
        *,
        min_frequency: int | float = 10,
        max_unique_ratio: float = 0.1,
        type_overrides: Mapping[str, str] | None = None,
        categorical_codes: Mapping[str, Mapping[Any, str]] | None = None,
    ) -> None:
        self.min_frequency = min_frequency
        self.max_unique_ratio = max_unique_ratio
        self.type_overrides = type_overrides
        self.categorical_codes = categorical_codes

    # -- scikit-learn protocol -------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # the output is a DataFrame of float64 and category columns, not one array dtype
        tags.transformer_tags.preserves_dtype = []
        return tags

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's name
        frame = self._frame(X, reset=True)
        self._check_params(frame)
        overrides = dict(self.type_overrides or {})
        codes = dict(self.categorical_codes or {})
        numeric: list[str] = []
        categorical: list[str] = []
        dropped: dict[str, str] = {}
        categories: dict[str, tuple[str, ...]] = {}
        rare: dict[str, tuple[str, ...]] = {}
        threshold = self._count_threshold(len(frame))
        for column in frame.columns:
            series = frame[column]
            override = overrides.get(column)
            if column in codes and override is None:
                override = "categorical"
            if column in codes:
                series = _relabel(series, codes[column])
            role = infer_role(series, override=override, max_unique_ratio=self.max_unique_ratio)
            if role.role == "drop":
                dropped[column] = role.reason
                logger.info("dropping column %r: %s", column, role.reason)
                continue
            if role.role == "numeric":
                numeric.append(column)
                continue
            counts = _labels(series).value_counts(dropna=True)
            frequent = sorted(str(v) for v in counts.index[counts.to_numpy() >= threshold])
            rare[column] = tuple(sorted(str(v) for v in counts.index[counts.to_numpy() < threshold]))
            categories[column] = (*frequent, *SPECIAL_CATEGORIES)
            categorical.append(column)
        self.numeric_features_ = tuple(numeric)
        self.categorical_features_ = tuple(categorical)
        self.categories_ = categories
        self.rare_categories_ = rare
        self.dropped_ = dropped
        kept = set(numeric) | set(categorical)
        self.feature_names_out_ = tuple(c for c in frame.columns if c in kept)
        return self

    def transform(self, X):  # noqa: N803 - scikit-learn's name
        check_is_fitted(self, "feature_names_out_")
        frame = self._frame(X, reset=False)
        codes = dict(self.categorical_codes or {})
        out: dict[str, Any] = {}
        for column in self.feature_names_out_:
            series = frame[column]
            if column in self.categories_:
                if column in codes:
                    series = _relabel(series, codes[column])
                out[column] = self._encode(column, series)
            else:
                out[column] = _as_float(series, column)
        return pd.DataFrame(out, index=frame.index, columns=list(self.feature_names_out_))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        _check_feature_names_in(self, input_features)
        return np.asarray(self.feature_names_out_, dtype=object)

    # -- reports ---------------------------------------------------------------------------

    def dropped_table(self) -> pd.DataFrame:
        """The columns dropped in fit, with the reason."""
        check_is_fitted(self, "feature_names_out_")
        return pd.DataFrame(
            {"column": list(self.dropped_), "reason": list(self.dropped_.values())},
            columns=["column", "reason"],
        )

    # -- helpers ---------------------------------------------------------------------------

    def _check_params(self, frame: pd.DataFrame) -> None:
        mf = self.min_frequency
        if isinstance(mf, bool) or not isinstance(mf, int | float) or mf < 0 or (
            isinstance(mf, float) and mf >= 1
        ):
            raise ValueError(f"min_frequency must be a count >= 0 or a share in [0, 1), got {mf!r}")
        if not 0 < self.max_unique_ratio <= 1:
            raise ValueError(f"max_unique_ratio must be in (0, 1], got {self.max_unique_ratio!r}")
        for column, role in (self.type_overrides or {}).items():
            if role not in ("numeric", "categorical", "drop"):
                raise ValueError(
                    f"type_overrides[{column!r}] = {role!r}; expected numeric, categorical or drop"
                )

    def _count_threshold(self, n_rows: int) -> int:
        if isinstance(self.min_frequency, float):
            return math.ceil(self.min_frequency * n_rows)
        return int(self.min_frequency)

    def _frame(self, X, *, reset: bool) -> pd.DataFrame:  # noqa: N803
        """Any 2-D input as a DataFrame with string column names; checks names and width."""
        if sparse.issparse(X):
            raise TypeError("FlatTablePreprocessor needs a dense table; sparse input is not supported")
        if isinstance(X, pd.DataFrame):
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            if X.shape[1] == 0:
                raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            frame = X.copy(deep=False)
        else:
            array = check_array(X, dtype=None, ensure_all_finite=False, ensure_2d=True)
            frame = pd.DataFrame(array)
        validate_data(self, X, reset=reset, skip_check_array=True)
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            frame.columns = [str(c) for c in frame.columns]
        else:
            frame.columns = [f"x{i}" for i in range(frame.shape[1])]
        return _infer_objects(frame)

    def _encode(self, column: str, series: pd.Series) -> pd.Categorical:
        categories = self.categories_[column]
        frequent = list(categories[: -len(SPECIAL_CATEGORIES)])
        labels = _labels(series)
        codes = pd.Index(frequent, dtype=object).get_indexer(labels.to_numpy(dtype=object)).astype(np.int64)
        other = codes < 0
        if other.any():
            is_missing = labels.isna().to_numpy()
            is_rare = labels.isin(self.rare_categories_[column]).to_numpy()
            codes[other & is_missing] = categories.index(MISSING)
            codes[other & ~is_missing & is_rare] = categories.index(RARE)
            codes[other & ~is_missing & ~is_rare] = categories.index(UNSEEN)
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories)))


def _infer_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns of numbers become numeric; of text, `str`; anything else is an error."""
    frame = frame.infer_objects()
    for column in frame.columns:
        series = frame[column]
        if series.dtype != np.dtype("O"):
            continue
        converted = pd.to_numeric(series, errors="coerce")
        if converted.notna().sum() == series.notna().sum():
            frame[column] = converted
            continue
        bad = series[series.notna() & ~series.map(lambda v: isinstance(v, str | int | float | bool))]
        if len(bad):
            raise TypeError(
                f"column {column!r}: argument must be a string or a number, got {type(bad.iloc[0]).__name__}"
            )
        frame[column] = series.astype("str").where(series.notna())
    return frame


def _labels(series: pd.Series) -> pd.Series:
    """Category labels as text; integral numbers without a trailing '.0'; missing stays NaN."""
    missing = series.isna()
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[~np.isnan(values)]
        if len(finite) and np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
            text = pd.Series(values, index=series.index).astype("Int64").astype("str")
        else:
            text = pd.Series(values, index=series.index).astype("str")
    else:
        text = series.astype("str")
    return text.where(~missing)


def _relabel(series: pd.Series, mapping: Mapping[Any, str]) -> pd.Series:
    """Replace coded values by their labels; codes not in `mapping` keep their own label."""
    labels = _labels(series)
    by_label = {_labels(pd.Series([k])).iloc[0]: str(v) for k, v in mapping.items()}
    mapped = labels.map(by_label)
    return mapped.where(mapped.notna(), labels).rename(series.name)


def _as_float(series: pd.Series, column: str) -> np.ndarray:
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        values = pd.to_numeric(series, errors="coerce")
        bad = series[values.isna() & series.notna()]
        raise DataError(
            f"column {column!r}: expected numbers, got {bad.iloc[0]!r} (row {bad.index[0]!r})"
        ) from None
