"""LightGBM hyper-parameter search with Optuna, seeded, within a time budget, scored on the
validation data only (the test data is never seen while tuning).

Reproducibility: the TPE sampler is seeded and `max_trials` caps the search, so the same
inputs give the same parameters whenever the search finishes within `budget_minutes` (the
budget is only a wall-clock guard for slow machines; hitting it is logged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from tierwise.models._candidates import fit_lightgbm
from tierwise.models._metrics import primary_score

logger = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, base: Mapping[str, Any]) -> dict[str, Any]:
    """The search space, centred on the configured starting parameters."""
    from tierwise.models._candidates import canonical_params

    return {
        **canonical_params(base),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 300, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.6, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def tune_lightgbm(
    X_train: pd.DataFrame, y_train: np.ndarray, X_valid: pd.DataFrame, y_valid: np.ndarray, *,
    kind: str, metric: str, base_params: Mapping[str, Any], n_estimators: int,
    early_stopping_rounds: int, seed: int, num_threads: int, budget_minutes: float,
    max_trials: int, progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], float | None, int]:
    """Return (best parameters, best validation score or None, trials run).

    The first trial is the starting parameters themselves, so tuning never does worse on the
    validation data than not tuning."""
    if max_trials <= 0 or budget_minutes <= 0:
        return dict(base_params), None, 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max_trials))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    start_keys = ("learning_rate", "num_leaves", "min_child_samples", "feature_fraction",
                  "bagging_fraction", "lambda_l2")
    from tierwise.models._candidates import DEFAULT_LIGHTGBM, canonical_params

    start = {k: {**DEFAULT_LIGHTGBM, **canonical_params(base_params)}[k] for k in start_keys}
    study.enqueue_trial(start, skip_if_exists=True)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, base_params)
        cand = fit_lightgbm(X_train, y_train, X_valid, y_valid, kind=kind, params=params,
                            n_estimators=n_estimators, early_stopping_rounds=early_stopping_rounds,
                            seed=seed, num_threads=num_threads)
        trial.set_user_attr("trees", cand.booster_.num_trees())
        if progress is not None:
            progress(1)
        return primary_score(metric, y_valid, cand.predict_raw(X_valid))

    began = time.perf_counter()
    study.optimize(objective, n_trials=max_trials, timeout=budget_minutes * 60)
    ran = len(study.trials)
    if ran < max_trials:
        logger.warning("tuning stopped by the %.2f-minute budget after %d of %d trials",
                       budget_minutes, ran, max_trials)
    logger.info("tuning: %d trials in %.1f s, best %s = %.4f", ran, time.perf_counter() - began,
                metric, study.best_value)
    return suggest(optuna.trial.FixedTrial(study.best_params), base_params), float(study.best_value), ran
