from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from tierwise.features import ConfigError, DataError, ModelFrame
from tierwise.models import TaskConfig, TierwiseModel, train_flat, train_split

FEATURES = tuple(f"f{i}" for i in range(6)) + ("colour",)
FAST = {"n_estimators": 200, "early_stopping_rounds": 20, "num_threads": 1,
        "tuning": {"budget_minutes": 0, "max_trials": 0}}


def toy_frame(n: int = 3000, *, seed: int = 0, kind: str = "binary", split: bool = True) -> ModelFrame:
    if kind == "binary":
        X, y = make_classification(n_samples=n, n_features=6, n_informative=4, flip_y=0.05, random_state=seed)
    else:
        X, y = make_regression(n_samples=n, n_features=6, n_informative=4, noise=10.0, random_state=seed)
    df = pd.DataFrame(X, columns=list(FEATURES[:-1]))
    df["colour"] = pd.array(np.where(X[:, 0] > 0.5, "red", np.where(X[:, 1] > 0, "blue", None)), dtype="str")
    df.insert(0, "client_id", pd.array([f"c{i:05d}" for i in range(n)], dtype="str"))
    df["target"] = y
    if split:
        position = np.arange(n) / n
        df["split"] = np.where(position < 0.6, "train", np.where(position < 0.8, "valid", "test"))
        df["snapshot_month"] = pd.to_datetime("2024-01-01") + pd.to_timedelta((position * 300).astype(int), "D")
        df["colour"] = df["colour"].astype("category")
    return ModelFrame(df, FEATURES, "target", kind, categorical=("colour",),
                      split_column="split" if split else None,
                      time_column="snapshot_month" if split else None, name="toy")


def config(**overrides) -> TaskConfig:
    base = {"task": "toy", "kind": "binary", "candidates": ["lightgbm", "lightgbm_monotone", "scorecard"],
            "monotone": {"f0": 1}, **FAST}
    return TaskConfig.model_validate({**base, **overrides})


@pytest.fixture(scope="module")
def trained():
    return train_split(toy_frame(), config(grades=[{"name": "A", "max_pd": 0.3}, {"name": "B", "max_pd": 1.0}]))


def test_split_training_reports_test_metrics_and_every_candidate(trained):
    m = trained.metrics
    for key in ("roc_auc", "pr_auc", "ks", "gini", "brier", "ece", "lift_top_decile", "capture_top_decile"):
        assert np.isfinite(m[key]), key
    assert m["roc_auc"] > 0.8
    assert {"lightgbm", "lightgbm_monotone", "scorecard"} == set(trained.valid_scores)
    assert trained.model.candidate_ == max(trained.valid_scores, key=trained.valid_scores.get)
    assert m["rows_test"] == len(trained.predictions)
    assert trained.grades["n"].sum() == len(trained.predictions)
    assert "Points" in trained.scorecard_table.columns


def test_model_maps_input_frame_to_probabilities_and_exposes_the_booster(trained):
    model: TierwiseModel = trained.model
    frame = toy_frame()
    p = model.predict(frame.data)
    assert p.shape == (len(frame.data),)
    assert np.all((p > 0) & (p < 1))
    if model.booster_ is not None:
        assert list(model.booster_.feature_name()) == model.feature_names_
    # categorical given as plain strings (as read from CSV), with an unseen value, still scores
    raw = frame.data.assign(colour=frame.data["colour"].astype("str").replace("red", "purple"))
    assert np.all(np.isfinite(model.predict(raw)))


def test_monotone_candidate_respects_its_constraint():
    result = train_split(toy_frame(), config(candidates=["lightgbm_monotone"]))
    rows = toy_frame().data.head(200)
    low = result.model.predict_raw(rows.assign(f0=-3.0))
    high = result.model.predict_raw(rows.assign(f0=3.0))
    assert np.all(high >= low - 1e-12)


def test_same_inputs_and_config_give_identical_predictions():
    cfg = config(candidates=["lightgbm"], tuning={"budget_minutes": 5, "max_trials": 2})
    a = train_split(toy_frame(1500), cfg)
    b = train_split(toy_frame(1500), cfg)
    assert a.tuned_params == b.tuned_params
    np.testing.assert_array_equal(a.predictions["score"], b.predictions["score"])


def test_regression_task_trains_without_calibration():
    result = train_split(toy_frame(kind="regression"),
                         config(kind="regression", primary_metric="spearman", candidates=["lightgbm"], monotone={}))
    assert result.model.calibrator_ is None
    assert result.metrics["spearman"] > 0.8
    assert {"rmse", "capture_top_decile"} <= set(result.metrics)


def test_flat_table_cross_validates_then_fits_on_all_rows():
    frame = toy_frame(2000, split=False)
    result = train_flat(frame, config(candidates=["lightgbm", "scorecard"], monotone={}, cv_folds=3))
    assert len(result.folds) == 3
    assert result.metrics["cv_roc_auc_mean"] > 0.8
    assert result.metrics["cv_roc_auc_std"] >= 0
    assert 0 <= result.metrics["oof_ece"] < 0.1
    assert result.predictions["score"].notna().all()  # every row scored out of fold
    assert np.all(np.isfinite(result.model.predict(frame.data.drop(columns=["target"]))))


# -- bad input: one clear line each ---------------------------------------------------------


def test_empty_training_set_is_an_error():
    frame = toy_frame()
    data = frame.data.assign(split=frame.data["split"].replace("train", "valid"))
    empty = ModelFrame(data, frame.features, "target", "binary", categorical=("colour",), name="toy")
    with pytest.raises(DataError, match=r"toy train split: the training set is empty \(0 rows\)"):
        train_split(empty, config())


def test_single_class_label_is_an_error():
    frame = toy_frame()
    data = frame.data.assign(target=0)
    with pytest.raises(DataError, match=r"label 'target' has a single class \(0\)"):
        train_split(ModelFrame(data, frame.features, "target", "binary", name="toy"), config())


def test_task_config_naming_unknown_features_is_an_error():
    with pytest.raises(ConfigError, match=r"'features' names 2 unknown feature\(s\): nope, f99"):
        train_split(toy_frame(), config(features=["f0", "nope", "f99"]))
    with pytest.raises(ConfigError, match=r"'monotone' names 1 unknown feature\(s\): ghost"):
        train_split(toy_frame(), config(monotone={"ghost": 1}))


def test_missing_model_input_column_is_an_error(trained):
    with pytest.raises(DataError, match="input is missing 1 column"):
        trained.model.predict(toy_frame().data.drop(columns=["f3"]))
