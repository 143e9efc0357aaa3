"""What-if features follow the snapshot's own definitions: raising a monthly column at month t
in the raw table and recomputing the snapshot gives the features `with_change` gives (all
but the volatilities, a stated limit)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tierwise.features import (
    PRODUCT_COLUMNS,
    WHAT_IF_COLUMNS,
    FeatureConfig,
    moved_features,
    snapshot_features,
    validate_tables,
    with_change,
)


@pytest.fixture(scope="module")
def tables():
    from tierwise.synthetic import DataConfig, generate_bank

    bank = generate_bank(DataConfig(), clients=120, months=16, seed=3, start=dt.date(2023, 1, 1))
    report = validate_tables(bank.clients, bank.monthly)
    return report.clients, report.monthly, pd.Timestamp(report.monthly["month"].max()).date()


@pytest.mark.parametrize("months", [1, 3])
@pytest.mark.parametrize("column", WHAT_IF_COLUMNS)
def test_with_change_equals_the_snapshot_of_the_changed_months(tables, column, months):
    clients, monthly, month = tables
    config = FeatureConfig()
    before = snapshot_features(clients, monthly, month, config)
    rng = np.random.default_rng(0)
    amount = {"mobile_logins": 7.0, "salary_inflow": 4_500.0}.get(column, 25_000.0)
    delta = np.where(rng.random(len(before)) < 0.5, amount, 0.0)
    raised = monthly.copy()
    when = pd.to_datetime(raised["month"])
    at_t = (when.dt.date == month).to_numpy()
    changed = (when > pd.Timestamp(month) - pd.DateOffset(months=months)).to_numpy()
    by_client = pd.Series(delta, index=before["client_id"].astype(str))
    ids = raised["client_id"].astype(str)
    extra = ids[changed].map(by_client).fillna(0.0).to_numpy()
    raised.loc[changed, column] = raised.loc[changed, column].to_numpy(dtype=float) + extra
    if column in PRODUCT_COLUMNS.values():  # a product opened is one more product line held
        held_at_t = pd.Series(monthly.loc[at_t, column].to_numpy(dtype=float) > 0, index=ids[at_t])
        opened = ~ids[changed].map(held_at_t).fillna(True).to_numpy(dtype=bool) & (extra > 0)
        raised.loc[changed, "products_held"] = raised.loc[changed, "products_held"].to_numpy() + opened
    expected = snapshot_features(clients, raised, month, config)
    got = with_change(before, column, delta, config, months=months)
    # averages and slopes assume a full window (a stated limit): compare clients with every month
    months = pd.to_datetime(monthly["month"])
    recent = monthly[months > pd.Timestamp(month) - pd.DateOffset(months=12)]
    full = recent.groupby(recent["client_id"].astype(str)).size().reindex(before["client_id"].astype(str)).to_numpy() == 12
    assert full.sum() > 50
    checked = sorted(n for n in moved_features(column, config) if "_vol_" not in n and n in before.columns)
    assert column in checked and len(checked) > 3
    for name in checked:
        np.testing.assert_allclose(got[name].to_numpy(dtype=float)[full], expected[name].to_numpy(dtype=float)[full],
                                   rtol=1e-9, atol=1e-6, err_msg=name)
    untouched = [c for c in before.columns if c not in moved_features(column, config)]
    pd.testing.assert_frame_equal(got[untouched], before[untouched])


def test_an_unknown_column_is_refused():
    with pytest.raises(ValueError, match="not a what-if column"):
        moved_features("loan_balance", FeatureConfig())
