"""`tierwise train --dataset`, `predict` and `promote` through the CLI on a table it has never seen."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification
from typer.testing import CliRunner

from tierwise.cli import app

runner = CliRunner()


def _flat(output: str) -> str:
    """The output with rich's box drawing and line wrapping removed."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", output)


def _new_table(path, n=1200, seed=0):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=0, random_state=seed)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df.insert(0, "member_no", [f"m{i:05d}" for i in range(n)])
    df["plan"] = np.where(X[:, 0] > 0, "gold", "basic")
    df["left"] = np.where(y == 1, "yes", "no")
    df.to_csv(path, index=False)
    return df


@pytest.mark.slow
def test_train_a_new_flat_table_then_predict_held_out_rows(tmp_path):
    data = _new_table(tmp_path / "members.csv")
    train_rows, held_out = data.iloc[:1000], data.iloc[1000:].drop(columns=["left"])
    train_rows.to_csv(tmp_path / "members.csv", index=False)
    held_out.to_csv(tmp_path / "held_out.csv", index=False)
    (tmp_path / "members.yaml").write_text(yaml.safe_dump({
        "name": "members", "path": "members.csv", "target": "left", "positive_label": "yes",
        "id_columns": ["member_no"]}))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "flat.yaml").write_text(yaml.safe_dump({
        "task": "flat", "kind": "binary", "candidates": ["lightgbm"], "cv_folds": 3, "n_estimators": 150,
        "early_stopping_rounds": 20, "num_threads": 1, "tuning": {"budget_minutes": 0, "max_trials": 0}}))
    result = runner.invoke(app, ["train", "--dataset", str(tmp_path / "members.yaml"),
                                 "--config-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "tierwise-members" in result.output
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["predict", "--model", "models:/tierwise-members@champion",
                                 "--data", str(tmp_path / "held_out.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["member_no", "score"]
    assert scores["member_no"].tolist() == held_out["member_no"].tolist()
    assert scores["score"].between(0, 1).all()
    result = runner.invoke(app, ["promote", "--dataset", str(tmp_path / "members.yaml"),
                                 "--card-out", str(tmp_path / "cards")])
    assert result.exit_code == 0, result.output
    assert "challenger v1" in result.output
    assert "v1 is the first version: confirmed as champion" in result.output
    assert "challenger is not better" not in result.output  # both are v1: nothing was compared
    assert (tmp_path / "cards" / "tierwise-members" / "v1" / "card.html").is_file()  # the approved version's card


def test_train_needs_task_or_dataset():
    result = runner.invoke(app, ["train"])
    assert result.exit_code != 0
    assert "give exactly one of --task or --dataset" in _flat(result.output)


def test_train_unknown_task_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["train", "--task", "happiness", "--data", str(tmp_path)])
    assert result.exit_code != 0
    assert "'happiness' is not a task" in _flat(result.output)


def test_predict_missing_data_file_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["predict", "--model", "models:/x@champion", "--data", str(tmp_path / "no.csv"),
                                 "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "does not exist" in _flat(result.output)
