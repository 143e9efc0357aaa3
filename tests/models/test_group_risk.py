"""Groups in the policy: contagion of default and exit review, group exposure against capital."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.config import parse_config, read_yaml
from tierwise.models import GroupsConfig, PolicyConfig, apply_contagion, group_table


@pytest.fixture(scope="module")
def policy() -> PolicyConfig:
    raw = read_yaml(Path(__file__).resolve().parents[2] / "configs" / "policy.yaml")
    return parse_config(raw, PolicyConfig, source="policy.yaml")


def _recs(**flags) -> pd.DataFrame:
    ids = ["A1", "A2", "A3", "B1", "B2", "C1", "D1", "D2"]
    n = len(ids)
    out = pd.DataFrame({
        "client_id": ids,
        "tier": ["Premier", "Excellence", "Potential", "General", "Excellence", "Premier", "General", "Potential"],
        "p_default": [0.01, 0.02, 0.03, 0.05, 0.01, 0.2, 0.01, 0.01],
        "credit_exposure": [100.0, 50.0, 0.0, 30.0, 20.0, 500.0, 10.0, 10.0],
        "expected_value_12m": [10.0, 5.0, -1.0, 1.0, 2.0, 3.0, 1.0, 1.0],
        "flag_in_default": np.zeros(n, bool), "flag_exit_review": np.zeros(n, bool),
        "flag_risk_watch": np.zeros(n, bool),
        "tier_reason_en": [f"reason {i}" for i in ids], "tier_reason_zh": [f"理由{i}" for i in ids],
    })
    for column, who in flags.items():
        out[column] = out["client_id"].isin(who)
    return out


GROUPS = pd.Series({"A1": "A1", "A2": "A1", "A3": "A1", "B1": "B1", "B2": "B1", "D1": "D1", "D2": "D1"})


def test_exit_review_raises_risk_watch_on_every_other_member_with_the_reason(policy):
    recs = _recs(flag_exit_review=["A2"], flag_risk_watch=["A2"])
    out = apply_contagion(recs, GROUPS, policy)
    watched = out.set_index("client_id")["flag_risk_watch"]
    assert watched[["A1", "A2", "A3"]].all() and not watched[["B1", "B2", "C1", "D1", "D2"]].any()
    en = out.set_index("client_id")["tier_reason_en"]
    zh = out.set_index("client_id")["tier_reason_zh"]
    for other in ("A1", "A3"):
        assert en[other] == f"reason {other}; related firm in exit review"
        assert zh[other] == f"理由{other}；关联企业处于退出审查"
    assert en["A2"] == "reason A2", "the member under review gets no contagion reason of its own"
    assert (out.drop(columns=["flag_risk_watch", "tier_reason_en", "tier_reason_zh"])
            .equals(recs.drop(columns=["flag_risk_watch", "tier_reason_en", "tier_reason_zh"])))


def test_default_is_said_before_exit_review_and_a_defaulted_member_is_left_alone(policy):
    recs = _recs(flag_in_default=["B1", "D1"], flag_exit_review=["B2", "D2"])
    out = apply_contagion(recs, GROUPS, policy).set_index("client_id")
    assert out.loc["B2", "tier_reason_en"].endswith("; related firm in default")
    assert out.loc["B2", "tier_reason_zh"].endswith("；关联企业已违约")
    assert out.loc["B2", "flag_risk_watch"] and not out.loc["B1", "flag_risk_watch"]
    assert out.loc["B1", "tier_reason_en"] == "reason B1"


def test_no_groups_or_no_trigger_leaves_the_recommendations_as_they_are(policy):
    recs = _recs(flag_exit_review=["C1"])  # C1 has no group
    assert apply_contagion(recs, None, policy) is recs
    pd.testing.assert_frame_equal(apply_contagion(recs, GROUPS, policy), recs)


def test_groups_over_the_reporting_share_and_the_limit_are_flagged():
    recs = _recs(flag_in_default=["B1"])
    table = group_table(recs, GROUPS, GroupsConfig(tier1_capital=600.0)).set_index("group_id")
    assert list(table.index) == ["A1", "B1", "D1"], "groups of two or more, largest exposure first"
    assert table.loc["A1", "exposure"] == 150.0 and table.loc["A1", "members"] == 3
    assert table.loc["A1", "member_ids"] == "A1 A2 A3" and table.loc["A1", "best_tier"] == "Premier"
    assert table.loc["A1", "pd_weighted"] == pytest.approx((0.01 * 100 + 0.02 * 50) / 150)
    assert table.loc["B1", "members_in_default"] == 1
    assert table.loc["A1", "capital_share"] == pytest.approx(0.25)
    assert table["flag_reporting"].tolist() == [True, False, False]  # 25%, 8.3%, 3.3% of capital
    assert not table.loc["A1", "flag_over_limit"], "the limit is 'above 25%'"
    over = group_table(recs, GROUPS, GroupsConfig(tier1_capital=590.0)).set_index("group_id")
    assert over.loc["A1", "flag_over_limit"] and not over.loc["B1", "flag_over_limit"]


def test_without_capital_no_group_is_flagged():
    table = group_table(_recs(), GROUPS, GroupsConfig())
    assert table["capital_share"].isna().all() and table["flag_over_limit"].isna().all()
