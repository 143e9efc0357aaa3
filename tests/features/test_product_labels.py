"""Product adoption labels: adopts family p within h months (default 3), given not held at t;
one definition, every family of the contract; an empty family column is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_bank import make_bank, month_at

from tierwise.features import (
    PRODUCT_COLUMNS,
    PRODUCTS,
    FeatureConfig,
    build_labels,
    is_task,
    label_column,
    product_families_present,
    product_task,
    task_product,
)

T = 12


def _set(monthly: pd.DataFrame, client: str, months: range, column: str, value: float) -> None:
    rows = (monthly["client_id"] == client) & monthly["month"].isin([pd.Timestamp(month_at(i)) for i in months])
    monthly.loc[rows, column] = value


def _label(labels: pd.DataFrame, client: str, column: str) -> float:
    return float(labels.loc[labels["client_id"] == client, column].iloc[0])


@pytest.fixture
def monthly():
    _, monthly = make_bank()
    monthly = monthly.copy()
    monthly["fund_balance"] = 0.0
    _set(monthly, "C0004", range(0, 30), "fund_balance", 500.0)  # held all along
    _set(monthly, "C0005", range(T + 2, 30), "fund_balance", 800.0)  # opens at t+2
    _set(monthly, "C0006", range(T + 4, 30), "fund_balance", 800.0)  # opens at t+4: after h = 3
    return monthly


def test_names_one_task_per_family():
    feature_config = FeatureConfig()
    assert [label_column(product_task(p), feature_config) for p in ("wealth", "credit_card")] == \
        ["adopt_wealth_3m", "adopt_credit_card_3m"]
    assert label_column("adopt_wealth", FeatureConfig(labels={"products": {"horizon_months": 2}})) == "adopt_wealth_2m"
    assert task_product("adopt_funds") == "funds" and task_product("churn") is None
    assert is_task("adopt_loan") and is_task("growth") and not is_task("adopt_yacht")
    with pytest.raises(ValueError, match="unknown product family"):
        product_task("yacht")
    assert set(PRODUCT_COLUMNS) == set(PRODUCTS)


def test_adoption_within_the_horizon_given_not_held(monthly):
    cfg = FeatureConfig()
    labels = build_labels(monthly, month_at(T), cfg)
    col = "adopt_funds_3m"
    assert np.isnan(_label(labels, "C0004", col))  # held at t: not eligible
    assert _label(labels, "C0005", col) == 1.0
    assert _label(labels, "C0006", col) == 0.0  # too late for 3 months
    assert _label(labels, "C0007", col) == 0.0  # never
    assert labels["adopt_funds_complete"].all()
    longer = build_labels(monthly, month_at(T), FeatureConfig(labels={"products": {"horizon_months": 4}}))
    assert _label(longer, "C0006", "adopt_funds_4m") == 1.0


def test_horizon_past_the_data_is_unknown(monthly):
    labels = build_labels(monthly, month_at(28), FeatureConfig())
    assert labels["adopt_funds_3m"].isna().all() and not labels["adopt_funds_complete"].any()


def test_every_family_gets_a_label(monthly):
    labels = build_labels(monthly, month_at(T), FeatureConfig())
    for product in PRODUCTS:
        assert f"adopt_{product}_3m" in labels.columns and f"adopt_{product}_complete" in labels.columns


def test_empty_family_columns_are_named(monthly):
    empty = monthly.assign(wealth_balance=0.0)
    present = product_families_present(empty)
    assert present["wealth"] == "column wealth_balance is empty (never above zero)"
    assert present["funds"] is None
    assert product_families_present(monthly.drop(columns=["card_limit"]))["credit_card"] == "monthly has no column card_limit"
