"""The RM page's "within reach of the next tier / 距下一层级一步之遥" section.

The monthly job searches a bounded number of each RM's clients (`NextTierConfig.searched_per_rm`:
growth leads first, then the highest expected value among the clients below the top tier, not
in default, not under exit review) with `models.NextTierSearch`, starting from the tier the
archive holds for the month (tier memory), and shows at most `shown_per_rm` of those with a
verified alternative: the steps in the page's language and the tier they lead to. Ids, tiers
and amounts only: no name or free text reaches the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import month_label

NEXT_TIER_TEXT: dict[str, dict[str, str]] = {
    "en": {"title": "Within reach of the next tier",
           "intro": "Clients of yours for whom a few changes would, by the models and the tier policy, lead to the "
                    "next tier in {month} (each change kept for {months} months). A what-if of the models, not a "
                    "promise: every alternative was re-run and gives the tier shown.",
           "client": "Client", "tier": "Tier", "target": "Leads to", "steps": "Steps",
           "lead": "growth lead", "none": "No client of yours is within reach of the next tier this month."},
    "zh": {"title": "距下一层级一步之遥",
           "intro": "按模型与分层政策测算，您名下以下客户在{month}做少量调整即可升至下一层级（每项调整保持{months}个月）。"
                    "这是模型的假设推演，并非承诺：每条途径均已重新测算并达到所示层级。",
           "client": "客户", "tier": "层级", "target": "可升至", "steps": "调整步骤",
           "lead": "增长线索", "none": "本月您名下暂无距下一层级一步之遥的客户。"},
}


def candidates(current: pd.DataFrame, per_rm: int) -> pd.DataFrame:
    """The rows of `current` (the month's archive) the monthly job searches: clients with an RM,
    below the top tier, not in default, not under exit review; per RM the growth leads first,
    then by expected value (highest first), then client id; at most `per_rm` per RM."""
    from tierwise.models import OPEN_REVIEW, TIERS_BY_RANK

    rm = current["rm_id"].astype("str")
    keep = current["rm_id"].notna() & (rm.str.strip() != "") & (current["tier"].astype("str") != TIERS_BY_RANK[-1])
    if "flag_in_default" in current.columns:
        keep &= ~current["flag_in_default"].fillna(False).astype(bool)
    if "exit_review_status" in current.columns:
        keep &= ~current["exit_review_status"].isin(OPEN_REVIEW)
    rows = current[keep].assign(_rm=rm[keep], _lead=~current["flag_growth_lead"][keep].fillna(False).astype(bool)
                                if "flag_growth_lead" in current.columns else True,
                                _ev=-pd.to_numeric(current["expected_value_12m"][keep], errors="coerce").fillna(-np.inf))
    rows = rows.sort_values(["_rm", "_lead", "_ev", "client_id"], kind="stable")
    return rows.groupby("_rm", sort=True).head(per_rm).drop(columns=["_rm", "_lead", "_ev"])


def rm_next_tier(current: pd.DataFrame, population: pd.DataFrame, *, recommender: Any, config: Any,
                 features: Any, catalogue: Any) -> dict[str, Any]:
    """`{"months": how long the changes are held, "rms": RM id -> the section's entries}`: the entries (client, tier, target tier, one line per alternative in the
    catalogue's language, growth lead), at most `config.shown_per_rm` per RM. `current`: the
    month's archived rows; `population`: the month's snapshot features (the plausible ranges,
    and the rows searched)."""
    from tierwise.models import HELD_COLUMNS, NextTierSearch, alternative_text, tier_name

    out: dict[str, list[dict[str, Any]]] = {}
    result = {"months": config.hold_months, "rms": out}
    if config.shown_per_rm == 0 or config.searched_per_rm == 0 or catalogue.next_tier is None:
        return result
    held = current.loc[:, [c for c in HELD_COLUMNS if c in current.columns]]
    chosen = candidates(current, config.searched_per_rm)
    ids = population["client_id"].astype("str")
    rows = population[ids.isin(set(chosen["client_id"].astype("str")))]
    if rows.empty:
        return result
    search = NextTierSearch.for_population(recommender, config, features, population, held=held)
    answers = {a.client_id: a for a in search.search(rows, held=held)}
    lang = catalogue.language
    for row in chosen.to_dict("records"):
        answer = answers.get(str(row["client_id"]))
        rm = str(row["rm_id"])
        if answer is None or answer.status != "found" or len(out.get(rm, [])) >= config.shown_per_rm:
            continue
        out.setdefault(rm, []).append({
            "client_id": answer.client_id, "tier_key": answer.tier, "tier": tier_name(answer.tier, lang),
            "target_key": answer.target, "target": tier_name(answer.target, lang),
            "lead": bool(row.get("flag_growth_lead", False)),
            "lines": [alternative_text(a, catalogue) for a in answer.alternatives]})
    return result


def next_tier_section(next_tier: dict[str, Any] | None, rm_id: str, month: Any, lang: str) -> dict[str, Any] | None:
    """The section's content for `rm_id` from `rm_next_tier`'s result; None without one (no section)."""
    if next_tier is None:
        return None
    text = NEXT_TIER_TEXT[lang]
    return {"t": text, "intro": text["intro"].format(month=month_label(month), months=next_tier["months"]),
            "clients": next_tier["rms"].get(str(rm_id), [])}
