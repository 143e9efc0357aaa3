"""The exit mechanism as a process: exit reviews that open, hold, close or end in a downgrade.

`recommend` decides each client from this month's scores and the tier memory it is given
(`tier_prev`, `p_default_prev`); its `flag_exit_review` says only "the risk gate is on for a
client the relationship managers maintain". `advance_reviews` is the batch step that carries a
review from one month to the next, from the client's last archived state:

| last month             | this month's risk gate        | status       | tier                       |
|------------------------|-------------------------------|--------------|----------------------------|
| no open review         | on, RM-maintained before/now  | `opened`     | as decided                 |
| review open (m months) | on, m + 1 < N                 | `open`       | as decided (<= previous)   |
| review open (m months) | on, m + 1 >= N, or the tier   | `downgraded` | one below the previous     |
|                        | left the RM tiers             |              | tier (lower if decided so) |
| review open            | off                           | `closed`     | as decided                 |

N is `exit_review.downgrade_after_months`. The review keeps the month it opened (`since`) and
its months under review; each status has its sentence in English and Chinese. A downgraded
client gets the channel of its new tier and the downgrade as its tier reason.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd

from tierwise.features import month_label
from tierwise.models import _policy_text as text
from tierwise.models._policy import ResolvedPolicy
from tierwise.models._policy_config import CHANNEL_ZH, TIER_ZH, TIERS_BY_RANK

logger = logging.getLogger(__name__)

REVIEW_STATUSES: tuple[str, ...] = ("opened", "open", "closed", "downgraded")
REVIEW_COLUMNS: tuple[str, ...] = (
    "exit_review_status",
    "exit_review_since",
    "exit_review_months",
    "exit_review_reason_en",
    "exit_review_reason_zh",
)
"""A client-month's exit review: status (null: none), the month it opened, months under review,
and the sentence in both languages."""

PRIOR_COLUMNS: tuple[str, ...] = ("client_id", "tier_prev", "p_default_prev", "exit_review_status",
                                  "exit_review_since", "exit_review_months")
"""What `advance_reviews` reads of a client's last archived month (absent client: no history)."""


def advance_reviews(recs: pd.DataFrame, prior: pd.DataFrame | None, resolved: ResolvedPolicy,
                    month: dt.date) -> pd.DataFrame:
    """`recs` with the review columns and, for downgrades, the new tier, channel and reason
    (see the module docstring). Returns a new frame in the same row order."""
    out = recs.copy()
    n = len(out)
    config = resolved.policy.exit_review
    state = _prior_of(out["client_id"], prior)
    if config is None:  # a policy without the process: the flag is the review
        out["exit_review_status"] = pd.array(np.where(out["flag_exit_review"], "opened", None), dtype=text.STR_DTYPE)
        out["exit_review_since"] = pd.Series(np.where(out["flag_exit_review"], np.datetime64(month, "ns"),
                                                      np.datetime64("NaT", "ns")), index=out.index)
        out["exit_review_months"] = np.where(out["flag_exit_review"], 1, 0).astype(np.int32)
        out["exit_review_reason_en"] = pd.array([None] * n, dtype=text.STR_DTYPE)
        out["exit_review_reason_zh"] = pd.array([None] * n, dtype=text.STR_DTYPE)
        return out

    rm_rank = np.array([t in resolved.policy.rm_tiers for t in TIERS_BY_RANK])
    tier = text.codes_of(out["tier"], TIERS_BY_RANK)
    previous = text.codes_of(state["tier_prev"], TIERS_BY_RANK)
    gate = out["flag_risk_watch"].to_numpy(dtype=bool)
    if "flag_in_default" in out.columns:  # a client in default stays under review
        gate = gate | out["flag_in_default"].to_numpy(dtype=bool)
    status_prev = state["exit_review_status"].to_numpy(dtype=object)
    was_open = np.isin(status_prev, ["opened", "open"])
    months_prev = state["exit_review_months"].fillna(0).to_numpy(dtype=np.int64)
    since_prev = state["exit_review_since"].to_numpy(dtype="datetime64[ns]")

    opened = ~was_open & out["flag_exit_review"].to_numpy(dtype=bool)
    holding = was_open & gate
    closed = was_open & ~gate
    months = np.where(holding, months_prev + 1, np.where(opened, 1, np.where(closed, months_prev, 0)))
    left_rm = holding & ~rm_rank[tier]
    downgraded = (holding | opened) & ((months >= config.downgrade_after_months) | left_rm)
    status = np.full(n, None, dtype=object)
    status[opened] = "opened"
    status[holding] = "open"
    status[closed] = "closed"
    status[downgraded] = "downgraded"
    since = np.where(opened, np.datetime64(month, "ns"), since_prev)
    since = np.where(opened | holding | closed, since, np.datetime64("NaT", "ns"))

    new_tier = np.where(downgraded & (previous > 0), np.minimum(tier, np.maximum(previous - 1, 0)), tier)
    out["exit_review_status"] = pd.array(status, dtype=text.STR_DTYPE)
    out["exit_review_since"] = pd.Series(since.astype("datetime64[ns]"), index=out.index)
    out["exit_review_months"] = months.astype(np.int32)
    out["flag_exit_review"] = opened | holding  # a downgrade is the review's last month: still flagged
    _set_tiers(out, new_tier, downgraded, resolved)
    for lang in ("en", "zh"):
        out[f"exit_review_reason_{lang}"] = pd.array(
            _sentences(out, state, status, resolved, previous, lang), dtype=text.STR_DTYPE)
    rows = downgraded
    for lang, column in (("en", "tier_reason_en"), ("zh", "tier_reason_zh")):
        values = out[column].to_numpy(dtype=object)
        values[rows] = out[f"exit_review_reason_{lang}"].to_numpy(dtype=object)[rows]
        out[column] = pd.array(values, dtype=text.STR_DTYPE)
    logger.info("exit reviews %s: %d opened, %d held, %d closed, %d ended in a downgrade", month_label(month),
                int(opened.sum()), int((holding & ~downgraded).sum()), int(closed.sum()), int(downgraded.sum()))
    return out


def _prior_of(client_ids: pd.Series, prior: pd.DataFrame | None) -> pd.DataFrame:
    """The prior state row of each client of `client_ids` (in order); absent clients: nulls."""
    if prior is None or len(prior) == 0:
        prior = pd.DataFrame({c: pd.Series([], dtype="float64" if c in ("p_default_prev", "exit_review_months")
                                           else "datetime64[ns]" if c == "exit_review_since" else "str")
                              for c in PRIOR_COLUMNS})
    indexed = prior.loc[:, [c for c in PRIOR_COLUMNS if c in prior.columns]].set_index("client_id")
    state = indexed.reindex(pd.Index(client_ids.astype("str").to_numpy(), name="client_id"))
    for column in PRIOR_COLUMNS[1:]:
        if column not in state.columns:
            state[column] = np.nan if column in ("p_default_prev", "exit_review_months") else None
    state["exit_review_since"] = pd.to_datetime(state["exit_review_since"]).astype("datetime64[ns]")
    return state.reset_index(drop=True)


def _set_tiers(out: pd.DataFrame, tier: np.ndarray, rows: np.ndarray, resolved: ResolvedPolicy) -> None:
    """The downgraded rows' tier and the channel of that tier (in both languages)."""
    if not rows.any():
        return
    names = np.array(TIERS_BY_RANK, dtype=object)[tier[rows]]
    channels = np.array([resolved.policy.channels[t] for t in names], dtype=object)  # type: ignore[index]
    for column, values in (("tier", names), ("tier_zh", [TIER_ZH[t] for t in names]),
                           ("channel", channels), ("channel_zh", [CHANNEL_ZH[c] for c in channels])):
        current = out[column].to_numpy(dtype=object)
        current[rows] = values
        out[column] = pd.array(current, dtype=text.STR_DTYPE)


IN_DEFAULT_WORDS = {"en": "in default", "zh": "已违约"}
"""What a review sentence says in place of the PD of a client already in default."""
RISK_WORDS = {"en": "default risk {pd}", "zh": "违约风险{pd}"}
"""The `{risk}` field of a review sentence for a client with a PD."""
OPENED_IN_DEFAULT = {"en": "exit review opened in {since}: in default (tier last month: {tier_prev})",
                     "zh": "{since}起退出审查：已违约（上月层级：{tier_prev}）"}
"""The built-in sentence of a review opened on a client in default (`opened_in_default`)."""


def _sentences(out: pd.DataFrame, state: pd.DataFrame, status: np.ndarray, resolved: ResolvedPolicy,
               previous: np.ndarray, lang: str) -> np.ndarray:
    """The review sentence of each row with a status (None elsewhere)."""
    policy = resolved.policy
    words = policy.exit_review.reasons[lang]  # type: ignore[union-attr]
    names = TIERS_BY_RANK if lang == "en" else tuple(TIER_ZH[t] for t in TIERS_BY_RANK)
    sentences = np.full(len(out), None, dtype=object)
    pd_now = out["p_default"].to_numpy(dtype=float, na_value=np.nan)
    pd_prev = state["p_default_prev"].to_numpy(dtype=float, na_value=np.nan)
    since = out["exit_review_since"]
    months = out["exit_review_months"].to_numpy()
    tier = text.codes_of(out["tier"], TIERS_BY_RANK)
    limit = (text.share_label(policy.risk.pd_limit) if resolved.pd_limit is None
             else text.percent_label(resolved.pd_limit))
    in_default = (out["flag_in_default"].to_numpy(dtype=bool) if "flag_in_default" in out.columns
                  else np.zeros(len(out), dtype=bool))
    for i in np.flatnonzero(pd.notna(status)):
        kind = status[i]
        if kind == "opened":
            kind = ("opened_in_default" if in_default[i] else
                    "opened_above" if pd_now[i] > resolved.risk_limit else "opened_rising")
        template = getattr(words, kind) or OPENED_IN_DEFAULT[lang]
        pd_text = text.percent_label(pd_now[i]) if np.isfinite(pd_now[i]) else "—"
        sentences[i] = template.format(
            risk=IN_DEFAULT_WORDS[lang] if in_default[i] else RISK_WORDS[lang].format(pd=pd_text),
            since=month_label(since.iloc[i]) if pd.notna(since.iloc[i]) else "",
            months=int(months[i]),
            pd=IN_DEFAULT_WORDS[lang] if in_default[i] else pd_text,
            pd_prev=text.percent_label(pd_prev[i]) if np.isfinite(pd_prev[i]) else "—",
            limit=limit,
            tier=names[tier[i]],
            tier_prev=names[previous[i]] if previous[i] >= 0 else "—",
        )
    return sentences
