"""The next-tier search on real (tiny) LightGBM models and the real policy: every answer
re-verified independently, fixed features untouched, ranges and the size limit respected, no
answer for clients in default, only-some-models recommenders, determinism."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tierwise.features import resolve_feature_names, snapshot_features, validate_tables, with_change
from tierwise.models import TIERS_BY_RANK, NextTierSearch, TierwiseModel, next_tier_texts
from tierwise.models._candidates import LightGBMCandidate
from tierwise.models._train import coerce_categories, learn_categories

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FEATURES = ["assets_total", "deposit_total_chg_3m", "credit_exposure", "days_past_due_max_6m",
            "mobile_logins_avg_3m", "tenure_months", "contribution_monthly", "segment", "region",
            "salary_inflow_avg_3m", "investment_share", "products_held"]


def _fit(task: str, kind: str, X: pd.DataFrame, y: np.ndarray) -> TierwiseModel:
    cats = learn_categories(X)
    params = {"objective": "binary" if kind == "binary" else "regression", "num_leaves": 7,
              "learning_rate": 0.2, "min_child_samples": 10, "seed": 0, "deterministic": True,
              "force_row_wise": True, "num_threads": 1, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(coerce_categories(X, cats), label=y.astype(float)), num_boost_round=20)
    return TierwiseModel(task=task, kind=kind, estimator=LightGBMCandidate(booster, kind, params), calibrator=None,
                         feature_names=list(X.columns), categories=cats, id_columns=["client_id"],
                         input_columns=list(X.columns))


@pytest.fixture(scope="module")
def world():
    """(settings, snapshot features, {tasks: recommender}) on a seeded 300-client bank."""
    from tierwise.recommender import build_recommender
    from tierwise.settings import load_settings
    from tierwise.synthetic import DataConfig, generate_bank

    settings = load_settings(CONFIGS)
    bank = generate_bank(DataConfig(), clients=300, months=16, seed=5, start=dt.date(2023, 1, 1))
    report = validate_tables(bank.clients, bank.monthly)
    month = pd.Timestamp(report.monthly["month"].max()).date()
    feats = snapshot_features(report.clients, report.monthly, month, settings.features)
    X = feats.loc[:, FEATURES]
    rng = np.random.default_rng(0)
    n = len(X)
    logins = X["mobile_logins_avg_3m"].fillna(0).to_numpy()
    churn = ((logins < np.median(logins)) ^ (rng.random(n) < 0.2)).astype(float)
    default = ((X["days_past_due_max_6m"].fillna(0).to_numpy() > 0) | (rng.random(n) < 0.1)).astype(float)
    growth = np.log1p(X["salary_inflow_avg_3m"].fillna(0).to_numpy()) / 10 + rng.normal(0, 0.1, n)
    models = {"churn": _fit("churn", "binary", X, churn), "default": _fit("default", "binary", X, default),
              "growth": _fit("growth", "regression", X, growth)}
    recs = {}
    for tasks in (("churn", "default", "growth"), ("churn", "growth")):
        recs[tasks], _ = build_recommender({t: models[t] for t in tasks}, settings.policy, feats, settings.features,
                                           n_threads=1, catalogues=settings.reasons)
    return settings, feats, recs


def _search(world, tasks=("churn", "default", "growth")) -> NextTierSearch:
    settings, feats, recs = world
    return NextTierSearch.for_population(recs[tasks], settings.next_tier, settings.features, feats)


def _apply(row: pd.DataFrame, alternative, settings) -> pd.DataFrame:
    for change in alternative.changes:
        row = with_change(row, change.column, np.array([change.amount]), settings.features,
                          settings.next_tier.hold_months)
    return row


def test_every_alternative_reaches_the_target_when_re_run(world):
    settings, feats, recs = world
    search = _search(world)
    answers = search.search(feats)
    found = [a for a in answers if a.status == "found"]
    assert len(found) >= 20  # the tiny bank has clients within reach
    rows = feats.set_index("client_id", drop=False)
    for answer in found:
        assert answer.alternatives
        for alt in answer.alternatives:
            changed = _apply(rows.loc[[answer.client_id]].reset_index(drop=True), alt, settings)
            tier = recs[("churn", "default", "growth")].recommend(changed)["tier"].iat[0]
            assert TIERS_BY_RANK.index(tier) >= TIERS_BY_RANK.index(answer.target) == TIERS_BY_RANK.index(answer.tier) + 1
            assert tier == alt.tier


def test_changes_are_few_upward_within_range_and_fixed_features_never_move(world):
    settings, feats, _ = world
    search = _search(world)
    rows = feats.set_index("client_id", drop=False)
    fixed = resolve_feature_names(list(settings.next_tier.fixed), settings.features)
    n_alternatives = 0
    for answer in search.search(feats):
        sizes = [len(a.changes) for a in answer.alternatives]
        assert sizes == sorted(sizes) and all(1 <= s <= settings.next_tier.max_changes for s in sizes)
        for alt in answer.alternatives:
            n_alternatives += 1
            row = rows.loc[[answer.client_id]].reset_index(drop=True)
            for change in alt.changes:
                lever = settings.next_tier.levers[change.lever]
                assert change.after > change.before  # only up
                assert change.after <= search.ranges[change.lever][answer.target] + 1e-6
                assert change.amount % lever.step == 0
                if lever.only_from_zero:
                    assert change.before == 0
            changed = _apply(row, alt, settings)
            pd.testing.assert_frame_equal(changed[fixed], row[fixed])
    assert n_alternatives > 0


def test_a_client_in_default_gets_no_alternative_and_the_reason(world):
    settings, feats, _ = world
    in_default = feats[(feats["days_past_due"] >= 90) & (feats["credit_exposure"] > 0)]
    assert len(in_default)
    answers = _search(world).search(in_default)
    assert {a.status for a in answers} == {"in_default"}
    assert all(not a.alternatives and a.target is None for a in answers)
    heading, lines = next_tier_texts(answers[0], settings.reasons["en"])
    assert "in default" in heading and not lines
    assert "已违约" in next_tier_texts(answers[0], settings.reasons["zh"])[0]


def test_top_tier_and_only_some_models(world):
    settings, feats, recs = world
    search = _search(world, ("churn", "growth"))  # no default model: no PD, no risk gate
    answers = search.search(feats)
    assert {a.status for a in answers} <= {"found", "not_found", "top_tier", "in_default"}
    assert any(a.status == "found" for a in answers)
    for a in answers:
        if a.tier == "Premier":
            assert a.status == "top_tier" and not a.alternatives


def test_the_search_is_deterministic(world):
    _, feats, _ = world
    assert _search(world).search(feats.iloc[:80]) == _search(world).search(feats.iloc[:80])


def test_alternatives_in_bank_words_use_the_money_formatter(world):
    from tierwise.models import format_money

    settings, feats, _ = world
    answer = next(a for a in _search(world).search(feats) if a.status == "found")
    alt = answer.alternatives[0]
    for lang in ("en", "zh"):
        heading, lines = next_tier_texts(answer, settings.reasons[lang])
        assert len(lines) == len(answer.alternatives)
        assert format_money(alt.expected_value, lang, settings.currency) in lines[0]
        money = [c for c in alt.changes if c.column != "mobile_logins"]
        for change in money:
            assert format_money(change.amount, lang, settings.currency) in lines[0]
    assert ("卓越" if answer.target == "Excellence" else "潜力" if answer.target == "Potential" else "尊享") in \
        next_tier_texts(answer, settings.reasons["zh"])[0]


def test_risk_watch_goal_clears_the_flag_or_says_not_on_watch(world):
    settings, feats, recs = world
    search = _search(world)
    answers = search.search(feats, goal="risk_watch")
    rec = recs[("churn", "default", "growth")]
    watched = rec.recommend(feats)["flag_risk_watch"].to_numpy()
    rows = feats.set_index("client_id", drop=False)
    for a, on_watch in zip(answers, watched, strict=True):
        if not on_watch:
            assert a.status in ("not_on_watch", "in_default", "exit_review")
        for alt in a.alternatives:
            changed = _apply(rows.loc[[a.client_id]].reset_index(drop=True), alt, settings)
            again = rec.recommend(changed)
            assert not again["flag_risk_watch"].iat[0]


def test_ranges_take_the_target_tier_then_the_tiers_above_then_everyone(world):
    from tierwise.models import plausible_ranges

    settings, _, _ = world
    config = settings.next_tier.model_copy(update={"min_reference": 3, "range_quantile": 1.0})
    population = pd.DataFrame({"deposit_time": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 500.0, 600.0]})
    tiers = ["General", "General", "General", "Potential", "Potential", "Potential", "Premier", "Premier"]
    got = plausible_ranges(population, tiers, config)["time_deposits"]
    assert got["General"] == 3.0 and got["Potential"] == 30.0
    assert got["Excellence"] == 600.0  # no Excellence client: those at or above it
    assert got["Premier"] == 600.0  # two Premier clients: fewer than 3, and none above: everyone


def test_candidate_amounts_come_from_the_boosters_split_thresholds(world):
    from tierwise.models._next_tier import split_thresholds

    _, _, recs = world
    rec = recs[("churn", "default", "growth")]
    got = split_thresholds(rec)
    frames = [m.booster_.trees_to_dataframe() for m in rec.models.values()]
    splits = pd.concat(frames)
    splits = splits[splits["decision_type"] == "<="]
    expected = np.unique(splits.loc[splits["split_feature"] == "assets_total", "threshold"].to_numpy(dtype=float))
    np.testing.assert_array_equal(got["assets_total"], expected)


def _held(recs: pd.DataFrame) -> pd.DataFrame:
    """The month's archived rows as the monthly job leaves them (no memory, no review)."""
    return pd.DataFrame({"client_id": recs["client_id"].astype(str), "tier": recs["tier"].astype(str),
                         "tier_prev": None, "p_default_prev": np.nan, "exit_review_status": None,
                         "flag_in_default": recs["flag_in_default"].to_numpy(dtype=bool)})


def test_the_archived_tier_and_review_are_where_the_search_starts(world):
    _, feats, recs = world
    rec = recs[("churn", "default", "growth")]
    search = _search(world)
    plain = search.search(feats)
    found = [a for a in plain if a.status == "found"]
    held = _held(rec.recommend(feats))
    same = search.search(feats, held=held)
    assert all(a.from_archive for a in same)
    assert [dataclasses.replace(a, from_archive=False) for a in same] == plain  # memory equal to none: same answers
    reviewed = found[0].client_id
    raised = next(a for a in found[1:] if a.tier != "Excellence").client_id
    held.loc[held["client_id"] == reviewed, "exit_review_status"] = "open"
    higher = TIERS_BY_RANK[TIERS_BY_RANK.index(next(a.tier for a in found if a.client_id == raised)) + 1]
    held.loc[held["client_id"] == raised, "tier"] = higher
    held = held[held["client_id"] != found[-1].client_id]  # not archived: decided from its snapshot alone
    got = {a.client_id: a for a in search.search(feats, held=held)}
    assert got[reviewed].status == "exit_review" and not got[reviewed].alternatives and got[reviewed].target is None
    assert got[raised].tier == higher
    assert got[raised].status == "top_tier" if higher == "Premier" else got[raised].target == \
        TIERS_BY_RANK[TIERS_BY_RANK.index(higher) + 1]
    for alt in got[raised].alternatives:
        assert TIERS_BY_RANK.index(alt.tier) > TIERS_BY_RANK.index(higher)
    last = got[found[-1].client_id]
    assert not last.from_archive and last == dataclasses.replace(found[-1], from_archive=False)


def test_alternatives_found_with_tier_memory_hold_when_re_run_with_it(world):
    from tierwise.models._next_tier import with_memory

    settings, feats, recs = world
    rec = recs[("churn", "default", "growth")]
    scored = rec.recommend(feats)
    held = _held(scored)
    held["tier_prev"] = "General"  # last month everyone was General, with a tenth of today's PD: rising fast
    held["p_default_prev"] = scored["p_default"].to_numpy(dtype=float) / 10
    prev = dict(zip(held["client_id"], held["p_default_prev"], strict=True))
    risk = settings.policy.risk
    answers = _search(world).search(feats, held=held)
    rows = with_memory(feats, held).set_index("client_id", drop=False)
    checked = 0
    for answer in answers:
        for alt in answer.alternatives:
            changed = _apply(rows.loc[[answer.client_id]].reset_index(drop=True), alt, settings)
            again = rec.recommend(changed)
            assert again["tier"].iat[0] == alt.tier and TIERS_BY_RANK.index(alt.tier) >= TIERS_BY_RANK.index(answer.target)
            p_now = again["p_default"].iat[0]
            # still rising fast, the gate would hold the client at last month's General: no answer may
            assert not np.isfinite(p_now) or p_now < max(risk.rising_min_pd, risk.rising_factor * prev[answer.client_id])
            checked += 1
    assert checked > 0
    plain = {a.client_id: a for a in _search(world).search(feats)}
    changed_by_memory = [a for a in answers if a.alternatives != plain[a.client_id].alternatives]
    assert changed_by_memory  # the memory is read: some clients' answers are not the snapshot-alone ones


def test_the_ranges_take_the_archived_tiers_and_decide_only_the_clients_not_archived(world):
    from tierwise.models import plausible_ranges

    settings, feats, recs = world
    rec = recs[("churn", "default", "growth")]
    held = _held(rec.recommend(feats))
    held["tier"] = np.where(np.arange(len(held)) % 2 == 0, "Premier", "General")  # the archive says otherwise
    held = held.iloc[10:]  # the first ten are not archived: their tiers come from their rows
    search = NextTierSearch.for_population(rec, settings.next_tier, settings.features, feats, held=held)
    tiers = np.concatenate([rec.recommend(feats.iloc[:10])["tier"].to_numpy(dtype=object),
                            held["tier"].to_numpy(dtype=object)])
    assert search.ranges == plausible_ranges(feats, tiers, settings.next_tier)
    assert search.ranges != _search(world).ranges  # the archived tiers were read
