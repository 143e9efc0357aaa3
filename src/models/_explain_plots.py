"""Global explanations of a trained model, drawn with the `shap` package's own plots.

`log_global_explanations(model, X_sample, out_dir)` computes SHAP values with the project's
fast kernel (`models.treeshap.tree_shap`), wraps them in a `shap.Explanation` (values, base
values, data, feature names) and saves, as PNG (matplotlib Agg):
- `shap_summary.png`: the beeswarm summary of the top features;
- `shap_dependence_<feature>.png`: a dependence (scatter) plot per top feature;
- `shap_waterfall_<i>.png`: a waterfall per sample client (highest, median and lowest score).
The trainer logs the returned files as MLflow artifacts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import DataError, atomic_path

logger = logging.getLogger(__name__)


def shap_explanation(contrib: np.ndarray, X: pd.DataFrame) -> Any:
    """A `shap.Explanation` from kernel values (features + expected value last) and inputs.
    Categorical inputs are shown by their category code (what the trees split on)."""
    import shap

    data = np.column_stack([
        X[c].cat.codes.to_numpy(dtype=np.float64) if isinstance(X[c].dtype, pd.CategoricalDtype)
        else pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=np.float64) for c in X.columns
    ]) if len(X.columns) else np.zeros((len(X), 0))
    if isinstance(data, np.ndarray) and data.size:
        data = np.where(np.isfinite(data), data, np.nan)
    return shap.Explanation(values=contrib[:, :-1], base_values=contrib[:, -1], data=data,
                            feature_names=[str(c) for c in X.columns])


def _save(path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path, suffix=".png") as tmp:
            plt.gcf().savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close("all")
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


def log_global_explanations(model: Any, X_sample: pd.DataFrame, out_dir: str | Path, *, top: int = 5,
                            summary_features: int = 15, waterfalls: int = 3, max_rows: int = 2000, seed: int = 0,
                            ids: Sequence[str] | None = None) -> list[Path]:
    """Write the SHAP summary (the `summary_features` strongest features), dependence plots of the `top` features and `waterfalls` waterfall
    plots for `model` (a `TierwiseModel`, or a LightGBM booster with `X_sample` as its inputs)
    on at most `max_rows` rows of `X_sample`. Returns the PNG paths ([] for a model without a
    LightGBM booster, e.g. the scorecard)."""
    import matplotlib.pyplot as plt
    import shap

    from tierwise.models.treeshap import tree_shap

    out = Path(out_dir)
    if not out.is_dir():
        raise DataError(f"{out}: output folder for the SHAP plots does not exist")
    if len(X_sample) == 0:
        raise DataError("SHAP plots: the sample has no rows")
    booster = getattr(model, "booster_", model)
    if booster is None or not hasattr(booster, "dump_model"):
        logger.info("SHAP plots skipped: the model has no LightGBM booster")
        return []
    if len(X_sample) > max_rows:
        X_sample = X_sample.sample(n=max_rows, random_state=seed)
        ids = None
    X = model.model_inputs(X_sample) if hasattr(model, "model_inputs") else X_sample
    explanation = shap_explanation(tree_shap(booster, X), X)
    paths: list[Path] = []
    plt.figure()
    shap.plots.beeswarm(explanation, max_display=max(summary_features, top) + 1, show=False)
    plt.title("SHAP summary")
    paths.append(_save(out / "shap_summary.png"))
    order = np.argsort(-np.abs(explanation.values).mean(axis=0), kind="stable")[:top]
    for j in order:
        name = explanation.feature_names[j]
        shap.plots.scatter(explanation[:, int(j)], show=False)
        paths.append(_save(out / f"shap_dependence_{_slug(name)}.png"))
    score = explanation.values.sum(axis=1) + explanation.base_values
    ranked = np.argsort(-score, kind="stable")
    picks = list(dict.fromkeys(int(ranked[int(round(q * (len(ranked) - 1)))])
                               for q in np.linspace(0.0, 1.0, max(waterfalls, 1))))[:waterfalls]
    for i, row in enumerate(picks, start=1):
        shap.plots.waterfall(explanation[row], max_display=top + 1, show=False)
        label = f" ({ids[row]})" if ids is not None else ""
        plt.title(f"Sample client {i}{label}")
        paths.append(_save(out / f"shap_waterfall_{i}.png"))
    logger.info("SHAP plots: %d files in %s", len(paths), out)
    return paths
