"""The check before training that each split holds enough events for a binary task."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tierwise.features import DataError, ModelFrame
from tierwise.models import TaskConfig, train_split

FEATURES = ("f0", "f1", "f2")


def toy_frame(n: int, *, kind: str = "binary") -> ModelFrame:
    """`n` rows, 60% train, 20% valid, 20% test; the label is set by each test."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=list(FEATURES))
    df.insert(0, "client_id", [f"c{i:05d}" for i in range(n)])
    position = np.arange(n) / n
    df["split"] = np.where(position < 0.6, "train", np.where(position < 0.8, "valid", "test"))
    df["snapshot_month"] = pd.Timestamp("2024-01-01")
    df["target"] = df["f0"] + rng.normal(size=n) if kind == "regression" else 0
    return ModelFrame(df, FEATURES, "target", kind, time_column="snapshot_month", name="toy")


def config(**overrides) -> TaskConfig:
    return TaskConfig.model_validate({
        "task": "toy", "kind": "binary", "candidates": ["lightgbm"], "n_estimators": 20,
        "early_stopping_rounds": 5, "num_threads": 1, "tuning": {"budget_minutes": 0, "max_trials": 0},
        **overrides})


def _with_events(frame, events: dict[str, int], min_events: int, name: str = "default"):
    """`frame` with exactly `events[split]` rows of label 1 in each split."""
    data = frame.data.copy()
    data["target"] = 0
    for split, n in events.items():
        rows = np.flatnonzero(data["split"].to_numpy() == split)[:n]
        data.loc[rows, "target"] = 1
    return dataclasses.replace(frame, data=data, min_events=min_events, name=name)


def test_too_few_events_is_one_error_with_every_count_and_what_to_change():
    frame = _with_events(toy_frame(1000), {"train": 3, "valid": 0, "test": 25}, min_events=20)
    with pytest.raises(DataError) as info:
        train_split(frame, config())
    message = str(info.value)
    assert message == (
        "default: 3 events in train, 0 in valid, 25 in test (of 600 / 200 / 200 rows, label 'target'); "
        "need 20 per split (split.min_events.default in features.yaml); add snapshot months (--snapshots), "
        "use the small-bank split (split.method: small; split.small.test_snapshots widens its test), "
        "or leave the default task out")


def test_a_single_class_split_is_reported_as_missing_events_not_as_a_crash():
    """The path that said "label 'churn_3m' has a single class (0)" now names the counts."""
    frame = _with_events(toy_frame(1000), {"train": 0, "valid": 0, "test": 0}, min_events=1, name="churn")
    with pytest.raises(DataError, match=r"^churn: 0 events in train, 0 in valid, 0 in test .*need 1 per split"
                                        r" \(split.min_events.churn in features.yaml\); .*leave the churn task out$"):
        train_split(frame, config())


def test_a_split_of_events_only_is_named():
    frame = _with_events(toy_frame(1000), {"train": 600, "valid": 200, "test": 50}, min_events=10)
    with pytest.raises(DataError, match=r"need 10 per split and a non-event \(train, valid has none\)"):
        train_split(frame, config())


def test_enough_events_trains():
    frame = _with_events(toy_frame(1000), {"train": 20, "valid": 20, "test": 20}, min_events=20)
    result = train_split(frame, config())
    assert result.metrics["rows_test"] == 200


def test_no_minimum_keeps_the_two_class_check():
    frame = _with_events(toy_frame(1000), {"train": 0, "valid": 5, "test": 5}, min_events=0)
    with pytest.raises(DataError, match=r"^default train split: label 'target' has a single class \(0\)"):
        train_split(frame, config())


def test_regression_frames_are_not_checked_for_events():
    frame = dataclasses.replace(toy_frame(1000, kind="regression"), min_events=50)
    result = train_split(frame, config(kind="regression", primary_metric="spearman"))
    assert result.metrics["rows_train"] == 600


def test_a_monotone_feature_the_leak_screen_dropped_is_skipped_not_unknown():
    # on a small bank the leak screen can drop a feature the task config names (monotone)
    frame = _with_events(toy_frame(1000), {"train": 20, "valid": 20, "test": 20}, min_events=20)
    screened = dataclasses.replace(frame, features=("f0", "f1"), screened_out=("f2",),
                                   data=frame.data.drop(columns="f2"))
    result = train_split(screened, config(monotone={"f2": 1, "f1": 1}))
    assert result.metrics["rows_test"] == 200
    with pytest.raises(Exception, match="unknown feature"):  # a name that is nowhere is still an error
        train_split(screened, config(monotone={"f9": 1}))
