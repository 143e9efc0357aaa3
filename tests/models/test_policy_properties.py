"""Invariants of the tier policy, checked with hypothesis on generated clients.

"Everything else equal" means: one input column of a client is changed, every other column of
that client (including `p_default_prev`, `tier_prev`, assets and exposure) stays the same.
- more default risk: `p_default` raised (a missing PD becomes a number) never raises the tier;
- more value: `contribution_monthly` or `growth` raised, or `cost_to_serve_monthly` lowered,
  never lowers the tier (and never lowers the expected value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.config import load_config
from tierwise.models import (
    TIERS,
    TIERS_BY_RANK,
    PolicyConfig,
    ResolvedPolicy,
    apply_rm_capacity,
    recommend,
    resolve_thresholds,
)

RANK = {tier: i for i, tier in enumerate(TIERS_BY_RANK)}
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def policy() -> PolicyConfig:
    return load_config(
        Path(__file__).resolve().parents[2] / "configs" / "policy.yaml", PolicyConfig
    )


def _reference(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    assets = rng.lognormal(11, 1.5, n)
    exposure = np.where(rng.random(n) < 0.4, rng.lognormal(10, 1.2, n), 0.0)
    return pd.DataFrame(
        {
            "client_id": [f"R{i}" for i in range(n)],
            "segment": np.where(rng.random(n) < 0.1, "sme", "retail"),
            "p_churn": rng.beta(1.5, 8, n),
            "p_default": np.where(exposure > 0, rng.beta(1, 60, n), np.nan),
            "growth": rng.normal(0.05, 0.2, n),
            "assets_total": assets,
            "credit_exposure": exposure,
            "contribution_monthly": assets * 0.0015 + exposure * 0.002 + rng.normal(0, 5, n),
            "cost_to_serve_monthly": rng.uniform(5, 40, n),
        }
    )


@pytest.fixture(scope="module")
def resolved(policy) -> ResolvedPolicy:
    """The shipped quantile thresholds, resolved on a reference population (absolute
    thresholds differ only in where the cut points come from)."""
    return resolve_thresholds(policy, _reference())


probability = st.floats(0.0, 1.0)
amount = st.floats(0.0, 5e6)


@st.composite
def clients(draw) -> dict:
    exposure = draw(st.one_of(st.just(0.0), amount))
    p_default = draw(probability if exposure > 0 else st.one_of(st.just(np.nan), probability))
    return {
        "segment": draw(st.sampled_from(["retail", "sme", "other"])),
        "p_churn": draw(probability),
        "p_default": p_default,
        "p_default_prev": draw(st.one_of(st.just(np.nan), probability)),
        "growth": draw(st.floats(-5.0, 5.0)),
        "assets_total": draw(amount),
        "credit_exposure": exposure,
        "contribution_monthly": draw(st.floats(-1e3, 5e4)),
        "cost_to_serve_monthly": draw(st.floats(0.0, 500.0)),
        "tier_prev": draw(st.one_of(st.none(), st.sampled_from(TIERS))),
    }


def to_frame(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame(rows)
    data.insert(0, "client_id", [f"C{i}" for i in range(len(rows))])
    data["tier_prev"] = data["tier_prev"].astype("str")
    return data


def ranks(recs: pd.DataFrame) -> np.ndarray:
    return recs["tier"].map(RANK).to_numpy()


@SETTINGS
@given(rows=st.lists(clients(), min_size=1, max_size=30))
def test_tier_is_always_one_of_the_four_with_its_channel(resolved, rows):
    recs = recommend(to_frame(rows), resolved)
    assert set(recs["tier"]) <= set(TIERS)
    channels = resolved.policy.channels
    assert (recs["channel"] == recs["tier"].map(channels)).all()
    for reason, tier in zip(recs["tier_reason_en"], recs["tier"], strict=True):
        assert reason.startswith(f"{tier}:")
    assert np.isfinite(recs["expected_value_12m"]).all()


@SETTINGS
@given(
    rows=st.lists(clients(), min_size=1, max_size=20),
    raise_by=st.lists(st.floats(0.0, 1.0), min_size=20, max_size=20),
)
def test_more_default_risk_never_gives_a_higher_tier(resolved, rows, raise_by):
    before = to_frame(rows)
    after = before.copy()
    current = np.nan_to_num(before["p_default"].to_numpy(), nan=0.0)
    after["p_default"] = np.minimum(current + np.array(raise_by[: len(rows)]), 1.0)
    low, high = recommend(before, resolved), recommend(after, resolved)
    assert (ranks(high) <= ranks(low)).all()
    assert (high["expected_value_12m"] <= low["expected_value_12m"]).all()
    assert (high["flag_risk_watch"] >= low["flag_risk_watch"]).all()


@SETTINGS
@given(
    rows=st.lists(clients(), min_size=1, max_size=20),
    column=st.sampled_from(["contribution_monthly", "growth", "cost_to_serve_monthly"]),
    change=st.lists(st.floats(0.0, 1e4), min_size=20, max_size=20),
)
def test_more_value_never_gives_a_lower_tier(resolved, rows, column, change):
    before = to_frame(rows)
    after = before.copy()
    delta = np.array(change[: len(rows)])
    if column == "growth":
        delta = delta / 1e3  # log growth: up to +10
    if column == "cost_to_serve_monthly":
        after[column] = np.maximum(before[column] - delta, 0.0)  # cheaper to serve
    else:
        after[column] = before[column] + delta
    low, high = recommend(before, resolved), recommend(after, resolved)
    assert (high["expected_value_12m"] >= low["expected_value_12m"]).all()
    assert (ranks(high) >= ranks(low)).all()


@SETTINGS
@given(rows=st.lists(clients(), min_size=1, max_size=30))
def test_same_inputs_same_output(resolved, rows):
    data = to_frame(rows)
    first = recommend(data, resolved)
    pd.testing.assert_frame_equal(recommend(data.copy(), resolved), first)
    pd.testing.assert_frame_equal(data, to_frame(rows))  # the input is not modified


@settings(SETTINGS, max_examples=25)
@given(
    rows=st.lists(clients(), min_size=2, max_size=40),
    keep=st.lists(st.booleans(), min_size=40, max_size=40),
    seed=st.integers(0, 2**32 - 1),
)
def test_recommend_is_row_wise(resolved, rows, keep, seed):
    data = to_frame(rows)
    whole = recommend(data, resolved)
    mask = np.array(keep[: len(rows)])
    pd.testing.assert_frame_equal(recommend(data[mask], resolved), whole[mask])
    shuffled = data.sample(frac=1.0, random_state=np.random.RandomState(seed % 2**32))
    pd.testing.assert_frame_equal(recommend(shuffled, resolved), whole.loc[shuffled.index])
    single = data.iloc[[len(rows) // 2]]
    pd.testing.assert_frame_equal(recommend(single, resolved), whole.loc[single.index])


def _rich_clients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "client_id": [f"C{i:03d}" for i in range(n)],
            "segment": "retail",
            "p_churn": rng.uniform(0, 0.2, n),
            "p_default": np.nan,
            "growth": 0.0,
            "assets_total": 5e6,
            "credit_exposure": 0.0,
            # a few distinct values so that ties on expected value occur
            "contribution_monthly": rng.choice([500.0, 2000.0, 8000.0, 20000.0], n),
            "cost_to_serve_monthly": 0.0,
        }
    )


@settings(SETTINGS, max_examples=25)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 1000),
    clients_per_rm=st.integers(1, 20),
    n_rms=st.integers(0, 4),
)
def test_rm_overflow_respects_capacity_and_order(resolved, n, seed, clients_per_rm, n_rms):
    recs = recommend(_rich_clients(n, seed), resolved)
    rm = resolved.policy.rm_capacity.model_copy(update={"clients_per_rm": clients_per_rm})
    limited = resolved.model_copy(
        update={"policy": resolved.policy.model_copy(update={"rm_capacity": rm})}
    )
    out = apply_rm_capacity(recs, limited, n_rms=n_rms)
    served = recs["channel"] == "relationship_manager"
    capacity = clients_per_rm * n_rms
    assert int(out["flag_rm_overflow"].sum()) == max(0, int(served.sum()) - capacity)
    assert ((out["channel"] == "relationship_manager") <= served).all()
    pd.testing.assert_series_equal(out["tier"], recs["tier"])  # tiers never change
    overflow = out[out["flag_rm_overflow"]]
    kept = out[served & ~out["flag_rm_overflow"]]
    if len(overflow) and len(kept):
        # nobody kept ranks below anybody overflowed (tier first, then expected value)
        worst_kept = (
            kept.assign(r=kept["tier"].map(RANK)).sort_values(["r", "expected_value_12m"]).iloc[0]
        )
        best_over = (
            overflow.assign(r=overflow["tier"].map(RANK))
            .sort_values(["r", "expected_value_12m"])
            .iloc[-1]
        )
        assert (worst_kept.r, worst_kept.expected_value_12m) >= (
            best_over.r,
            best_over.expected_value_12m,
        )
    # the same clients overflow whatever the row order
    shuffled = recs.sample(frac=1.0, random_state=seed)
    again = apply_rm_capacity(shuffled, limited, n_rms=n_rms)
    pd.testing.assert_series_equal(
        again["flag_rm_overflow"].sort_index(), out["flag_rm_overflow"].sort_index()
    )


@pytest.mark.parametrize("size", [1, 5, 32])
def test_a_few_clients_get_the_rows_of_a_batch(resolved, size):
    """A few rows (a served request: sentences filled row by row in Python, no Arrow array per
    field) get what their rows get in a batch (Arrow, one pass per distinct template): every
    column, every tier basis and risk clause the population reaches, missing and previous PDs,
    previous tiers."""
    rng = np.random.default_rng(size)
    frame = _reference(400, seed=11)
    frame["p_default_prev"] = np.where(rng.random(400) < 0.5, frame["p_default"] * rng.uniform(0.3, 3, 400), np.nan)
    frame["tier_prev"] = pd.array(np.where(rng.random(400) < 0.6, rng.choice(TIERS, 400), None), dtype="str")
    frame["days_past_due"] = np.where(rng.random(400) < 0.05, rng.integers(0, 120, 400), np.nan)
    whole = recommend(frame, resolved)
    assert whole["tier_reason_en"].nunique() > 50 and whole["cost_review_reason"].nunique() > 2
    for start in range(0, len(frame), size):
        part = recommend(frame.iloc[start:start + size].reset_index(drop=True), resolved)
        expected = whole.iloc[start:start + size].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected, check_exact=True)
