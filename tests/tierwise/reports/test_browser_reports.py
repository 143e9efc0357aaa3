"""The pages in a real headless Chromium: no console errors, content visible, filter works."""

from __future__ import annotations

import pandas as pd
import pytest
from reports_browser import console_errors, open_page, save_screenshot
from reports_factory import write_small_archive
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tierwise.archive import read_archive
from tierwise.reports import (
    MonitorConfig,
    ReportConfig,
    build_monitor,
    render_monitor_html,
    render_rm_report,
    write_rm_pages,
)

pytestmark = pytest.mark.browser
MONTH = pd.Timestamp("2024-03-01")


def _open(browser, tmp_path, html: str, name: str):
    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    open_page(browser, page)
    return page


def test_console_errors_are_seen(browser, tmp_path):
    # the guard the other tests rely on: a page with a script error must be caught
    _open(browser, tmp_path, "<html><body><script>notDefinedAnywhere();</script></body></html>", "bad.html")
    errors = console_errors(browser)
    assert errors and "notDefinedAnywhere" in errors[0]


def _rm_with_flag(recs: pd.DataFrame, flag: str) -> str:
    rows = recs[(recs["month"] == MONTH) & recs["rm_id"].notna()]
    counts = rows.groupby("rm_id").agg(flagged=(flag, "sum"), n=(flag, "size"))
    usable = counts[(counts["flagged"] > 0) & (counts["flagged"] < counts["n"])]
    return str(usable.index[0])


def test_rm_report_loads_shows_reasons_and_filters(browser, tmp_path, bank):
    recs, _, monthly = bank
    rm = _rm_with_flag(recs, "flag_cost_review")
    _open(browser, tmp_path, render_rm_report(recs, monthly, rm, MONTH, "en"), "rm_en.html")
    assert console_errors(browser) == []

    mine = recs[(recs["month"] == MONTH) & (recs["rm_id"] == rm)]
    known = mine[mine["reason_churn_1_en"].notna()].iloc[0]
    row = browser.find_element(By.ID, f"client-{known['client_id']}")
    assert row.is_displayed()
    assert known["reason_churn_1_en"] in row.text

    Select(browser.find_element(By.ID, "flag-filter")).select_by_value("flag_cost_review")
    rows = browser.find_elements(By.CSS_SELECTOR, "#clients tbody tr")
    flagged = set(mine.loc[mine["flag_cost_review"], "client_id"])
    visible = {r.get_attribute("data-client") for r in rows if r.is_displayed()}
    assert visible == flagged
    assert len(rows) == len(mine)

    browser.find_element(By.CSS_SELECTOR, "th[data-key='churn']").click()
    shown = [float(r.get_attribute("data-churn")) for r in browser.find_elements(By.CSS_SELECTOR, "#clients tbody tr")]
    assert shown == sorted(shown)
    assert console_errors(browser) == []
    save_screenshot(browser, "rm_report_en.png")


def test_rm_report_in_chinese_renders(browser, tmp_path, bank):
    recs, _, monthly = bank
    rm = _rm_with_flag(recs, "flag_cost_review")
    _open(browser, tmp_path, render_rm_report(recs, monthly, rm, MONTH, "zh"), "rm_zh.html")
    assert console_errors(browser) == []
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "客户组合" in body and "流失可能性" in body
    path = save_screenshot(browser, "rm_report_zh.png")
    assert path.stat().st_size > 10_000


def test_monitor_page_loads_without_console_errors(browser, tmp_path, bank):
    recs, clients, monthly = bank
    result = build_monitor(recs, MONTH, pd.Timestamp("2024-02-01"), MonitorConfig(),
                           clients=clients, monthly=monthly)
    _open(browser, tmp_path, render_monitor_html(result), "monitor.html")
    assert console_errors(browser) == []
    assert browser.find_element(By.ID, "migration").is_displayed()
    assert f"Portfolio monitor — {result['month']}" in browser.find_element(By.TAG_NAME, "h1").text
    save_screenshot(browser, "monitor.png")


def test_rm_index_links_open_the_pages_and_history_charts_render(browser, tmp_path):
    archive, _, monthly = write_small_archive(tmp_path)
    pages = tmp_path / "pages"
    write_rm_pages(read_archive(archive), monthly, MONTH, pages, ReportConfig(), "en")
    open_page(browser, pages / "index.html")
    assert console_errors(browser) == []
    links = browser.find_elements(By.CSS_SELECTOR, "#rms tbody a")
    assert [a.text for a in links] == ["RM01", "RM02"]
    total = browser.find_element(By.CSS_SELECTOR, "tr.total [data-field='clients']")
    assert total.is_displayed() and total.text == "6"
    save_screenshot(browser, "rm_index_en.png")
    for name, clients in (("RM01", {"C00000", "C00001"}), ("RM02", {"C00003", "C00004", "C00006"})):
        browser.find_element(By.LINK_TEXT, name).click()
        assert browser.current_url.endswith(f"/rm-{name}.html")
        assert name in browser.find_element(By.TAG_NAME, "h1").text
        assert console_errors(browser) == []
        rows = browser.find_elements(By.CSS_SELECTOR, "#clients tbody tr")
        assert {r.get_attribute("data-client") for r in rows} == clients
        for row in rows:
            charts = row.find_elements(By.CSS_SELECTOR, "td.trend svg")
            assert len(charts) == 4  # tier steps, churn, PD, balances
            steps = row.find_element(By.CSS_SELECTOR, "svg.steps")
            assert steps.size["width"] > 0 and steps.size["height"] > 0
            assert steps.find_elements(By.TAG_NAME, "circle")  # the last month's dot was drawn
            assert steps.find_element(By.TAG_NAME, "path").get_attribute("d").startswith("M")
        changes = browser.find_element(By.ID, f"client-{sorted(clients)[0]}").find_element(
            By.CSS_SELECTOR, "td.changes")
        assert changes.is_displayed() and changes.text
        if name == "RM01":
            save_screenshot(browser, "rm_page_history_en.png")
        browser.find_element(By.ID, "back-to-index").click()
        assert browser.current_url.endswith("/index.html")
