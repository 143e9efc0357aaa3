"""The pages in a real headless Chromium: no console errors, content visible, filter works."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from reports_browser import (
    DESKTOP,
    PHONE,
    broken_words,
    cells_out_of_view,
    console_errors,
    horizontal_overflow,
    open_page,
    raw_codes_shown,
    save_doc_screenshot,
    save_screenshot,
    set_viewport,
)
from reports_factory import REGIONS, write_small_archive
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tierwise.archive import read_archive
from tierwise.config import load_config
from tierwise.models import CHANNELS, FLAG_COLUMNS, REVIEW_STATUSES, TIERS
from tierwise.reports import (
    MonitorConfig,
    ReportConfig,
    build_monitor,
    read_raw_table,
    render_monitor_html,
    render_rm_report,
    write_rm_pages,
)
from tierwise.reports._catalogue import INCOME_BANDS, LANGS
from tierwise.synthetic import DataConfig

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


def test_monitor_page_does_not_scroll_sideways_on_a_phone(browser, tmp_path, bank):
    recs, clients, monthly = bank
    result = build_monitor(recs, MONTH, pd.Timestamp("2024-02-01"), MonitorConfig(),
                           clients=clients, monthly=monthly)
    set_viewport(browser, PHONE)
    try:
        _open(browser, tmp_path, render_monitor_html(result), "monitor.html")
        assert console_errors(browser) == []
        assert horizontal_overflow(browser) <= 0
        assert browser.find_element(By.ID, "migration").is_displayed()
    finally:
        set_viewport(browser, 1600, 1000)


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


# --------------------------------------------------------------------------- desktop and phone widths
def data_codes(recs: pd.DataFrame) -> set[str]:
    """Every raw code of the data a page could show: the values of its code columns, the tiers,
    channels, flags, review states and income bands."""
    codes = {str(v) for col in ("segment", "industry", "region") if col in recs.columns
             for v in recs[col].dropna().unique()}
    return codes | set(TIERS) | set(CHANNELS) | set(FLAG_COLUMNS) | set(REVIEW_STATUSES) | set(INCOME_BANDS["en"])


@pytest.fixture(scope="module")
def rm_pages(bank, tmp_path_factory):
    """(codes, {lang: page}) for an RM of the tiny bank, its regions as the synthetic bank's codes."""
    recs, _, monthly = bank
    regions = dict(zip(REGIONS, DataConfig().population.regions, strict=False))
    recs = recs.assign(region=recs["region"].map(regions))
    rm = _rm_with_flag(recs, "flag_cost_review")
    folder = tmp_path_factory.mktemp("rm_pages")
    pages = {}
    for lang in LANGS:
        pages[lang] = folder / f"rm_{lang}.html"
        pages[lang].write_text(render_rm_report(recs, monthly, rm, MONTH, lang), encoding="utf-8")
    return data_codes(recs[(recs["month"] == MONTH) & (recs["rm_id"] == rm)]), pages


def check_layout(browser, width: int, table: str) -> None:
    """No sideways scrolling, every cell of `table` in the window (and labelled), no header
    broken inside a word."""
    assert horizontal_overflow(browser) <= 0
    assert cells_out_of_view(browser, table) == []
    if width >= 480:
        assert browser.find_element(By.CSS_SELECTOR, f"{table} thead").is_displayed()
        assert broken_words(browser, f"{table} th") == []
    else:  # stacked cards: the headers are the cells' labels
        assert not browser.find_element(By.CSS_SELECTOR, f"{table} thead").is_displayed()


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("lang", LANGS)
def test_rm_page_fits_desktop_and_phone_and_chinese_shows_no_raw_code(browser, rm_pages, lang, width):
    codes, pages = rm_pages
    set_viewport(browser, width)
    try:
        open_page(browser, pages[lang])
        assert console_errors(browser) == []
        check_layout(browser, width, "#clients")
        text = browser.find_element(By.TAG_NAME, "body").text
        if lang == "zh":
            assert raw_codes_shown(text, codes) == []
        else:  # the guard is real: the English page names the same codes, so a raw code would be seen
            assert raw_codes_shown(text, {"retail_trade", "flag_risk_watch"} & codes) == []
        first = browser.find_element(By.CSS_SELECTOR, "#clients tbody tr")
        cells = first.find_elements(By.TAG_NAME, "td")
        assert len(cells) == 11 and all(c.is_displayed() for c in cells)
        if width == PHONE:  # one card per client, its cells one under the other
            tops = [c.rect["y"] for c in cells]
            assert tops == sorted(tops) and len(set(tops)) == len(tops)
            assert first.rect["width"] <= width
        save_screenshot(browser, f"rm_report_{lang}_{width}.png")
    finally:
        set_viewport(browser, 1600, 1000)


def test_a_raw_code_on_the_page_is_caught(browser, tmp_path):
    # the check above must fail on a page that shows a code bare (as the page once showed 'sme · retail_trade')
    page = _open(browser, tmp_path, '<html lang="zh-CN"><body><p>小微企业 · retail_trade</p></body></html>', "raw.html")
    assert page.exists()
    text = browser.find_element(By.TAG_NAME, "body").text
    assert raw_codes_shown(text, {"retail_trade", "sme", "CE"}) == ["retail_trade"]


def test_a_header_broken_inside_a_word_is_caught(browser, tmp_path):
    html = ('<html lang="zh-CN"><body><table><thead><tr><th style="width:3em;white-space:normal">'
            "流失可能性</th></tr></thead></table></body></html>")
    _open(browser, tmp_path, html, "broken.html")
    assert broken_words(browser, "th") == ["流失可能性"]


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("lang", LANGS)
def test_rm_index_fits_desktop_and_phone(browser, tmp_path, lang, width):
    archive, _, monthly = write_small_archive(tmp_path)
    pages = tmp_path / "pages"
    write_rm_pages(read_archive(archive), monthly, MONTH, pages, ReportConfig(), lang)
    set_viewport(browser, width)
    try:
        open_page(browser, pages / "index.html")
        assert console_errors(browser) == []
        check_layout(browser, width, "#rms")
    finally:
        set_viewport(browser, 1600, 1000)


DOC_SCREENSHOTS = {("en", DESKTOP): "rm-report.png", ("zh", DESKTOP): "rm-report-zh.png",
                   ("en", PHONE): "rm-report-phone.png", ("zh", PHONE): "rm-report-zh-phone.png"}
"""The README's screenshots (docs/img/), from the demo bank: `TIERWISE_DOCS_IMG=1 pytest -m browser
tests/tierwise/reports/test_browser_reports.py -k demo` rewrites them."""
SNAKE_CASE = re.compile(r"(?<![A-Za-z0-9_])[a-z]+(?:_[a-z0-9]+)+(?![A-Za-z0-9_])")


def _smallest_rm(latest: pd.DataFrame) -> str:
    counts = latest["rm_id"].dropna().value_counts()
    counts = counts[counts >= 3]
    return sorted(counts[counts == counts.min()].index)[0]


def test_demo_rm_pages_at_desktop_and_phone_width(browser, demo_run, tmp_path):
    # the demo bank's real codes and reasons: the Chinese page names every code, nothing overflows
    # at 1400 px or 390 px, every column of a client is there on the phone
    recs = read_archive(demo_run.outputs / "archive")
    month = pd.Timestamp(recs["month"].max())
    latest = recs[recs["month"] == month]
    rm = _smallest_rm(latest)
    codes = data_codes(latest[latest["rm_id"] == rm])
    assert {"EA", "NO", "SO", "WE", "CE", "NE"} & codes  # the synthetic bank's region codes are among them
    monthly = read_raw_table(demo_run.outputs / "bank", "monthly")
    cfg = load_config(demo_run.configs / "monitor.yaml", MonitorConfig).report
    try:
        for lang in LANGS:
            folder = tmp_path / lang
            write_rm_pages(recs, monthly, month, folder, cfg, lang)
            for width in (DESKTOP, PHONE):
                set_viewport(browser, width)
                for page in (folder / f"rm-{rm}.html", folder / "index.html"):
                    open_page(browser, page)
                    assert console_errors(browser) == [], (lang, width, page.name)
                    check_layout(browser, width, "#rms" if page.name == "index.html" else "#clients")
                    text = browser.find_element(By.TAG_NAME, "body").text
                    if lang == "zh":
                        assert raw_codes_shown(text, codes) == [], (width, page.name)
                        assert SNAKE_CASE.findall(text) == [], (width, page.name)
                open_page(browser, folder / f"rm-{rm}.html")
                save_doc_screenshot(browser, DOC_SCREENSHOTS[lang, width], width)
    finally:
        set_viewport(browser, 1600, 1000)


def test_demo_next_tier_section_renders_at_desktop_and_phone_width(browser, demo_run):
    # the demo's own RM pages (run-month in Chinese, the trained models): "within reach of the next
    # tier" renders, fits both widths, and names no raw code or snake_case key
    recs = read_archive(demo_run.outputs / "archive")
    month = pd.Timestamp(recs["month"].max())
    folder = demo_run.outputs / "rm_pages" / f"{month:%Y-%m}"
    pages = [p for p in sorted(folder.glob("rm-*.html")) if 'id="next-tier"' in p.read_text(encoding="utf-8")]
    assert pages, "no demo RM page has a next-tier section"
    assert re.search(r"[\d,]+ within reach of the next tier", demo_run.output)  # the month's line counts them
    page = pages[0]
    rm = str(page.stem).removeprefix("rm-")
    codes = data_codes(recs[(recs["month"] == month) & (recs["rm_id"] == rm)])
    try:
        for width in (DESKTOP, PHONE):
            set_viewport(browser, width)
            open_page(browser, page)
            assert console_errors(browser) == [], width
            section = browser.find_element(By.ID, "next-tier")
            assert section.is_displayed()
            assert browser.find_element(By.ID, "next-tier-title").text == "距下一层级一步之遥"
            rows = section.find_elements(By.CSS_SELECTOR, "tbody tr")
            assert 1 <= len(rows) <= 5  # next_tier.yaml shown_per_rm
            for row in rows:
                steps = row.find_elements(By.CSS_SELECTOR, "[data-field='steps'] li")
                assert steps and all("预期价值" in s.text for s in steps)
            check_layout(browser, width, "#next-tier-clients")
            assert raw_codes_shown(section.text, codes) == [] and SNAKE_CASE.findall(section.text) == []
    finally:
        set_viewport(browser, 1600, 1000)
