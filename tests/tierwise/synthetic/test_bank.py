"""The synthetic bank: contract, determinism, realism invariants, the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import CLIENT_COLUMNS, MONTHLY_COLUMNS, FeatureConfig, column_names
from tierwise.synthetic import (
    CHURN_DRIVERS,
    DEFAULT_DRIVERS,
    DataConfig,
    OracleConfig,
    generate_bank,
    label_base_rates,
    oracle_auc,
)

SMALL = DataConfig(oracle=OracleConfig(pairs=600, snapshots=2, futures=64))


@pytest.fixture(scope="module")
def bank():
    return generate_bank(SMALL, clients=3000, months=30, seed=11)


def _kinds_ok(df: pd.DataFrame, columns) -> None:
    assert list(df.columns) == column_names(columns)
    for col in columns:
        s = df[col.name]
        if col.kind == "str":
            assert pd.api.types.is_string_dtype(s), col.name
        elif col.kind == "month":
            assert pd.api.types.is_datetime64_any_dtype(s), col.name
            assert (s.dropna().dt.day == 1).all(), col.name
        elif col.kind == "int":
            assert pd.api.types.is_integer_dtype(s), col.name
        elif col.kind == "float":
            assert pd.api.types.is_float_dtype(s), col.name
        elif col.kind == "bool":
            assert pd.api.types.is_bool_dtype(s), col.name
        if not col.nullable:
            assert s.notna().all(), col.name


def test_tables_follow_the_contract(bank):
    _kinds_ok(bank.clients, CLIENT_COLUMNS)
    _kinds_ok(bank.monthly, MONTHLY_COLUMNS)
    assert bank.clients["client_id"].is_unique
    assert not bank.monthly.duplicated(["client_id", "month"]).any()
    numeric = [c.name for c in MONTHLY_COLUMNS if c.kind in ("int", "float")]
    assert (bank.monthly[numeric] >= 0).all().all()


def test_same_seed_same_tables_different_seed_different():
    cfg = DataConfig(oracle=OracleConfig(pairs=100, snapshots=1))
    a = generate_bank(cfg, clients=300, months=26, seed=4)
    b = generate_bank(cfg, clients=300, months=26, seed=4)
    c = generate_bank(cfg, clients=300, months=26, seed=5)
    for x, y in ((a.clients, b.clients), (a.monthly, b.monthly), (a.oracle, b.oracle)):
        pd.testing.assert_frame_equal(x, y)
    assert not a.monthly[["deposit_current"]].head(200).equals(c.monthly[["deposit_current"]].head(200))


def test_rows_start_at_onboarding_and_stop_after_closing(bank):
    m, c = bank.monthly, bank.clients
    first = m.groupby("client_id")["month"].min()
    onboarding = c.set_index("client_id")["onboarding_month"]
    start = m["month"].min()
    expected = onboarding.clip(lower=start).reindex(first.index)
    assert (first == expected).all()
    closed = m[m["relationship_closed"]]
    assert closed["client_id"].is_unique
    last = m.groupby("client_id")["month"].max()
    assert (closed.set_index("client_id")["month"] == last.reindex(closed["client_id"]).to_numpy()).all()
    assert 0 < len(closed) < len(c)
    # some clients onboard during the window
    assert (onboarding > start).mean() > 0.03


def test_base_rates_are_plausible(bank):
    rates = label_base_rates(bank.monthly, FeatureConfig())
    assert 0.05 <= rates["churn_6m"] <= 0.16
    assert 0.01 <= rates["default_12m"] <= 0.07
    assert -0.3 <= rates["growth_12m_mean"] <= 0.3


def test_wealth_is_heavy_tailed_and_income_band_sometimes_missing(bank):
    m = bank.monthly
    last = m[m["month"] == m["month"].max()]
    assets = last[["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]].sum(axis=1)
    top = assets.sort_values(ascending=False)
    assert top.head(max(1, len(top) // 100)).sum() / top.sum() > 0.15
    assert 0.05 < bank.clients["income_band"].isna().mean() < 0.3


def test_most_defaults_pass_through_early_arrears(bank):
    m = bank.monthly.sort_values(["client_id", "month"])
    first90 = m[m["days_past_due"] >= 90].groupby("client_id")["month"].min()
    defaulters = first90.index
    before = m[m["client_id"].isin(defaulters)].merge(first90.rename("m90"), left_on="client_id", right_index=True)
    early = before[(before["month"] < before["m90"]) & before["days_past_due"].between(30, 89)]
    share = early["client_id"].nunique() / max(len(defaulters), 1)
    assert len(defaulters) >= 10
    assert 0.6 <= share < 1.0


def test_spring_festival_lifts_card_spend(bank):
    m = bank.monthly
    spend = m.groupby("month")["card_spend"].mean()
    festival = spend[[d for d in spend.index if (d.year, d.month) in {(2023, 1), (2024, 2), (2025, 1)}]]
    others = spend.drop(festival.index)
    assert festival.mean() > 1.3 * others.mean()


def test_oracle_is_a_proper_sample(bank):
    o = bank.oracle
    assert 0 < len(o) <= SMALL.oracle.pairs
    assert not o.duplicated(["client_id", "snapshot_month"]).any()
    assert o["p_churn_6m"].between(0, 1).all()
    scored = o["has_credit_exposure"] & ~o["in_default"]
    assert o["p_default_12m"].notna().eq(scored).all()
    assert o["default_12m"].notna().eq(scored).all()
    assert set(o["churn_driver"].dropna()) <= set(CHURN_DRIVERS)
    assert set(o["default_driver"].dropna()) <= set(DEFAULT_DRIVERS)
    assert o["churn_driver"].notna().any() and o["default_driver"].notna().any()
    last = bank.monthly["month"].max()
    assert (o["snapshot_month"] + pd.DateOffset(months=12) <= last).all()
    auc = oracle_auc(o)
    assert 0.7 < auc["churn_6m"] < 0.99


def test_oracle_realised_labels_match_the_data(bank):
    """The oracle's realised labels are the label definitions applied to monthly."""
    o = bank.oracle.head(150)
    m = bank.monthly
    m = m.assign(assets=m[["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]].sum(axis=1),
                 txn=m["mobile_txn_count"] + m["branch_txn_count"] + m["atm_txn_count"])
    by_client = dict(tuple(m.groupby("client_id")))
    for row in o.itertuples(index=False):
        rows = by_client[row.client_id].set_index("month")
        t = row.snapshot_month
        a_t = rows.loc[t, "assets"]
        fut6 = rows[(rows.index > t) & (rows.index <= t + pd.DateOffset(months=6))]
        churn = len(fut6) < 6 or fut6["relationship_closed"].any() or ((fut6["assets"] < 0.1 * a_t) & (fut6["txn"] == 0)).any()
        assert bool(row.churn_6m) == bool(churn)
        if not np.isnan(row.default_12m):
            fut12 = rows[(rows.index > t) & (rows.index <= t + pd.DateOffset(months=12))]
            assert bool(row.default_12m) == bool((fut12["days_past_due"] >= 90).any())


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clients=st.integers(1, 40), months=st.integers(1, 15), seed=st.integers(0, 2**31))
def test_any_small_bank_keeps_the_invariants(clients, months, seed):
    b = generate_bank(DataConfig(oracle=OracleConfig(pairs=20, snapshots=1)), clients=clients, months=months, seed=seed)
    assert len(b.clients) == clients
    assert b.monthly.groupby("client_id")["month"].count().le(months).all()
    assert set(b.monthly["client_id"]) <= set(b.clients["client_id"])
    assert not b.monthly.duplicated(["client_id", "month"]).any()
    assert b.oracle.empty == (months < 13)
