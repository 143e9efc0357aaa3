"""The tier policy on hand-made clients: value, every rule, gate and flag, reasons, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from policy_cases import make_policy

from tierwise.config import load_config
from tierwise.features import ConfigError, DataError
from tierwise.models import (
    FLAG_COLUMNS,
    OUTPUT_COLUMNS,
    PolicyConfig,
    ResolvedPolicy,
    apply_rm_capacity,
    expected_value,
    recommend,
    resolve_thresholds,
    rm_capacity,
    summarise_tiers,
)

# absolute cut points used by most tests (expected value over 12 months)
CUTS = {"Premier": 100_000.0, "Excellence": 20_000.0, "Potential": 5_000.0}


@pytest.fixture(scope="module")
def policy(raw_policy) -> PolicyConfig:
    return make_policy(
        raw_policy, thresholds={"mode": "absolute", **{k.lower(): v for k, v in CUTS.items()}}
    )


@pytest.fixture(scope="module")
def resolved(policy) -> ResolvedPolicy:
    return resolve_thresholds(policy)


def client(**values) -> dict:
    """An unremarkable General client: net value 80 a month, no credit, no growth."""
    base = {
        "client_id": "C1",
        "segment": "retail",
        "p_churn": 0.05,
        "p_default": np.nan,
        "growth": 0.0,
        "assets_total": 50_000.0,
        "credit_exposure": 0.0,
        "contribution_monthly": 100.0,
        "cost_to_serve_monthly": 20.0,
    }
    return {**base, **values}


def frame(*clients: dict) -> pd.DataFrame:
    rows = [{**c, "client_id": c.get("client_id", f"C{i}")} for i, c in enumerate(clients)]
    return pd.DataFrame(rows)


def one(resolved: ResolvedPolicy, base: dict | None = None, **values) -> pd.Series:
    """The recommendation for one client: `base` (a client dict) updated with `values`."""
    return recommend(frame({**client(), **(base or {}), **values}), resolved).iloc[0]


def monthly_for_ev(ev: float, p_churn: float = 0.05) -> float:
    """Net monthly value giving expected value `ev` with no growth and no credit."""
    return ev / (12 * (1 - p_churn) ** 2)


def rich(ev: float, **values) -> dict:
    """A client whose expected value is `ev` (no credit, no growth, large assets)."""
    return client(
        contribution_monthly=monthly_for_ev(ev) + 20.0, assets_total=5_000_000.0, **values
    )


# --------------------------------------------------------------------------- value


def test_expected_value_follows_the_documented_formula(policy):
    row = client(
        contribution_monthly=1000.0,
        cost_to_serve_monthly=100.0,
        growth=math.log(1.1),
        p_churn=0.19,
        p_default=0.05,
        credit_exposure=100_000.0,
    )
    retained = 12 * 900 * 1.1
    p_stay = (1 - 0.19) ** 2  # a 6-month churn probability over 12 months
    loss = 0.05 * 0.45 * 100_000
    assert expected_value(frame(row), policy).iloc[0] == pytest.approx(p_stay * retained - loss)


def test_a_loss_making_client_is_not_scaled_by_growth(policy):
    grows = expected_value(frame(client(contribution_monthly=10.0, growth=1.0)), policy).iloc[0]
    flat = expected_value(frame(client(contribution_monthly=10.0, growth=0.0)), policy).iloc[0]
    assert grows == pytest.approx(flat) and grows < 0


def test_lgd_comes_from_the_segment_with_a_default_for_others(policy):
    def loss(segment: str) -> float:
        row = client(segment=segment, p_default=0.1, credit_exposure=1000.0, p_churn=0.0)
        no_credit = client(segment=segment, p_churn=0.0)
        return float(
            expected_value(frame(no_credit), policy).iloc[0]
            - expected_value(frame(row), policy).iloc[0]
        )

    assert loss("sme") == pytest.approx(0.1 * policy.lgd_by_segment["sme"] * 1000)
    assert loss("corporate") == pytest.approx(0.1 * policy.lgd * 1000)


# --------------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("ev", "tier", "channel"),
    [
        (CUTS["Premier"] + 0.01, "Premier", "relationship_manager"),
        (CUTS["Premier"] - 0.01, "Excellence", "relationship_manager"),
        (CUTS["Excellence"] + 0.01, "Excellence", "relationship_manager"),
        (CUTS["Potential"] + 0.01, "Potential", "branch"),
        (CUTS["Potential"] - 0.01, "General", "teller_digital"),
    ],
)
def test_tier_bands_start_at_their_cut_points(resolved, ev, tier, channel):
    rec = recommend(frame(rich(ev)), resolved).iloc[0]
    assert (rec.tier, rec.channel) == (tier, channel)
    zh = {"Premier": "尊享", "Excellence": "卓越", "Potential": "潜力", "General": "一般"}
    assert rec.tier_zh == zh[tier]
    assert rec.tier_reason_en.startswith(f"{tier}: expected value")


def test_asset_floor_keeps_value_without_assets_out_of_the_top_tiers(resolved, policy):
    floor = policy.asset_floor
    below_premier = one(resolved, rich(2 * CUTS["Premier"]), assets_total=floor.premier - 1)
    assert below_premier.tier == "Excellence"
    assert "below its floor" in below_premier.tier_reason_en
    assert "Premier" in below_premier.tier_reason_en
    below_both = one(resolved, rich(2 * CUTS["Premier"]), assets_total=floor.excellence - 1)
    assert below_both.tier == "Potential"
    at_floor = one(resolved, rich(2 * CUTS["Premier"]), assets_total=floor.premier)
    assert at_floor.tier == "Premier"


def test_growth_lifts_a_general_client_to_potential(resolved, policy):
    lift = policy.growth_lift.min_growth
    lifted = one(resolved, growth=lift)
    assert lifted.tier == "Potential"
    assert "lifts the client from General" in lifted.tier_reason_en
    assert "由一般提升" in lifted.tier_reason_zh
    assert one(resolved, growth=lift - 0.01).tier == "General"
    # a client losing money is not lifted, however fast the assets grow
    assert one(resolved, growth=lift, contribution_monthly=0.0).tier == "General"


# --------------------------------------------------------------------------- risk gate


def test_pd_above_the_limit_keeps_a_client_at_its_previous_tier(resolved, policy):
    limit = policy.risk.pd_limit
    base = {**rich(2 * CUTS["Premier"]), "credit_exposure": 10.0, "tier_prev": "Excellence"}
    safe = one(resolved, base, p_default=limit)
    assert safe.tier == "Premier" and not safe.flag_risk_watch
    risky = one(resolved, base, p_default=limit + 0.001)
    assert risky.tier == "Excellence"
    assert risky.flag_risk_watch and risky.flag_exit_review
    assert "kept at the previous tier instead of Premier" in risky.tier_reason_en
    assert "above the 2% limit" in risky.tier_reason_en
    assert "高于2%的上限" in risky.tier_reason_zh


def test_pd_above_the_limit_without_history_caps_the_tier(resolved, policy):
    risky = one(resolved, rich(2 * CUTS["Premier"]), credit_exposure=10.0, p_default=0.05)
    assert risky.tier == policy.risk.cap_without_history
    # no tier history: the client was never placed high, so it does not enter the exit review
    assert risky.flag_risk_watch and not risky.flag_exit_review
    assert "no tier history" in risky.tier_reason_en


def test_risk_gate_never_lifts_a_client_to_its_previous_tier(resolved):
    # previous tier above the value-based tier: the gate only caps, the client still falls
    rec = one(resolved, p_default=0.05, credit_exposure=10.0, tier_prev="Premier")
    assert rec.tier == "General"
    # the value rules already moved it out of the RM-maintained tiers: no exit review to open
    assert rec.flag_risk_watch and not rec.flag_exit_review
    kept = one(resolved, rich(1.5 * CUTS["Excellence"]), p_default=0.05, credit_exposure=10.0, tier_prev="Premier")
    assert kept.tier == "Excellence" and kept.flag_exit_review  # still RM-maintained: under review


def test_risk_watch_on_a_general_client_is_not_an_exit_review(resolved):
    rec = one(resolved, p_default=0.05, credit_exposure=10.0, tier_prev="General")
    assert rec.flag_risk_watch and not rec.flag_exit_review
    # and it blocks the growth lift (an upgrade from General)
    lifted = one(resolved, p_default=0.05, credit_exposure=10.0, tier_prev="General", growth=1.0)
    assert lifted.tier == "General"


@pytest.mark.parametrize(
    ("pd_now", "pd_prev", "rising"),
    [
        (0.015, 0.005, True),  # tripled and above the 1% floor
        (0.015, 0.0075, True),  # exactly doubled
        (0.015, 0.010, False),  # up by half only
        (0.008, 0.001, False),  # eightfold but below the 1% floor
        (0.015, np.nan, False),  # no earlier PD
    ],
)
def test_rising_fast_default_risk_raises_risk_watch(raw_policy, pd_now, pd_prev, rising):
    # a 1% floor below the 2% limit, so that "rising" is seen apart from "above the limit"
    floor = make_policy(raw_policy, thresholds={"mode": "absolute", **{k.lower(): v for k, v in CUTS.items()}},
                        risk={"rising_min_pd": 0.01})
    rec = one(
        resolve_thresholds(floor),
        rich(2 * CUTS["Premier"]),
        p_default=pd_now,
        p_default_prev=pd_prev,
        credit_exposure=10.0,
        tier_prev="Premier",
    )
    assert rec.flag_risk_watch == rising
    assert rec.flag_exit_review == rising
    assert ("rising fast" in rec.tier_reason_en) == rising
    assert rec.tier == "Premier"  # at the previous tier: kept, put up for review


# --------------------------------------------------------------------------- flags


def test_retention_priority_needs_high_value_and_high_churn(resolved, policy):
    threshold = policy.retention.min_p_churn
    value = client(contribution_monthly=CUTS["Excellence"] / 12 + 21.0, assets_total=5e6)
    assert one(resolved, value, p_churn=threshold).flag_retention_priority
    assert not one(resolved, value, p_churn=threshold - 0.01).flag_retention_priority
    low_value = client(contribution_monthly=CUTS["Excellence"] / 12 - 20.0, p_churn=0.9)
    assert not one(resolved, low_value).flag_retention_priority
    risky = {**value, "p_churn": 0.9, "p_default": 0.05, "credit_exposure": 10.0}
    assert not one(resolved, risky).flag_retention_priority


def test_cost_review_names_the_reason(resolved):
    below = one(resolved, contribution_monthly=18.0, cost_to_serve_monthly=34.0)
    assert below.flag_cost_review
    assert below.cost_review_reason == (
        "contribution of ¥18 a month is below the cost to serve of ¥34"
    )
    assert below.cost_review_reason_zh == "月贡献¥18低于服务成本¥34"
    negative = one(resolved, contribution_monthly=-5.0, cost_to_serve_monthly=34.0)
    assert negative.flag_cost_review
    assert negative.cost_review_reason.startswith("no positive contribution (-¥5 a month)")
    fine = one(resolved, contribution_monthly=35.0, cost_to_serve_monthly=34.0)
    assert not fine.flag_cost_review and fine.cost_review_reason == ""


def test_growth_lead_for_a_potential_client_who_would_reach_excellence(resolved, policy):
    # EV at Potential now; 12 x net x exp(growth) reaches the Excellence cut
    growth = 0.2
    net = CUTS["Excellence"] / (12 * math.exp(growth)) + 1.0
    lead = client(
        contribution_monthly=net + 20.0,
        growth=growth,
        p_churn=0.4,
        assets_total=policy.asset_floor.excellence,
    )
    rec = one(resolved, lead)
    assert rec.tier == "Potential" and rec.flag_growth_lead
    # assets that would not reach the Excellence floor even after growth: no lead
    poor = {**lead, "assets_total": policy.asset_floor.excellence / math.exp(growth) * 0.9}
    assert not one(resolved, poor).flag_growth_lead
    # no growth: the value is what it is
    assert not one(resolved, lead, growth=0.0).flag_growth_lead


def test_recommend_returns_the_documented_columns_on_the_same_index(resolved):
    data = frame(client(), rich(2 * CUTS["Premier"]), client(growth=1.0)).set_index(
        pd.Index([10, 20, 30])
    )
    recs = recommend(data, resolved)
    assert tuple(recs.columns) == OUTPUT_COLUMNS
    assert list(recs.index) == [10, 20, 30]
    assert (recs["client_id"] == data["client_id"]).all()
    for flag in FLAG_COLUMNS:
        assert recs[flag].dtype == bool
    assert not recs["flag_rm_overflow"].any()


def test_recommendation_columns_are_the_recommend_frame_without_the_frame(resolved):
    from tierwise.models._policy import recommendation_columns

    data = frame(client(), rich(2 * CUTS["Premier"]), client(growth=1.0))
    columns = recommendation_columns(data, resolved)
    assert tuple(columns) == OUTPUT_COLUMNS
    pd.testing.assert_frame_equal(pd.DataFrame(columns, index=data.index), recommend(data, resolved))


# --------------------------------------------------------------------------- reasons text


def test_tier_reason_in_quantile_mode_carries_the_numbers(raw_policy):
    policy = make_policy(raw_policy)  # the shipped quantile thresholds
    resolved = ResolvedPolicy(policy=policy, cuts=CUTS, reference_size=1000)
    rec = recommend(
        frame(rich(2 * CUTS["Premier"], p_default=0.004, credit_exposure=1000.0)), resolved
    ).iloc[0]
    assert rec.tier == "Premier"
    assert rec.tier_reason_en.startswith("Premier: expected value ¥200,000, in the top 1%")
    assert rec.tier_reason_en.endswith("; default risk 0.40%, below the 2% limit")
    assert rec.tier_reason_zh.startswith("尊享：预期价值¥20万，位于前1%")
    assert rec.tier_reason_zh.endswith("；违约风险0.40%，低于2%的上限")
    general = recommend(frame(client()), resolved).iloc[0]
    assert "below the top 40%" in general.tier_reason_en
    assert "no credit exposure" in general.tier_reason_en


# --------------------------------------------------------------------------- thresholds


def _population(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame(
        *[
            client(
                client_id=f"C{i}",
                contribution_monthly=float(c),
                assets_total=5e6,
                p_churn=float(p),
            )
            for i, (c, p) in enumerate(
                zip(rng.lognormal(5, 1.5, n), rng.uniform(0, 0.5, n), strict=True)
            )
        ]
    )


def test_quantile_thresholds_resolve_to_ev_quantiles_of_the_population(raw_policy):
    policy = make_policy(raw_policy)
    population = _population(2000)
    resolved = resolve_thresholds(policy, population)
    ev = expected_value(population, policy).to_numpy()
    assert resolved.cuts["Premier"] == pytest.approx(np.quantile(ev, 0.99))
    assert resolved.cuts["Potential"] == pytest.approx(np.quantile(ev, 0.60))
    assert resolved.reference_size == 2000
    shares = recommend(population, resolved)["tier"].value_counts(normalize=True)
    assert shares["Premier"] == pytest.approx(0.01, abs=0.002)
    assert shares["Premier"] + shares["Excellence"] == pytest.approx(0.10, abs=0.005)


def test_resolved_policy_survives_a_json_round_trip(raw_policy):
    resolved = resolve_thresholds(make_policy(raw_policy), _population(300))
    again = ResolvedPolicy.model_validate_json(resolved.model_dump_json())
    assert again == resolved
    data = _population(50, seed=1)
    pd.testing.assert_frame_equal(recommend(data, again), recommend(data, resolved))


def test_absolute_thresholds_need_no_population(policy):
    assert resolve_thresholds(policy).cuts == CUTS


def test_quantile_thresholds_without_population_fail_clearly(raw_policy):
    with pytest.raises(DataError, match="reference population is needed"):
        resolve_thresholds(make_policy(raw_policy), None)


# --------------------------------------------------------------------------- capacity


def with_capacity(resolved: ResolvedPolicy, **capacity) -> ResolvedPolicy:
    policy = resolved.policy
    rm = policy.rm_capacity.model_copy(update=capacity)
    return resolved.model_copy(update={"policy": policy.model_copy(update={"rm_capacity": rm})})


def test_rm_overflow_moves_the_lowest_value_excellence_clients_to_the_branch(resolved):
    data = frame(
        rich(2 * CUTS["Premier"], client_id="P-high"),
        rich(1.1 * CUTS["Premier"], client_id="P-low"),
        rich(0.9 * CUTS["Premier"], client_id="E-high"),
        rich(0.5 * CUTS["Premier"], client_id="E-mid"),
        rich(0.3 * CUTS["Premier"], client_id="E-low"),
        client(client_id="G"),
    )
    recs = recommend(data, resolved)
    # config n_rms is null: capacity comes from the data (here 1 RM x 300 clients)
    assert rm_capacity(resolved, n_rms=1) == resolved.policy.rm_capacity.clients_per_rm
    small = with_capacity(resolved, clients_per_rm=3)
    out = apply_rm_capacity(recs, small, n_rms=1)
    overflow = out.set_index("client_id")["flag_rm_overflow"]
    assert overflow[overflow].index.tolist() == ["E-mid", "E-low"]
    moved = out[out["flag_rm_overflow"]]
    assert (moved["channel"] == "branch").all() and (moved["channel_zh"] == "网点").all()
    assert (moved["tier"] == "Excellence").all()  # the tier does not change
    assert moved["tier_reason_en"].str.endswith("relationship managers are at capacity").all()
    assert moved["tier_reason_zh"].str.contains("客户经理已满额").all()
    pd.testing.assert_frame_equal(out[~out["flag_rm_overflow"]], recs[~out["flag_rm_overflow"]])
    # no capacity known: nothing changes; recs itself is never modified
    pd.testing.assert_frame_equal(apply_rm_capacity(recs, resolved), recs)
    assert not recs["flag_rm_overflow"].any()


def test_rm_overflow_reaches_premier_only_after_every_excellence_client(resolved):
    data = frame(
        rich(1.1 * CUTS["Premier"], client_id="P"),
        rich(0.99 * CUTS["Premier"], client_id="E"),
    )
    one_slot = with_capacity(resolved, clients_per_rm=1, n_rms=1)
    out = apply_rm_capacity(recommend(data, resolved), one_slot, n_rms=99)  # config wins
    assert out.set_index("client_id")["flag_rm_overflow"].to_dict() == {"P": False, "E": True}


# --------------------------------------------------------------------------- summary


def test_summarise_tiers_counts_tiers_channels_and_flags(raw_policy):
    resolved = resolve_thresholds(make_policy(raw_policy), _population(500))
    recs = recommend(_population(500), resolved)
    table = summarise_tiers(recs)
    assert list(table.index) == ["Premier", "Excellence", "Potential", "General", "Total"]
    tiers = table.drop(index="Total")
    assert tiers["clients"].sum() == len(recs) == table.loc["Total", "clients"]
    assert tiers["share"].sum() == pytest.approx(1.0)
    for tier, count in recs["tier"].value_counts().items():
        assert tiers.loc[tier, "clients"] == count
    assert (
        tiers[["relationship_manager", "branch", "teller_digital"]].sum(axis=1) == tiers["clients"]
    ).all()
    for flag in FLAG_COLUMNS:
        assert table.loc["Total", flag] == recs[flag].sum()


# --------------------------------------------------------------------------- bad input


def test_missing_column_is_named(resolved):
    with pytest.raises(DataError, match=r"missing column 'growth'"):
        recommend(frame(client()).drop(columns="growth"), resolved)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "p_default",
            1.3,
            r"column 'p_default' row 1 \(client_id C1\) is 1.3; expected a probability",
        ),
        (
            "p_churn",
            -0.1,
            r"column 'p_churn' row 1 \(client_id C1\) is -0.1; expected a probability",
        ),
        ("p_churn", np.nan, r"column 'p_churn' row 1 .*expected a finite number"),
        ("assets_total", -5.0, r"column 'assets_total' row 1 .*expected a non-negative amount"),
        (
            "tier_prev",
            "Gold",
            r"column 'tier_prev' row 1 \(client_id C1\) is 'Gold'; expected one of Premier",
        ),
        ("growth", "fast", r"column 'growth' must be numeric"),
    ],
)
def test_bad_values_are_named_with_column_row_and_client(resolved, column, value, message):
    data = frame(
        client(client_id="C0", tier_prev="General"), client(client_id="C1", tier_prev="General")
    )
    data[column] = data[column].astype(object)
    data.loc[1, column] = value
    if column == "growth":
        data[column] = data[column].astype("str")
    elif column != "tier_prev":
        data[column] = data[column].astype(float)
    with pytest.raises(DataError, match=message):
        recommend(data, resolved)


def test_missing_pd_for_a_client_with_credit_is_an_error(resolved):
    with pytest.raises(
        DataError,
        match=r"'p_default' row 0 \(client_id C1\) is nan; expected a probability for a client with credit",
    ):
        recommend(frame(client(credit_exposure=100.0)), resolved)


def test_unknown_config_key_is_named(tmp_path, raw_policy):
    raw = {**raw_policy, "risk": {**raw_policy["risk"], "pd_limt": 0.03}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"policy.yaml: unknown key 'risk.pd_limt'; allowed keys here: cap_without_history, in_default_dpd, pd_limit",
    ):
        load_config(path, PolicyConfig)


def test_shipped_policy_loads(config_dir):
    policy = load_config(config_dir / "policy.yaml", PolicyConfig)
    assert policy.thresholds.mode == "quantile"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"thresholds": {"premier": 0.5}}, r"premier >= excellence >= potential"),
        ({"thresholds": {"potential": 1.5}}, r"between 0 and 1"),
        ({"asset_floor": {"premier": 1.0}}, r"asset floor for premier"),
        ({"channels": {"Premier": "pigeon"}}, r"key 'channels.Premier' = 'pigeon'"),
    ],
)
def test_inconsistent_config_is_rejected(raw_policy, override, message):
    with pytest.raises(ConfigError, match=message):
        make_policy(raw_policy, **override)


def test_reason_template_with_unknown_field_is_rejected(raw_policy):
    reasons = {
        **raw_policy["reasons"],
        "en": {**raw_policy["reasons"]["en"], "risk_ok": "PD {pdd}"},
    }
    with pytest.raises(ConfigError, match=r"risk_ok: unknown field \{pdd\}"):
        make_policy(raw_policy, reasons=reasons)


def test_a_repeated_index_is_kept_row_by_row(resolved):
    data = frame(client(), rich(2 * CUTS["Premier"]), client(growth=1.0))
    data.index = [5, 5, 5]
    recs = recommend(data, resolved)
    assert list(recs.index) == [5, 5, 5]
    assert recs["tier"].tolist() == ["General", "Premier", "Potential"]
    capped = apply_rm_capacity(recs, with_capacity(resolved, clients_per_rm=1, n_rms=0))
    assert capped["flag_rm_overflow"].tolist() == [False, True, False]
    assert capped["tier"].tolist() == recs["tier"].tolist()


def test_one_tier_order_and_its_rank_order():
    from tierwise.models import TIERS, TIERS_BY_RANK

    assert TIERS == ("Premier", "Excellence", "Potential", "General")  # highest first: shown so
    assert tuple(reversed(TIERS)) == TIERS_BY_RANK  # position = rank, 0 General ... 3 Premier
