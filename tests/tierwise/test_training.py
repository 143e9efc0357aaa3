"""Training end to end against a real MLflow store in tmp_path (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.datasets import make_classification, make_regression

from tierwise import registry, training
from tierwise.features import ConfigError, DataError, ModelFrame
from tierwise.models import TaskConfig

FEATURES = ("f0", "f1", "f2", "f3", "region")


def flat_frame(n: int = 1500, seed: int = 0, *, noise: bool = False) -> ModelFrame:
    X, y = make_classification(n_samples=n, n_features=4, n_informative=3, n_redundant=0, random_state=seed)
    df = pd.DataFrame(X, columns=list(FEATURES[:-1]))
    df["region"] = pd.array(np.where(X[:, 0] > 0, "north", "south"), dtype="str")
    df.insert(0, "account", pd.array([f"a{i}" for i in range(n)], dtype="str"))
    if noise:  # a deliberately weakened model: it learns from shuffled labels
        y = np.random.default_rng(seed).permutation(y)
    df["label"] = y
    return ModelFrame(df, FEATURES, "label", "binary", id_columns=("account",), categorical=("region",),
                      split_column=None, name="toyflat")


CONFIG = TaskConfig(task="toyflat", kind="binary", candidates=["lightgbm"], cv_folds=3, n_estimators=200,
                    early_stopping_rounds=20, num_threads=1, tuning={"budget_minutes": 0, "max_trials": 0},
                    grades=[{"name": "A", "max_pd": 0.5}, {"name": "B", "max_pd": 1.0}])


@pytest.mark.slow
def test_train_logs_registers_promotes_and_predicts(tmp_path):
    name = "tierwise-toyflat"
    info, result = training.train_frame_and_register(flat_frame(), CONFIG, name=name)
    client = MlflowClient()
    run = client.get_run(info.run_id)
    for key in ("cv_roc_auc_mean", "cv_roc_auc_std", "oof_ece", "oof_brier"):
        assert key in run.data.metrics, key
    assert run.data.params["data_fingerprint"] == result.fingerprint
    artifacts = {a.path for a in client.list_artifacts(info.run_id)}
    assert {"config.yaml", "model_card.md", "roc.png", "calibration.png", "lift_gain.png",
            "importance.png", "grades.csv", "cv_folds.csv", "shap_summary.png"} <= artifacts
    assert any(a.startswith("shap_dependence_") for a in artifacts)
    assert any(a.startswith("shap_waterfall") for a in artifacts), artifacts
    from pathlib import Path

    text = Path(client.download_artifacts(info.run_id, "model_card.md", str(tmp_path))).read_text()
    for section in ("## Intended use", "## Data window", "## Metrics", "## Calibration by grade", "## Limitations"):
        assert section in text
    # first model: challenger and champion
    assert registry.alias_version(client, name, "challenger") == info.version
    assert registry.alias_version(client, name, "champion") == info.version
    assert info.champion

    # a deliberately weakened challenger is registered but not promoted
    weak, _ = training.train_frame_and_register(flat_frame(noise=True), CONFIG, name=name)
    assert not weak.champion
    assert registry.alias_version(client, name, "challenger") == weak.version
    outcome = training.promote(name, flat_frame(seed=0).data)
    assert not outcome.promoted
    assert outcome.challenger_value < outcome.champion_value
    assert registry.alias_version(client, name, "champion") == info.version

    # the registered model scores a raw table without the target
    data = flat_frame(200, seed=5).data.drop(columns=["label"])
    path = tmp_path / "new.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "scores.parquet"
    training.predict_file(f"models:/{name}@champion", path, out)
    scores = pd.read_parquet(out)
    assert list(scores.columns) == ["account", "score"]
    assert len(scores) == 200 and scores["score"].between(0, 1).all()
    loaded = registry.load_model(f"models:/{name}@champion")
    assert loaded.booster_ is not None and loaded.feature_names_ == list(FEATURES)


def test_predict_unknown_model_is_one_line(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"model models:/tierwise-nothing@champion: cannot load"):
        training.predict_file("models:/tierwise-nothing@champion", path, tmp_path / "out.csv")


def test_promote_without_challenger_is_one_line():
    with pytest.raises(DataError, match="no model has the alias 'challenger'"):
        training.promote("tierwise-nothing", flat_frame().data)


def test_missing_reason_entry_fails_before_training(tmp_path, config_dir):
    import shutil

    configs = tmp_path / "configs"
    shutil.copytree(config_dir, configs)
    en = configs / "reasons" / "en.yaml"
    text = en.read_text(encoding="utf-8")
    assert "  complaints:" in text
    en.write_text(text.replace("  complaints:", "  complaints_renamed:", 1), encoding="utf-8")
    from tierwise.settings import load_settings

    settings = load_settings(configs)
    with pytest.raises(ConfigError) as err:
        training.train_tasks(["churn"], data_dir=tmp_path / "no-data-needed", configs={"churn": settings.task("churn")},
                             feature_config=settings.features, catalogues=settings.reasons, budget_minutes=0)
    assert "complaints" in str(err.value) and "en" in str(err.value)


def regression_frame(n: int = 800, seed: int = 0) -> ModelFrame:
    X, y = make_regression(n_samples=n, n_features=4, n_informative=3, noise=5.0, random_state=seed)
    df = pd.DataFrame(X, columns=list(FEATURES[:-1]))
    df["region"] = pd.array(np.where(X[:, 0] > 0, "north", "south"), dtype="str")
    df.insert(0, "account", pd.array([f"a{i}" for i in range(n)], dtype="str"))
    df["value"] = y
    return ModelFrame(df, FEATURES, "value", "regression", id_columns=("account",), categorical=("region",),
                      split_column=None, name="toygrowth")


FRESH_INTERPRETER = """
import importlib.util, json, sys
import mlflow.pyfunc
import pandas as pd
rows = pd.read_parquet(sys.argv[1])
out = {uri: mlflow.pyfunc.load_model(uri).predict(rows).tolist() for uri in sys.argv[2:]}
import tierwise
print(json.dumps({"predictions": out, "tierwise": tierwise.__file__, "path": sys.path,
                  "top_level": [n for n in ("features", "models") if importlib.util.find_spec(n)]}))
"""


@pytest.mark.slow
def test_registered_task_models_load_as_pyfunc_in_a_fresh_interpreter_outside_the_repository(tmp_path):
    """A classifier's pyfunc answers `predict_proba` (rows x 2), a regressor's `predict`; both
    load from the registry where tierwise is installed, from any folder, with no `code_paths`
    and no requirement pointing into the source tree."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[2]
    growth = TaskConfig(task="toygrowth", kind="regression", primary_metric="spearman", candidates=["lightgbm"],
                        cv_folds=3, n_estimators=100, early_stopping_rounds=20, num_threads=1,
                        tuning={"budget_minutes": 0, "max_trials": 0})
    binary, classifier = training.train_frame_and_register(flat_frame(), CONFIG, name="tierwise-toyflat")
    _, regressor = training.train_frame_and_register(regression_frame(), growth, name="tierwise-toygrowth")
    rows = flat_frame(20, seed=3).data.drop(columns=["label"])
    rows.to_parquet(tmp_path / "rows.parquet")
    uris = ["models:/tierwise-toyflat@champion", "models:/tierwise-toygrowth@champion"]

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # MLFLOW_* from the autouse fixture
    done = subprocess.run([sys.executable, "-c", FRESH_INTERPRETER, str(tmp_path / "rows.parquet"), *uris],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    proba = np.asarray(answer["predictions"][uris[0]])
    assert proba.shape == (20, 2)
    np.testing.assert_allclose(proba, classifier.model.predict_proba(rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(answer["predictions"][uris[1]], regressor.model.predict(rows), rtol=0, atol=1e-9)
    assert not answer["top_level"], "a top-level `features`/`models` is importable outside the repository"
    assert str(repo / "src") not in answer["path"] and str(repo) not in answer["path"]
    assert "tierwise/__init__.py" in answer["tierwise"]

    local = Path(MlflowClient().download_artifacts(binary.run_id, "model", str(tmp_path / "logged")))
    flavors = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))["flavors"]
    assert flavors["python_function"]["predict_fn"] == "predict_proba"
    assert not flavors["python_function"].get("code") and not flavors["sklearn"].get("code")
    assert not (local / "code").exists()
    requirements = (local / "requirements.txt").read_text(encoding="utf-8").split()
    assert all("/" not in r and "@" not in r and not r.startswith("-") for r in requirements), requirements


def test_snapshot_months_are_the_latest_with_full_history_and_matured_labels():
    from tierwise.features import FeatureConfig, add_months
    from tierwise.training import snapshot_months

    config = FeatureConfig()
    first = dt.date(2024, 1, 1)
    needed = config.lookback_months + config.max_horizon
    months = needed + 3  # four months can be snapshots
    monthly = pd.DataFrame({"month": pd.to_datetime([add_months(first, i) for i in range(months)])})
    got = snapshot_months(monthly, config, 8)
    assert got == [add_months(first, config.lookback_months - 1 + i) for i in range(4)]
    assert snapshot_months(monthly, config, 2) == got[-2:]
    with pytest.raises(DataError, match="too short for"):
        snapshot_months(monthly.head(needed - 1), config, 8)
