"""Fast exact TreeSHAP (issue 5, item 7): the project's kernel against LightGBM's own.

On one seeded binary model (300 trees x 31 leaves on 60 numeric features, 20,000 rows), in the
same run: rows per second of `models.tree_shap`, of `Booster.predict(pred_contrib=True)` and of
`shap.TreeExplainer(booster).shap_values` (which calls `pred_contrib` for LightGBM models),
all given 2 threads, and the largest absolute difference between the two exact methods.
Once with unlimited depth and once with max_depth 6. Small scale: a tiny model.

The kernel's figure counts the whole call on a model it has not seen (parsing the model and
building its lookup tables included); only the one-off numba compilation is excluded (it is
cached on disk after the first call on a machine).

The same measurement on the project's own trained models (`bench_treeshap_own_models`): a
synthetic bank of 20,000 clients x 30 months (small scale 1,500), churn and default trained
with the project's trainer as `tierwise train --task` does (LightGBM candidates, no tuning),
timed on their out-of-time test rows (`model.model_inputs`; at most 20,000 for the kernel,
3,000 for `pred_contrib`, 1,000 for `shap`).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap
from bench_harness import BenchContext, Figure

import tierwise.models._treeshap as treeshap_impl
from tierwise.models.treeshap import tree_shap

THREADS = 2
logger = logging.getLogger("bench")


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
    return _timings(booster, X, n_contrib, n_shap)


def _head(X, n: int):
    return X.iloc[:n] if isinstance(X, pd.DataFrame) else X[:n]


def _timings(booster: lgb.Booster, X, n_contrib: int, n_shap: int) -> dict[str, float]:
    """Rows per second of our TreeSHAP on all of X (model parsing included, compilation not),
    of `pred_contrib` on the first `n_contrib` rows and of shap.TreeExplainer on the first
    `n_shap`; the largest difference between ours and `pred_contrib`."""
    tree_shap(booster, _head(X, 100), n_threads=THREADS)  # warm-up: compile (or load) the kernels
    treeshap_impl._prepared.cache_clear()  # the timed call starts from the bare booster
    treeshap_impl._BY_BOOSTER.clear()
    ours_rate, ours = _rate(len(X), lambda: tree_shap(booster, X, n_threads=THREADS))
    lgb_rate, theirs = _rate(n_contrib, lambda: booster.predict(
        _head(X, n_contrib), pred_contrib=True, num_threads=THREADS))
    explainer = shap.TreeExplainer(booster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap_rate, _ = _rate(n_shap, lambda: explainer.shap_values(_head(X, n_shap)))
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


# -- the project's own trained models ------------------------------------------------------

OWN_TASKS = ("churn", "default")


def _own_models(ctx: BenchContext) -> dict[str, tuple[lgb.Booster, object]]:
    """Generate a synthetic bank and train churn and default as `tierwise train --task` does
    (8 latest snapshots, out-of-time split), without tuning (the task configs' starting
    LightGBM parameters) and without the scorecard candidate (it has no trees to explain).
    Returns each task's booster and its out-of-time test inputs (`model_inputs`)."""
    from tierwise.models import train_split
    from tierwise.settings import load_settings
    from tierwise.training import synthetic_frames

    config_dir = Path(__file__).resolve().parents[1] / "configs"
    clients = "1500" if ctx.small else "20000"
    bank = ctx.workdir / "treeshap_bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", "30", "--seed", "7",
                                  "--out", str(bank)), env={"TIERWISE_CONFIG_DIR": str(config_dir)})
    settings = load_settings(config_dir)
    frames = synthetic_frames(bank, OWN_TASKS, settings.require("features"), n_snapshots=8)
    out = {}
    for task in OWN_TASKS:
        config = settings.task(task)
        config = config.model_copy(update={
            "candidates": [c for c in config.candidates if c.startswith("lightgbm")],
            "tuning": config.tuning.model_copy(update={"max_trials": 0}),
        })
        result = train_split(frames[task], config, budget_minutes=0.0)
        booster = result.model.booster_
        X = result.model.model_inputs(frames[task].part("test"))
        note = (f"treeshap own {task} model: {result.model.candidate_}, {booster.num_trees()} trees, "
                f"{X.shape[1]} features, {len(X)} test rows")
        ctx.notes.append(note)
        logger.info(note)
        out[task] = (booster, X)
    return out


def _compare_own(ctx: BenchContext, booster: lgb.Booster, X) -> dict[str, float]:
    n_ours, n_contrib, n_shap = (len(X), 500, 200) if ctx.small else (min(len(X), 20_000), 3_000, 1_000)
    X = X.iloc[:n_ours]
    n_contrib, n_shap = min(n_contrib, len(X)), min(n_shap, len(X))
    return _timings(booster, X, n_contrib, n_shap)


def bench_treeshap_own_models(ctx: BenchContext) -> list[Figure]:
    r = {task: _compare_own(ctx, booster, X) for task, (booster, X) in _own_models(ctx).items()}
    churn = r["churn"]
    return [
        Figure("treeshap_speedup_vs_pred_contrib_churn_model", churn["ours"] / churn["pred_contrib"], "x"),
        Figure("treeshap_speedup_vs_pred_contrib_default_model",
               r["default"]["ours"] / r["default"]["pred_contrib"], "x"),
        Figure("treeshap_rows_per_second_churn_model", churn["ours"], "rows/s"),
        Figure("pred_contrib_rows_per_second_churn_model", churn["pred_contrib"], "rows/s"),
        Figure("shap_treeexplainer_rows_per_second_churn_model", churn["shap"], "rows/s"),
        Figure("treeshap_max_abs_diff_own_models", max(v["diff"] for v in r.values()), "abs", "< 1e-6"),
    ]


BENCHMARKS = [bench_treeshap_unlimited_depth, bench_treeshap_depth6, bench_treeshap_own_models]
