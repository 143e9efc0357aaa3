"""The checks of a governance card, recomputed from a version's logged scored rows:
calibration by score decile, fairness of the decision by protected group, score stability (PSI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tierwise.models import PolicyConfig
from tierwise.reports import FairnessConfig, MonitorConfig, PsiConfig

ALPHA = 0.05


def decile_calibration(label: np.ndarray, score: np.ndarray, kind: str) -> pd.DataFrame:
    """Calibration by score decile: for a binary score the grade test (Jeffreys and binomial) per
    decile; for a regression the mean prediction against the mean outcome."""
    from tierwise.models import grade_table

    label, score = np.asarray(label, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(label) & np.isfinite(score)
    label, score = label[keep], score[keep]
    if kind == "binary":
        inner = np.unique(np.quantile(score, np.linspace(0.1, 0.9, 9)))
        inner = inner[(inner > 0) & (inner < 1)]
        bounds = [*inner.tolist(), 1.0]
        names = [f"D{i + 1}" for i in range(len(bounds))]
        return grade_table(label, score, bounds, names, alpha=ALPHA)
    decile = pd.qcut(pd.Series(score).rank(method="first"), 10, labels=[f"D{i + 1}" for i in range(10)])
    frame = pd.DataFrame({"decile": decile.astype("str"), "predicted": score, "actual": label})
    return (frame.groupby("decile", sort=False)
            .agg(n=("actual", "size"), mean_predicted=("predicted", "mean"), mean_actual=("actual", "mean"))
            .reset_index().sort_values("decile", key=lambda s: s.str[1:].astype(int)).reset_index(drop=True))


def paired_bootstrap(label: np.ndarray, challenger: np.ndarray, champion: np.ndarray, metric: str, *,
                     resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """The difference of `metric` (challenger minus champion) on the same rows and its paired
    percentile-bootstrap interval: each resample draws the same rows for both models, so the
    noise both share cancels. Resamples with a single class (no AUC) are skipped."""
    from tierwise.models import primary_score

    label = np.asarray(label, dtype=float)
    challenger, champion = np.asarray(challenger, dtype=float), np.asarray(champion, dtype=float)
    rng = np.random.default_rng(seed)
    n = label.size
    diffs = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        y = label[idx]
        if metric in ("roc_auc", "pr_auc", "ks") and np.unique(y).size < 2:
            continue
        diffs.append(primary_score(metric, y, challenger[idx]) - primary_score(metric, y, champion[idx]))
    values = np.asarray(diffs, dtype=float)
    values = values[np.isfinite(values)]
    tail = (1 - confidence) / 2
    low, high = (np.quantile(values, [tail, 1 - tail]) if values.size else (np.nan, np.nan))
    return {"difference": primary_score(metric, label, challenger) - primary_score(metric, label, champion),
            "low": float(low), "high": float(high), "resamples": int(values.size), "confidence": confidence}


def fairness_decision(task: str, kind: str, thresholds: Mapping[str, float]) -> tuple[str, float | None]:
    """How a model's score becomes a decision for the fairness comparison: the policy threshold
    for churn and default, the top decile of scores otherwise."""
    if kind == "binary" and task == "churn" and "churn" in thresholds:
        return f"churn likelihood at or above the policy threshold {thresholds['churn']:.1%}", thresholds["churn"]
    if kind == "binary" and task == "default" and "default" in thresholds:
        return f"default risk at or above the policy limit {thresholds['default']:.1%}", thresholds["default"]
    return "score in the top decile of the evaluated rows", None


def model_fairness(rows: pd.DataFrame, *, kind: str, threshold: float | None, cfg: Any) -> list[dict[str, Any]]:
    """Selection rate per group and the selection-rate ratio (fairlearn, via
    `reports.compare_groups`) and the true-positive-rate difference against the rows' labels,
    for each protected attribute in `rows`. `threshold` None: top decile of scores."""
    from tierwise.reports import compare_groups, interval_text

    score = rows["score"].astype(float)
    cut = threshold if threshold is not None else float(score.quantile(0.9))
    decision = (score >= cut).astype("float64")
    label = rows["label"].astype(float)
    if kind != "binary":  # a regression's "positive": an actual outcome in the top decile
        label = (label >= label.quantile(0.9)).astype("float64").where(rows["label"].notna())
    out = []
    for attribute in cfg.attributes:
        if attribute not in rows.columns:
            continue
        result = compare_groups(decision, rows[attribute].astype("str"), cfg, labels=label)
        ratio, diff = result["selection_rate_ratio"], result["tpr_difference"]
        breaches = []
        if result["ratio_alerts"]:
            breaches.append(f"selection-rate ratio {ratio:.3f} ({' against '.join(result['ratio_groups'])}, interval "
                            f"{interval_text(result['selection_rate_ratio_ci'])}) below {cfg.min_selection_rate_ratio}")
        if result["tpr_alerts"]:
            breaches.append(f"true-positive-rate difference {diff:.3f} (interval "
                            f"{interval_text(result['tpr_difference_ci'])}) above {cfg.max_tpr_difference}")
        out.append({"attribute": attribute, **result, "breaches": breaches})
    return out


def score_stability(rows: pd.DataFrame, time_column: str | None, cfg: Any) -> list[dict[str, Any]]:
    """PSI of the score: the whole test period against the validation period (the baseline),
    then each test month against it. Warn/alert at `cfg.warn` / `cfg.alert`."""
    from tierwise.reports import psi, psi_status

    base = rows.loc[rows["split"] == "valid", "score"]
    test = rows[rows["split"] == "test"]
    if base.empty or test.empty:
        return []
    out = []

    def add(label: str, values: pd.Series) -> None:
        value = psi(base, values, bins=cfg.bins, epsilon=cfg.epsilon)
        out.append({"compared": label, "rows": len(values), "psi": value, "status": psi_status(value, cfg)})

    add("test period vs validation period", test["score"])
    if time_column and time_column in test.columns:
        months = pd.to_datetime(test[time_column]).dt.strftime("%Y-%m")
        if months.nunique() > 1:
            for month in sorted(months.unique()):
                add(f"test month {month} vs validation period", test.loc[months == month, "score"])
    return out


def fairness_settings(monitor: MonitorConfig | None, policy: PolicyConfig | None
                      ) -> tuple[FairnessConfig, PsiConfig, dict[str, float]]:
    """Fairness and PSI settings from the monitor config (defaults when None); the decision
    thresholds from the policy the recommender was registered with (the same single source of
    truth as `tierwise monitor`), else the monitor config's fallbacks."""
    cfg = monitor if monitor is not None else MonitorConfig()
    thresholds = {"churn": cfg.fairness.churn_threshold, "default": cfg.fairness.default_threshold}
    if policy is not None:
        thresholds = {"churn": policy.retention.min_p_churn, "default": policy.risk.pd_limit}
    return cfg.fairness, cfg.psi, thresholds
