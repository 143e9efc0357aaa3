"""Evaluation plots (matplotlib; headless machines fall back to the Agg backend): ROC, calibration, lift/gain, feature importance.

Each function draws one figure and writes it to `path` (PNG) atomically; returns the path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from tierwise.features import atomic_path


def _save(fig: plt.Figure, path: Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_roc(y: np.ndarray, p: np.ndarray, path: Path, *, title: str = "ROC") -> Path:
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_calibration(y: np.ndarray, p: np.ndarray, path: Path, *, bins: int = 10,
                     title: str = "Calibration") -> Path:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": idx, "p": p, "y": y}).groupby("bin").agg(p=("p", "mean"), y=("y", "mean"),
                                                                         n=("y", "size"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.scatter(frame["p"], frame["y"], s=20 + 200 * frame["n"] / frame["n"].max(), label="bins")
    ax.plot(frame["p"], frame["y"])
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=title)
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_lift_gain(y: np.ndarray, score: np.ndarray, path: Path, *, title: str = "Cumulative gain and lift") -> Path:
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    cum = np.cumsum(y[order])
    share = np.arange(1, len(y) + 1) / len(y)
    gain = cum / max(cum[-1], 1e-12)
    lift = gain / share
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    a1.plot(share, gain, label="model")
    a1.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    a1.set(xlabel="share of clients (by score)", ylabel="share of target captured", title="Gain")
    a1.legend(loc="lower right")
    a2.plot(share, lift)
    a2.axhline(1.0, linestyle="--", color="grey")
    a2.set(xlabel="share of clients (by score)", ylabel="lift", title="Lift")
    fig.suptitle(title)
    return _save(fig, path)


def plot_importance(importance: pd.Series, path: Path, *, top: int = 20, title: str = "Feature importance (gain)") -> Path:
    shown = importance.sort_values(ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(shown) + 1.5))
    ax.barh(list(map(str, shown.index)), shown.to_numpy())
    ax.set(xlabel="total gain", title=title)
    return _save(fig, path)


def plot_regression(y: np.ndarray, pred: np.ndarray, path: Path, *, title: str = "Predicted vs actual") -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(pred, y, s=4, alpha=0.3)
    lo, hi = float(np.nanmin([np.min(y), np.min(pred)])), float(np.nanmax([np.max(y), np.max(pred)]))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="grey")
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    return _save(fig, path)
