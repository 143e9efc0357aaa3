"""The small-bank split: from 3 snapshots, most rows used, client-grouped train / valid, and a
purge gap between a test client's train rows and its test rows."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.config import parse_config
from tierwise.features import (
    SPLITS,
    UNUSED,
    ConfigError,
    DataError,
    FeatureConfig,
    build_training_table,
    task_frame,
)
from tierwise.features._months import month_index
from tierwise.features._trainset import (
    assign_splits,
    choose_split,
    purge_months,
    small_test_snapshots,
    split_method,
    used_share,
)

SMALL = FeatureConfig(split={"method": "small"})


@pytest.fixture(scope="module")
def bank():
    return make_bank(n_clients=60, n_months=30, seed=4)


def _rows(n_clients: int, months: list[int]) -> tuple[pd.Series, pd.Series]:
    """Every client at every snapshot month (indices from month_at), as a stacked table has them."""
    ids = [f"K{i:05d}" for i in range(n_clients)]
    grid = pd.MultiIndex.from_product([ids, [pd.Timestamp(month_at(m)) for m in months]])
    return pd.Series(grid.get_level_values(0)), pd.Series(grid.get_level_values(1))


def _check_no_leak(client_id: pd.Series, month: pd.Series, split: np.ndarray, purge: int) -> None:
    frame = pd.DataFrame({"client": client_id.to_numpy(), "m": [month_index(m) for m in month], "split": split})
    by_split = {s: frame[frame["split"] == s] for s in SPLITS}
    # a client's validation rows are never in train, nor in test
    assert not set(by_split["valid"]["client"]) & set(by_split["train"]["client"])
    assert not set(by_split["valid"]["client"]) & set(by_split["test"]["client"])
    if len(by_split["test"]):
        test_from = by_split["test"]["m"].min()
        # out of time: every train and valid row is before the test period
        assert (by_split["train"]["m"] < test_from).all() and (by_split["valid"]["m"] < test_from).all()
        # purge gap: a test client's train rows are at least `purge` months before its test rows
        both = by_split["train"].merge(by_split["test"], on="client", suffixes=("_train", "_test"))
        assert (both["m_test"] - both["m_train"] >= purge).all()
        assert (both["m_train"] + purge <= test_from).all()  # its label windows end by the test period


def test_three_snapshots_train_under_auto(bank, caplog):
    clients, monthly = bank
    with caplog.at_level(logging.INFO):
        table = build_training_table(clients, monthly, [month_at(i) for i in (13, 14, 15)], FeatureConfig())
    assert "split: small (split.method auto: 3 snapshot months are too few for the periods split)" in caplog.text
    assert set(table["split"]) == {*SPLITS, UNUSED}
    test = table[table["split"] == "test"]
    assert set(test["snapshot_month"]) == {pd.Timestamp(month_at(15))}
    assert set(table.loc[table["split"].isin(["train", "valid"]), "snapshot_month"]) == {
        pd.Timestamp(month_at(13)), pd.Timestamp(month_at(14))}
    for task in ("churn", "default", "growth"):
        frame = task_frame(table, task, FeatureConfig())
        assert set(frame.data["split"]) == set(SPLITS), task
    _check_no_leak(table["client_id"], table["snapshot_month"], table["split"].to_numpy(), 12)


def test_auto_keeps_the_periods_split_when_there_are_enough_snapshots_and_events(bank):
    clients, monthly = bank
    months = [month_at(i) for i in range(8, 14)]
    no_minimum = {"min_events": {"churn": 0, "default": 0}}
    auto = build_training_table(clients, monthly, months, FeatureConfig(split=no_minimum))
    periods = build_training_table(clients, monthly, months, FeatureConfig(split={"method": "periods"}))
    pd.testing.assert_frame_equal(auto, periods)
    assert split_method(5, FeatureConfig()) == "periods" and split_method(4, FeatureConfig()) == "small"
    assert split_method(9, SMALL) == "small"
    dated = FeatureConfig(split={"valid_from": month_at(10), "test_from": month_at(12)})
    assert split_method(3, dated) == "periods"  # dates given: the bank chose its periods
    assert choose_split(_labelled(100, 6, rate=0.0), dated) == (
        "periods", "split.method auto: the periods are given by date (split.valid_from, split.test_from)")


def _labelled(n_clients: int, n_months: int, rate: float, seed: int = 0) -> pd.DataFrame:
    """A stacked table's key and label columns: churn and default events at `rate`."""
    client_id, month = _rows(n_clients, list(range(12, 12 + n_months)))
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"client_id": client_id, "snapshot_month": month})
    for column in ("churn_6m", "default_12m"):
        table[column] = (rng.random(len(table)) < rate).astype(float)
    table["churn_complete"] = table["default_complete"] = True
    table.loc[table.index % 3 == 0, "default_12m"] = np.nan  # no credit exposure: not eligible
    return table


def test_auto_takes_the_small_split_when_the_periods_split_is_short_of_events(bank, caplog):
    table = _labelled(1000, 6, rate=0.02)
    periods = assign_splits(table["client_id"], table["snapshot_month"], FeatureConfig(), "periods")
    counts = {s: int(table.loc[periods == s, "default_12m"].sum()) for s in SPLITS}
    least = min(counts.values())
    assert 0 < least < 30
    method, why = choose_split(table, FeatureConfig(split={"min_events": {"churn": 0, "default": least}}))
    assert (method, why) == ("periods", "split.method auto: 6 snapshot months and enough events for the periods split")
    method, why = choose_split(table, FeatureConfig(split={"min_events": {"churn": 0, "default": least + 1}}))
    short = min(counts, key=lambda s: (counts[s], SPLITS.index(s)))
    assert method == "small"
    assert why == (f"split.method auto: the periods split would leave default: {least} event(s) in {short}, "
                   f"fewer than split.min_events.default {least + 1}")
    assert choose_split(table, FeatureConfig(split={"method": "periods", "min_events": {"default": 1000}}))[0] == "periods"
    assert choose_split(table.iloc[:3000], FeatureConfig())[0] == "small"  # 3 months: too few for the periods

    clients, monthly = bank  # and in build_training_table: the small split, logged
    strict = FeatureConfig(split={"min_events": {"churn": 10_000, "default": 0}})
    months = [month_at(i) for i in range(8, 14)]
    with caplog.at_level(logging.INFO):
        built = build_training_table(clients, monthly, months, strict)
    assert "split: small (split.method auto: the periods split would leave churn: " in caplog.text
    small = build_training_table(clients, monthly, months, FeatureConfig(split={"method": "small"}))
    assert (built["split"] == small["split"]).all()


@pytest.mark.parametrize("n_months", [3, 6, 9])
def test_most_rows_are_used(n_months):
    """Share of rows in a split, 1,500 clients at consecutive snapshot months, horizon 12 (no
    test client's row is old enough to be purged into train): the train and valid groups (75%)
    at every month before the test period, the test group (25%) in the test period (a quarter
    of the months, at least 1): 58%, 67% and 64% of 3, 6 and 9 months; the periods split uses
    half of the train period's rows and a quarter of the others (33% and 39% of 6 and 9)."""
    client_id, month = _rows(1500, list(range(12, 12 + n_months)))
    small = used_share(assign_splits(client_id, month, SMALL))
    n_test = max(1, n_months // 4)
    assert small == pytest.approx((0.75 * (n_months - n_test) + 0.25 * n_test) / n_months, abs=0.02)
    assert small > 0.55
    if n_months >= 5:
        periods = used_share(assign_splits(client_id, month, FeatureConfig(split={"method": "periods"})))
        assert periods == pytest.approx((0.5 * n_months - 1) / n_months, abs=0.02)
        assert small > periods + 0.2


def test_purge_gap_moves_old_test_client_rows_into_train():
    client_id, month = _rows(1500, list(range(0, 9)))
    short = FeatureConfig(labels={"churn": {"horizon_months": 3}, "default": {"horizon_months": 3},
                                  "growth": {"horizon_months": 3}}, split={"method": "small"})
    assert purge_months(short) == 3 and purge_months(SMALL) == 12
    split = assign_splits(client_id, month, short)
    _check_no_leak(client_id, month, split, 3)
    frame = pd.DataFrame({"client": client_id, "m": [month_index(m) for m in month], "split": split})
    test_clients = set(frame.loc[frame["split"] == "test", "client"])
    mine = frame[frame["client"].isin(test_clients)]
    test_from = month_index(month_at(7))  # 9 snapshot months: the latest 2 are the test period
    assert frame.loc[frame["split"] == "test", "m"].min() == test_from
    # train up to test_from - 3, unused inside the gap, test in the test period
    assert set(mine.loc[mine["m"] <= test_from - 3, "split"]) == {"train"}
    assert set(mine.loc[(mine["m"] > test_from - 3) & (mine["m"] < test_from), "split"]) == {UNUSED}
    assert used_share(split) > used_share(assign_splits(client_id, month, SMALL))
    wider = FeatureConfig(split={"method": "small", "small": {"purge_months": 6}})
    _check_no_leak(client_id, month, assign_splits(client_id, month, wider), 6)


@settings(max_examples=60, deadline=None)
@given(n_clients=st.integers(1, 80), months=st.lists(st.integers(0, 40), min_size=2, max_size=12, unique=True),
       test_snapshots=st.one_of(st.none(), st.integers(1, 3)), purge=st.one_of(st.none(), st.integers(1, 24)), seed=st.integers(0, 5))
def test_small_split_never_leaks(n_clients, months, test_snapshots, purge, seed):
    """Any clients, any (not necessarily consecutive) snapshot months, any settings."""
    config = FeatureConfig(split={"method": "small", "client_seed": seed,
                                  "small": {"test_snapshots": test_snapshots, "purge_months": purge}})
    client_id, month = _rows(n_clients, sorted(months))
    n_test = small_test_snapshots(len(months), config)
    if len(months) <= n_test:
        with pytest.raises(DataError, match=r"^the small-bank split needs at least"):
            assign_splits(client_id, month, config)
        return
    split = assign_splits(client_id, month, config)
    assert set(split) <= {*SPLITS, UNUSED}
    _check_no_leak(client_id, month, split, purge_months(config))
    latest = sorted(months)[-n_test:]
    tested = {month_index(month_at(m)) for m in latest}
    assert {month_index(m) for m in month[split == "test"]} <= tested


def test_one_snapshot_is_a_one_line_error(bank):
    clients, monthly = bank
    with pytest.raises(DataError, match=r"^the small-bank split needs at least 2 usable snapshot months "
                                        r"\(1 test, 1\+ train and valid\), got 1; widen the month range") as info:
        build_training_table(clients, monthly, [month_at(12)], FeatureConfig())
    assert "\n" not in str(info.value)


def test_task_frame_carries_the_minimum_events(bank):
    clients, monthly = bank
    config = FeatureConfig(split={"method": "small", "min_events": {"churn": 7}})
    table = build_training_table(clients, monthly, [month_at(i) for i in (13, 14, 15)], config)
    assert task_frame(table, "churn", config).min_events == 7
    assert task_frame(table, "default", config).min_events == 0  # not listed: no check
    assert task_frame(table, "growth", config).min_events == 0
    assert task_frame(table, "default", FeatureConfig()).min_events == 10


@pytest.mark.parametrize(("split", "message"), [
    ({"method": "tiny"}, r"key 'split.method' = 'tiny': Input should be 'auto', 'periods' or 'small'"),
    ({"small": {"test_snapshots": 0}}, r"key 'split.small.test_snapshots' = 0: Input should be greater than or equal to 1"),
    ({"small": {"purge_months": 0}}, r"key 'split.small.purge_months' = 0"),
    ({"small": {"client_groups": {"train": 0.5, "valid": 0.5, "test": 0.5}}},
     r"key 'split.small.client_groups' = dict: Value error, client_groups shares must sum to 1"),
    ({"min_events": {"default": -1}}, r"key 'split.min_events' = dict: Value error, min_events must be 0 or more, got default: -1"),
    ({"min_events": {"growth": 5}}, r"key 'split.min_events.growth."),
])
def test_small_split_config_errors_are_one_line(split, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config({"split": split}, FeatureConfig, source="features.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("features.yaml: ")
