"""The exit review as a process: opened, held, closed, ended in a downgrade, month after month."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.models import PolicyConfig, ResolvedPolicy, advance_reviews

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MARCH = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def resolved() -> ResolvedPolicy:
    policy = load_config(CONFIGS / "policy.yaml", PolicyConfig)
    return ResolvedPolicy(policy=policy, cuts={"Premier": 1e5, "Excellence": 2e4, "Potential": 5e3})


def recs(rows: list[dict]) -> pd.DataFrame:
    """This month's recommendations of a few clients (what `advance_reviews` reads)."""
    zh = {"Premier": "尊享", "Excellence": "卓越", "Potential": "潜力", "General": "一般"}
    channel = {"Premier": "relationship_manager", "Excellence": "relationship_manager", "Potential": "branch",
               "General": "teller_digital"}
    out = []
    for i, row in enumerate(rows):
        tier = row.get("tier", "Premier")
        out.append({"client_id": row.get("client_id", f"C{i}"), "tier": tier, "tier_zh": zh[tier],
                    "channel": channel[tier], "channel_zh": "客户经理", "p_default": row.get("p_default", 0.05),
                    "flag_risk_watch": row.get("gate", True), "flag_exit_review": row.get("flag", True),
                    "tier_reason_en": "value reason", "tier_reason_zh": "价值原因"})
    return pd.DataFrame(out)


def prior(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"client_id": r.get("client_id", f"C{i}"), "tier_prev": r.get("tier_prev", "Premier"),
                          "p_default_prev": r.get("p_default_prev", 0.01),
                          "exit_review_status": r.get("status"),
                          "exit_review_since": pd.Timestamp(r["since"]) if r.get("since") else pd.NaT,
                          "exit_review_months": float(r.get("months", 0))} for i, r in enumerate(rows)])


def test_a_review_opens_with_its_month_and_reason(resolved):
    out = advance_reviews(recs([{"p_default": 0.05}, {"p_default": 0.015, "client_id": "R"}]),
                          prior([{}, {"client_id": "R", "p_default_prev": 0.005}]), resolved, MARCH)
    assert out["exit_review_status"].tolist() == ["opened", "opened"]
    assert (out["exit_review_since"] == pd.Timestamp(MARCH)).all() and (out["exit_review_months"] == 1).all()
    assert out["exit_review_reason_en"][0] == ("exit review opened in 2025-03: default risk 5.0%, above the 2% "
                                               "limit (tier last month: Premier)")
    assert "rising fast, from 0.50% to 1.5%" in out["exit_review_reason_en"][1]
    assert "退出审查" in out["exit_review_reason_zh"][0]
    assert out["flag_exit_review"].all() and (out["tier"] == "Premier").all()


def test_an_open_review_holds_then_becomes_a_downgrade(resolved):
    assert resolved.policy.exit_review.downgrade_after_months == 3
    held = advance_reviews(recs([{}]), prior([{"status": "opened", "since": "2025-02-01", "months": 1}]),
                           resolved, MARCH)
    assert held["exit_review_status"][0] == "open" and held["exit_review_months"][0] == 2
    assert held["exit_review_since"][0] == pd.Timestamp("2025-02-01") and held["flag_exit_review"][0]
    assert "under exit review since 2025-02 (2 months)" in held["exit_review_reason_en"][0]

    ended = advance_reviews(recs([{}, {"client_id": "E", "tier": "Excellence"}]),
                            prior([{"status": "open", "since": "2025-01-01", "months": 2},
                                   {"client_id": "E", "tier_prev": "Excellence", "status": "open",
                                    "since": "2025-01-01", "months": 2}]), resolved, MARCH)
    assert ended["exit_review_status"].tolist() == ["downgraded", "downgraded"]
    assert ended["tier"].tolist() == ["Excellence", "Potential"]
    assert ended["channel"].tolist() == ["relationship_manager", "branch"]
    assert ended["tier_zh"].tolist() == ["卓越", "潜力"] and ended["channel_zh"][1] == "网点"
    assert ended["tier_reason_en"][0] == ("recommended downgrade from Premier to Excellence: 3 months under exit "
                                          "review since 2025-01, default risk 5.0%")
    assert ended["tier_reason_zh"][1].startswith("建议由卓越降为潜力")
    assert ended["flag_exit_review"].all()  # the review's last month: the downgrade is its action


def test_a_review_closes_when_the_risk_falls_back(resolved):
    out = advance_reviews(recs([{"gate": False, "flag": False, "p_default": 0.01}]),
                          prior([{"status": "open", "since": "2025-01-01", "months": 2}]), resolved, MARCH)
    assert out["exit_review_status"][0] == "closed" and not out["flag_exit_review"][0]
    assert out["exit_review_reason_en"][0] == "exit review of 2025-01 closed: default risk back to 1.0%"
    assert out["tier"][0] == "Premier" and out["tier_reason_en"][0] == "value reason"


def test_a_client_that_left_the_rm_tiers_under_review_ends_it_as_a_downgrade(resolved):
    out = advance_reviews(recs([{"tier": "Potential", "flag": False}]),
                          prior([{"status": "opened", "since": "2025-02-01", "months": 1}]), resolved, MARCH)
    assert out["exit_review_status"][0] == "downgraded" and out["tier"][0] == "Potential"
    assert "from Premier to Potential" in out["tier_reason_en"][0]


def test_no_flag_no_review_and_nothing_changes(resolved):
    before = recs([{"gate": False, "flag": False}, {"gate": True, "flag": False, "tier": "General"}])
    out = advance_reviews(before, prior([{"status": "closed", "since": "2024-10-01", "months": 3}]),
                          resolved, MARCH)
    assert out["exit_review_status"].isna().all() and out["exit_review_since"].isna().all()
    assert (out["exit_review_months"] == 0).all()
    pd.testing.assert_frame_equal(out.loc[:, before.columns], before, check_dtype=False)


def test_the_process_month_after_month(resolved):
    """A Premier client whose PD stays above the limit: no history, opened, open, downgraded to
    Excellence; a new review opens on the Excellence client; it closes when the risk falls."""
    state = prior([])
    seen = []
    for k, (tier, gate) in enumerate([("Premier", True), ("Premier", True), ("Premier", True), ("Premier", True),
                                      ("Excellence", True), ("Excellence", False)]):
        previous = state["tier_prev"].iloc[0] if len(state) else None
        flag = gate and previous in ("Premier", "Excellence")  # what the policy's flag says
        out = advance_reviews(recs([{"tier": tier, "gate": gate, "flag": flag}]), state, resolved,
                              dt.date(2025, 1 + k, 1))
        status = out["exit_review_status"][0]
        seen.append((status if pd.notna(status) else None, out["tier"][0], int(out["exit_review_months"][0])))
        since = out["exit_review_since"][0]
        state = prior([{"tier_prev": out["tier"][0], "status": seen[-1][0],
                        "since": since if pd.notna(since) else None, "months": out["exit_review_months"][0]}])
    assert seen == [(None, "Premier", 0), ("opened", "Premier", 1), ("open", "Premier", 2),
                    ("downgraded", "Excellence", 3), ("opened", "Excellence", 1), ("closed", "Excellence", 1)]


def test_without_the_process_in_the_policy_the_flag_is_the_review(resolved):
    bare = ResolvedPolicy(policy=resolved.policy.model_copy(update={"exit_review": None}), cuts=resolved.cuts)
    out = advance_reviews(recs([{}, {"flag": False}]), None, bare, MARCH)
    assert out["exit_review_status"].tolist()[0] == "opened" and pd.isna(out["exit_review_status"][1])
    assert np.array_equal(out["exit_review_months"].to_numpy(), [1, 0])
