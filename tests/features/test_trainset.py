"""Training tables: stacked snapshots, out-of-time split, task frames and the leakage screen."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at

from features import (
    PROTECTED_ATTRIBUTES,
    DataError,
    FeatureConfig,
    ModelFrame,
    build_training_table,
    snapshot_features,
    task_frame,
)


@pytest.fixture(scope="module")
def big_bank():
    return make_bank(n_clients=40, n_months=30, seed=1)


@pytest.fixture(scope="module")
def table(big_bank):
    clients, monthly = big_bank
    return build_training_table(clients, monthly, [month_at(i) for i in range(6, 18)], FeatureConfig())


def test_stacks_one_snapshot_per_month(big_bank, table):
    clients, monthly = big_bank
    counts = table.groupby("snapshot_month").size()
    assert len(counts) == 12
    alone = snapshot_features(clients, monthly, month_at(9), FeatureConfig())
    assert counts[pd.Timestamp(month_at(9))] == len(alone)
    assert not table.duplicated(["client_id", "snapshot_month"]).any()


def test_split_is_out_of_time(table):
    by_split = table.groupby("split")["snapshot_month"].agg(["min", "max", "nunique"])
    assert by_split.loc["train", "max"] < by_split.loc["valid", "min"]
    assert by_split.loc["valid", "max"] < by_split.loc["test", "min"]
    assert by_split.loc["valid", "nunique"] == 2 and by_split.loc["test", "nunique"] == 2


def test_split_by_dates(big_bank):
    clients, monthly = big_bank
    config = FeatureConfig(split={"valid_from": month_at(12), "test_from": month_at(15)})
    table = build_training_table(clients, monthly, [month_at(i) for i in range(8, 17)], config)
    months = table.groupby("split")["snapshot_month"].agg(["min", "max"])
    assert months.loc["valid", "min"] == pd.Timestamp(month_at(12))
    assert months.loc["test", "min"] == pd.Timestamp(month_at(15))


def test_snapshots_past_the_horizon_are_excluded_and_logged(big_bank, caplog):
    clients, monthly = big_bank
    ticks = []
    with caplog.at_level(logging.WARNING):
        table = build_training_table(clients, monthly, [month_at(i) for i in range(10, 22)], FeatureConfig(),
                                     progress=ticks.append)
    assert table["snapshot_month"].max() == pd.Timestamp(month_at(17))  # 30 months, 12-month horizon
    assert "excluded 4 snapshot(s) whose 12-month label horizon runs past the data" in caplog.text
    assert sum(ticks) == 12
    assert table[["churn_complete", "default_complete", "growth_complete"]].all().all()


def test_no_usable_snapshot_is_an_error(big_bank):
    clients, monthly = big_bank
    with pytest.raises(DataError, match=r"^no snapshot month between 2023-09 and 2023-11 has its 12-month label horizon"):
        build_training_table(clients, monthly, [month_at(i) for i in range(20, 23)], FeatureConfig())


def test_too_few_snapshots_for_the_split(big_bank):
    clients, monthly = big_bank
    with pytest.raises(DataError, match=r"^the out-of-time split needs at least 5 usable snapshot months"):
        build_training_table(clients, monthly, [month_at(10), month_at(11)], FeatureConfig())


def test_month_outside_the_data(big_bank):
    clients, monthly = big_bank
    with pytest.raises(DataError, match=r"^snapshot month 2030-01 is outside the data"):
        build_training_table(clients, monthly, [month_at(10), pd.Timestamp("2030-01-01").date()], FeatureConfig())


@pytest.mark.parametrize("task", ["churn", "default", "growth"])
def test_task_frame_rows_target_and_features(table, task):
    frame = task_frame(table, task, FeatureConfig())
    assert isinstance(frame, ModelFrame)
    data = frame.data
    assert data[frame.target].notna().all()
    assert not set(frame.features) & {*PROTECTED_ATTRIBUTES, "age_band", "branch", "rm_id", "client_id"}
    assert frame.split_column == "split" and frame.time_column == "snapshot_month"
    for name in frame.categorical:
        assert isinstance(data[name].dtype, pd.CategoricalDtype)
        assert list(data[name].cat.categories) == sorted(table[name].dropna().unique())
    if task == "default":
        assert (data["credit_exposure"] > 0).all()
        assert len(data) < len(table)
    if task == "growth":
        assert frame.kind == "regression" and len(data) < len(table)
    else:
        assert frame.kind == "binary" and set(data[frame.target].unique()) <= {0, 1}


def test_leak_injected_into_a_feature_is_caught(table, caplog):
    leaky = table.copy()
    leaky["fee_income"] = leaky["default_12m"] * 100 + np.arange(len(leaky)) % 3
    with caplog.at_level(logging.WARNING):
        frame = task_frame(leaky, "default", FeatureConfig())
    assert "fee_income" not in frame.features
    assert re.search(r"probable leak: column 'fee_income', AUC 1\.0000", caplog.text)
    kept = task_frame(leaky, "default", FeatureConfig(leak_screen={"keep": ["fee_income"]}))
    assert "fee_income" in kept.features


@pytest.mark.parametrize("task", ["churn", "default"])
def test_leak_by_name_pattern(table, task):
    config = FeatureConfig(leak_screen={"name_patterns": ["^tenure_months$"]})
    assert "tenure_months" not in task_frame(table, task, config).features
    assert "tenure_months" in task_frame(table, task, FeatureConfig()).features


def test_protected_features_when_configured(big_bank):
    clients, monthly = big_bank
    config = FeatureConfig(protected={"use_as_features": True})
    table = build_training_table(clients, monthly, [month_at(i) for i in range(8, 14)], config)
    frame = task_frame(table, "churn", config)
    assert {"gender", "age_band"} <= set(frame.features) and "birth_year" not in frame.features


def test_task_frame_on_a_table_without_labels(table):
    with pytest.raises(DataError, match=r"^training table: missing column\(s\) \['churn_6m'\]"):
        task_frame(table.drop(columns="churn_6m"), "churn", FeatureConfig())


