"""The tier policy for a bank without some task models: configured assumptions take the
missing scores' place, the rules that need them stay off, and the reasons say what was assumed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_cases import read_policy

from tierwise.config import parse_config
from tierwise.features import DataError
from tierwise.models import (
    PolicyConfig,
    ResolvedPolicy,
    assumption_notes,
    recommend,
    resolve_thresholds,
)

CUTS = {"Premier": 100_000.0, "Excellence": 20_000.0, "Potential": 5_000.0}
RAW = read_policy()


def _policy(**assumptions) -> PolicyConfig:
    data = {**RAW, "thresholds": {"mode": "absolute", **{k.lower(): v for k, v in CUTS.items()}}}
    if assumptions:
        data["assumptions"] = {**RAW.get("assumptions", {}), **assumptions}
    return parse_config(data, PolicyConfig, source="test policy")


def _resolved(tasks: tuple[str, ...], **assumptions) -> ResolvedPolicy:
    return resolve_thresholds(_policy(**assumptions), tasks=tasks)


def _clients() -> pd.DataFrame:
    """A risky Excellence client with credit, a churny valuable one and a fast grower; the
    scores of the tasks without a model are NaN, as the recommender sends them."""
    return pd.DataFrame({
        "client_id": ["risky", "churny", "grower"],
        "segment": ["retail", "retail", "retail"],
        "p_churn": [0.05, 0.6, 0.05],
        "p_default": [0.2, np.nan, np.nan],
        "growth": [0.0, 0.0, 1.0],
        "assets_total": [300_000.0, 2_000_000.0, 30_000.0],
        "credit_exposure": [100_000.0, 0.0, 0.0],
        "contribution_monthly": [3_000.0, 12_000.0, 100.0],
        "cost_to_serve_monthly": [20.0, 20.0, 20.0],
        "tier_prev": ["Excellence", "Premier", "General"],
    })


def test_every_task_assessed_is_unchanged():
    full = recommend(_clients(), _resolved(("churn", "default", "growth")))
    assert full.loc[0, "flag_risk_watch"]  # a PD of 20% is above the limit
    assert "assumes" not in " ".join(full["tier_reason_en"])
    assert assumption_notes(_resolved(("churn", "default", "growth")), "en") == []


def test_without_default_risk_is_not_assessed_and_gates_stay_off():
    frame = _clients().assign(p_default=np.nan)
    out = recommend(frame, _resolved(("churn", "growth")))
    assert not out["flag_risk_watch"].any() and not out["flag_exit_review"].any()
    assert out.loc[0, "expected_credit_loss_12m"] == 0.0
    assert "default risk not assessed (no default model)" in out.loc[0, "tier_reason_en"]
    assert "未评估违约风险" in out.loc[0, "tier_reason_zh"]
    assert out.loc[1, "tier_reason_en"].endswith("no credit exposure")  # nothing to assess


def test_an_assumed_pd_gives_a_loss_but_no_gate_and_is_said():
    resolved = _resolved(("churn", "growth"), p_default=0.5)
    out = recommend(_clients().assign(p_default=np.nan), resolved)
    pd_12m = 0.5  # default_horizon_months is 12
    assert out.loc[0, "expected_credit_loss_12m"] == pytest.approx(pd_12m * 0.45 * 100_000)
    assert out.loc[1, "expected_credit_loss_12m"] == 0.0  # no exposure, no loss
    assert not out["flag_risk_watch"].any()
    assert "expected credit loss assumes a PD of 50.0% over 12 months" in out.loc[0, "tier_reason_en"]
    assert "违约概率50.0%" in out.loc[0, "tier_reason_zh"]


def test_without_churn_the_base_rate_sets_p_stay_and_no_retention_flag():
    frame = _clients().assign(p_churn=np.nan)
    out = recommend(frame, _resolved(("default", "growth"), p_churn=0.1))
    assert not out["flag_retention_priority"].any()
    with_model = recommend(frame.assign(p_churn=0.1), _resolved(("churn", "default", "growth")))
    np.testing.assert_allclose(out["expected_value_12m"], with_model["expected_value_12m"])
    assert all("no churn model: value assumes a churn rate of 10.0% over 6 months" in r for r in out["tier_reason_en"])
    assert all("无流失模型" in r for r in out["tier_reason_zh"])
    # with a model, the churny valuable client gets the flag: the assumption turned it off
    assert recommend(_clients(), _resolved(("churn", "default", "growth")))["flag_retention_priority"].iloc[1]


def test_without_growth_it_is_neutral_and_lifts_nothing():
    frame = _clients().assign(growth=np.nan)
    out = recommend(frame, _resolved(("churn", "default")))
    lifted = recommend(_clients(), _resolved(("churn", "default", "growth")))
    assert lifted.loc[2, "tier"] == "Potential" and "lifts" in lifted.loc[2, "tier_reason_en"]
    assert out.loc[2, "tier"] == "General"
    assert not out["flag_growth_lead"].any()
    assert out.loc[2, "tier_reason_en"].endswith("no growth model: value assumes asset growth of 0%")


def test_growth_alone_says_every_assumption_in_both_languages():
    resolved = _resolved(("growth",))
    assert resolved.assumed == ("churn", "default")
    notes = assumption_notes(resolved, "en")
    assert notes == ["no churn model: value assumes a churn rate of 5.0% over 6 months",
                     "default risk not assessed (no default model)"]
    out = recommend(_clients().assign(p_churn=np.nan, p_default=np.nan), resolved)
    assert out["tier"].notna().all() and np.isfinite(out["expected_value_12m"]).all()
    assert len(assumption_notes(resolved, "zh")) == 2


def test_a_single_served_client_gets_the_same_row():
    resolved = _resolved(("growth",))
    frame = _clients().assign(p_churn=np.nan, p_default=np.nan)
    whole = recommend(frame, resolved)
    for i in range(len(frame)):
        one = recommend(frame.iloc[[i]].reset_index(drop=True), resolved)
        assert one.loc[0, "tier_reason_en"] == whole.loc[i, "tier_reason_en"]
        assert one.loc[0, "expected_value_12m"] == whole.loc[i, "expected_value_12m"]


def test_quantile_cuts_resolve_on_assumed_scores():
    data = {**RAW}
    policy = parse_config(data, PolicyConfig, source="test policy")
    population = pd.concat([_clients()] * 40, ignore_index=True).assign(p_churn=np.nan, p_default=np.nan)
    population["contribution_monthly"] *= np.linspace(0.5, 2, len(population))
    resolved = resolve_thresholds(policy, population, tasks=("growth",))
    assert resolved.tasks == ("growth",) and resolved.reference_size == len(population)
    assert ResolvedPolicy.model_validate_json(resolved.model_dump_json()).tasks == ("growth",)


def test_unknown_task_is_one_line():
    with pytest.raises(DataError, match="unknown task"):
        resolve_thresholds(_policy(), tasks=("growth", "fraud"))


def test_assumption_templates_are_checked_and_overridable():
    raw = {**RAW, "reasons": {**RAW["reasons"], "en": {**RAW["reasons"]["en"], "assumed_churn": "base {oops}"}}}
    with pytest.raises(Exception, match="assumed_churn: unknown field"):
        parse_config(raw, PolicyConfig, source="test policy")
    raw["reasons"]["en"]["assumed_churn"] = "churn taken as {rate}"
    policy = parse_config(raw, PolicyConfig, source="test policy")
    assert assumption_notes(resolve_thresholds(policy.model_copy(update={"thresholds": _policy().thresholds}),
                                               tasks=("default", "growth")), "en") == ["churn taken as 5.0%"]


TASK_SUBSETS = [("churn",), ("default",), ("growth",), ("churn", "default"), ("churn", "growth"), ("default", "growth")]


@settings(max_examples=40, deadline=None)
@given(tasks=st.sampled_from(TASK_SUBSETS), seed=st.integers(0, 10_000),
       base=st.floats(0.0, 0.5), pd_rate=st.one_of(st.none(), st.floats(0.0, 0.5)))
def test_any_subset_gives_a_tier_and_never_a_flag_of_a_missing_task(tasks, seed, base, pd_rate):
    rng = np.random.default_rng(seed)
    n = 30
    exposure = np.where(rng.random(n) < 0.5, 0.0, rng.lognormal(9, 1, n))
    frame = pd.DataFrame({
        "client_id": [f"C{i}" for i in range(n)], "segment": rng.choice(["retail", "sme", "other"], n),
        "p_churn": rng.uniform(0, 1, n) if "churn" in tasks else np.nan,
        "p_default": np.where(exposure > 0, rng.uniform(0, 0.5, n), np.nan) if "default" in tasks else np.nan,
        "growth": rng.normal(0, 1, n) if "growth" in tasks else np.nan,
        "assets_total": rng.lognormal(11, 2, n), "credit_exposure": exposure,
        "contribution_monthly": rng.normal(200, 400, n), "cost_to_serve_monthly": rng.uniform(0, 50, n),
        "tier_prev": rng.choice(["Premier", "Excellence", "Potential", "General", None], n),
    })
    resolved = _resolved(tasks, p_churn=base, p_default=pd_rate)
    out = recommend(frame, resolved)
    assert out["tier"].isin(["Premier", "Excellence", "Potential", "General"]).all()
    assert np.isfinite(out["expected_value_12m"]).all()
    if "default" not in tasks:
        assert not (out["flag_risk_watch"] | out["flag_exit_review"]).any()
        if pd_rate is None:
            assert (out["expected_credit_loss_12m"] == 0).all()
    if "churn" not in tasks:
        assert not out["flag_retention_priority"].any()
    if "growth" not in tasks:
        assert not out["flag_growth_lead"].any()
    for lang in ("en", "zh"):
        said = [n for n in assumption_notes(resolved, lang)
                if n != resolved.policy.reason_template(lang, "risk_not_assessed")]
        assert all(n in r for r in out[f"tier_reason_{lang}"] for n in said)
