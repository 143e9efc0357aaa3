"""The RM page's "within reach of the next tier / 距下一层级一步之遥" section.

The monthly job searches a bounded number of each RM's clients (`NextTierConfig.searched_per_rm`,
chosen by `next_tier_candidates`: below the top tier, not in default, not under exit review;
growth leads first, then the smallest shortfall of expected value to the next tier's cut) with
`models.NextTierSearch`, starting from the tier the archive holds for the month (tier memory),
and each RM's page shows at most `shown_per_rm` of those with a verified alternative: the steps
in the page's language (`models.alternative_text`, amounts by the one money formatter) and the
tier they lead to. Ids, tiers and amounts only: no name or free text reaches the page.

`next_tier_unavailable` says, in one sentence, why a month gets no section (no config, no
next-tier texts in the page's language). A recommender with only some of the three task models
gets the section, as `explain --next-tier` does: the search and its verification run the models
and the policy the recommender has, so the tier reached is the one the bank's own scoring would give.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import month_label
from tierwise.models import (
    HELD_COLUMNS,
    OPEN_REVIEW,
    TIERS_BY_RANK,
    NextTierSearch,
    alternative_text,
    format_count,
)
from tierwise.reports._catalogue import NEXT_TIER_TEXT, code_name


@dataclass(frozen=True)
class RmNextTier:
    """The month's "within reach of the next tier" entries of every RM (`rm_next_tier`): RM id ->
    entries in the page's order, each `{client_id, tier_key, tier, target_key, target, lead,
    lines}` (`lines`: one per verified alternative, in `lang`); `searched`: clients searched;
    `months`: how long each change is held (`NextTierConfig.hold_months`)."""

    lang: str
    months: int
    searched: int
    rms: Mapping[str, tuple[dict[str, Any], ...]]

    @property
    def shown(self) -> int:
        return sum(len(v) for v in self.rms.values())


def next_tier_unavailable(recommender: Any, config: Any, catalogue: Any) -> str | None:
    """Why the RM pages get no next-tier section (one sentence), or None when they can have one.
    `recommender`: a `models.Recommender` (unused: any recommender can be searched); `config`: `models.NextTierConfig` or None (no
    `next_tier.yaml`); `catalogue`: the recommender's reason catalogue in the page's language."""
    if config is None:
        return "no next_tier.yaml in the config folder"
    if config.shown_per_rm == 0 or config.searched_per_rm == 0:
        return "next_tier.yaml shown_per_rm or searched_per_rm is 0"
    if catalogue is None or catalogue.next_tier is None:
        return "the recommender's reason catalogue for the page's language has no next_tier texts"
    return None


def next_tier_candidates(current: pd.DataFrame, per_rm: int, cuts: Mapping[str, float]) -> pd.DataFrame:
    """The rows of `current` (the month's archived rows) the monthly job searches: clients with an
    RM, below the top tier, not in default, not under exit review (an open review or the exit
    review flag); per RM the growth leads first, then the smallest shortfall of expected value to
    the next tier's cut (`cuts`: the recommender's resolved `policy.cuts`), then client id; at
    most `per_rm` per RM, in that order."""
    rm = current["rm_id"].astype("str")  # the key of the RM's page, as the pages take it (a blank id: no RM)
    tier = current["tier"].astype("str")
    keep = (current["rm_id"].notna().to_numpy() & (rm.str.strip() != "").to_numpy()
            & tier.isin(TIERS_BY_RANK[:-1]).to_numpy())
    for flag in ("flag_in_default", "flag_exit_review"):
        if flag in current.columns:
            keep &= ~current[flag].fillna(False).astype(bool).to_numpy()
    if "exit_review_status" in current.columns:
        keep &= ~current["exit_review_status"].isin(OPEN_REVIEW).to_numpy()
    rows = current[keep]
    target = rows["tier"].astype("str").map(lambda t: TIERS_BY_RANK[TIERS_BY_RANK.index(t) + 1])
    cut = target.map(lambda t: float(cuts.get(t, np.nan))).to_numpy(dtype=float)
    ev = pd.to_numeric(rows["expected_value_12m"], errors="coerce").to_numpy(dtype=float)
    shortfall = np.where(np.isfinite(ev) & np.isfinite(cut), np.maximum(cut - ev, 0.0), np.inf)
    order = rows.assign(_rm=rm[keep].to_numpy(), _not_lead=~_leads(rows), _short=shortfall,
                        _id=rows["client_id"].astype("str").to_numpy())
    order = order.sort_values(["_rm", "_not_lead", "_short", "_id"], kind="stable")
    return order.groupby("_rm", sort=True).head(per_rm).drop(columns=["_rm", "_not_lead", "_short", "_id"])


def rm_next_tier(current: pd.DataFrame, population: pd.DataFrame, *, recommender: Any, config: Any,
                 features: Any, catalogue: Any) -> RmNextTier:
    """The section's entries of every RM: `current` is the month's archived rows (tier, review,
    default state and tier memory: the search starts from them), `population` the month's
    snapshot features (the plausible ranges, and the rows searched). At most
    `config.searched_per_rm` clients of each RM are searched (`next_tier_candidates`) and at most
    `config.shown_per_rm` with a verified alternative kept, in the candidates' order."""
    lang = catalogue.language
    chosen = next_tier_candidates(current, config.searched_per_rm, recommender.policy.cuts)
    ids = population["client_id"].astype("str")
    wanted = chosen["client_id"].astype("str")
    rows = population[ids.isin(set(wanted))]
    if rows.empty:
        return RmNextTier(lang=lang, months=config.hold_months, searched=0, rms={})
    held = current.loc[:, [c for c in HELD_COLUMNS if c in current.columns]]
    search = NextTierSearch.for_population(recommender, config, features, population, held=held)
    answers = {a.client_id: a for a in search.search(rows, held=held)}
    out: dict[str, list[dict[str, Any]]] = {}
    for client_id, rm_id, lead in zip(wanted, chosen["rm_id"].astype("str"),
                                      _leads(chosen), strict=True):
        answer = answers.get(client_id)
        mine = out.setdefault(rm_id, [])
        if answer is None or answer.status != "found" or len(mine) >= config.shown_per_rm:
            continue
        mine.append({"client_id": client_id, "tier_key": answer.tier, "tier": code_name("tier", answer.tier, lang),
                     "target_key": answer.target, "target": code_name("tier", str(answer.target), lang),
                     "lead": bool(lead), "lines": [alternative_text(a, catalogue) for a in answer.alternatives]})
    return RmNextTier(lang=lang, months=config.hold_months, searched=len(rows),
                      rms={rm: tuple(entries) for rm, entries in out.items() if entries})


def _leads(rows: pd.DataFrame) -> np.ndarray:
    if "flag_growth_lead" not in rows.columns:
        return np.zeros(len(rows), dtype=bool)
    return rows["flag_growth_lead"].fillna(False).astype(bool).to_numpy()


def next_tier_section(found: RmNextTier | None, rm_id: str, month: Any, lang: str) -> dict[str, Any] | None:
    """The section's content for `rm_id`; None (no section) without entries for this RM."""
    if found is None or not found.rms.get(str(rm_id)):
        return None
    if found.lang != lang:
        raise ValueError(f"next tier entries in '{found.lang}' for a page in '{lang}'")
    text = NEXT_TIER_TEXT[lang]
    return {"t": text, "lead": code_name("flag", "flag_growth_lead", lang),
            "intro": text["intro"].format(month=month_label(month), months=format_count(found.months, lang)),
            "clients": list(found.rms[str(rm_id)])}
