"""Every relationship manager's page for a month and the index over them ("who maintains is
responsible"), from the client archive: one run, one folder of self-contained HTML files."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tierwise.features import DataError, month_label, write_text_atomic
from tierwise.models import DEFAULT_CURRENCY, TIERS_BY_RANK
from tierwise.reports._catalogue import TEXT
from tierwise.reports._config import ReportConfig
from tierwise.reports._io import check_recommendations, check_scored_month
from tierwise.reports._rm_report import (
    HISTORY_MONTHS,
    _money,
    build_history,
    check_lang,
    order_clients,
    render_rm_page,
    template_env,
)

if TYPE_CHECKING:
    from tierwise.reports._rm_next_tier import RmNextTier

logger = logging.getLogger(__name__)

INDEX_PAGE = "index.html"
DEFAULT_THRESHOLD_DPD = 90
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
COUNTS: tuple[str, ...] = ("upgrades", "downgrades", "lost", "new_defaults", "reviews_opened")
"""The index's changes since the previous archived month (NA where they cannot be told)."""


def archive_window(archived: Sequence[dt.date], month: dt.date, n_months: int = HISTORY_MONTHS,
                   *, source: str = "the archive") -> list[dt.date]:
    """The archived months among the `n_months` ending at `month` (which must be archived:
    otherwise a one-line `DataError` listing the archived months)."""
    month = month.replace(day=1)
    if month not in archived:
        shown = ", ".join(month_label(m) for m in archived[-12:]) or "none"
        more = f" (last 12 of {len(archived)})" if len(archived) > 12 else ""
        raise DataError(f"month {month_label(month)} is not in {source}; archived months{more}: {shown}")
    first = pd.Timestamp(month) - pd.DateOffset(months=n_months - 1)
    return [m for m in archived if first.date() <= m <= month]


def page_name(rm_id: str) -> str:
    """`rm-<id>.html`; an id with characters unsafe in a file name has them replaced by '_' and
    a short hash of the id added, so two ids never share a page."""
    safe = _UNSAFE.sub("_", rm_id)
    if safe != rm_id or not safe:
        safe = f"{safe}-{hashlib.sha1(rm_id.encode('utf-8')).hexdigest()[:8]}"
    return f"rm-{safe}.html"


def _rm_key(frame: pd.DataFrame) -> pd.Series:
    """The RM of each row as text; '' for a client without an RM (null or blank)."""
    rm = frame["rm_id"].astype("str")
    return rm.where(frame["rm_id"].notna() & (rm.str.strip() != ""), "")


def _rank(tiers: pd.Series) -> pd.Series:
    return tiers.map({t: i for i, t in enumerate(TIERS_BY_RANK)}).astype("float64")


def _days_past_due(monthly: pd.DataFrame, month: pd.Timestamp) -> pd.Series:
    part = monthly[monthly["month"] == month]
    return pd.to_numeric(part["days_past_due"], errors="coerce").groupby(part["client_id"].astype("str")).max()


def _new_defaults(monthly: pd.DataFrame | None, now: pd.DataFrame, month: pd.Timestamp,
                  previous: pd.Timestamp | None) -> pd.Series | None:
    """Per row of `now`: 90+ days past due in `month` and not in `previous` (a client without a
    row that month counts as not in default then). None when the monthly table cannot tell."""
    if monthly is None or previous is None:
        return None
    if "days_past_due" not in monthly.columns:
        logger.warning("the monthly table has no days_past_due: new defaults are not shown")
        return None
    if not (monthly["month"] == month).any():
        logger.warning("the monthly table has no rows for %s: new defaults are not shown", month_label(month))
        return None
    ids = now["client_id"].astype("str")
    dpd_now = ids.map(_days_past_due(monthly, month))
    dpd_before = ids.map(_days_past_due(monthly, previous))
    return (dpd_now >= DEFAULT_THRESHOLD_DPD) & ~(dpd_before >= DEFAULT_THRESHOLD_DPD)


def rm_index(history: pd.DataFrame, monthly: pd.DataFrame | None, month: pd.Timestamp) -> pd.DataFrame:
    """One row per RM (`rm_id`; '' for the clients without an RM, last) of `month`, with the
    RM's clients, the sums of their expected value and assets, and since the previous archived
    month of `history`: upgrades and downgrades (tier rank up / down among the RM's clients of
    both months), clients lost (in the RM's book then, no row now), new defaults (days past due
    >= 90 now and < 90 then, from `monthly`) and exit reviews opened. Counts that cannot be told
    (no earlier month; no monthly table for defaults) are NA. An RM whose whole book left has a
    row with 0 clients."""
    month = pd.Timestamp(month)
    now = history[history["month"] == month]
    earlier = sorted(pd.Timestamp(m) for m in history["month"].unique() if pd.Timestamp(m) < month)
    previous = earlier[-1] if earlier else None
    rows = pd.DataFrame({
        "rm_id": _rm_key(now).to_numpy(),
        "value": pd.to_numeric(now["expected_value_12m"], errors="coerce").to_numpy(dtype="float64"),
        "assets": pd.to_numeric(now["assets_total"], errors="coerce").to_numpy(dtype="float64"),
        "reviews_opened": (now["exit_review_status"].astype("str") == "opened").to_numpy()
        if "exit_review_status" in now.columns else np.zeros(len(now), dtype=bool),
    })
    defaults = _new_defaults(monthly, now, month, previous)
    rows["new_defaults"] = False if defaults is None else defaults.to_numpy(dtype=bool)
    lost = pd.Series(dtype="int64")
    if previous is not None:
        before = history[history["month"] == previous]
        rank_before = _rank(before["tier"]).set_axis(before["client_id"].astype("str").to_numpy())
        rank_before = rank_before[~rank_before.index.duplicated()]
        change = _rank(now["tier"]).to_numpy() - now["client_id"].astype("str").map(rank_before).to_numpy()
        rows["upgrades"] = change > 0
        rows["downgrades"] = change < 0
        gone = before[~before["client_id"].isin(set(now["client_id"]))]
        lost = _rm_key(gone).value_counts()
    else:
        rows["upgrades"] = rows["downgrades"] = False
    grouped = rows.groupby("rm_id", sort=True)
    out = pd.DataFrame({
        "clients": grouped.size(),
        "value": grouped["value"].sum(),
        "assets": grouped["assets"].sum(),
        **{c: grouped[c].sum() for c in ("upgrades", "downgrades", "new_defaults", "reviews_opened")},
    })
    out = out.reindex(out.index.union(lost.index), fill_value=0)
    out["lost"] = lost.reindex(out.index, fill_value=0)
    out = out.astype({c: "Int64" for c in ("clients", *COUNTS)})
    if previous is None:
        out[["upgrades", "downgrades", "lost"]] = pd.NA
    if defaults is None:
        out["new_defaults"] = pd.NA
    order = sorted(out.index, key=lambda rm: (rm == "", rm))
    out = out.loc[order, ["clients", "value", "assets", *COUNTS]]
    out.index.name = "rm_id"
    return out.reset_index()


def _count(value: Any) -> str:
    return "—" if pd.isna(value) else f"{int(value):,}"


def _index_row(row: pd.Series, text: dict[str, str], pages: dict[str, str], lang: str, currency: str) -> dict[str, Any]:
    rm = str(row["rm_id"])
    return {
        "rm": rm or text["no_rm"], "href": pages.get(rm), "no_rm": rm == "",
        "clients": _count(row["clients"]), "value": _money(row["value"], lang, currency),
        "assets": _money(row["assets"], lang, currency),
        **{c: _count(row[c]) for c in COUNTS},
    }


def render_rm_index(index: pd.DataFrame, month: pd.Timestamp, previous: pd.Timestamp | None, lang: str,
                    pages: dict[str, str], *, has_monthly: bool, currency: str = DEFAULT_CURRENCY) -> str:
    """The index page of `rm_index`: a row per RM (linked to its page in `pages`), a total row."""
    text = TEXT[lang]
    total = {"rm_id": "", "clients": index["clients"].sum(), "value": index["value"].sum(),
             "assets": index["assets"].sum(),
             **{c: pd.NA if index[c].isna().all() else index[c].sum() for c in COUNTS}}
    total_row = _index_row(pd.Series(total), text, {}, lang, currency) | {"rm": text["total"]}
    notes = [text["index_since"].format(month=month_label(previous)) if previous is not None
             else text["index_first"].format(month=month_label(month))]
    if not has_monthly and previous is not None:
        notes.append(text["no_monthly"])
    return template_env().get_template("rm_index.html.j2").render(
        html_lang="zh-CN" if lang == "zh" else "en",
        t=text,
        title=text["index_title"].format(month=month_label(month)),
        subtitle=text["index_subtitle"].format(month=month_label(month)),
        notes=notes,
        rows=[_index_row(r, text, pages, lang, currency) for _, r in index.iterrows()],
        total=total_row,
        generated=text["generated"].format(month=month_label(month)),
    )


def write_rm_pages(history: pd.DataFrame, monthly: pd.DataFrame | None, month: pd.Timestamp | dt.date | str,
                   out_dir: Path, cfg: ReportConfig | None = None, lang: str = "en", *,
                   leads: pd.DataFrame | None = None, next_tier: RmNextTier | None = None) -> list[Path]:
    """Write `out_dir/rm-<RM id>.html` for every RM with clients in `month` and `out_dir/index.html`
    (each file atomically); returns the pages, the index last. `history`: the archive frame of
    up to 12 months ending at `month` (`read_archive`); `monthly`: the raw monthly table (balance
    trends, new defaults) or None; `leads`: the month's supply-chain leads shown on each RM's
    page (None: the bank has no relations, no section); `next_tier`: the clients within reach of
    the next tier (`reports._rm_next_tier.rm_next_tier`; None: no section). Clients without an
    RM count in the index but get no page."""
    check_lang(lang)
    cfg = cfg or ReportConfig()
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    recs = check_recommendations(history, source="the archive")
    check_scored_month(recs, month)
    now = recs[recs["month"] == month]
    rm = _rm_key(now)
    with_rm = now[rm != ""]
    hist = build_history(recs, monthly, with_rm["client_id"], month, cfg)
    out_dir = Path(out_dir)
    pages: dict[str, str] = {}
    written: list[Path] = []
    for rm_id, rows in with_rm.groupby(rm[rm != ""], sort=True):
        name = page_name(str(rm_id))
        html = render_rm_page(order_clients(rows), hist, str(rm_id), month, lang, cfg, index_href=INDEX_PAGE,
                              leads=leads, next_tier=next_tier)
        written.append(write_text_atomic(out_dir / name, html))
        pages[str(rm_id)] = name
    index = rm_index(recs, monthly, month)
    html = render_rm_index(index, month, hist.previous_month, lang, pages, has_monthly=monthly is not None,
                           currency=cfg.currency)
    written.append(write_text_atomic(out_dir / INDEX_PAGE, html))
    logger.info("wrote %d RM page(s) and %s for %s in %s (%d client(s) without an RM)", len(pages), INDEX_PAGE,
                month_label(month), out_dir, int((rm == "").sum()))
    return written
