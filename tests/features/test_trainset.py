"""Training tables: stacked snapshots, out-of-time and client-disjoint split, task frames and the leakage screen."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at

from tierwise.config import parse_config
from tierwise.features import (
    PROTECTED_ATTRIBUTES,
    SPLITS,
    UNUSED,
    ConfigError,
    DataError,
    FeatureConfig,
    ModelFrame,
    build_training_table,
    client_groups,
    snapshot_features,
    task_frame,
)

PERIODS = FeatureConfig(split={"method": "periods"})  # 40 clients have too few events for `auto` to keep it


@pytest.fixture(scope="module")
def big_bank():
    return make_bank(n_clients=40, n_months=30, seed=1)


@pytest.fixture(scope="module")
def table(big_bank):
    clients, monthly = big_bank
    return build_training_table(clients, monthly, [month_at(i) for i in range(6, 18)], PERIODS)


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


def test_no_client_in_two_splits(table):
    used = table[table["split"] != UNUSED]
    assert set(table["split"].unique()) == {*SPLITS, UNUSED}
    assert (used.groupby("client_id")["split"].nunique() == 1).all()
    groups = pd.Series(client_groups(table["client_id"], FeatureConfig()), index=table.index)
    assert (groups[used.index] == used["split"]).all()  # the split of a used row is its client's group
    assert (table.groupby("client_id").apply(lambda g: groups[g.index].nunique()) == 1).all()


def test_client_group_does_not_depend_on_the_other_clients():
    ids = pd.Series([f"C{i:06d}" for i in range(2000)])
    config = FeatureConfig()
    base = pd.Series(client_groups(ids, config), index=ids)
    shuffled = ids.sample(frac=1, random_state=3)
    assert (pd.Series(client_groups(shuffled, config), index=shuffled)[ids].to_numpy() == base.to_numpy()).all()
    subset = ids[::7]
    assert (client_groups(subset, config) == base[subset].to_numpy()).all()
    more = pd.concat([ids, pd.Series([f"N{i}" for i in range(500)])], ignore_index=True)
    assert (client_groups(more, config)[:len(ids)] == base.to_numpy()).all()
    repeated = pd.concat([ids, ids[::-1]], ignore_index=True)  # many rows per client
    assert (client_groups(repeated, config) == np.concatenate([base.to_numpy(), base.to_numpy()[::-1]])).all()
    other_seed = client_groups(ids, FeatureConfig(split={"client_seed": 1}))
    assert (other_seed != base.to_numpy()).mean() > 0.3


def test_client_group_shares_as_configured():
    ids = pd.Series([f"C{i:07d}" for i in range(100_000)])
    config = FeatureConfig(split={"client_groups": {"train": 0.6, "valid": 0.15, "test": 0.25}})
    shares = pd.Series(client_groups(ids, config)).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.6, abs=0.006)
    assert shares["valid"] == pytest.approx(0.15, abs=0.006)
    assert shares["test"] == pytest.approx(0.25, abs=0.006)


def test_client_groups_off_gives_the_split_by_period(big_bank, table):
    clients, monthly = big_bank
    config = FeatureConfig(split={"method": "periods", "client_groups": None})
    old = build_training_table(clients, monthly, [month_at(i) for i in range(6, 18)], config)
    assert UNUSED not in set(old["split"])
    pd.testing.assert_frame_equal(old.drop(columns="split"), table.drop(columns="split"))
    used = table["split"] != UNUSED
    assert (old.loc[used, "split"] == table.loc[used, "split"]).all()  # same periods
    by_split = old.groupby("split")["client_id"].nunique()
    assert (by_split == old["client_id"].nunique()).all()  # every client in every split: the leak


@pytest.mark.parametrize("task", ["churn", "default", "growth"])
def test_task_frame_drops_unused_rows(table, task, caplog):
    with caplog.at_level(logging.INFO):
        frame = task_frame(table, task, FeatureConfig())
    assert set(frame.data["split"].unique()) <= set(SPLITS)
    unused = int((table["split"] == UNUSED).sum())
    assert f"{task}: {unused} of {len(table)} rows unused" in caplog.text


@pytest.mark.parametrize(("split", "message"), [
    ({"client_groups": {"train": 0.5, "valid": 0.3, "test": 0.3}},
     r"key 'split.client_groups' = dict: Value error, client_groups shares must sum to 1, got 1.1$"),
    ({"client_groups": {"train": 1.0, "valid": 0.0, "test": 0.0}},
     r"key 'split.client_groups.train' = 1.0: Input should be less than 1"),
    ({"client_groups": {"train": 0.5, "valid": 0.5}}, r"missing required key 'split.client_groups.test'$"),
    ({"client_groups": {"train": 0.5, "vaild": 0.25, "test": 0.25}},
     r"missing required key 'split.client_groups.valid' \(and 1 more problem\)$"),
    ({"client_seed": "x"}, r"key 'split.client_seed' = 'x'"),
])
def test_split_config_errors_are_one_line(split, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config({"split": split}, FeatureConfig, source="features.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("features.yaml: ")


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
    with pytest.raises(DataError, match=r"^the out-of-time split needs at least 5 usable snapshot months .* "
                                         r"or set split.method to small or auto in features.yaml$"):
        build_training_table(clients, monthly, [month_at(10), month_at(11)], FeatureConfig(split={"method": "periods"}))


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


