"""A next-tier answer in bank words, English or Chinese: "bring ¥50,000 into time deposits and
set up salary domiciliation (¥8,000 a month): Excellence, expected value ¥61,200".

Texts come from the reason catalogues (`next_tier:` in `configs/reasons/<lang>.yaml`,
`models.NextTierTexts`); amounts are written by the one money formatter (`format_money`) in
the bank's currency, counts by `format_count`.
"""

from __future__ import annotations

from tierwise.models._next_tier import Alternative, Change, NextTier
from tierwise.models._numbers import format_count, format_money
from tierwise.models._policy_config import TIER_ZH
from tierwise.models._reason_catalogue import ReasonCatalogue

COUNT_COLUMNS = frozenset({"mobile_logins"})
"""Monthly columns whose change is a count, not an amount of money."""


def tier_name(name: str | None, lang: str) -> str:
    """A tier's name in `lang` ("Excellence", "卓越"); "" for None."""
    if name is None:
        return ""
    return TIER_ZH.get(name, name) if lang == "zh" else name


def step_text(change: Change, catalogue: ReasonCatalogue) -> str:
    """One change as a step ("bring ¥50,000 into time deposits")."""
    texts = _texts(catalogue)
    lang = catalogue.language
    template = (texts.open_steps.get(change.column) if change.before <= 0 else None) or texts.steps[change.column]
    count = format_count(change.amount, lang)
    amount = count if change.column in COUNT_COLUMNS else format_money(change.amount, lang, catalogue.currency)
    return template.format(amount=amount, count=count)


def alternative_text(alternative: Alternative, catalogue: ReasonCatalogue) -> str:
    """The steps of one alternative, with the tier and the expected value it leads to."""
    texts = _texts(catalogue)
    steps = texts.joiner.join(step_text(c, catalogue) for c in alternative.changes)
    return texts.alternative.format(steps=steps, tier=tier_name(alternative.tier, catalogue.language),
                                    ev=format_money(alternative.expected_value, catalogue.language, catalogue.currency))


def next_tier_texts(answer: NextTier, catalogue: ReasonCatalogue) -> tuple[str, list[str]]:
    """(heading or why there is none, one line per alternative) in the catalogue's language."""
    texts = _texts(catalogue)
    lang = catalogue.language
    if answer.status != "found":
        return texts.status[answer.status].format(tier=tier_name(answer.tier, lang), target=tier_name(answer.target, lang)), []
    return (texts.heading.format(target=tier_name(answer.target, lang), tier=tier_name(answer.tier, lang),
                                 months=format_count(answer.months, lang)),
            [alternative_text(a, catalogue) for a in answer.alternatives])


def _texts(catalogue: ReasonCatalogue):  # noqa: ANN202 - NextTierTexts
    if catalogue.next_tier is None:
        raise ValueError(f"the {catalogue.language} reason catalogue has no next_tier texts")
    return catalogue.next_tier
