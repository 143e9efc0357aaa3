"""The relationship-manager pages: content matches the table or archive, the index figures, clear errors."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from reports_factory import SMALL_REVIEW_EN, SMALL_REVIEW_ZH, write_small_archive

from tierwise.archive import read_archive
from tierwise.features import DataError
from tierwise.models import CHANNELS, FLAG_COLUMNS, REVIEW_STATUSES, TIERS, format_money
from tierwise.models._policy_config import CHANNEL_ZH as POLICY_CHANNEL_ZH
from tierwise.reports import (
    ReportConfig,
    archive_window,
    check_recommendations,
    render_rm_report,
    rm_index,
    write_rm_pages,
)
from tierwise.reports._catalogue import (
    ACTIONS,
    CODE_CATALOGUES,
    FLAG_NAMES,
    INCOME_BANDS,
    INDUSTRIES,
    LANGS,
    REGIONS,
    SEGMENTS,
    TEXT,
    TIER_NAMES,
    code_name,
)
from tierwise.reports._rm_pages import page_name
from tierwise.reports._rm_report import balance_history, band, client_about, tone
from tierwise.synthetic import DataConfig
from tierwise.synthetic._bank import INCOME_BANDS as SYNTHETIC_INCOME_BANDS

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

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
        assert format_money(row["assets_total"], "en") in block
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


def test_chinese_page_names_codes_by_the_catalogue_and_keeps_the_tables_sentences(bank):
    # tier and channel are codes: the catalogue names them, even where an older table's channel_zh
    # still says 柜员 (the teller-and-digital channel is 柜面/线上); the cost reason is a sentence
    # of the table, shown in Chinese where the table has it
    recs, _, monthly = bank
    mine = recs[(recs["month"] == MONTH) & recs["rm_id"].notna()]
    row = mine[mine["channel"] == "teller_digital"].iloc[0]
    tagged = recs.copy()
    target = (tagged["month"] == MONTH) & (tagged["client_id"] == row["client_id"])
    assert row["channel_zh"] == "柜员"
    tagged.loc[target, "flag_cost_review"] = True
    tagged.loc[target, "cost_review_reason"] = "contribution of ¥14 a month is below the cost to serve of ¥53"
    tagged["cost_review_reason_zh"] = None
    tagged.loc[target, "cost_review_reason_zh"] = "月贡献¥14低于服务成本¥53"
    html = render_rm_report(tagged, monthly, row["rm_id"], MONTH, "zh")
    block = html.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
    assert 'data-field="channel">柜面/线上<' in block and "柜员" not in block
    assert f'data-field="tier">{TIER_NAMES["zh"][row["tier"]]}<' in block
    assert "月贡献¥14低于服务成本¥53" in block and "contribution of" not in block
    english = render_rm_report(tagged, monthly, row["rm_id"], MONTH, "en")
    block = english.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
    assert "contribution of ¥14 a month" in block and "Teller / digital" in block


def test_client_line_names_segment_industry_and_region_and_unknown_codes_as_other():
    row = {"segment": "sme", "industry": "retail_trade", "region": "CE"}
    assert client_about(row, "zh") == "小微企业 · 零售业 · 华中"
    assert client_about(row, "en") == "SME · Retail trade · Central"
    odd = {"segment": "retail", "industry": None, "region": "Z9"}
    assert client_about(odd, "zh") == "零售客户 · 其他（Z9）"
    assert client_about(odd, "en") == "Retail · other (Z9)"
    with pytest.raises(KeyError):
        code_name("no_such_kind", "x", "en")


def test_every_code_catalogue_names_the_same_codes_in_both_languages():
    for kind, catalogue in CODE_CATALOGUES.items():
        assert set(catalogue["en"]) == set(catalogue["zh"]), kind
        assert all(name.strip() for lang in LANGS for name in catalogue[lang].values()), kind
    assert set(CODE_CATALOGUES["tier"]["en"]) == set(TIERS)
    assert set(CODE_CATALOGUES["channel"]["en"]) == set(CHANNELS)
    assert set(CODE_CATALOGUES["flag"]["en"]) == set(FLAG_COLUMNS)
    assert set(CODE_CATALOGUES["review"]["en"]) == set(REVIEW_STATUSES)
    assert set(REGIONS["en"]) == set(DataConfig().population.regions)
    assert set(INCOME_BANDS["en"]) == set(SYNTHETIC_INCOME_BANDS)
    assert set(INDUSTRIES["en"]) >= set(DataConfig().population.industries)


def test_banking_terms_of_the_chinese_pages():
    assert FLAG_NAMES["zh"]["flag_risk_watch"] == "风险预警"
    assert FLAG_NAMES["zh"]["flag_rm_overflow"] == "管户已满"
    assert CODE_CATALOGUES["channel"]["zh"]["teller_digital"] == "柜面/线上" == POLICY_CHANNEL_ZH["teller_digital"]
    assert TEXT["zh"]["churn"] == "流失可能性"
    assert TIER_NAMES["zh"] == {"Premier": "尊享", "Excellence": "卓越", "Potential": "潜力", "General": "一般"}
    words = " ".join(v for table in (TEXT, FLAG_NAMES, ACTIONS) for v in table["zh"].values())
    assert "风险关注" not in words and "客户经理超额" not in words


@pytest.mark.parametrize("lang", LANGS)
def test_reason_labels_name_codes_as_the_pages_do(lang):
    # a reason ("地区：华中") and a page name a code with the same words
    raw = yaml.safe_load((CONFIGS / "reasons" / f"{lang}.yaml").read_text(encoding="utf-8"))
    for kind, catalogue in (("segment", SEGMENTS), ("industry", INDUSTRIES), ("region", REGIONS),
                            ("income_band", INCOME_BANDS)):
        assert raw["families"][kind][kind]["labels"] == catalogue[lang], kind
    assert raw["scores"]["churn"] == ("流失可能性" if lang == "zh" else "churn likelihood")


@pytest.mark.parametrize(("score", "value", "expected"), [
    ("churn", 0.9, "bad"), ("churn", 0.01, "good"), ("default", 0.5, "bad"), ("default", 0.0001, "good"),
    ("growth", 0.5, "good"), ("growth", -0.5, "bad"),
])
def test_colours_follow_what_a_score_means_for_the_bank(score, value, expected):
    cfg = ReportConfig()
    bands = {"churn": cfg.churn_bands, "default": cfg.default_bands, "growth": cfg.growth_bands}[score]
    assert tone(score, band(value, bands)) == expected
    assert tone(score, "none") == "neutral"  # no score (no exposure, no model) is neither good nor bad


def test_page_cells_carry_their_tone_and_label(bank):
    recs, _, monthly = bank
    rm = _some_rm(recs)
    cfg = ReportConfig()
    html = render_rm_report(recs, monthly, rm, MONTH, "en", cfg)
    mine = recs[(recs["month"] == MONTH) & (recs["rm_id"] == rm)]
    for _, row in mine.iterrows():
        block = html.split(f'<tr id="client-{row["client_id"]}"')[1].split("</tr>")[0]
        growth = tone("growth", band(row["growth"], cfg.growth_bands))
        assert re.search(rf'<td class="num {growth}" data-label="Growth potential" data-field="growth"', block)
        churn = tone("churn", band(row["p_churn"], cfg.churn_bands))
        assert re.search(rf'<td class="num {churn}" data-label="Churn likelihood" data-field="churn"', block)
        assert block.count("<td") == block.count("data-label=")  # every cell is labelled for the phone layout
    assert "band-" not in html


def test_small_probabilities_keep_two_decimals():
    from tierwise.reports import score_percent

    assert (score_percent(0.0003), score_percent(0.0123), score_percent(0.456)) == ("0.030%", "1.2%", "45.6%")


# --- pages of every RM and their index, from a hand-checked three-month archive -------------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    archive, _, monthly = write_small_archive(tmp_path_factory.mktemp("small"))
    return read_archive(archive), monthly


def _index_figures(index: pd.DataFrame) -> dict[str, tuple]:
    return {r.rm_id: (r.clients, round(r.value, 1), r.assets, r.upgrades, r.downgrades, r.lost, r.new_defaults,
                      r.reviews_opened) for r in index.astype(object).where(index.notna(), None).itertuples()}


def test_index_figures_are_the_hand_checked_ones(small):
    history, monthly = small
    figures = _index_figures(rm_index(history, monthly, MONTH))
    # clients, value, assets, upgrades, downgrades, lost, new defaults, reviews opened
    assert figures == {
        "RM01": (2, 3500.4, 3e6, 1, 1, 1, 0, 0),
        "RM02": (3, 19980.0, 4.2e6 + 4e3 + 2e4, 0, 0, 0, 2, 1),
        "RM03": (0, 0.0, 0.0, 0, 0, 1, 0, 0),   # the whole book left: a row, no page
        "": (1, 7.0, 1e3, 0, 0, 0, 0, 0),        # no RM, listed last
    }
    assert list(figures) == ["RM01", "RM02", "RM03", ""]


def test_index_without_monthly_or_earlier_month_cannot_tell_changes(small):
    history, monthly = small
    no_monthly = rm_index(history, None, MONTH)
    assert no_monthly["new_defaults"].isna().all() and no_monthly["upgrades"].notna().all()
    first = rm_index(history, monthly, pd.Timestamp("2024-01-01"))
    assert first[["upgrades", "downgrades", "lost", "new_defaults"]].isna().all().all()
    assert first["clients"].tolist() == [2, 2]


def _block(html: str, client: str) -> str:
    return html.split(f'<tr id="client-{client}"')[1].split("</tr>")[0]


def test_write_rm_pages_writes_a_page_per_rm_and_the_index(small, tmp_path):
    history, monthly = small
    written = write_rm_pages(history, monthly, MONTH, tmp_path, ReportConfig(), "en")
    assert [p.name for p in written] == ["rm-RM01.html", "rm-RM02.html", "index.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "rm-RM01.html", "rm-RM02.html"]
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+)">', index) == ["rm-RM01.html", "rm-RM02.html"]
    total = index.split('data-rm="total"')[1].split("</tr>")[0]
    cells = dict(re.findall(r'data-field="(\w+)">([^<]*)<', total))
    assert cells == {"clients": "6", "value": "¥23,500", "assets": "¥7.22 million", "upgrades": "1",
                     "downgrades": "1", "lost": "2", "new_defaults": "2", "reviews_opened": "1"}
    assert "No RM" in index and "Changes since 2024-02, the previous archived month." in index
    rm01 = (tmp_path / "rm-RM01.html").read_text(encoding="utf-8")
    assert set(re.findall(r'<tr id="client-([^"]+)"', rm01)) == {"C00000", "C00001"}
    assert 'href="index.html"' in rm01


def test_cards_show_what_changed_and_the_trails(small, tmp_path):
    history, monthly = small
    write_rm_pages(history, monthly, MONTH, tmp_path, ReportConfig(), "en")
    rm01 = (tmp_path / "rm-RM01.html").read_text(encoding="utf-8")
    down = _block(rm01, "C00000")
    assert f"Excellence → Potential: {SMALL_REVIEW_EN}" in down
    assert "New: Cost review" in down and "Cleared: Risk watch, Exit review" in down
    assert f"Downgraded after exit review: {SMALL_REVIEW_EN}" in down
    assert 'data-values="3 2 1"' in down  # tier rank Premier, Excellence, Potential
    assert "Potential → Excellence: Excellence: set by hand for 2024-03" in _block(rm01, "C00001")
    rm02 = (tmp_path / "rm-RM02.html").read_text(encoding="utf-8")
    assert "New this month" in _block(rm02, "C00006") and 'data-values="  1"' in _block(rm02, "C00006")
    assert "No change" in _block(rm02, "C00004")
    assert "Exit review opened" in _block(rm02, "C00003")


def test_chinese_pages_say_everything_in_chinese(small, tmp_path):
    history, monthly = small
    write_rm_pages(history, monthly, MONTH, tmp_path, ReportConfig(), "zh")
    down = _block((tmp_path / "rm-RM01.html").read_text(encoding="utf-8"), "C00000")
    assert f"卓越 → 潜力：{SMALL_REVIEW_ZH}" in down
    assert "新增：成本评审" in down and "解除：风险预警, 退出评审" in down
    assert f"退出评审后降级：{SMALL_REVIEW_ZH}" in down and "较上月变化" in (tmp_path / "rm-RM01.html").read_text()
    assert "本月新客户" in _block((tmp_path / "rm-RM02.html").read_text(encoding="utf-8"), "C00006")
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in index and "无客户经理" in index and "合计" in index and "谁维护谁负责" in index
    assert not re.search(r"Clients|Upgrades|Total|No RM", index)


def test_index_without_monthly_shows_a_dash_for_new_defaults(small, tmp_path):
    history, _ = small
    write_rm_pages(history, None, MONTH, tmp_path, ReportConfig(), "en")
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r'data-field="new_defaults">([^<]*)<', index)) == {"—"}
    assert "New defaults need the monthly table" in index


def test_rm_ids_become_safe_distinct_file_names(small, tmp_path):
    assert page_name("RM01") == "rm-RM01.html"
    odd = page_name("../RM 01")
    assert re.fullmatch(r"rm-___RM_01-[0-9a-f]{8}\.html", odd) and odd != page_name("__/RM 01")
    history, monthly = small
    renamed = history.assign(rm_id=history["rm_id"].replace({"RM02": "RM/02"}))
    written = write_rm_pages(renamed, monthly, MONTH, tmp_path, ReportConfig(), "en")
    assert page_name("RM/02") in [p.name for p in written]
    assert f'href="{page_name("RM/02")}"' in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_write_rm_pages_errors_are_one_line(small, tmp_path):
    history, monthly = small
    with pytest.raises(DataError, match="month 2023-07 is not in the recommendations; scored months: 2024-01"):
        write_rm_pages(history, monthly, "2023-07", tmp_path)
    with pytest.raises(DataError, match="language 'fr' is not supported"):
        write_rm_pages(history, monthly, MONTH, tmp_path, lang="fr")
    assert not list(tmp_path.iterdir())


def test_archive_window_is_the_year_to_the_month():
    archived = [dt.date(2023, m, 1) for m in range(1, 13)] + [dt.date(2024, 1, 1), dt.date(2024, 3, 1)]
    assert archive_window(archived, dt.date(2024, 3, 1)) == archived[3:]
    with pytest.raises(DataError, match=r"month 2024-02 is not in the archive; archived months \(last 12 of 14\): "
                                        r"2023-03, .*, 2024-01, 2024-03$"):
        archive_window(archived, dt.date(2024, 2, 1))


@pytest.mark.parametrize("lang, word", [("en", "not assessed (no model)"), ("zh", "未评估（无模型）")])
def test_a_score_without_a_model_reads_not_assessed(lang, word):
    from tierwise.reports._rm_report import client_card

    row = {"client_id": "C1", "segment": "retail", "industry": "retail_trade", "tier": "General",
           "channel": "teller_digital", "p_churn": float("nan"), "p_default": float("nan"), "growth": float("nan"),
           "credit_exposure": 5_000.0, "expected_value_12m": 100.0, "assets_total": 1_000.0,
           "tier_reason_en": "General: ...", "flag_retention_priority": False, "flag_risk_watch": False,
           "flag_exit_review": False, "flag_cost_review": False, "flag_growth_lead": False, "flag_rm_overflow": False}
    card = client_card(row, lang, ReportConfig())
    for score in ("churn", "default", "growth"):
        assert card[score]["text"] == word and card[score]["band"] == "none"
    no_credit = client_card({**row, "credit_exposure": 0.0}, lang, ReportConfig())
    assert no_credit["default"]["text"] == ("no credit exposure" if lang == "en" else "无信贷敞口")


def test_a_banks_own_code_names_come_before_the_catalogue_and_on_the_page(bank):
    cfg = ReportConfig.model_validate({"code_names": {"region": {"0101": {"en": "Shanghai", "zh": "上海"}},
                                                      "industry": {"manufacturing": {"en": "Factories", "zh": "工厂"}}}})
    row = {"segment": "retail", "industry": "manufacturing", "region": "0101"}
    assert client_about(row, "zh", cfg.names("zh")) == "零售客户 · 工厂 · 上海"
    assert client_about(row, "en", cfg.names("en")) == "Retail · Factories · Shanghai"
    assert client_about(row, "zh") == "零售客户 · 制造业 · 其他（0101）"
    recs, _, monthly = bank
    rm = _some_rm(recs)
    named = recs.assign(region="0101")
    html = render_rm_report(named, monthly, rm, MONTH, "zh", cfg)
    assert "上海" in html and "其他（0101）" not in html
    assert "其他（0101）" in render_rm_report(named, monthly, rm, MONTH, "zh")


@pytest.mark.parametrize(("names", "message"), [
    ({"tier": {"Premier": {"en": "Top", "zh": "顶级"}}}, "unknown kind"),
    ({"region": {"0101": {"en": "Shanghai"}}}, "zh"),
    ({"region": {"0101": {"en": "Shanghai", "zh": ""}}}, "at least 1 character"),
])
def test_bad_code_names_are_config_errors(names, message):
    with pytest.raises(ValueError, match=message):
        ReportConfig.model_validate({"code_names": names})


def test_pages_write_amounts_in_the_banks_currency(small, tmp_path):
    history, monthly = small
    write_rm_pages(history, monthly, MONTH, tmp_path, ReportConfig(currency="HK$"), "zh")
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    total = dict(re.findall(r'data-field="(\w+)">([^<]*)<', index.split('data-rm="total"')[1].split("</tr>")[0]))
    assert total["value"] == format_money(23_500, "zh", "HK$") and total["value"].startswith("HK$")
    page = (tmp_path / "rm-RM01.html").read_text(encoding="utf-8")
    assert "HK$" in page and "¥" not in page
