"""Fast exact path-dependent TreeSHAP for LightGBM boosters, in numba.

`tree_shap(booster, X)` returns the same numbers as `booster.predict(X, pred_contrib=True)`
(LightGBM's implementation of Lundberg et al.'s path-dependent TreeSHAP, raw-score space): one
row per row of X, one column per feature plus the expected value last (for a multiclass model,
one such block per class), matching within float rounding.

Method. For a leaf with value v whose root path tests the d unique features U (a feature
tested twice is merged as in the original algorithm: its zero fraction z_j is the product of
the cover ratios of its nodes, its one fraction o_j the AND of the row's conditions), the
leaf's share of the SHAP value of feature i in U is

    v (o_i - z_i) sum_{S subset of P minus i} w(|S|, d) prod_{j in U minus S minus i} z_j,

with P = {j : o_j = 1} and w(s, d) = s! (d-s-1)! / d!. Writing G(Q) = sum_{S subset of Q}
w(|S|, d) prod_{j in U minus S} z_j, this is -v G(P) when o_i = 0 and
v (1 - z_i) / z_i G(P minus i) when o_i = 1. G depends on the row only through the bit
pattern P, so it is precomputed once per leaf for all 2^d patterns (a subset-sum transform,
O(2^d d)). Per row, each internal node's decision is computed once, each leaf's pattern P is
built incrementally from the root (one bit per unique path feature), and each leaf costs d
table look-ups: O(T L D) per row instead of O(T L D^2) for the recursive algorithm.

This is the per-leaf precomputation of FastTreeSHAP v2 (J. Yang, "Fast TreeSHAP: Accelerating
SHAP Value Computation for Trees", arXiv:2109.09847, 2021), in the reduced form above (one
value per pattern instead of one per pattern and feature), on top of the path-dependent
TreeSHAP of Lundberg et al. ("From local explanations to global understanding with
explainable AI for trees", Nature Machine Intelligence 2020) whose duplicate-feature merging
it follows. Leaves with more unique path features than `max_table_depth` (their tables would
not stay in cache), with a zero cover ratio, or beyond the table memory budget are computed per
row in O(d^2) from the polynomial form of Linear TreeSHAP (P. Yu et al., "Linear TreeShap",
NeurIPS 2022): phi_i = v (o_i - z_i) integral_0^1 prod_{j != i} (o_j t + z_j (1 - t)) dt,
integrated exactly by Gauss-Legendre quadrature (degree d - 1) for all rows of a block at once;
a leaf with more than 62 unique path features (no bit mask) re-evaluates its path per row and
uses the elementary symmetric polynomials of the zero fractions. Results are exact at any depth.
"""

from __future__ import annotations

import functools
import logging
import math
import weakref
from collections.abc import Iterator

import numba
import numpy as np
import pandas as pd

from tierwise.features import DataError
from tierwise.models._treeshap_kernel import build_tables, shap_few_rows, shap_rows
from tierwise.models._treeshap_model import FlatModel, flatten_model

logger = logging.getLogger(__name__)

__all__ = ["tree_shap"]

MAX_TABLE_DEPTH = 14  # a leaf's table has 2^d float64 values (128 KiB at d = 14); deeper
# leaves are as cheap computed per row (their tables do not stay in cache)
MASK_BITS = 62  # leaves with more unique path features re-evaluate their path per row
TABLE_BUDGET_BYTES = 512 * 1024**2
ROWS_PER_CHUNK = 16_384  # rows converted to float64 at a time (bounds the input copy)
ROWS_PER_BLOCK = 64  # rows a thread explains together, tree by tree
FEW_ROWS = 8  # up to this many rows (a served request) go one by one (`shap_few_rows`): the
# same numbers, without the block layout's per-node cost (about 150 us for one row)


class _Tables:
    """Per-leaf lookup tables: `start[leaf]` into `values` (-1: the leaf is computed per row)."""

    def __init__(self, model: FlatModel, max_depth: int, budget_bytes: int) -> None:
        depth = model.leaf_depth
        zero_ok = np.ones(len(depth), bool)
        bad = np.flatnonzero(model.leaf_zero <= 0.0)
        if len(bad):
            owners = np.searchsorted(model.leaf_feat_start, bad, side="right") - 1
            zero_ok[owners] = False
        eligible = (depth > 0) & (depth <= min(max_depth, 30)) & zero_ok
        size = np.where(eligible, np.left_shift(1, np.minimum(depth, 62)), 0)
        # within the budget, the shallowest leaves get tables first (they are the most)
        order = np.argsort(depth, kind="stable")
        within = np.cumsum(size[order]) * 8 <= budget_bytes
        keep = np.zeros(len(depth), bool)
        keep[order[within]] = True
        keep &= eligible
        size = np.where(keep, size, 0)
        self.start = np.where(keep, np.cumsum(size) - size, -1).astype(np.int64)
        self.values = np.zeros(int(size.sum()), np.float64)
        self.coef = np.zeros(len(model.leaf_zero), np.float64)
        n_path = int(((depth > 0) & ~keep).sum())
        if n_path:
            logger.debug("%d of %d leaves without a table: computed per row", n_path, len(depth))
        # Shapley weights w(s, d) = s! (d - s - 1)! / d! for s < d (0 otherwise)
        d_max = int(depth.max(initial=0))
        self.weight = np.zeros((d_max + 1, d_max + 1))
        for d in range(1, d_max + 1):
            for s in range(d):
                self.weight[d, s] = 1.0 / (d * math.comb(d - 1, s))
        # Gauss-Legendre nodes and weights on [0, 1], row n: n nodes
        n_max = d_max // 2 + 1
        self.gl_t = np.zeros((n_max + 1, n_max))
        self.gl_w = np.zeros((n_max + 1, n_max))
        for n in range(1, n_max + 1):
            x, w = np.polynomial.legendre.leggauss(n)
            self.gl_t[n, :n] = (x + 1.0) / 2.0
            self.gl_w[n, :n] = w / 2.0
        build_tables(model.leaf_value, depth, model.leaf_feat_start, model.leaf_zero,
                     self.start, self.values, self.coef)


def _numpy_rows(X: np.ndarray) -> np.ndarray:
    # as LightGBM's __pred_for_np2d: float32/float64 as they are, anything else via float32
    if X.dtype not in (np.float32, np.float64):
        try:
            X = X.astype(np.float32)
        except (TypeError, ValueError) as err:
            raise DataError(f"X has dtype {X.dtype}, expected numbers: {err}") from None
    return np.ascontiguousarray(X, dtype=np.float64)


def _pandas_rows(X: pd.DataFrame, pandas_categorical: list | None) -> np.ndarray:
    """As LightGBM's `_data_from_pandas`: category columns become codes (unknown -> NaN)."""
    data = X.copy(deep=False)
    cat_cols = [c for c, t in zip(data.columns, data.dtypes, strict=True)
                if isinstance(t, pd.CategoricalDtype)]
    if pandas_categorical is not None:
        if len(cat_cols) != len(pandas_categorical):
            raise DataError(f"X has {len(cat_cols)} category columns {cat_cols}, the model was "
                            f"trained with {len(pandas_categorical)}")
        for col, categories in zip(cat_cols, pandas_categorical, strict=True):
            if list(data[col].cat.categories) != list(categories):
                data[col] = data[col].cat.set_categories(categories)
    for col in cat_cols:
        data[col] = data[col].cat.codes.astype(np.float64).replace(-1.0, np.nan)
    for col, dtype in zip(data.columns, data.dtypes, strict=True):
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise DataError(f"column {col!r} of X has dtype {dtype}; expected numbers or "
                            "category (convert text columns to category)")
    target = np.result_type(*[t.type for t in data.dtypes if not isinstance(t, pd.CategoricalDtype)],
                            np.float32)
    return np.ascontiguousarray(data.to_numpy(dtype=target, na_value=np.nan), dtype=np.float64)


def _chunks(X, pandas_categorical: list | None) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, X.shape[0], ROWS_PER_CHUNK):
        if isinstance(X, pd.DataFrame):
            rows = _pandas_rows(X.iloc[start:start + ROWS_PER_CHUNK], pandas_categorical)
        else:
            rows = _numpy_rows(X[start:start + ROWS_PER_CHUNK])
        # one compiled signature: C-contiguous, writeable (pandas may hand out read-only views)
        yield start, np.require(rows, np.float64, ["C_CONTIGUOUS", "ALIGNED", "WRITEABLE"])


def _check_input(X, n_features: int):
    if isinstance(X, pd.DataFrame):
        shape = X.shape
    else:
        if not isinstance(X, np.ndarray):
            try:
                X = np.asarray(X)
            except (TypeError, ValueError) as err:
                raise DataError(f"X must be a pandas DataFrame or a 2-D numpy array: {err}") from None
        shape = X.shape
    if len(shape) != 2:
        raise DataError(f"X must be 2-D (rows x features), got shape {shape}")
    if shape[1] != n_features:
        raise DataError(f"X has {shape[1]} columns, the model was trained on {n_features} features")
    return X


@functools.lru_cache(maxsize=8)
def _prepared(model_text: str, max_table_depth: int) -> tuple[FlatModel, _Tables]:
    """Flattened model and its tables, kept for the last models (batch jobs call per chunk;
    the recommender cycles through three)."""
    model = flatten_model(model_text)
    return model, _Tables(model, max_table_depth, TABLE_BUDGET_BYTES)


# booster -> ((depth, iterations), prepared): skips `model_to_string` on repeated calls with
# the same booster object (serving calls per request); a booster trained further is re-read.
_BY_BOOSTER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _prepared_for(booster, max_table_depth: int) -> tuple[FlatModel, _Tables]:
    key = (max_table_depth, booster.current_iteration(), getattr(booster, "best_iteration", 0))
    try:
        cached = _BY_BOOSTER.get(booster)
    except TypeError:  # not weak-referenceable: fall back to the text cache
        return _prepared(booster.model_to_string(), max_table_depth)
    if cached is not None and cached[0] == key:
        return cached[1]
    prepared = _prepared(booster.model_to_string(), max_table_depth)
    _BY_BOOSTER[booster] = (key, prepared)
    return prepared


def tree_shap(booster, X, *, n_threads: int | None = None,
              max_table_depth: int = MAX_TABLE_DEPTH) -> np.ndarray:
    """Exact path-dependent SHAP values of a LightGBM booster, as `pred_contrib=True` gives.

    Parameters
    ----------
    booster : lightgbm.Booster (binary, regression or any objective; raw-score space). The
        trees used are those `booster.predict` uses (its best iteration when it has one).
    X : pandas DataFrame (category columns mapped with the booster's `pandas_categorical`, as
        LightGBM does) or 2-D numpy array, with the model's features in training order.
    n_threads : threads for the numba kernel (default: numba's current setting, i.e. all
        cores); restored afterwards.
    max_table_depth : leaves with more unique path features are computed per row in O(d^2)
        instead of through a 2^d lookup table (results are exact either way).

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_features + 1), float64 (for a K-class model
    (n_rows, K * (n_features + 1))); the last column of each block is the expected value and
    each row's block sums to the raw score.

    The first call on a machine compiles the numba kernels (cached on disk afterwards).
    """
    if n_threads is not None and n_threads < 1:
        raise DataError(f"n_threads must be at least 1, got {n_threads}")
    previous = numba.get_num_threads()
    if n_threads is not None:
        numba.set_num_threads(min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        model, tables = _prepared_for(booster, int(max_table_depth))
        X = _check_input(X, model.n_features)
        width = model.n_features + 1
        out = np.zeros((X.shape[0], model.n_outputs * width), np.float64)
        tree_offset = model.tree_output * width
        pandas_categorical = getattr(booster, "pandas_categorical", None)
        kernel = shap_few_rows if X.shape[0] <= FEW_ROWS else shap_rows
        for start, rows in _chunks(X, pandas_categorical):
            kernel(rows, out[start:start + len(rows)], tree_offset, model.node_start,
                      model.leaf_start, model.node_feature, model.node_threshold,
                      model.node_decision, model.node_left_slot, model.node_right_slot,
                      model.node_cat_begin, model.node_cat_end, model.node_mask,
                      model.cat_bits, model.leaf_value, model.leaf_depth, model.leaf_feat_start,
                      model.leaf_feature, model.leaf_zero, model.leaf_path_start,
                      model.path_node, model.path_left, model.path_bit, tables.start,
                      tables.values, tables.coef, tables.weight, tables.gl_t, tables.gl_w,
                      MASK_BITS, ROWS_PER_BLOCK)
    finally:
        numba.set_num_threads(previous)
    for k in range(model.n_outputs):
        out[:, k * width + model.n_features] += model.expected_value[k]
    return out
