"""Global SHAP plots: drawn with shap's own plots from the fast kernel's values, saved as PNG."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tierwise.features import DataError
from tierwise.models._explain_plots import log_global_explanations, shap_explanation


@pytest.fixture(scope="module")
def booster_and_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 6)), columns=[f"x{i}" for i in range(6)])
    X["region"] = pd.Categorical(rng.choice(["north", "south", "east"], 400))
    y = ((X["x0"] + 0.5 * X["x1"] * (X["region"] == "north") + rng.logistic(size=400)) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 1},
                        lgb.Dataset(X, y), num_boost_round=20)
    return booster, X


def test_explanation_holds_the_kernel_values(booster_and_data):
    booster, X = booster_and_data
    contrib = booster.predict(X, pred_contrib=True)
    exp = shap_explanation(contrib, X)
    assert exp.values.shape == (400, 7)
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_values, booster.predict(X, raw_score=True), atol=1e-9)
    assert exp.feature_names[-1] == "region"
    assert np.isfinite(exp.data[:, -1]).all()  # categories as codes


def test_summary_dependence_and_waterfalls_are_written(booster_and_data, tmp_path):
    booster, X = booster_and_data
    paths = log_global_explanations(booster, X, tmp_path, top=2, waterfalls=2, max_rows=300)
    names = sorted(p.name for p in paths)
    assert "shap_summary.png" in names
    assert sum(n.startswith("shap_dependence_") for n in names) == 2
    assert {"shap_waterfall_1.png", "shap_waterfall_2.png"} <= set(names)
    assert "shap_dependence_x0.png" in names  # the strongest feature is plotted
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_model_without_a_booster_gives_no_plots(booster_and_data, tmp_path):
    class Scorecard:
        booster_ = None

    assert log_global_explanations(Scorecard(), booster_and_data[1], tmp_path) == []


def test_bad_inputs_are_one_line(booster_and_data, tmp_path):
    booster, X = booster_and_data
    with pytest.raises(DataError, match="does not exist"):
        log_global_explanations(booster, X, tmp_path / "nope")
    with pytest.raises(DataError, match="no rows"):
        log_global_explanations(booster, X.iloc[:0], tmp_path)
