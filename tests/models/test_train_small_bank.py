"""Training on a small bank's stacked table: 3 snapshot months, the small split chosen by
`auto`, growth trains and churn (no event at all) stops with the event counts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tierwise.features import DataError, FeatureConfig, build_training_table, task_frame
from tierwise.models import TaskConfig, train_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from feature_bank import make_bank, month_at  # noqa: E402 - the feature tests' tiny bank

SHORT = FeatureConfig(windows=[1, 3, 6], labels={"churn": {"horizon_months": 3}, "default": {"horizon_months": 6},
                                                 "growth": {"horizon_months": 6}})
FAST = {"candidates": ["lightgbm"], "n_estimators": 30, "early_stopping_rounds": 5, "num_threads": 1,
        "tuning": {"budget_minutes": 0, "max_trials": 0}}


@pytest.fixture(scope="module")
def table():
    clients, monthly = make_bank(n_clients=300, n_months=24, seed=5)
    return build_training_table(clients, monthly, [month_at(i) for i in (15, 16, 17)], SHORT)


def test_three_snapshots_train(table):
    frame = task_frame(table, "growth", SHORT)
    result = train_split(frame, TaskConfig(task="growth", kind="regression", primary_metric="spearman", **FAST))
    used = int((table["split"] != "unused").sum())
    assert used / len(table) > 0.5  # the periods split would refuse 3 months, and use about a third
    rows = {s: int(result.metrics[f"rows_{s}"]) for s in ("train", "valid", "test")}
    assert sum(rows.values()) == len(frame.data) and min(rows.values()) > 0
    assert set(result.predictions["snapshot_month"].dt.strftime("%Y-%m")) == {month_at(17).strftime("%Y-%m")}


def test_a_task_without_events_names_the_counts(table):
    """The path of the issue's "label 'churn_3m' has a single class (0)"."""
    frame = task_frame(table, "churn", SHORT)
    assert frame.min_events == 10 and frame.data["churn_3m"].sum() == 0
    with pytest.raises(DataError, match=r"^churn: 0 events in train, 0 in valid, 0 in test \(of [\d,]+ / [\d,]+ / "
                                        r"[\d,]+ rows, label 'churn_3m'\); need 10 per split") as info:
        train_split(frame, TaskConfig(task="churn", kind="binary", **FAST))
    assert "\n" not in str(info.value)
