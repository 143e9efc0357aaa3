"""The RM page's "下一步产品 / next products" section (issue 20, item 5) in a real headless
Chromium: each client's offers in rank order with the likelihood, the expected value and the
reason, in English and Chinese; a month scored without product models has no section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reports_browser import PHONE, console_errors, horizontal_overflow, open_page, set_viewport
from selenium.webdriver.common.by import By

from tierwise.reports import render_rm_report

pytestmark = pytest.mark.browser
MONTH = pd.Timestamp("2024-03-01")
NAMES = {"wealth": ("wealth management", "理财产品"), "insurance": ("insurance", "保险")}


def _with_offers(recs: pd.DataFrame, rm: str) -> tuple[pd.DataFrame, list[str]]:
    """`recs` with two offers for the first three clients of `rm` in MONTH (others: none)."""
    out = recs.copy()
    mine = out.index[(out["month"] == MONTH) & (out["rm_id"] == rm)][:3]
    for i, (product, value) in enumerate((("wealth", 90.0), ("insurance", 52.0)), start=1):
        en, zh = NAMES[product]
        cols = {f"offer_{i}": product, f"offer_{i}_en": en, f"offer_{i}_zh": zh,
                f"offer_{i}_propensity": value / 300.0, f"offer_{i}_value": value,
                f"offer_{i}_reason_family": "assets_level",
                f"offer_{i}_reason_en": f"raises the likelihood of buying {en}: Total assets ¥{i}00,000",
                f"offer_{i}_reason_zh": f"推高购买{zh}的可能性：在本行总资产：¥{i}0万",
                f"offer_{i}_reason_shap": 0.5}
        for col, v in cols.items():
            kind = float if isinstance(v, float) else object
            out[col] = pd.Series(np.nan if kind is float else None, index=out.index, dtype=kind)
            out.loc[mine, col] = v
    return out, [str(c) for c in out.loc[mine, "client_id"]]


def _rm(recs: pd.DataFrame) -> str:
    rows = recs[(recs["month"] == MONTH) & recs["rm_id"].notna()]
    return str(rows["rm_id"].value_counts().index[0])


@pytest.mark.parametrize(("lang", "title", "words"), [("en", "Next products", "raises the likelihood of buying"),
                                                       ("zh", "下一步产品", "推高购买")])
def test_the_next_products_section_lists_each_offer_with_its_reason(browser, tmp_path, bank, lang, title, words):
    recs, _, monthly = bank
    rm = _rm(recs)
    offered, clients = _with_offers(recs, rm)
    page = tmp_path / f"offers_{lang}.html"
    page.write_text(render_rm_report(offered, monthly, rm, MONTH, lang), encoding="utf-8")
    open_page(browser, page)
    assert console_errors(browser) == []
    section = browser.find_element(By.ID, "next-products")
    assert section.is_displayed()
    assert browser.find_element(By.ID, "next-products-title").text == title
    rows = section.find_elements(By.CSS_SELECTOR, "tbody tr")
    shown = [r.get_attribute("data-client") for r in rows]
    assert sorted(shown) == sorted(c for c in clients for _ in range(2))  # in the page's client order
    assert [r.get_attribute("data-product") for r in rows] == ["wealth", "insurance"] * len(clients)  # rank order
    first = rows[0]
    name = NAMES["wealth"][0 if lang == "en" else 1]
    assert first.find_element(By.CSS_SELECTOR, "[data-field='offer']").text == name
    assert words in first.find_element(By.CSS_SELECTOR, "[data-field='offer-reason']").text
    assert "30.0%" in first.text and "¥90" in first.text  # likelihood and value, as every output writes them
    set_viewport(browser, PHONE)
    try:
        open_page(browser, page)
        assert horizontal_overflow(browser) <= 0
    finally:
        set_viewport(browser, 1600, 1000)


def test_a_month_without_offers_has_no_section(browser, tmp_path, bank):
    recs, _, monthly = bank
    rm = _rm(recs)
    page = tmp_path / "plain.html"
    page.write_text(render_rm_report(recs, monthly, rm, MONTH, "en"), encoding="utf-8")
    open_page(browser, page)
    assert console_errors(browser) == []
    assert browser.find_elements(By.ID, "next-products") == []
