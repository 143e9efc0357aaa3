"""The RM page's "within reach of the next tier / 距下一层级一步之遥" section, built by the real
monthly job (`tierwise run-month`, the registered tiny recommender of `scoring_world`, a real
MLflow store): each client shown belongs to the RM, qualifies (below the top tier, not in
default, not under exit review) and has the steps an independent search gives, every step
re-run on the recommender leads to the tier shown; English and Chinese; at most `shown_per_rm`
per page; no section when nothing qualifies or without next_tier.yaml; a recommender with only
some task models still gets verified entries; the section in a real headless Chromium."""

from __future__ import annotations

import html
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import recommender_factory as factory
from reports_browser import (
    DESKTOP,
    PHONE,
    cells_out_of_view,
    console_errors,
    horizontal_overflow,
    open_page,
    set_viewport,
)
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from tierwise.archive import read_archive
from tierwise.cli import app
from tierwise.features import (
    add_months,
    month_label,
    read_raw_tables,
    snapshot_features,
    validate_tables,
    with_change,
)
from tierwise.models import (
    OPEN_REVIEW,
    TIERS_BY_RANK,
    NextTierSearch,
    alternative_text,
    with_memory,
)
from tierwise.registry import load_recommender
from tierwise.reports import next_tier_candidates, rm_next_tier, write_rm_pages
from tierwise.reports._rm_pages import page_name
from tierwise.settings import load_settings

runner = CliRunner()
SECTION = re.compile(r'<section id="next-tier".*?</section>', re.S)
ROW = re.compile(r'<tr data-client="([^"]+)" data-tier="([^"]+)" data-target="([^"]+)">(.*?)</tr>', re.S)
LINE = re.compile(r"<li>(.*?)</li>", re.S)


def _run(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _flat(output: str) -> str:
    """The console output with rich's wrapping and log prefixes undone (one space between words)."""
    lines = (re.sub(r"^\s*(\[\d\d:\d\d:\d\d\])?\s*(INFO|WARNING)?\s+", " ", line) for line in output.splitlines())
    return re.sub(r"\s+", " ", " ".join(lines))


def _section(page) -> list[tuple[str, str, str, list[str]]]:
    """(client, tier, target, steps) of each row of the page's section; [] without one."""
    found = SECTION.findall(page.read_text(encoding="utf-8"))
    assert len(found) <= 1
    if not found:
        return []
    return [(c, t, g, [html.unescape(x) for x in LINE.findall(body)]) for c, t, g, body in ROW.findall(found[0])]


@pytest.fixture(scope="module")
def pages(scoring_world, tmp_path_factory):
    """Two months run into one archive with English pages, the last rerun with Chinese ones."""
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        root = tmp_path_factory.mktemp("next-tier-pages")
        last = scoring_world["month"]
        common = ["--data", str(scoring_world["bank"]), "--model", scoring_world["model"], "--archive",
                  str(root / "archive"), "--chunk-clients", "150"]
        en = _run(["run-month", "--from", month_label(add_months(last, -1)), "--to", month_label(last), *common,
                   "--outputs", str(root / "en")])
        zh = _run(["run-month", "--month", month_label(last), *common, "--outputs", str(root / "zh"), "--lang", "zh"])
        loaded = load_recommender(scoring_world["model"])
        clients, monthly = read_raw_tables(scoring_world["bank"])
        report = validate_tables(clients, monthly)
        feats = snapshot_features(report.clients, report.monthly, last, loaded.settings.features)
        yield {"root": root, "month": last, "output": {"en": en, "zh": zh}, "loaded": loaded, "features": feats,
               "monthly": report.monthly, "current": read_archive(root / "archive", months=[last]),
               "dirs": {lang: root / lang / "rm_pages" / month_label(last) for lang in ("en", "zh")}}


def test_the_section_lists_qualifying_clients_with_verified_steps_in_both_languages(pages, config_dir):
    config = load_settings(config_dir).next_tier
    loaded, current, feats = pages["loaded"], pages["current"], pages["features"]
    rec = loaded.recommender
    held = current.set_index("client_id", drop=False)
    search = NextTierSearch.for_population(rec, config, loaded.settings.features, feats, held=current)
    rows = with_memory(feats, current).set_index("client_id", drop=False)
    shown = 0
    for page in sorted(pages["dirs"]["en"].glob("rm-*.html")):
        entries = _section(page)
        zh = _section(pages["dirs"]["zh"] / page.name)
        assert [e[:3] for e in zh] == [e[:3] for e in entries]  # the same clients in Chinese
        assert len(entries) <= config.shown_per_rm
        for (client, tier, target, lines), (_, _, _, lines_zh) in zip(entries, zh, strict=True):
            mine = held.loc[client]
            assert page.name == page_name(str(mine["rm_id"]))  # the RM's own client
            assert tier == mine["tier"] != TIERS_BY_RANK[-1]  # the archived tier, below the top
            assert not mine["flag_in_default"] and mine["exit_review_status"] not in OPEN_REVIEW
            assert target == TIERS_BY_RANK[TIERS_BY_RANK.index(tier) + 1]
            answer = search.search(feats[feats["client_id"] == client], held=current)[0]
            assert answer.status == "found" and answer.target == target
            assert lines == [alternative_text(a, loaded.settings.reasons["en"]) for a in answer.alternatives]
            assert lines_zh == [alternative_text(a, loaded.settings.reasons["zh"]) for a in answer.alternatives]
            for alt in answer.alternatives:  # re-run independently: the steps lead to the tier shown
                changed = rows.loc[[client]].reset_index(drop=True)
                for change in alt.changes:
                    changed = with_change(changed, change.column, np.array([change.amount]), loaded.settings.features,
                                          config.hold_months)
                again = rec.recommend(changed)["tier"].iat[0]
                assert again == alt.tier and TIERS_BY_RANK.index(again) >= TIERS_BY_RANK.index(target)
            shown += 1
    assert shown >= 3  # the tiny bank has clients within reach
    zh_page = next(p for p in sorted(pages["dirs"]["zh"].glob("rm-*.html")) if _section(p))
    text = zh_page.read_text(encoding="utf-8")
    assert "距下一层级一步之遥" in text and "预期价值" in text and "¥" in text
    output = _flat(pages["output"]["en"])
    assert f"{shown:,} within reach of the next tier" in output
    assert re.search(rf"{month_label(pages['month'])} next tier: {shown} client\(s\) within reach on \d+ RM page\(s\); "
                     rf"\d+ searched \(at most {config.searched_per_rm} per RM\) in [\d.]+ s \([\d.]+ s CPU\)", output), output


def test_the_page_shows_the_first_found_of_the_bounded_candidates(pages, config_dir):
    config = load_settings(config_dir).next_tier
    loaded, current = pages["loaded"], pages["current"]
    chosen = next_tier_candidates(current, config.searched_per_rm, loaded.recommender.policy.cuts)
    assert chosen.groupby("rm_id").size().max() <= config.searched_per_rm
    assert len(chosen) < len(current)  # bounded: not every client is searched
    search = NextTierSearch.for_population(loaded.recommender, config, loaded.settings.features, pages["features"],
                                           held=current)
    status = {a.client_id: a.status for a in search.search(
        pages["features"][pages["features"]["client_id"].isin(chosen["client_id"])], held=current)}
    for rm, rows in chosen.groupby("rm_id"):
        expected = [c for c in rows["client_id"] if status.get(c) == "found"][:config.shown_per_rm]
        page = pages["dirs"]["en"] / page_name(str(rm))
        assert [e[0] for e in _section(page)] == expected


def test_candidates_exclude_the_top_tier_default_and_exit_review_and_put_growth_leads_first():
    cuts = {"Potential": 100.0, "Excellence": 1000.0, "Premier": 5000.0}
    current = pd.DataFrame({
        "client_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        "rm_id": ["R1", "R1", "R1", "R1", "R1", "R1", "R1", None, "R2"],
        "tier": ["General", "Potential", "Excellence", "Premier", "Potential", "General", "Potential", "General",
                 "General"],
        "expected_value_12m": [90.0, 500.0, 4900.0, 9000.0, 990.0, 10.0, 100.0, 99.0, 1.0],
        "flag_growth_lead": [False, True, False, False, False, False, True, False, False],
        "flag_in_default": [False, False, False, False, False, True, False, False, False],
        "flag_exit_review": [False] * 9,
        "exit_review_status": [None, None, None, None, "open", None, None, None, None],
    })
    got = next_tier_candidates(current, 3, cuts)
    # R1: leads b (short 500) and g (900) first, then the smallest shortfall: a (10) before c (100);
    # d is Premier, e under review, f in default, h has no RM; at most three per RM
    assert list(got["client_id"]) == ["b", "g", "a", "i"]
    assert list(next_tier_candidates(current, 10, cuts)["client_id"]) == ["b", "g", "a", "c", "i"]


def test_no_section_when_nothing_qualifies(pages, config_dir, tmp_path):
    config = load_settings(config_dir).next_tier
    loaded = pages["loaded"]
    reviewed = pages["current"].assign(exit_review_status="open")  # every client under exit review
    found = rm_next_tier(reviewed, pages["features"], recommender=loaded.recommender, config=config,
                         features=loaded.settings.features, catalogue=loaded.settings.reasons["en"])
    assert found.rms == {} and found.shown == 0 and found.searched == 0
    history = read_archive(pages["root"] / "archive")
    written = write_rm_pages(history, pages["monthly"], pages["month"], tmp_path / "pages", lang="en", next_tier=found)
    assert len(written) > 1 and not any('id="next-tier"' in p.read_text(encoding="utf-8") for p in written)


def test_without_next_tier_yaml_run_month_leaves_the_section_out_in_one_log_line(scoring_world, config_dir,
                                                                                  tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(config_dir, configs)
    (configs / "next_tier.yaml").unlink()
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        output = _run(["run-month", "--month", month_label(scoring_world["month"]), "--data",
                       str(scoring_world["bank"]), "--model", scoring_world["model"], "--archive",
                       str(tmp_path / "archive"), "--outputs", str(tmp_path / "out"), "--config-dir", str(configs)])
    month = month_label(scoring_world["month"])
    assert _flat(output).count("no next-tier section on the RM pages: no next_tier.yaml") == 1
    assert "within reach of the next tier" not in _flat(output)
    written = list((tmp_path / "out" / "rm_pages" / month).glob("rm-*.html"))
    assert written and not any('id="next-tier"' in p.read_text(encoding="utf-8") for p in written)


def test_a_recommender_without_a_task_model_still_gets_verified_entries(pages, config_dir):
    """Only some of the three models trained: the search and its check run the models the
    recommender has (as `explain --next-tier` does), and every step shown leads to its tier."""
    from tierwise.monthly import MonthlyJob, next_tier_step
    from tierwise.recommender import build_recommender

    loaded = pages["loaded"]
    models = {t: m for t, m in factory.tiny_models(pages["features"]).items() if t != "default"}
    partial, _ = build_recommender(models, factory.policy_config(), pages["features"], factory.feature_config(),
                                   n_threads=1, catalogues=loaded.settings.reasons)
    assert "default" not in partial.models
    config = load_settings(config_dir).next_tier
    job = MonthlyJob(data=pages["root"], archive=pages["root"] / "archive", outputs=pages["root"], model_uri="-",
                     loaded=loaded._replace(recommender=partial), monitor_config=None, next_tier=config)
    got = next_tier_step(job, pages["month"], pages["current"], pages["features"])
    assert got is not None and got.searched > 0 and got.shown > 0
    search = NextTierSearch.for_population(partial, config, loaded.settings.features, pages["features"],
                                           held=pages["current"])
    rows = with_memory(pages["features"], pages["current"]).set_index("client_id", drop=False)
    for entries in got.rms.values():
        assert len(entries) <= config.shown_per_rm
        for entry in entries:
            client = entry["client_id"]
            answer = search.search(pages["features"][pages["features"]["client_id"] == client],
                                   held=pages["current"])[0]
            assert answer.status == "found" and answer.target == entry["target_key"]
            for alt in answer.alternatives:
                changed = rows.loc[[client]].reset_index(drop=True)
                for change in alt.changes:
                    changed = with_change(changed, change.column, np.array([change.amount]),
                                          loaded.settings.features, config.hold_months)
                assert partial.recommend(changed)["tier"].iat[0] == alt.tier


@pytest.mark.browser
@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_section_renders_in_chromium(browser, pages, lang, width):
    page = next(p for p in sorted(pages["dirs"][lang].glob("rm-*.html")) if _section(p))
    entries = _section(page)
    set_viewport(browser, width)
    try:
        open_page(browser, page)
        assert console_errors(browser) == []
        section = browser.find_element(By.ID, "next-tier")
        assert section.is_displayed()
        assert browser.find_element(By.ID, "next-tier-title").text == (
            "Within reach of the next tier" if lang == "en" else "距下一层级一步之遥")
        rows = section.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [r.get_attribute("data-client") for r in rows] == [e[0] for e in entries]
        steps = rows[0].find_elements(By.CSS_SELECTOR, "[data-field='steps'] li")
        assert [s.text for s in steps] == entries[0][3] and all(s.is_displayed() for s in steps)
        assert horizontal_overflow(browser) <= 0
        assert cells_out_of_view(browser, "#next-tier-clients") == []
        rows[0].find_element(By.TAG_NAME, "a").click()  # the client's own row on the page
        assert browser.find_element(By.ID, f"client-{entries[0][0]}").is_displayed()
    finally:
        set_viewport(browser, 1600, 1000)
