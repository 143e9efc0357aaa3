"""Evaluation metrics for binary and regression tasks, computed on out-of-time test data."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """ECE with equal-width probability bins: sum over bins of share x |mean p - rate|."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def top_share_mask(score: np.ndarray, share: float = 0.1) -> np.ndarray:
    """Rows in the top `share` by score (ties broken by position, deterministically)."""
    n = len(score)
    k = max(1, int(round(n * share)))
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def binary_metrics(y: np.ndarray, p: np.ndarray, *, ece_bins: int = 10) -> dict[str, float]:
    """ROC AUC, PR AUC, KS, Gini, Brier, ECE, top-decile lift and capture."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    auc = float(roc_auc_score(y, p))
    top = top_share_mask(p, 0.1)
    base = y.mean()
    return {
        "roc_auc": auc,
        "pr_auc": float(average_precision_score(y, p)),
        "ks": ks_statistic(y, p),
        "gini": 2 * auc - 1,
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p, bins=ece_bins),
        "lift_top_decile": float(y[top].mean() / base) if base > 0 else float("nan"),
        "capture_top_decile": float(y[top].sum() / y.sum()) if y.sum() > 0 else float("nan"),
        "base_rate": float(base),
        "mean_score": float(p.mean()),
        "n": float(len(y)),
    }


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, Spearman, and top-decile capture (share of the true top decile found in the
    predicted top decile)."""
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    true_top = top_share_mask(y, 0.1)
    pred_top = top_share_mask(pred, 0.1)
    return {
        "rmse": rmse,
        "neg_rmse": -rmse,
        "spearman": float(stats.spearmanr(y, pred).statistic),
        "capture_top_decile": float((true_top & pred_top).sum() / true_top.sum()),
        "n": float(len(y)),
    }


def primary_score(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The task's primary metric (larger is better) on one set of predictions."""
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    if metric == "roc_auc":
        return float(roc_auc_score(y, pred))
    if metric == "pr_auc":
        return float(average_precision_score(y, pred))
    if metric == "ks":
        return ks_statistic(y, pred)
    if metric == "spearman":
        return float(stats.spearmanr(y, pred).statistic)
    if metric == "neg_rmse":
        return -float(np.sqrt(np.mean((pred - y) ** 2)))
    raise ValueError(f"unknown metric {metric}")


def oracle_ratio(model_auc: float, oracle_auc: float) -> float:
    """(model AUC - 0.5) / (oracle AUC - 0.5): the share of the oracle's lift over chance."""
    if oracle_auc <= 0.5:
        return float("nan")
    return (model_auc - 0.5) / (oracle_auc - 0.5)
