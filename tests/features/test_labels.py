"""Labels: churn, default and growth built from the months after t, with horizon flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at

from tierwise.features import (
    DataError,
    FeatureConfig,
    build_labels,
    label_column,
    snapshot_features,
)

ASSETS = ["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]
ACTIVITY = ["branch_txn_count", "mobile_txn_count", "atm_txn_count", "mobile_logins"]


def _label(labels: pd.DataFrame, client: str, column: str) -> float:
    return float(labels.loc[labels["client_id"] == client, column].iloc[0])


def _rows(monthly: pd.DataFrame, client: str, i: int) -> pd.Series:
    return (monthly["client_id"] == client) & (monthly["month"] == pd.Timestamp(month_at(i)))


def test_label_names_follow_the_horizons(feature_config):
    assert [label_column(t, feature_config) for t in ("churn", "default", "growth")] == \
        ["churn_6m", "default_12m", "growth_12m"]
    assert label_column("churn", FeatureConfig(labels={"churn": {"horizon_months": 3}})) == "churn_3m"


def test_same_clients_as_the_snapshot(bank, feature_config):
    clients, monthly = bank
    labels = build_labels(monthly, month_at(12), feature_config)
    features = snapshot_features(clients, monthly, month_at(12), feature_config)
    assert labels["client_id"].tolist() == features["client_id"].tolist()


def test_closing_within_the_horizon_is_churn(bank, feature_config):
    _, monthly = bank  # C0001 closes in month 20
    assert _label(build_labels(monthly, month_at(15), feature_config), "C0001", "churn_6m") == 1
    assert _label(build_labels(monthly, month_at(13), feature_config), "C0001", "churn_6m") == 0


def test_assets_below_the_floor_without_activity_is_churn(bank, feature_config):
    _, monthly = bank
    monthly = monthly.copy()
    quiet = _rows(monthly, "C0005", 14)
    monthly.loc[quiet, ASSETS] = 1.0
    monthly.loc[quiet, ACTIVITY] = 0
    assert _label(build_labels(monthly, month_at(10), feature_config), "C0005", "churn_6m") == 1
    # the same month with some activity is not churn
    monthly.loc[quiet, "mobile_logins"] = 2
    assert _label(build_labels(monthly, month_at(10), feature_config), "C0005", "churn_6m") == 0


def test_leaving_the_extract_is_churn_but_a_gap_is_not(bank, feature_config):
    _, monthly = bank
    gone = monthly[~((monthly["client_id"] == "C0006") & (monthly["month"] > pd.Timestamp(month_at(12))))]
    assert _label(build_labels(gone, month_at(10), feature_config), "C0006", "churn_6m") == 1
    # C0002's missing month 15 is a gap, not a departure
    assert _label(build_labels(monthly, month_at(12), feature_config), "C0002", "churn_6m") == 0


def test_default_is_90_days_past_due_within_12_months(bank, feature_config):
    _, monthly = bank  # C0003: dpd = 30 * (m - 18), so 90 from month 21
    assert _label(build_labels(monthly, month_at(10), feature_config), "C0003", "default_12m") == 1
    assert _label(build_labels(monthly, month_at(8), feature_config), "C0003", "default_12m") == 0


def test_default_undefined_without_exposure_or_when_already_defaulted(bank, feature_config):
    _, monthly = bank
    labels = build_labels(monthly, month_at(10), feature_config)
    assert np.isnan(_label(labels, "C0004", "default_12m"))  # no loan, no card
    assert np.isnan(_label(build_labels(monthly, month_at(22), feature_config), "C0003", "default_12m"))
    keep = FeatureConfig(labels={"default": {"exclude_defaulted_at_t": False, "horizon_months": 6}})
    assert _label(build_labels(monthly, month_at(22), keep), "C0003", "default_6m") == 1


def test_growth_is_the_log_ratio_of_assets_for_retained_clients(bank, feature_config):
    _, monthly = bank
    labels = build_labels(monthly, month_at(10), feature_config)
    a_t = monthly.loc[_rows(monthly, "C0005", 10), ASSETS].sum(axis=1).iloc[0]
    a_h = monthly.loc[_rows(monthly, "C0005", 22), ASSETS].sum(axis=1).iloc[0]
    assert _label(labels, "C0005", "growth_12m") == pytest.approx(np.log((a_h + 1000) / (a_t + 1000)))
    assert np.isnan(_label(labels, "C0001", "growth_12m"))  # closed in month 20


def test_incomplete_horizons_are_flagged_and_unknown(bank, feature_config):
    _, monthly = bank  # 30 months: 0 .. 29
    labels = build_labels(monthly, month_at(20), feature_config)
    assert labels["churn_complete"].all() and not labels["default_complete"].any()
    assert labels["default_12m"].isna().all() and labels["growth_12m"].isna().all()
    assert labels["churn_6m"].notna().all()
    cut = build_labels(monthly, month_at(20), feature_config, data_end=month_at(24))
    assert not cut["churn_complete"].any() and cut["churn_6m"].isna().all()


def test_snapshot_month_outside_the_data(bank, feature_config):
    _, monthly = bank
    with pytest.raises(DataError, match=r"^snapshot month 2021-12 is outside the data"):
        build_labels(monthly, month_at(-1), feature_config)


def test_a_partition_of_clients_gives_the_same_labels(feature_config):
    _, monthly = make_bank(n_clients=10, seed=4)
    end = month_at(29)
    full = build_labels(monthly, month_at(12), feature_config, data_end=end)
    subset = ["C0001", "C0003", "C0008"]
    part = build_labels(monthly[monthly["client_id"].isin(subset)], month_at(12), feature_config, data_end=end)
    pd.testing.assert_frame_equal(part, full[full["client_id"].isin(subset)].reset_index(drop=True))


def test_one_task_tuple_used_by_every_layer():
    from typing import get_args

    import tierwise.explain
    from tierwise.features import TASKS, Task

    assert TASKS == ("churn", "default", "growth") == get_args(Task)
    assert tierwise.explain.TASKS is TASKS
