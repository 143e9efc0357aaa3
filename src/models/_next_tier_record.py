"""A next-tier answer as plain data (JSON): the optional `next_tier` field of a served answer.

    {"status": "found", "tier": "Potential", "target": "Excellence", "months": 3,
     "from_archive": false, "text_en": "What would make ...", "text_zh": "...",
     "alternatives": [{"tier": "Excellence", "expected_value": 61200.0, "risk_watch": false,
                       "changes": [{"lever": "time_deposits", "column": "deposit_time",
                                    "before": 0.0, "amount": 50000.0, "after": 50000.0}],
                       "text_en": "...", "text_zh": "..."}]}

`text_<lang>` fields are there for every catalogue that has next-tier texts (a status other
than `found` has no alternatives and its `text_<lang>` is the one sentence why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tierwise.models._next_tier import NextTier
from tierwise.models._next_tier_text import alternative_text, next_tier_texts
from tierwise.models._reason_catalogue import ReasonCatalogue


def next_tier_record(answer: NextTier, catalogues: Mapping[str, ReasonCatalogue]) -> dict[str, Any]:
    """`answer` as the served `next_tier` field (see the module docstring)."""
    usable = {lang: c for lang, c in sorted(catalogues.items()) if c.next_tier is not None}
    out: dict[str, Any] = {"status": answer.status, "tier": answer.tier, "target": answer.target,
                           "months": answer.months, "from_archive": answer.from_archive}
    for lang, catalogue in usable.items():
        out[f"text_{lang}"] = next_tier_texts(answer, catalogue)[0]
    alternatives = []
    for alt in answer.alternatives:
        item: dict[str, Any] = {
            "tier": alt.tier, "expected_value": alt.expected_value, "risk_watch": alt.risk_watch,
            "changes": [{"lever": c.lever, "column": c.column, "before": c.before, "amount": c.amount,
                         "after": c.after} for c in alt.changes]}
        for lang, catalogue in usable.items():
            item[f"text_{lang}"] = alternative_text(alt, catalogue)
        alternatives.append(item)
    out["alternatives"] = alternatives
    return out
