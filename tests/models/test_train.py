from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import make_classification, make_regression
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

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
    p = model.predict_score(frame.data)
    assert p.shape == (len(frame.data),)
    assert np.all((p > 0) & (p < 1))
    if model.booster_ is not None:
        assert list(model.booster_.feature_name()) == model.feature_names_
    # categorical given as plain strings (as read from CSV), with an unseen value, still scores
    raw = frame.data.assign(colour=frame.data["colour"].astype("str").replace("red", "purple"))
    assert np.all(np.isfinite(model.predict_score(raw)))


def test_a_binary_task_model_is_a_scikit_learn_classifier(trained):
    model: TierwiseModel = trained.model
    data = toy_frame().data
    assert is_classifier(model) and not is_regressor(model)
    assert get_tags(model).estimator_type == "classifier"
    np.testing.assert_array_equal(model.classes_, [0, 1])
    check_is_fitted(model)
    p = model.predict_score(data)
    proba = model.predict_proba(data)
    assert proba.shape == (len(data), 2)
    np.testing.assert_array_equal(proba[:, 1], p)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels = model.predict(data)
    np.testing.assert_array_equal(labels, (p > 0.5).astype(int))
    np.testing.assert_array_equal(labels, model.classes_[proba.argmax(axis=1)])  # the argmax's class
    assert 0.5 < model.score(data, data["target"]) <= 1.0  # accuracy


def test_a_regression_task_model_is_a_scikit_learn_regressor():
    result = train_split(toy_frame(1500, kind="regression"),
                         config(kind="regression", primary_metric="spearman", candidates=["lightgbm"], monotone={}))
    model, data = result.model, toy_frame(1500, kind="regression").data
    assert is_regressor(model) and not is_classifier(model)
    assert not hasattr(model, "predict_proba") and not hasattr(model, "classes_")
    np.testing.assert_array_equal(model.predict(data), model.predict_score(data))
    assert model.score(data, data["target"]) > 0.5  # R²


def test_parameters_are_the_fitted_parts_and_clone_keeps_the_frozen_model(trained):
    """`__init__` stores its arguments untouched (`get_params` gives them back); the parts are
    fitted by the trainer, so `clone` and `fit` keep the model as it is (sklearn's FrozenEstimator)."""
    model: TierwiseModel = trained.model
    params = model.get_params(deep=False)
    assert params["estimator"] is model.estimator_ and params["calibrator"] is model.calibrator_
    assert params["feature_names"] is model.feature_names_ and params["kind"] == "binary"
    rebuilt = TierwiseModel(**params)
    data = toy_frame().data.head(50)
    np.testing.assert_array_equal(rebuilt.predict_proba(data), model.predict_proba(data))
    assert clone(model) is model
    assert model.fit(data, data["target"]) is model
    np.testing.assert_array_equal(list(model.feature_names_in_), model.input_columns_)
    assert "TierwiseModel(" in repr(model)


@pytest.mark.parametrize("check", ["check_no_attributes_set_in_init", "check_get_params_invariance",
                                   "check_set_params", "check_estimator_cloneable",
                                   "check_estimator_tags_renamed",
                                   "check_do_not_raise_errors_in_init_or_set_params"])
def test_scikit_learn_api_checks_that_need_no_refit(trained, check):
    """scikit-learn's checks of the estimator API itself; the others fit on their own data,
    which a frozen model does not (its tags say so)."""
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("TierwiseModel", trained.model)


def test_a_model_pickled_with_the_former_attribute_names_still_loads(trained):
    import pickle

    model: TierwiseModel = trained.model
    former = object.__new__(TierwiseModel)
    former.__dict__.update({"task": model.task, "kind": model.kind,
                            **{f"{k}_": v for k, v in model.get_params(deep=False).items()
                               if k not in ("task", "kind")}})
    loaded = pickle.loads(pickle.dumps(former))
    data = toy_frame().data.head(20)
    np.testing.assert_array_equal(loaded.predict_score(data), model.predict_score(data))
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()


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
    assert np.all(np.isfinite(result.model.predict_score(frame.data.drop(columns=["target"]))))


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
