"""Fast exact TreeSHAP (issue 5, item 7): the project's kernel against LightGBM's own.

On one seeded binary model (300 trees x 31 leaves on 60 numeric features, 20,000 rows), in the
same run: rows per second of `models.tree_shap`, of `Booster.predict(pred_contrib=True)` and of
`shap.TreeExplainer(booster).shap_values` (which calls `pred_contrib` for LightGBM models),
all given 2 threads, and the largest absolute difference between the two exact methods.
Once with unlimited depth and once with max_depth 6. Small scale: a tiny model.

The kernel's figure counts the whole call on a model it has not seen (parsing the model and
building its lookup tables included); only the one-off numba compilation is excluded (it is
cached on disk after the first call on a machine).
"""

from __future__ import annotations

import time
import warnings

import lightgbm as lgb
import numpy as np
import shap
from bench_harness import BenchContext, Figure

import models._treeshap as treeshap_impl
from models.treeshap import tree_shap

THREADS = 2


def _data(n_rows: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    weights = rng.normal(size=n_features) * 0.3
    logit = X @ weights + np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    y = (logit + rng.logistic(size=n_rows) > 0).astype(int)
    return X, y


def _model(X: np.ndarray, y: np.ndarray, n_trees: int, num_leaves: int, max_depth: int
           ) -> lgb.Booster:
    params = {"objective": "binary", "num_leaves": num_leaves, "max_depth": max_depth,
              "learning_rate": 0.05, "num_threads": THREADS, "seed": 1, "deterministic": True,
              "verbose": -1}
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=n_trees)


def _rate(n_rows: int, fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return n_rows / (time.perf_counter() - start), result


def _compare(ctx: BenchContext, max_depth: int) -> dict[str, float]:
    if ctx.small:
        n_rows, n_features, n_trees, n_contrib, n_shap = 2_000, 10, 20, 500, 200
    else:
        n_rows, n_features, n_trees, n_contrib, n_shap = 20_000, 60, 300, 3_000, 1_000
    X, y = _data(n_rows, n_features, seed=20)
    booster = _model(X, y, n_trees, 31, max_depth)
    tree_shap(booster, X[:100], n_threads=THREADS)  # compile (or load the compiled kernels)
    treeshap_impl._prepared.cache_clear()  # the timed call starts from the bare booster
    ours_rate, ours = _rate(n_rows, lambda: tree_shap(booster, X, n_threads=THREADS))
    lgb_rate, theirs = _rate(n_contrib, lambda: booster.predict(
        X[:n_contrib], pred_contrib=True, num_threads=THREADS))
    explainer = shap.TreeExplainer(booster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_rate, _ = _rate(n_shap, lambda: explainer.shap_values(X[:n_shap]))
    return {
        "ours": ours_rate,
        "pred_contrib": lgb_rate,
        "shap": shap_rate,
        "diff": float(np.abs(ours[:n_contrib] - theirs).max()),
    }


def bench_treeshap_unlimited_depth(ctx: BenchContext) -> list[Figure]:
    r = _compare(ctx, max_depth=-1)
    return [
        Figure("treeshap_rows_per_second", r["ours"], "rows/s"),
        Figure("pred_contrib_rows_per_second", r["pred_contrib"], "rows/s"),
        Figure("shap_treeexplainer_rows_per_second", r["shap"], "rows/s"),
        Figure("treeshap_speedup_vs_pred_contrib", r["ours"] / r["pred_contrib"], "x", ">= 15"),
        Figure("treeshap_max_abs_diff", r["diff"], "abs", "< 1e-6"),
    ]


def bench_treeshap_depth6(ctx: BenchContext) -> list[Figure]:
    r = _compare(ctx, max_depth=6)
    return [
        Figure("treeshap_rows_per_second_depth6", r["ours"], "rows/s"),
        Figure("pred_contrib_rows_per_second_depth6", r["pred_contrib"], "rows/s"),
        Figure("shap_treeexplainer_rows_per_second_depth6", r["shap"], "rows/s"),
        Figure("treeshap_speedup_vs_pred_contrib_depth6", r["ours"] / r["pred_contrib"], "x"),
        Figure("treeshap_max_abs_diff_depth6", r["diff"], "abs", "< 1e-6"),
    ]


BENCHMARKS = [bench_treeshap_unlimited_depth, bench_treeshap_depth6]
