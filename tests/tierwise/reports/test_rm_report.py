"""The relationship-manager page: content matches the table, self-contained, clear errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tierwise.features import DataError
from tierwise.reports import ReportConfig, check_recommendations, render_rm_report
from tierwise.reports._rm_report import balance_history, band

MONTH = pd.Timestamp("2024-03-01")


def _some_rm(recs: pd.DataFrame) -> str:
    return str(recs.loc[(recs["month"] == MONTH) & recs["rm_id"].notna(), "rm_id"].min())


def test_page_lists_exactly_the_rms_clients_with_their_numbers(bank):
    recs, _, monthly = bank
    rm = _some_rm(recs)
    html = render_rm_report(recs, monthly, rm, MONTH, "en")
    mine = recs[(recs["month"] == MONTH) & (recs["rm_id"] == rm)]
    shown = set(re.findall(r'<tr id="client-([^"]+)"', html))
    assert shown == set(mine["client_id"])
    for _, row in mine.sample(5, random_state=0).iterrows():
        block = html.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
        assert f"{row['assets_total']:,.0f}" in block
        assert f'data-churn="{row["p_churn"]}"' in block
        if pd.notna(row["reason_churn_1_en"]):
            assert row["reason_churn_1_en"] in block


def test_scores_are_said_in_plain_words():
    cfg = ReportConfig()
    assert band(0.05, cfg.churn_bands) == "low"
    assert band(0.2, cfg.churn_bands) == "medium"
    assert band(0.3, cfg.churn_bands) == "high"


def test_page_is_self_contained_and_chinese_is_marked(bank):
    recs, _, monthly = bank
    html = render_rm_report(recs, monthly, _some_rm(recs), MONTH, "zh")
    assert '<html lang="zh-CN">' in html
    assert "Noto Sans CJK SC" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    assert "流失可能性" in html and "近3个月存款下降" in html


def test_text_from_the_table_is_escaped(bank):
    recs, _, monthly = bank
    rm = _some_rm(recs)
    evil = recs.copy()
    target = (evil["month"] == MONTH) & (evil["rm_id"] == rm)
    evil.loc[target, "reason_churn_1_en"] = "<script>alert(1)</script>"
    html = render_rm_report(evil, monthly, rm, MONTH, "en")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_same_inputs_same_page(bank):
    recs, _, monthly = bank
    rm = _some_rm(recs)
    assert render_rm_report(recs, monthly, rm, MONTH, "en") == render_rm_report(recs, monthly, rm, MONTH, "en")


def test_clients_without_credit_exposure_say_so(bank):
    recs, _, monthly = bank
    row = recs[(recs["month"] == MONTH) & recs["rm_id"].notna() & recs["p_default"].isna()].iloc[0]
    html = render_rm_report(recs, monthly, row["rm_id"], MONTH, "zh")
    block = html.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
    assert "无信贷敞口" in block


def test_balance_history_covers_the_last_months(bank):
    _, _, monthly = bank
    history = balance_history(monthly, pd.Series(["C00000"]), MONTH, 12)
    assert len(history["C00000"]) == 12 and all(v is not None for v in history["C00000"])
    row = monthly[(monthly["client_id"] == "C00000") & (monthly["month"] == MONTH)]
    total = row[["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]].sum(axis=1)
    assert history["C00000"][-1] == pytest.approx(float(total.iloc[0]))


def test_unknown_rm_lists_valid_ones(bank):
    recs, _, monthly = bank
    with pytest.raises(DataError, match=r"rm-id 'RM99' has no clients in 2024-03; valid rm-ids: RM01, "):
        render_rm_report(recs, monthly, "RM99", MONTH, "en")


def test_unknown_month_lists_scored_ones(bank):
    recs, _, monthly = bank
    with pytest.raises(DataError, match=r"month 2023-07 is not in the recommendations; scored months: 2024-01, 2024-02, 2024-03"):
        render_rm_report(recs, monthly, "RM01", "2023-07", "en")


def test_unsupported_language(bank):
    recs, _, monthly = bank
    with pytest.raises(DataError, match="language 'fr' is not supported; use one of en, zh"):
        render_rm_report(recs, monthly, "RM01", MONTH, "fr")


def test_recommendations_contract_errors_name_the_problem(bank):
    recs, _, _ = bank
    with pytest.raises(DataError, match=r"recs.parquet: missing column\(s\) tier"):
        check_recommendations(recs.drop(columns="tier"), source="recs.parquet")
    bad = recs.copy()
    bad.loc[3, "tier"] = "Gold"
    with pytest.raises(DataError, match=r"column 'tier' row 3 is 'Gold'; expected one of Premier"):
        check_recommendations(bad, source="recs.parquet")
    bad = recs.copy()
    bad.loc[5, "p_churn"] = 1.5
    with pytest.raises(DataError, match=r"column 'p_churn' row 5 is 1.5; expected a probability"):
        check_recommendations(bad, source="recs.parquet")


def test_missing_flags_read_as_not_flagged(bank):
    recs, _, _ = bank
    nullable = recs.copy()
    nullable["flag_growth_lead"] = nullable["flag_growth_lead"].astype("boolean")
    nullable.loc[0, "flag_growth_lead"] = pd.NA
    checked = check_recommendations(nullable, source="recs.parquet")
    assert checked["flag_growth_lead"].dtype == bool and not checked.loc[0, "flag_growth_lead"]


def test_chinese_page_uses_the_tables_own_words(bank):
    # tier_zh, channel_zh and cost_review_reason_zh are what the recommendations say; the Chinese
    # page shows them (it once showed its own '柜员 / 线上' and the English cost reason)
    recs, _, monthly = bank
    mine = recs[(recs["month"] == MONTH) & recs["rm_id"].notna()]
    row = mine[mine["channel"] == "teller_digital"].iloc[0]
    tagged = recs.copy()
    target = (tagged["month"] == MONTH) & (tagged["client_id"] == row["client_id"])
    tagged.loc[target, "flag_cost_review"] = True
    tagged.loc[target, "cost_review_reason"] = "contribution of ¥14 a month is below the cost to serve of ¥53"
    tagged["cost_review_reason_zh"] = None
    tagged.loc[target, "cost_review_reason_zh"] = "月贡献¥14低于服务成本¥53"
    html = render_rm_report(tagged, monthly, row["rm_id"], MONTH, "zh")
    block = html.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
    assert f'data-field="channel">{row["channel_zh"]}<' in block and row["channel_zh"] == "柜员"
    assert f'data-field="tier">{row["tier_zh"]}<' in block
    assert "月贡献¥14低于服务成本¥53" in block and "contribution of" not in block
    english = render_rm_report(tagged, monthly, row["rm_id"], MONTH, "en")
    block = english.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
    assert "contribution of ¥14 a month" in block and "Teller / digital" in block


def test_small_probabilities_keep_two_decimals():
    from tierwise.reports import score_percent

    assert (score_percent(0.0003), score_percent(0.0123), score_percent(0.456)) == ("0.03%", "1.2%", "46%")
