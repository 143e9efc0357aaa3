"""Champion candidates: LightGBM, LightGBM with monotone constraints, and a logistic
regression on optimally binned (weight-of-evidence) features exported as a points scorecard.

Every candidate exposes `predict_raw(X) -> ndarray` (probability of the positive label for
binary tasks, the prediction for regression) on the model-input frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_LIGHTGBM: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}


# scikit-learn-API and other aliases -> the names used here, so that a dataset's `lightgbm:`
# block (e.g. `colsample_bytree`) overrides the defaults instead of conflicting with them
_ALIASES = {
    "colsample_bytree": "feature_fraction", "sub_feature": "feature_fraction",
    "subsample": "bagging_fraction", "sub_row": "bagging_fraction",
    "subsample_freq": "bagging_freq", "reg_lambda": "lambda_l2", "reg_alpha": "lambda_l1",
    "min_data_in_leaf": "min_child_samples", "min_data": "min_child_samples",
    "eta": "learning_rate", "shrinkage_rate": "learning_rate", "num_leaf": "num_leaves",
    "random_state": "seed",
}


def canonical_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """LightGBM parameters with aliases replaced by one canonical name each."""
    return {_ALIASES.get(k, k): v for k, v in params.items()}


def lightgbm_params(kind: str, params: Mapping[str, Any], *, seed: int, num_threads: int) -> dict[str, Any]:
    """Full LightGBM parameters: defaults, then `params`, then the fixed reproducibility keys."""
    objective = {"binary": "binary", "regression": "regression"}[kind]
    metric = {"binary": "auc", "regression": "l2"}[kind]
    merged = {**DEFAULT_LIGHTGBM, **canonical_params(params)}
    for key in ("n_estimators", "num_iterations", "num_boost_round", "seed"):
        merged.pop(key, None)  # early stopping decides the trees; the task config's seed rules
    return {
        **merged,
        "objective": objective,
        "metric": metric,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "verbosity": -1,
    }


class LightGBMCandidate:
    """A LightGBM booster trained with early stopping on the validation data."""

    name = "lightgbm"

    def __init__(self, booster: lgb.Booster, kind: str, params: dict[str, Any]) -> None:
        self.booster_ = booster
        self.kind = kind
        self.params_ = params
        self.feature_names_ = list(booster.feature_name())

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(X[self.feature_names_], num_threads=self.params_["num_threads"]))

    def importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_, name="gain").sort_values(ascending=False)


def fit_lightgbm(
    X_train: pd.DataFrame, y_train: np.ndarray, X_valid: pd.DataFrame, y_valid: np.ndarray, *,
    kind: str, params: Mapping[str, Any], n_estimators: int, early_stopping_rounds: int,
    seed: int, num_threads: int, monotone: Mapping[str, int] | None = None,
) -> LightGBMCandidate:
    full = lightgbm_params(kind, params, seed=seed, num_threads=num_threads)
    name = "lightgbm"
    if monotone:
        full["monotone_constraints"] = [int(monotone.get(c, 0)) for c in X_train.columns]
        full.setdefault("monotone_constraints_method", "intermediate")
        name = "lightgbm_monotone"
    train_set = lgb.Dataset(X_train, label=np.asarray(y_train, dtype=float), free_raw_data=True)
    valid_set = lgb.Dataset(X_valid, label=np.asarray(y_valid, dtype=float), reference=train_set)
    booster = lgb.train(
        full, train_set, num_boost_round=n_estimators, valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    booster.free_dataset()
    booster.best_iteration = booster.best_iteration or booster.current_iteration()
    # keep only the trees up to the best iteration: the model explained is the model scored
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    candidate = LightGBMCandidate(booster, kind, full)
    candidate.name = name
    logger.info("%s: %d trees", name, booster.num_trees())
    return candidate


def refit_lightgbm(candidate: LightGBMCandidate, X: pd.DataFrame, y: np.ndarray, *,
                   scale: float) -> LightGBMCandidate:
    """The same LightGBM candidate refitted on more rows `X` (e.g. fit + holdout) with
    `scale` x its early-stopped number of trees, and no early stopping."""
    params = dict(candidate.params_)
    rounds = max(1, int(round(candidate.booster_.num_trees() * scale)))
    booster = lgb.train(params, lgb.Dataset(X, label=np.asarray(y, dtype=float)), num_boost_round=rounds)
    booster = lgb.Booster(model_str=booster.model_to_string())
    refitted = LightGBMCandidate(booster, candidate.kind, params)
    refitted.name = candidate.name
    return refitted


def _for_binning(X: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """optbinning wants categorical columns as plain strings (missing stays missing)."""
    out = X.copy()
    for col in categorical:
        values = out[col].astype(object)
        out[col] = values.where(values.notna(), np.nan).astype(object)
    return out


class ScorecardCandidate:
    """Logistic regression on WoE-binned features (optbinning `Scorecard`), with points scaling:
    `base_points` at odds `base_odds`, `pdo` points to double the odds."""

    name = "scorecard"

    def __init__(self, scorecard: Any, categorical: Sequence[str], features: Sequence[str]) -> None:
        self.scorecard_ = scorecard
        self.categorical_ = list(categorical)
        self.feature_names_ = list(features)

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        data = _for_binning(X[self.feature_names_], self.categorical_)
        return np.asarray(self.scorecard_.predict_proba(data)[:, 1])

    def points(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.scorecard_.score(_for_binning(X[self.feature_names_], self.categorical_)))

    def table(self) -> pd.DataFrame:
        return self.scorecard_.table(style="summary")


def fit_scorecard(
    X_train: pd.DataFrame, y_train: np.ndarray, *, categorical: Sequence[str],
    base_points: float, base_odds: float, pdo: float, seed: int,
) -> ScorecardCandidate:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    features = list(X_train.columns)
    categorical = [c for c in categorical if c in features]
    binning = BinningProcess(variable_names=features, categorical_variables=categorical or None,
                             max_n_prebins=20, min_prebin_size=0.02)
    estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    scorecard = Scorecard(
        binning_process=binning, estimator=estimator, scaling_method="pdo_odds",
        scaling_method_params={"pdo": pdo, "odds": base_odds, "scorecard_points": base_points},
    )
    scorecard.fit(_for_binning(X_train, categorical), np.asarray(y_train, dtype=int))
    logger.info("scorecard: %d variables binned", len(features))
    return ScorecardCandidate(scorecard, categorical, features)
