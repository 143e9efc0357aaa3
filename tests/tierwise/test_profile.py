"""`tierwise.profile`: column statuses, feature inputs, usable snapshot months, label counts
and the trainable verdict of each task, on small hand-built and synthetic banks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    DataError,
    FeatureConfig,
    add_months,
    feature_catalog,
)
from tierwise.profile import (
    column_status,
    feature_inputs,
    profile_features,
    profile_tables,
    usable_snapshot_months,
)

START = dt.date(2023, 1, 1)
SHORT = FeatureConfig.model_validate({
    "windows": [1, 3],
    "labels": {"churn": {"horizon_months": 3}, "default": {"horizon_months": 3}, "growth": {"horizon_months": 3}},
})
CONTRACT = {c.name for c in (*CLIENT_COLUMNS, *MONTHLY_COLUMNS)}


def steady_bank(n_clients: int = 40, n_months: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clients who stay, with varying deposits and activity, no credit, no investments."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:03d}" for i in range(n_clients)]
    clients = pd.DataFrame({
        "client_id": ids, "segment": "retail", "birth_year": rng.integers(1950, 2000, n_clients),
        "gender": rng.choice(["F", "M"], n_clients), "region": "R1", "branch": rng.choice(["B1", "B2"], n_clients),
        "industry": None, "onboarding_month": pd.Timestamp(START), "income_band": None, "rm_id": None,
    })
    rows = []
    for cid in ids:
        for i in range(n_months):
            row = {c.name: 0 for c in MONTHLY_COLUMNS}
            row.update(client_id=cid, month=pd.Timestamp(add_months(START, i)), relationship_closed=False,
                       deposit_current=float(rng.uniform(1_000, 50_000)), branch_txn_count=int(rng.integers(1, 9)),
                       mobile_txn_count=int(rng.integers(0, 30)), salary_inflow=float(rng.uniform(0, 9_000)),
                       products_held=int(rng.integers(1, 4)))
            rows.append(row)
    return clients, pd.DataFrame(rows)


@pytest.mark.parametrize(("values", "kind", "status"), [
    ([None, None], "float", "missing"),
    ([0.0, 0.0, None], "float", "empty"),
    ([False, False], "bool", "empty"),
    ([3, 3, 3], "int", "constant"),
    (["a", "a"], "str", "constant"),
    ([0.0, 2.5], "float", "ok"),
    (["a", None, "b"], "str", "ok"),
])
def test_column_status(values, kind, status):
    assert column_status(pd.Series(values), kind)[2] == status


def test_column_status_counts_missing_share_and_distinct():
    share, distinct, _ = column_status(pd.Series([1.0, None, 2.0, 2.0]), "float")
    assert share == pytest.approx(0.25) and distinct == 2


def test_every_catalogue_feature_has_contract_inputs():
    config = FeatureConfig.model_validate({"protected": {"use_as_features": True}})
    for name in feature_catalog(config):
        inputs = feature_inputs(name, config)
        assert inputs and set(inputs) <= CONTRACT, name


def test_feature_inputs_of_an_unknown_feature_raise():
    with pytest.raises(ValueError, match="no known contract inputs"):
        feature_inputs("crystal_ball_3m", FeatureConfig())


def test_features_with_empty_inputs_or_long_windows_are_unusable():
    statuses = {"wealth_balance": "empty", "fund_balance": "empty", "insurance_balance": "missing",
                "card_limit": "empty"}
    features = {f.name: f for f in profile_features(statuses, 7, FeatureConfig())}
    assert not features["investment_total_chg_3m"].usable
    assert "wealth_balance" in features["investment_total_chg_3m"].reason
    assert features["assets_total"].usable  # deposits still carry it
    assert not features["card_utilisation_avg_3m"].usable  # a ratio dies with either side
    assert features["card_balance"].usable
    assert features["deposit_total_chg_6m"].usable  # 6 + 1 months <= 7
    assert not features["deposit_total_slope_12m"].usable
    assert features["deposit_total_slope_12m"].reason == "window needs 12 months of history, the data has 7"


@pytest.mark.parametrize("months", [14, 25, 30, 36])
def test_usable_snapshot_months_are_those_training_stacks(months):
    from tierwise.training import snapshot_months

    config = FeatureConfig()
    first = 12 * 53  # 2023-01
    usable, note = usable_snapshot_months(first, first + months - 1, config)
    monthly = pd.DataFrame({"month": pd.to_datetime([add_months(START, 0), add_months(START, months - 1)])})
    if usable:
        assert note == ""
        assert len(snapshot_months(monthly, config, n_snapshots=1000)) == len(usable)
    else:
        assert "25 months in all, and the data has" in note and "features.yaml" in note
        with pytest.raises(DataError):
            snapshot_months(monthly, config, n_snapshots=1000)


def test_a_bank_without_events_names_why_churn_and_default_cannot_train():
    clients, monthly = steady_bank()
    profile = profile_tables(clients, monthly, SHORT)
    assert (profile.clients, profile.months, profile.history_months) == (40, 12, 12)
    assert profile.snapshot_months == [f"2023-{m:02d}" for m in range(4, 10)]
    tasks = {t.task: t for t in profile.tasks}
    assert tasks["growth"].trainable
    assert not tasks["churn"].trainable
    assert tasks["churn"].reason == (
        "churn: 0 clients with an event at 6 snapshot months, 20 needed: 0 closures recorded, 0 clients leave "
        "the extract and no client meets the dormancy rule (assets below 10% of their level with no activity)")
    assert tasks["default"].reason == ("default: 0 clients with an event at 6 snapshot months, 20 needed: "
                                       "no client has credit exposure (loan_balance + card_balance) at a snapshot month")
    assert "monthly.loan_balance" in profile.columns_with("empty")
    assert "monthly.relationship_closed" in profile.columns_with("empty")
    assert "clients.industry" in profile.columns_with("missing")
    assert "clients.segment" in profile.columns_with("constant")


def test_closures_count_as_churn_events():
    clients, monthly = steady_bank()
    leaving = clients["client_id"].iloc[:25]
    close_at = pd.Timestamp(add_months(START, 6))
    monthly = monthly[~(monthly["client_id"].isin(leaving) & (monthly["month"] > close_at))].copy()
    monthly.loc[monthly["client_id"].isin(leaving) & (monthly["month"] == close_at), "relationship_closed"] = True
    profile = profile_tables(clients, monthly, SHORT)
    churn = next(lab for lab in profile.labels if lab.task == "churn")
    assert churn.clients_with_event == 25
    assert next(t for t in profile.tasks if t.task == "churn").trainable
    assert profile.rows_kept["monthly"] == len(monthly)


def test_too_short_a_history_makes_no_task_trainable():
    clients, monthly = steady_bank(n_months=12)
    profile = profile_tables(clients, monthly, FeatureConfig())
    assert profile.snapshot_months == []
    assert all(not t.trainable for t in profile.tasks)
    assert all(lab.months == 0 for lab in profile.labels)
    assert "data has 12" in profile.snapshot_note


def test_rejected_rows_are_left_out_and_counted():
    clients, monthly = steady_bank()
    monthly.loc[0, "deposit_current"] = -5.0
    profile = profile_tables(clients, monthly, SHORT)
    assert profile.rows_in["monthly"] - profile.rows_kept["monthly"] == 1


def test_unknown_branch_codes_are_not_a_reason_to_reject():
    clients, monthly = steady_bank()
    clients["branch"] = "ZZ-not-in-any-list"
    assert profile_tables(clients, monthly, SHORT).rows_kept["clients"] == 40


def test_no_usable_rows_is_a_one_line_data_error():
    clients, monthly = steady_bank()
    monthly["deposit_current"] = -1.0
    with pytest.raises(DataError, match="no usable rows") as info:
        profile_tables(clients, monthly, SHORT)
    assert "\n" not in str(info.value)


def test_profile_dict_is_json_ready():
    import json

    clients, monthly = steady_bank(n_clients=5, n_months=6)
    text = json.dumps(profile_tables(clients, monthly, SHORT).to_dict())
    assert '"tasks"' in text and '"features"' in text


def test_a_single_month_names_the_history_as_the_reason():
    clients, monthly = steady_bank(n_clients=3, n_months=1)
    profile = profile_tables(clients, monthly, FeatureConfig())
    assert all("the data has 1;" in t.reason for t in profile.tasks)


def test_growth_needs_enough_rows_of_retained_clients():
    clients, monthly = steady_bank(n_clients=2, n_months=8)
    growth = next(t for t in profile_tables(clients, monthly, SHORT).tasks if t.task == "growth")
    assert growth.reason == "growth: 4 rows of retained clients at 2 snapshot months, 20 needed"
