"""Clients in default and the rank-based limits of the tier policy, on hand-made clients."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from policy_cases import make_policy

from tierwise.features import ConfigError, DataError
from tierwise.models import (
    ResolvedPolicy,
    advance_reviews,
    format_probability,
    recommend,
    resolve_thresholds,
)

CUTS = {"premier": 100_000.0, "excellence": 20_000.0, "potential": 5_000.0}


@pytest.fixture(scope="module")
def absolute(raw_policy) -> ResolvedPolicy:
    """Absolute cuts and no reference population: the fixed rules."""
    return resolve_thresholds(make_policy(raw_policy, thresholds={"mode": "absolute", **CUTS}))


def borrower(**values) -> dict:
    """An Excellence-sized borrower (net 3,000 a month) with a low PD, current on payments."""
    base = {"client_id": "B1", "segment": "retail", "p_churn": 0.05, "p_default": 0.01, "growth": 0.0,
            "assets_total": 500_000.0, "credit_exposure": 50_000.0, "contribution_monthly": 3_100.0,
            "cost_to_serve_monthly": 100.0, "days_past_due": 0}
    return {**base, **values}


def population(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """`n` clients, two thirds borrowers with PDs spread over 0.1%-30%, 5% of those in default."""
    rng = np.random.default_rng(seed)
    exposure = np.where(rng.random(n) < 2 / 3, rng.uniform(1e3, 1e5, n), 0.0)
    pd_values = np.where(exposure > 0, np.exp(rng.uniform(np.log(0.001), np.log(0.3), n)), np.nan)
    dpd = np.where((exposure > 0) & (rng.random(n) < 0.05), 120, 0)
    return pd.DataFrame({
        "client_id": [f"C{i:05d}" for i in range(n)], "segment": "retail",
        "p_churn": rng.uniform(0.01, 0.6, n), "p_default": pd_values, "growth": rng.normal(0.05, 0.2, n),
        "assets_total": rng.lognormal(10, 1.5, n), "credit_exposure": exposure,
        "contribution_monthly": rng.lognormal(5, 1, n), "cost_to_serve_monthly": rng.uniform(10, 60, n),
        "days_past_due": dpd,
    })


# --------------------------------------------------------------------------- in default


def test_a_client_90_days_past_due_is_in_default_not_on_risk_watch(absolute):
    recs = recommend(pd.DataFrame([borrower(client_id="D", days_past_due=90, p_default=0.9997, tier_prev="General"),
                                   borrower(client_id="L", days_past_due=89, p_default=0.9997, tier_prev="General")]),
                     absolute)
    late, defaulted = recs.set_index("client_id").loc["L"], recs.set_index("client_id").loc["D"]
    assert defaulted["flag_in_default"] and not defaulted["flag_risk_watch"]
    assert not late["flag_in_default"] and late["flag_risk_watch"]
    assert defaulted["tier"] == "General"  # no upgrade, as for a client on risk watch
    assert "in default (90 days past due): no PD, no upgrade" in defaulted["tier_reason_en"]
    assert "99.97%" not in defaulted["tier_reason_en"]
    assert "已违约（逾期90天）" in defaulted["tier_reason_zh"]


def test_the_loss_of_a_client_in_default_is_lgd_times_exposure(absolute):
    recs = recommend(pd.DataFrame([borrower(days_past_due=400, p_default=0.3)]), absolute)
    assert recs["expected_credit_loss_12m"].iloc[0] == pytest.approx(0.45 * 50_000.0)


def test_in_default_needs_the_days_past_due_column_and_credit(absolute):
    without = pd.DataFrame([borrower()]).drop(columns="days_past_due")
    assert not recommend(without, absolute)["flag_in_default"].any()
    no_credit = borrower(credit_exposure=0.0, p_default=np.nan, days_past_due=120)
    assert not recommend(pd.DataFrame([no_credit]), absolute)["flag_in_default"].any()


def test_days_past_due_must_be_a_non_negative_number(absolute):
    with pytest.raises(DataError, match="column 'days_past_due' row 0 .* expected a non-negative amount"):
        recommend(pd.DataFrame([borrower(days_past_due=-1)]), absolute)


def test_a_client_in_default_keeps_an_exit_review_open(absolute):
    recs = recommend(pd.DataFrame([borrower(days_past_due=120, tier_prev="Excellence", contribution_monthly=10_100.0)]),
                     absolute)
    assert recs["flag_exit_review"].iloc[0] and not recs["flag_risk_watch"].iloc[0]
    prior = pd.DataFrame({"client_id": ["B1"], "tier_prev": ["Excellence"], "p_default_prev": [0.5],
                          "exit_review_status": ["opened"], "exit_review_since": [pd.Timestamp("2025-10-01")],
                          "exit_review_months": [1]})
    out = advance_reviews(recs.assign(p_default=0.9997), prior, absolute, dt.date(2025, 11, 1))
    assert out["exit_review_status"].iloc[0] == "open"
    assert out["exit_review_reason_en"].iloc[0] == "under exit review since 2025-10 (2 months): in default"
    assert out["exit_review_reason_zh"].iloc[0] == "自2025-10起退出审查（2个月）：已违约"
    no_review = prior.assign(exit_review_status=[None], exit_review_since=[pd.NaT], exit_review_months=[0])
    opened = advance_reviews(recs.assign(p_default=0.9997), no_review, absolute, dt.date(2025, 11, 1))
    assert opened["exit_review_status"].iloc[0] == "opened"
    assert opened["exit_review_reason_en"].iloc[0] == "exit review opened in 2025-11: in default (tier last month: Excellence)"
    assert "default risk in default" not in " ".join(opened["exit_review_reason_en"].astype(str))


# --------------------------------------------------------------------------- rank limits


def test_risk_watch_takes_the_riskiest_share_of_borrowers_not_in_default(raw_policy):
    ref = population()
    policy = make_policy(raw_policy, risk={"watch_share": 0.10, "pd_limit": 0.02})
    resolved = resolve_thresholds(policy, ref)
    recs = recommend(ref, resolved)
    graded = (ref["credit_exposure"] > 0).to_numpy() & ~recs["flag_in_default"].to_numpy()
    watched = recs["flag_risk_watch"].to_numpy()
    assert not (watched & ~graded).any()
    assert watched.sum() == round(0.10 * graded.sum())
    assert resolved.pd_limit > 0.02
    pds = ref["p_default"].to_numpy()
    assert pds[watched].min() > pds[graded & ~watched].max()  # the riskiest, by rank
    assert f"above the {format_probability(resolved.pd_limit)} limit (the riskiest 10% of borrowers)" in \
        recs.loc[watched, "tier_reason_en"].iloc[0]


def test_the_risk_limit_never_falls_below_pd_limit(raw_policy):
    ref = population().assign(p_default=lambda f: np.where(f["credit_exposure"] > 0, 0.001, np.nan))
    resolved = resolve_thresholds(make_policy(raw_policy, risk={"watch_share": 0.10, "pd_limit": 0.02}), ref)
    assert resolved.risk_limit == 0.02
    assert not recommend(ref, resolved)["flag_risk_watch"].any()


@pytest.mark.parametrize("share", [0.01, 0.05])
def test_retention_and_growth_lists_have_the_configured_share(raw_policy, share):
    ref = population()
    policy = make_policy(raw_policy, retention={"share": share, "min_p_churn": 0.05}, growth_lead={"share": share})
    recs = recommend(ref, resolve_thresholds(policy, ref))
    assert recs["flag_retention_priority"].sum() == round(share * len(ref))
    assert recs["flag_growth_lead"].sum() == round(share * len(ref))
    assert not (recs["flag_retention_priority"] & (recs["flag_risk_watch"] | recs["flag_in_default"])).any()
    assert recs.loc[recs["flag_growth_lead"], "tier"].isin(["General", "Potential"]).all()


def test_retention_priority_goes_to_the_most_value_at_risk(raw_policy):
    ref = population()
    policy = make_policy(raw_policy, retention={"share": 0.02, "min_p_churn": 0.05})
    recs = recommend(ref, resolve_thresholds(policy, ref))
    stays = (1 - ref["p_churn"]) ** 2
    retained = 12 * (ref["contribution_monthly"] - ref["cost_to_serve_monthly"]) * np.exp(ref["growth"])
    at_risk = ((1 - stays) * (retained - recs["expected_credit_loss_12m"])).to_numpy()
    flagged = recs["flag_retention_priority"].to_numpy()
    eligible = ~recs["flag_risk_watch"].to_numpy() & ~recs["flag_in_default"].to_numpy()
    assert at_risk[flagged].min() >= at_risk[eligible & ~flagged & (ref["p_churn"].to_numpy() >= 0.05)].max()


def test_a_policy_resolved_before_the_shares_keeps_the_fixed_rules(raw_policy):
    ref = population()
    resolved = resolve_thresholds(make_policy(raw_policy), ref)
    assert resolved.pd_limit is not None
    old = ResolvedPolicy.model_validate_json(
        resolved.model_copy(update={"pd_limit": None, "retention_cut": None, "growth_cut": None}).model_dump_json())
    recs = recommend(ref, old)
    pds = ref["p_default"].to_numpy()
    assert np.array_equal(recs["flag_risk_watch"].to_numpy(),
                          (pds > 0.02) & ~recs["flag_in_default"].to_numpy())
    assert "above the 2% limit" in recs.loc[recs["flag_risk_watch"], "tier_reason_en"].iloc[0]


def test_rank_limits_need_a_reference_population(raw_policy, caplog):
    policy = make_policy(raw_policy, thresholds={"mode": "absolute", **CUTS})
    assert resolve_thresholds(policy).pd_limit is None
    assert "risk.watch_share, retention.share, growth_lead.share need a reference population" in caplog.text
    assert resolve_thresholds(policy, population()).pd_limit is not None


def test_a_template_naming_the_watch_share_needs_one(raw_policy):
    with pytest.raises(ConfigError, match=r"reasons.en.risk_above uses \{watch_share\} but risk.watch_share is null"):
        make_policy(raw_policy, risk={"watch_share": None})
    plain = {lang: {**raw_policy["reasons"][lang],
                    "risk_above": "default risk {pd}, above the {limit} limit: no upgrade",
                    "risk_above_rising": "default risk {pd}, above the {limit} limit and rising: no upgrade"}
             for lang in ("en", "zh")}
    assert make_policy(raw_policy, risk={"watch_share": None}, reasons=plain).risk.watch_share is None
