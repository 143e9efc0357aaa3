"""The demo's RM pages and portfolio monitor against the client archive (`outputs/archive/`).

Issue 7's acceptance: open the pages the demo wrote and check that what they show is what the
recommendations say -- the RM's client list, a seeded sample of clients (tier, channel, the three
scores as displayed, flags, reasons) and the monitor's tier counts, migration matrix and HHI, each
recomputed here from the Parquet. The demo runs once per session (`demo_run`,
tests/tierwise/conftest.py); the browser part opens both pages in headless Chromium.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pandas as pd
import pytest
from reports_browser import console_errors, open_page, save_screenshot
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tierwise.archive import read_archive
from tierwise.config import load_config
from tierwise.models import format_change, format_money, format_probability
from tierwise.reports import MonitorConfig

pytestmark = pytest.mark.slow

TIERS = ("Premier", "Excellence", "Potential", "General")
TIER_ZH = {"Premier": "尊享", "Excellence": "卓越", "Potential": "潜力", "General": "一般"}  # DESIGN.md
FLAGS = ("flag_retention_priority", "flag_risk_watch", "flag_in_default", "flag_exit_review", "flag_cost_review",
         "flag_growth_lead", "flag_rm_overflow")
MODELS = ("churn", "default", "growth")
BAND_ZH = {"low": "低", "medium": "中", "high": "高"}
SAMPLE = 5
SEED = 20260701


# --------------------------------------------------------------------------- a tiny HTML tree
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with `tag` whose attributes include `attrs` (data_x= means data-x=)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [n for n in self.iter() if n is not self and (tag is None or n.tag == tag)
                and all(n.attrs.get(k) == v for k, v in wanted.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children
                 if isinstance(c, str) or c.tag not in ("script", "style", "svg")]
        return " ".join(" ".join(parts).split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):  # close up to the matching open element
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --------------------------------------------------------------------------- the demo's files
@dataclass(frozen=True)
class Demo:
    recs: pd.DataFrame  # the client archive (outputs/archive/), month as Timestamp
    month: pd.Timestamp  # the latest scored month
    baseline: pd.Timestamp  # the month before: the monitor's baseline
    config: MonitorConfig  # monitor.yaml of the run (report bands, concentration)
    rm_page: str  # the busiest RM's page of the latest month
    monitor_page: str
    monitor: dict


@pytest.fixture(scope="module")
def demo(demo_run) -> Demo:
    out = demo_run.outputs
    recs = read_archive(out / "archive")
    months = sorted(recs["month"].unique())
    assert len(months) == 12, months
    month = pd.Timestamp(months[-1])
    latest = recs[recs["month"] == month]
    return Demo(
        recs=recs, month=month, baseline=pd.Timestamp(months[-2]),
        config=load_config(demo_run.configs / "monitor.yaml", MonitorConfig),
        rm_page=(out / "rm_pages" / f"{month:%Y-%m}" / f"rm-{_busiest_rm(latest)}.html").read_text(encoding="utf-8"),
        monitor_page=(out / "monitor" / f"{month:%Y-%m}" / "monitor.html").read_text(encoding="utf-8"),
        monitor=json.loads((out / "monitor" / f"{month:%Y-%m}" / "monitor.json").read_text(encoding="utf-8")),
    )


def _latest(demo: Demo) -> pd.DataFrame:
    return demo.recs[demo.recs["month"] == demo.month]


def _busiest_rm(latest: pd.DataFrame) -> str:
    counts = latest["rm_id"].dropna().value_counts()
    return sorted(counts[counts == counts.max()].index)[0]


def _sample(mine: pd.DataFrame) -> list[str]:
    """A seeded sample of the RM's clients, with at least one flagged client when there is one."""
    ids = sorted(mine["client_id"])
    chosen = random.Random(SEED).sample(ids, min(SAMPLE, len(ids)))
    flagged = sorted(mine.loc[mine[list(FLAGS)].any(axis=1), "client_id"])
    if flagged and not set(chosen) & set(flagged):
        chosen[-1] = flagged[0]
    return chosen


# --------------------------------------------------------------------------- what the page should say
def _pct(value: float) -> str:  # the one formatter: two significant digits below 1%, one decimal above
    return format_probability(value, "zh")


def _band(value: float, bands) -> str:  # noqa: ANN001 - ScoreBands
    return BAND_ZH["low" if value < bands.low else "high" if value >= bands.high else "medium"]


def _expected_scores(row: pd.Series, cfg: MonitorConfig) -> dict[str, str]:
    bands = cfg.report
    default = ("已违约" if bool(row.get("flag_in_default", False))  # 90+ days past due: a fact, not a PD
               else "无信贷敞口" if pd.isna(row["p_default"])
               else f"{_pct(row['p_default'])} ({_band(row['p_default'], bands.default_bands)})")
    return {
        "churn": f"{_pct(row['p_churn'])} ({_band(row['p_churn'], bands.churn_bands)})",
        "default": default,
        # growth is a predicted log ratio of value in 12 months; the page says it as a % change
        "growth": f"{format_change(row['growth'], 'zh')} ({_band(row['growth'], bands.growth_bands)})",
    }


def _expected_reasons(row: pd.Series, per_model: int) -> dict[str, list[str]]:
    out = {}
    for model in MODELS:
        texts = [row[f"reason_{model}_{k}_zh"] for k in range(1, per_model + 1)]
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        if texts:
            out[model] = texts
    return out


# --------------------------------------------------------------------------- RM report
def test_rm_report_lists_exactly_the_rms_clients(demo):
    latest = _latest(demo)
    rm = _busiest_rm(latest)
    page = parse_html(demo.rm_page)
    assert page.find("html").attrs["lang"] == "zh-CN"
    assert page.find("h1").text() == f"{rm} 客户组合 — {demo.month:%Y-%m}"
    mine = latest[latest["rm_id"] == rm]
    rows = page.find("table", id="clients").find("tbody").find_all("tr")
    shown = [r.attrs["data-client"] for r in rows]
    assert len(shown) == len(set(shown))
    assert set(shown) == set(mine["client_id"])
    assert f"{len(mine)} 位客户" in page.find("div", **{"class": "sub"}).text()


def test_rm_report_shows_the_parquet_values_for_a_sample_of_clients(demo):
    latest = _latest(demo)
    mine = latest[latest["rm_id"] == _busiest_rm(latest)].set_index("client_id")
    page = parse_html(demo.rm_page)
    per_model = demo.config.report.reasons_per_model
    checked = _sample(mine.reset_index())
    clients_table = page.find("table", id="clients")  # offers and leads rows carry data-client too
    for cid in checked:
        row = mine.loc[cid]
        tr = clients_table.find("tr", data_client=cid)
        where = f"client {cid}"
        # tier and channel, in the recommendations' own Chinese words
        assert tr.find(data_field="tier").text() == row["tier_zh"] == TIER_ZH[row["tier"]], where
        assert tr.find(data_field="channel").text() == row["channel_zh"], where
        assert tr.attrs["data-tier"] == str(TIERS.index(row["tier"])), where
        # the three scores: the exact value behind the sort, and the text as displayed
        assert float(tr.attrs["data-churn"]) == row["p_churn"], where
        assert float(tr.attrs["data-growth"]) == row["growth"], where
        expected_default = -1.0 if pd.isna(row["p_default"]) else row["p_default"]
        assert float(tr.attrs["data-default"]) == expected_default, where
        for model, text in _expected_scores(row, demo.config).items():
            assert tr.find(data_field=model).text() == text, f"{where}: {model}"
        # value and assets as displayed
        assert format_money(row["expected_value_12m"], "zh") in tr.text(), where
        assert format_money(row["assets_total"], "zh") in tr.text(), where
        # flags: the filter's attribute and the badges
        flags = {f for f in FLAGS if bool(row[f])}
        assert set(tr.attrs["data-flags"].split()) == flags, where
        assert {b.attrs["data-flag"] for b in tr.find(data_field="flags").find_all("span")} == flags, where
        if row["flag_cost_review"] and isinstance(row["cost_review_reason_zh"], str):
            assert row["cost_review_reason_zh"] in tr.find(data_field="flags").text(), where
        # reasons: per model, the top reason first, in the table's order
        reasons = tr.find(data_field="reasons")
        shown = {ul.attrs["data-model"]: [li.text() for li in ul.find_all("li")] for ul in reasons.find_all("ul")}
        expected = _expected_reasons(row, per_model)
        assert shown == expected, where
        assert shown["churn"][0] == row["reason_churn_1_zh"], where
        for ul in reasons.find_all("ul"):  # each reason's bar has its SHAP sign, which its text states
            for li in ul.find_all("li"):
                assert li.attrs["data-sign"] == ("up" if li.text().startswith("推高") else "down"), where
        assert row["tier_reason_zh"] in tr.text(), where


def test_demo_reasons_are_signed_known_and_unique(demo):
    """Issue 17, Build 2 on the demo's archive: each listed reason's sign matches its stated
    direction, no reason is an unknown value, no line repeats, a low score has lowering reasons."""
    latest = _latest(demo)
    for model in MODELS:
        for lang, (up, down) in {"en": ("raises", "lowers"), "zh": ("推高", "降低")}.items():
            lines = []
            for k in (1, 2, 3):
                text, shap = latest[f"reason_{model}_{k}_{lang}"], latest[f"reason_{model}_{k}_shap"]
                given = text.notna()
                assert (given == shap.notna()).all(), (model, k)
                assert text[given & (shap > 0)].str.startswith(up).all(), (model, k, lang)
                assert text[given & (shap < 0)].str.startswith(down).all(), (model, k, lang)
                assert not text[given].str.contains("unknown|not known|未知").any(), (model, k, lang)
                lines.append(text.to_numpy(dtype=object))
            for row in zip(*lines, strict=True):
                shown = [t for t in row if isinstance(t, str)]
                assert len(shown) == len(set(shown)), row
        first = latest[f"reason_{model}_1_shap"].dropna()
        if len(first) >= 100:  # low scores say what keeps them low (a model without a tree booster has none)
            assert (first < 0).any() and (first > 0).any(), model
    assert latest["reason_churn_1_shap"].notna().sum() >= 100


# --------------------------------------------------------------------------- monitor
def _tier_counts(frame: pd.DataFrame) -> pd.Series:
    return frame["tier"].value_counts().reindex(list(TIERS), fill_value=0)


def _migration(demo: Demo) -> pd.DataFrame:
    by_month = {m: demo.recs[demo.recs["month"] == m].set_index("client_id")["tier"]
                for m in (demo.baseline, demo.month)}
    ids = by_month[demo.baseline].index.union(by_month[demo.month].index)
    before = by_month[demo.baseline].reindex(ids).fillna("new")
    after = by_month[demo.month].reindex(ids).fillna("left")
    return pd.crosstab(before, after).reindex(index=[*TIERS, "new"], columns=[*TIERS, "left"], fill_value=0)


def _hhi_by(frame: pd.DataFrame, dim: str, cfg: MonitorConfig) -> tuple[float, dict[str, float]]:
    conc = cfg.concentration
    top = frame[frame["tier"].isin(conc.top_tiers)]
    value = top[conc.value_column].fillna(0).clip(lower=0)
    by = value.groupby(top[dim].fillna("unknown")).sum()
    shares = by / by.sum()
    return float((shares**2).sum()), {str(k): float(v) for k, v in shares.items()}


def test_monitor_json_matches_the_recommendations(demo):
    result = demo.monitor
    assert (result["month"], result["baseline"]) == (f"{demo.month:%Y-%m}", f"{demo.baseline:%Y-%m}")
    for key, month in (("month", demo.month), ("baseline", demo.baseline)):
        frame = demo.recs[demo.recs["month"] == month]
        counts = _tier_counts(frame)
        assert result["clients"][key] == len(frame)
        assert [r["tier"] for r in result["tiers"][key]] == list(TIERS)
        assert [r["clients"] for r in result["tiers"][key]] == counts.tolist()
        assert [r["share"] for r in result["tiers"][key]] == pytest.approx((counts / len(frame)).tolist(), abs=1e-12)

    migration = _migration(demo)
    assert result["migration"]["rows"] == [*TIERS, "new"]
    assert result["migration"]["columns"] == [*TIERS, "left"]
    assert result["migration"]["counts"] == migration.to_numpy().tolist()

    latest = _latest(demo)
    assert demo.config.concentration.dimensions  # industry and region
    for dim in demo.config.concentration.dimensions:
        hhi, shares = _hhi_by(latest, dim, demo.config)
        block = result["concentration"]["month"]["by"][dim]
        assert block["hhi"] == pytest.approx(hhi, rel=1e-9), dim
        assert block["shares"] == pytest.approx(shares, rel=1e-9), dim
    assert 0 < _hhi_by(latest, "industry", demo.config)[0] <= 1


def test_monitor_page_shows_the_same_numbers(demo):
    page = parse_html(demo.monitor_page)
    assert page.find("h1").text() == f"Portfolio monitor — {demo.month:%Y-%m}"
    latest = _latest(demo)
    counts = _tier_counts(latest)
    tiers = page.find("section", id="tiers")
    for tier in TIERS:
        tr = tiers.find("tr", data_tier=tier)
        assert tr.find(data_field="clients").text() == f"{counts[tier]:,}", tier
        assert tr.find(data_field="share").text() == f"{counts[tier] / len(latest):.1%}", tier

    migration = _migration(demo)
    table = page.find("section", id="migration")
    for before in migration.index:
        tr = table.find("tr", data_from=before)
        for after in migration.columns:
            assert tr.find("td", data_to=after).text() == f"{migration.loc[before, after]:,}", (before, after)

    for dim in demo.config.concentration.dimensions:
        hhi, _ = _hhi_by(latest, dim, demo.config)
        assert f"HHI {hhi:.3f}" in page.find("h3", data_hhi=dim).text(), dim


# --------------------------------------------------------------------------- in a real browser
@pytest.mark.browser
def test_demo_pages_in_headless_chromium(browser, demo, demo_run):
    latest = _latest(demo)
    mine = latest[latest["rm_id"] == _busiest_rm(latest)]
    open_page(browser, demo_run.outputs / "rm_pages" / f"{demo.month:%Y-%m}" / f"rm-{_busiest_rm(latest)}.html")
    assert console_errors(browser) == []
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    known = mine.set_index("client_id").loc[_sample(mine)[0]]
    row = browser.find_element(By.ID, f"client-{known.name}")
    assert row.is_displayed()
    for texts in _expected_reasons(known, demo.config.report.reasons_per_model).values():
        for text in texts:
            assert text in row.text, text
    assert known["tier_zh"] in row.text

    present = [f for f in FLAGS if mine[f].any()]
    if present:  # the filter shows exactly the flagged clients
        Select(browser.find_element(By.ID, "flag-filter")).select_by_value(present[0])
        rows = browser.find_elements(By.CSS_SELECTOR, "#clients tbody tr")
        visible = {r.get_attribute("data-client") for r in rows if r.is_displayed()}
        assert visible == set(mine.loc[mine[present[0]], "client_id"])
        Select(browser.find_element(By.ID, "flag-filter")).select_by_value("")
    assert console_errors(browser) == []
    save_screenshot(browser, "demo_rm_report_zh.png")

    open_page(browser, demo_run.outputs / "monitor" / f"{demo.month:%Y-%m}" / "monitor.html")
    assert console_errors(browser) == []
    for section in ("alerts", "tiers", "migration", "concentration", "pd", "flows", "psi"):
        assert browser.find_element(By.ID, section).is_displayed(), section
    tiers = browser.find_element(By.ID, "tiers").text
    counts = _tier_counts(latest)
    for tier in TIERS:
        assert f"{tier} {counts[tier]:,}" in tiers, tier
    save_screenshot(browser, "demo_monitor.png")
