"""The relationship-manager report: one self-contained HTML page per RM and month."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd

from tierwise.features import BALANCE_COLUMNS, TASKS, DataError, month_label
from tierwise.models import (
    FLAG_COLUMNS,
    TIERS,
    TIERS_BY_RANK,
    format_change,
    format_money,
    format_probability,
)
from tierwise.reports._catalogue import (
    ACTIONS,
    FLAG_NAMES,
    LANGS,
    TEXT,
    TIER_NAMES,
    code_name,
)
from tierwise.reports._charts import sparkline, step_chart
from tierwise.reports._config import ReportConfig, ScoreBands
from tierwise.reports._io import check_scored_month

if TYPE_CHECKING:
    from tierwise.reports._rm_next_tier import RmNextTier

TEMPLATES = Path(__file__).parent / "templates"
HISTORY_MONTHS = 12
"""A client card shows the scored (archived) months of the last year, up to the page's month."""
PAGE_HISTORY_COLUMNS: tuple[str, ...] = ("rm_id", "tier", "p_churn", "p_default", *FLAG_COLUMNS)
"""What the pages read of the months before the page's month (trails, changes, the index)."""


@cache
def template_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def band(value: float, bands: ScoreBands) -> str:
    """'low', 'medium' or 'high' for a score against its configured cut-offs."""
    return "low" if value < bands.low else "high" if value >= bands.high else "medium"


TONES: dict[str, dict[str, str]] = {
    "churn": {"low": "good", "medium": "warn", "high": "bad", "none": "neutral"},
    "default": {"low": "good", "medium": "warn", "high": "bad", "none": "neutral"},
    "growth": {"low": "bad", "medium": "neutral", "high": "good", "none": "neutral"},
}
"""What a score's band means for the bank, as the pages' one class set (`good`, `warn`, `bad`,
`neutral` in `_style.css.j2`): high growth is good, high churn and a high PD are bad; 'none'
(no score: no credit exposure, or no model for it) is neutral."""


CHANGE_TONES: dict[str, str] = {"upgrade": "good", "downgrade": "bad", "review-downgraded": "bad",
                                "review-opened": "warn", "review-open": "warn", "review-closed": "good"}
"""The page class of a change since last month (`changes_since` kinds; others are 'neutral')."""


def tone(score: str, score_band: str) -> str:
    """The page class of `score`'s band ('churn', 'default', 'growth'): 'good', 'warn', 'bad' or 'neutral'."""
    return TONES[score][score_band]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    return None if _missing(value) or str(value).strip() == "" else str(value)


def select_rm_clients(recs: pd.DataFrame, rm_id: str, month: pd.Timestamp) -> pd.DataFrame:
    """The RM's rows of `month`; a one-line error listing valid choices otherwise."""
    month = pd.Timestamp(month)
    check_scored_month(recs, month)
    in_month = recs[recs["month"] == month]
    rows = in_month[in_month["rm_id"].notna() & (in_month["rm_id"].astype("str") == str(rm_id))]
    if rows.empty:
        known = sorted(in_month["rm_id"].dropna().astype("str").unique())
        if not known:
            raise DataError(f"no client has a relationship manager in {month_label(month)}")
        shown = ", ".join(known[:5]) + (f", ... ({len(known)} RMs)" if len(known) > 5 else "")
        raise DataError(f"rm-id {rm_id!r} has no clients in {month_label(month)}; valid rm-ids: {shown}")
    return order_clients(rows)


def order_clients(rows: pd.DataFrame) -> pd.DataFrame:
    """An RM's rows as the page lists them: highest tier first, then by expected value."""
    tier_rank = {t: i for i, t in enumerate(TIERS)}
    order = rows.assign(_rank=rows["tier"].map(tier_rank))
    return order.sort_values(["_rank", "expected_value_12m", "client_id"],
                             ascending=[True, False, True]).drop(columns="_rank")


def score_percent(value: float) -> str:
    """A probability as every output writes it (`models.format_probability`): two significant
    digits below 1% ("0.47%"), one decimal from 1% ("2.1%")."""
    return format_probability(value)


def _money(value: Any, lang: str, currency: str) -> str:
    return "" if _missing(value) else format_money(float(value), lang, currency)


BAR_FULL_SHAP = 1.0
"""The |SHAP| (log-odds; log change for growth) that fills a reason's bar; larger ones are capped."""
GOOD_WHEN_UP: dict[str, bool] = {"churn": False, "default": False, "growth": True}
"""Whether a reason that raises the model's score is good news for the bank (the bar's colour)."""


def reason_item(model: str, text: str, shap: Any) -> dict[str, Any]:
    """One reason as the page shows it: its sentence and a bar of its signed size (`width` in
    0..1 of half the bar, `up`: raises the score, `good`: by meaning for the bank)."""
    value = None if _missing(shap) else float(shap)
    width = 0.0 if value is None else min(abs(value) / BAR_FULL_SHAP, 1.0)
    up = value is not None and value > 0
    return {"text": text, "shap": value, "width": round(width, 3), "up": up,
            "good": value is not None and up == GOOD_WHEN_UP[model]}


ABOUT_CODES: tuple[str, ...] = ("segment", "industry", "region")
"""The codes under a client's id on the page, each named by its catalogue."""


def client_about(row: pd.Series | dict[str, Any], lang: str, bank: dict[str, dict[str, str]] | None = None) -> str:
    """'Retail · Manufacturing · East' / '零售客户 · 制造业 · 华东': the client's segment, industry and
    region as the bank's `code_names` or the catalogue name them (a missing value is left out)."""
    codes = ((kind, _text(row.get(kind))) for kind in ABOUT_CODES)
    return " · ".join(code_name(kind, code, lang, bank) for kind, code in codes if code is not None)


def client_card(row: pd.Series | dict[str, Any], lang: str, cfg: ReportConfig) -> dict[str, Any]:
    """Everything the page shows for one client, as plain strings and numbers."""
    text = TEXT[lang]
    # a score is missing when the bank has no model for it (the tier reason says what was assumed)
    p_churn = None if _missing(row["p_churn"]) else float(row["p_churn"])
    churn_band = "none" if p_churn is None else band(p_churn, cfg.churn_bands)
    p_default = None if _missing(row["p_default"]) else float(row["p_default"])
    exposure = row.get("credit_exposure")
    no_pd = text["not_assessed"] if not _missing(exposure) and float(exposure) > 0 else text["no_exposure"]
    growth = None if _missing(row["growth"]) else float(row["growth"])
    growth_band = "none" if growth is None else band(growth, cfg.growth_bands)
    reasons = []
    for model in TASKS:
        items, seen = [], set()
        for k in range(1, cfg.reasons_per_model + 1):
            sentence = _text(row.get(f"reason_{model}_{k}_{lang}"))
            if sentence and sentence not in seen:  # never the same line twice
                seen.add(sentence)
                items.append(reason_item(model, sentence, row.get(f"reason_{model}_{k}_shap")))
        if items:
            reasons.append({"key": model, "model": text[f"model_{model}"], "texts": [i["text"] for i in items],
                            "lines": items})
    flags = [f for f in FLAG_COLUMNS if bool(row.get(f, False))]  # a flag added later: absent is off

    # the cost reason is a sentence of the table (in Chinese where it has one); codes are named by the catalogue
    cost_reason = (_text(row.get("cost_review_reason_zh")) if lang == "zh" else None) or _text(
        row.get("cost_review_reason"))
    default_band = "none" if p_default is None else band(p_default, cfg.default_bands)
    in_default = bool(row.get("flag_in_default", False))  # 90+ days past due: a fact, not a PD
    return {
        "client_id": str(row["client_id"]),
        "about": client_about(row, lang, cfg.names(lang)),
        "tier": str(row["tier"]),
        "tier_rank": TIERS.index(str(row["tier"])),
        "tier_label": code_name("tier", str(row["tier"]), lang),
        "tier_reason": _text(row.get(f"tier_reason_{lang}")),
        "channel": code_name("channel", str(row["channel"]), lang),
        "churn": {"value": -1.0 if p_churn is None else p_churn, "band": churn_band,
                  "tone": tone("churn", churn_band),
                  "text": text["not_assessed"] if p_churn is None
                  else f"{score_percent(p_churn)} ({text[churn_band]})"},
        "default": ({"value": -1.0 if p_default is None else p_default, "band": "high",
                     "tone": tone("default", "high"), "text": FLAG_NAMES[lang]["flag_in_default"]} if in_default else
                    {"value": -1.0 if p_default is None else p_default,
                     "band": default_band, "tone": tone("default", default_band),
                     "text": no_pd if p_default is None
                     else f"{score_percent(p_default)} ({text[default_band]})"}),
        "growth": {"value": -1.0 if growth is None else growth, "band": growth_band,
                   "tone": tone("growth", growth_band),
                   "text": text["not_assessed"] if growth is None
                   else f"{format_change(growth, lang)} ({text[growth_band]})"},
        "value": float(row["expected_value_12m"]),
        "value_text": _money(row["expected_value_12m"], lang, cfg.currency),
        "assets": float(row["assets_total"]),
        "assets_text": _money(row["assets_total"], lang, cfg.currency),
        "reasons": reasons,
        "flags": [{"key": f, "name": FLAG_NAMES[lang][f]} for f in flags],
        "actions": [ACTIONS[lang][f] + (f" ({cost_reason})" if f == "flag_cost_review" and cost_reason else "")
                    for f in flags],
    }


@dataclass(frozen=True)
class History:
    """What the cards show of the months before: per trail column (`p_churn`, `p_default`,
    `tier_rank`: 0 General ... 3 Premier) and client the values of `months` (None where
    unscored), the previous scored month's tier and flags by client (None: no previous month)
    and the balance trails."""

    months: list[pd.Timestamp]
    trails: dict[str, dict[str, list[float | None]]]
    previous_month: pd.Timestamp | None
    previous: dict[str, dict[str, Any]] | None
    balances: dict[str, list[float | None]]

    def trail(self, column: str, client_id: str) -> list[float | None]:
        return self.trails[column].get(client_id) or [None] * len(self.months)


def history_months(recs: pd.DataFrame, month: pd.Timestamp, n_months: int = HISTORY_MONTHS) -> list[pd.Timestamp]:
    """The scored months of `recs` among the `n_months` months ending at `month`, oldest first."""
    start = month - pd.DateOffset(months=n_months - 1)
    return sorted(pd.Timestamp(m) for m in recs["month"].unique() if start <= pd.Timestamp(m) <= month)


def _wide(part: pd.DataFrame, values: pd.Series, months: list[pd.Timestamp]) -> dict[str, list[float | None]]:
    frame = pd.DataFrame({"client_id": part["client_id"].to_numpy(), "month": part["month"].to_numpy(),
                          "value": values.to_numpy(dtype="float64")})
    wide = frame.pivot_table(index="client_id", columns="month", values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(columns=months)
    return {str(cid): [None if math.isnan(v) else float(v) for v in row]
            for cid, row in zip(wide.index, wide.to_numpy(dtype="float64"), strict=True)}


def build_history(recs: pd.DataFrame, monthly: pd.DataFrame | None, client_ids: pd.Series,
                  month: pd.Timestamp, cfg: ReportConfig) -> History:
    """The trails and last month's rows of `client_ids`, read once for every page of a run."""
    months = history_months(recs, month)
    ids = pd.Index(client_ids.astype("str").unique())
    part = recs[recs["month"].isin(months) & recs["client_id"].isin(ids)]
    rank = part["tier"].map({t: float(i) for i, t in enumerate(TIERS_BY_RANK)})
    before = [m for m in months if m < month]
    previous_month = before[-1] if before else None
    previous = None
    if previous_month is not None:
        rows = part.loc[part["month"] == previous_month, ["client_id", "tier", *FLAG_COLUMNS]]
        previous = {str(r["client_id"]): r for r in rows.drop_duplicates("client_id").to_dict("records")}
    return History(
        months=months,
        trails={"p_churn": _wide(part, pd.to_numeric(part["p_churn"], errors="coerce"), months),
                "p_default": _wide(part, pd.to_numeric(part["p_default"], errors="coerce"), months),
                "tier_rank": _wide(part, rank, months)},
        previous_month=previous_month,
        previous=previous,
        balances=balance_history(monthly, pd.Series(ids), month, cfg.balance_months),
    )


def changes_since(row: pd.Series | dict[str, Any], previous: pd.Series | dict[str, Any] | None, lang: str, *, has_previous_month: bool) -> list[dict[str, str]]:
    """What changed for a client since the previous scored month, in `lang`: new client, tier
    change with its reason, new and cleared flags, the exit review status with its sentence.
    Empty when there is no previous month to compare with (and no review)."""
    text = TEXT[lang]
    names = TIER_NAMES[lang]
    out: list[dict[str, str]] = []
    if previous is None and has_previous_month:
        out.append({"kind": "new", "text": text["new_client"]})
    if previous is not None:
        now, before = str(row["tier"]), str(previous["tier"])
        if now != before:
            up = TIERS_BY_RANK.index(now) > TIERS_BY_RANK.index(before)
            reason = _text(row.get(f"tier_reason_{lang}"))
            out.append({"kind": "upgrade" if up else "downgrade",
                        "text": f"{names[before]} → {names[now]}" + (f"{text['colon']}{reason}" if reason else "")})
        set_now = [f for f in FLAG_COLUMNS if bool(row[f]) and not _flag(previous, f)]
        cleared = [f for f in FLAG_COLUMNS if not bool(row[f]) and _flag(previous, f)]
        if set_now:
            out.append({"kind": "flags-new", "text": text["new_flags"].format(
                names=", ".join(FLAG_NAMES[lang][f] for f in set_now))})
        if cleared:
            out.append({"kind": "flags-cleared", "text": text["cleared_flags"].format(
                names=", ".join(FLAG_NAMES[lang][f] for f in cleared))})
    status = _text(row.get("exit_review_status"))
    if status is not None:
        sentence = _text(row.get(f"exit_review_reason_{lang}"))
        label = code_name("review", status, lang)
        out.append({"kind": f"review-{status}", "text": label + (f"{text['colon']}{sentence}" if sentence else "")})
    if previous is not None and not out:
        out.append({"kind": "none", "text": text["no_change"]})
    return out


def _flag(row: pd.Series | dict[str, Any], flag: str) -> bool:
    value = row.get(flag)
    return False if _missing(value) else bool(value)


def balance_history(monthly: pd.DataFrame | None, client_ids: pd.Series, month: pd.Timestamp,
                    n_months: int) -> dict[str, list[float | None]]:
    """Total balances (deposits, wealth, funds, insurance) over the last `n_months` to `month`."""
    if monthly is None or monthly.empty:
        return {}
    start = month - pd.DateOffset(months=n_months - 1)
    months = list(pd.date_range(start, month, freq="MS"))
    part = monthly[monthly["client_id"].isin(client_ids) & monthly["month"].between(start, month)]
    cols = [c for c in BALANCE_COLUMNS if c in part.columns]
    if part.empty or not cols:
        return {}
    totals = part.assign(_total=part[cols].sum(axis=1))
    wide = totals.pivot_table(index="client_id", columns="month", values="_total", aggfunc="sum")
    wide = wide.reindex(columns=months)
    return {str(cid): [None if np.isnan(v) else float(v) for v in values]
            for cid, values in zip(wide.index, wide.to_numpy(dtype="float64"), strict=True)}


def render_rm_report(recs: pd.DataFrame, monthly_history: pd.DataFrame | None, rm_id: str,
                     month: pd.Timestamp | str, lang: str = "en",
                     config: ReportConfig | None = None) -> str:
    """One self-contained HTML page with the RM's clients for `month` in `lang` ('en' or 'zh').

    `recs`: the recommendations table or an archive frame (`tierwise.archive.read_archive`);
    the cards show the scored months of the last year and what changed since the month before."""
    check_lang(lang)
    cfg = config or ReportConfig()
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    rows = select_rm_clients(recs, rm_id, month)
    history = build_history(recs, monthly_history, rows["client_id"], month, cfg)
    return render_rm_page(rows, history, str(rm_id), month, lang, cfg)


def check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise DataError(f"language {lang!r} is not supported; use one of {', '.join(LANGS)}")


def client_offers(row: pd.Series | dict[str, Any], lang: str, currency: str) -> list[dict[str, Any]]:
    """The client's offers (`offer_<i>` columns of the archive, in rank order; none when the
    month was scored without product models): product name, likelihood, expected value and
    the reason, in `lang`."""
    out = []
    for i in range(1, 9):
        product = _text(row.get(f"offer_{i}"))
        if product is None:
            break
        likelihood = row.get(f"offer_{i}_propensity")
        out.append({
            "product": product,
            "name": _text(row.get(f"offer_{i}_{lang}")) or product,
            "likelihood": "" if _missing(likelihood) else score_percent(float(likelihood)),
            "value": _money(row.get(f"offer_{i}_value"), lang, currency),
            "reason": _text(row.get(f"offer_{i}_reason_{lang}")) or "",
        })
    return out


def render_rm_page(rows: pd.DataFrame, history: History, rm_id: str, month: pd.Timestamp, lang: str,
                   cfg: ReportConfig, *, index_href: str | None = None, leads: pd.DataFrame | None = None,
                   next_tier: RmNextTier | None = None) -> str:
    """The page of one RM from its rows of `month` (as `select_rm_clients` orders them) and the
    history of its clients; `index_href`: a link back to the index of all RMs; `leads`: the
    month's supply-chain leads table (the section is left out without one); `next_tier`: the
    month's "within reach of the next tier" entries (`reports._rm_next_tier.rm_next_tier`; None, or
    none for this RM: no section)."""
    from tierwise.reports._rm_leads import leads_section
    from tierwise.reports._rm_next_tier import next_tier_section

    text = TEXT[lang]
    cards = []
    previous = history.previous
    for row in rows.to_dict("records"):  # plain dicts: a card reads a few dozen fields of each row
        card = client_card(row, lang, cfg)
        cid = card["client_id"]
        before = previous.get(cid) if previous is not None else None
        card["changes"] = [change | {"tone": CHANGE_TONES.get(change["kind"], "neutral")} for change in changes_since(
            row, before, lang, has_previous_month=history.previous_month is not None)]
        card["spark_tier"] = step_chart(history.trail("tier_rank", cid), title=f"{text['tier_trend']}: {cid}")
        card["spark_churn"] = sparkline(history.trail("p_churn", cid), title=f"{text['score_trend']}: {cid}")
        card["spark_default"] = sparkline(history.trail("p_default", cid), color="#b03a2e",
                                          title=f"{text['default_trend']}: {cid}")
        card["spark_balance"] = sparkline(history.balances.get(cid, []), color="#2e7d4f",
                                          title=f"{text['balance_trend'].format(n=cfg.balance_months)}: {cid}")
        cards.append(card)
    offers = [{"client_id": c["client_id"], "tier_label": c["tier_label"], "lines": items}
              for c, row in zip(cards, rows.to_dict("records"), strict=True)
              if (items := client_offers(row, lang, cfg.currency))]
    flag_counts = {f: sum(1 for c in cards if any(x["key"] == f for x in c["flags"])) for f in FLAG_COLUMNS}
    template = template_env().get_template("rm_report.html.j2")
    return template.render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        t=text,
        title=text["title"].format(rm=rm_id, month=month_label(month)),
        subtitle=text["subtitle"].format(n=len(cards)),
        generated=text["generated"].format(month=month_label(month)),
        balance_title=text["balance_trend"].format(n=cfg.balance_months),
        cards=cards,
        flags=[{"key": f, "name": FLAG_NAMES[lang][f], "count": flag_counts[f]} for f in FLAG_COLUMNS],
        shown_template=text["shown"],
        index_href=index_href,
        leads=leads_section(leads, rm_id, month, lang, cfg.currency),
        next_tier=next_tier_section(next_tier, rm_id, month, lang),
        offers=offers,
    )
