"""A client's trail through the archive, month by month, as short display texts (for
`tierwise history`): only the archive's own columns, nothing else about the client."""

from __future__ import annotations

import pandas as pd

from tierwise.features import TASKS, month_label
from tierwise.models import FLAG_COLUMNS, format_change
from tierwise.reports._catalogue import CHANNELS, FLAG_NAMES, REVIEW_NAMES, TEXT, TIER_NAMES
from tierwise.reports._rm_report import _missing, _text, check_lang, score_percent

TRAIL_FIELDS: tuple[str, ...] = ("month", "tier", "channel", "p_churn", "p_default", "growth", "flags",
                                 *[f"reason_{m}" for m in TASKS], "exit_review")


def trail_headers(lang: str) -> dict[str, str]:
    """The column titles of `client_trail`, in `lang`."""
    check_lang(lang)
    text = TEXT[lang]
    return {"month": text["month"], "tier": text["tier"], "channel": text["channel"], "p_churn": text["churn"],
            "p_default": text["default"], "growth": text["growth"], "flags": text["flags"],
            **{f"reason_{m}": text["top_reason"].format(model=text[f"model_{m}"]) for m in TASKS},
            "exit_review": text["exit_review"]}


def trail_title(lang: str, client_id: str, n_months: int, searched: int) -> str:
    check_lang(lang)
    return TEXT[lang]["trail_title"].format(client=client_id, n=n_months, total=searched)


def _score(value: object) -> str:
    return "—" if _missing(value) else score_percent(float(value))


def client_trail(rows: pd.DataFrame, lang: str) -> list[dict[str, str]]:
    """One dict of `TRAIL_FIELDS` texts per archived month of `rows` (one client's archive rows),
    oldest first: tier, channel, the three scores, flags set, each model's top reason and the
    exit review status with its sentence ('—' where there is nothing)."""
    check_lang(lang)
    none = TEXT[lang]["none"]
    out = []
    for _, row in rows.sort_values("month", kind="stable").iterrows():
        tier = str(row["tier"])
        channel = str(row["channel"])
        growth = None if _missing(row["growth"]) else float(row["growth"])
        flags = [FLAG_NAMES[lang][f] for f in FLAG_COLUMNS if f in row.index and not _missing(row[f]) and bool(row[f])]
        status = _text(row.get("exit_review_status"))
        sentence = _text(row.get(f"exit_review_reason_{lang}"))
        review = none if status is None else REVIEW_NAMES[lang].get(status, status) + (f"{TEXT[lang]['colon']}{sentence}" if sentence else "")
        out.append({
            "month": month_label(row["month"]),
            "tier": (_text(row.get("tier_zh")) if lang == "zh" else None) or TIER_NAMES[lang].get(tier, tier),
            "channel": (_text(row.get("channel_zh")) if lang == "zh" else None) or CHANNELS[lang].get(channel, channel),
            "p_churn": _score(row["p_churn"]),
            "p_default": _score(row["p_default"]),
            "growth": none if growth is None else format_change(growth, lang),
            "flags": ", ".join(flags) or none,
            **{f"reason_{m}": _text(row.get(f"reason_{m}_1_{lang}")) or none for m in TASKS},
            "exit_review": review,
        })
    return out
