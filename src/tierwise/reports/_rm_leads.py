"""The RM page's "supply-chain leads / 供应链线索" section: the leads of the RM's core clients.

Built from the month's leads table (`tierwise.models.supply_chain_leads`, as the monthly job
writes it); without relations there is no table and no section. Ids, tiers, amounts and shares
only: no name or free text reaches the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tierwise.features import month_label
from tierwise.models import DEFAULT_CURRENCY, format_money, format_share
from tierwise.reports._catalogue import LEADS_TEXT, code_name


def leads_section(leads: pd.DataFrame | None, rm_id: str, month: pd.Timestamp, lang: str,
                  currency: str = DEFAULT_CURRENCY) -> dict[str, Any] | None:
    """The section's content for `rm_id` (core clients in the order of the table, each with its
    leads by rank); None when there is no leads table (the bank has no relations)."""
    if leads is None:
        return None
    text = LEADS_TEXT[lang]
    mine = leads[leads["rm_id"].astype("str") == str(rm_id)]
    clients = []
    for client_id, rows in mine.groupby("client_id", sort=False):
        clients.append({
            "client_id": str(client_id),
            "tier_key": str(rows["client_tier"].iat[0]),
            "tier": code_name("tier", str(rows["client_tier"].iat[0]), lang),
            "leads": [{
                "counterparty_id": str(r["counterparty_id"]),
                "kind": str(r["lead_kind"]),
                "kind_text": text[str(r["lead_kind"])],
                "flow_kind": " / ".join(text.get(k, k) for k in str(r["flow_kind"]).split("+")),
                "flow": format_money(float(r["flow_amount"]), lang, currency),
                "share": format_share(r["flow_share"], lang) if pd.notna(r["flow_share"]) else "",
                "tier": "" if pd.isna(r["counterparty_tier"]) else code_name("tier", str(r["counterparty_tier"]), lang),
            } for _, r in rows.sort_values("rank").iterrows()],
        })
    return {"t": text, "intro": text["intro"].format(month=month_label(month)), "clients": clients}
