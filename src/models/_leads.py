"""Supply-chain leads: grow from core clients into the firms they trade with.

For each **core client** (a client of the month in a top tier, Premier or Excellence) the
month's supplier and customer flows it reported (`tierwise.features.flows_of`) name its trading
counterparties. Two kinds of lead come out of them, both owned by the core client's
relationship manager (`rm_id`; empty for a core client without one, listed last):

- `non_client`: a counterparty that is not a client of the bank (an id the bank keeps for
  firms it does not serve; never a name) -- a firm to win;
- `client_growth`: a counterparty that is a client scored this month with growth potential: a
  growth lead of the policy (`flag_growth_lead`) or a growth score at or above `min_growth` (the
  RM page's "high growth" band) -- a client to grow through the chain.

A core client's leads are ranked by the flow between the two firms in the month (paid to the
counterparty as a supplier plus received from it as a customer), largest first, ties by
counterparty id; `flow_share` is that flow over all the core client's supplier and customer flows
of the month. A counterparty that is a client without growth potential (or not scored this
month) is not a lead.

The table carries ids, tiers, amounts and scores only: no name, no free text, nothing of the
clients table but `client_id`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.features import CLIENT_KEY, COUNTERPARTY_KEY, MONTH_KEY, flows_of
from tierwise.models._group_risk import TOP_TIERS

LEAD_KINDS: tuple[str, ...] = ("non_client", "client_growth")
LEAD_COLUMNS: tuple[str, ...] = (
    MONTH_KEY, "rm_id", CLIENT_KEY, "client_tier", "rank", "lead_kind", COUNTERPARTY_KEY, "flow_kind",
    "flow_amount", "flow_share", "counterparty_tier", "counterparty_growth", "counterparty_growth_lead",
)
"""The leads table, in order: one row per (core client, counterparty) lead."""


def supply_chain_leads(recs: pd.DataFrame, relations: pd.DataFrame, month: pd.Timestamp, *,
                       client_ids: pd.Series | pd.Index, min_growth: float,
                       top_tiers: tuple[str, ...] = TOP_TIERS) -> pd.DataFrame:
    """The leads of `month` (see the module docstring), by RM, core client, then rank.

    `recs`: the month's recommendations (client_id, rm_id, tier, growth, flag_growth_lead);
    `relations`: the checked relations table (`read_relations(...).kept`); `client_ids`: every
    client of the bank (a counterparty among them is a client)."""
    month = pd.Timestamp(month)
    ids = recs[CLIENT_KEY].astype("str")
    core = recs.loc[recs["tier"].isin(top_tiers).to_numpy(), [CLIENT_KEY, "rm_id", "tier"]]
    core = core.assign(**{CLIENT_KEY: core[CLIENT_KEY].astype("str")}).drop_duplicates(CLIENT_KEY)
    flows = flows_of(relations, month)
    flows = flows[flows[CLIENT_KEY].astype("str").isin(core[CLIENT_KEY]).to_numpy()]
    if flows.empty:
        return _empty()
    flows = flows.assign(**{CLIENT_KEY: flows[CLIENT_KEY].astype("str"),
                            COUNTERPARTY_KEY: flows[COUNTERPARTY_KEY].astype("str"),
                            "amount": flows["amount"].fillna(0.0).astype(float)})
    pairs = (flows.groupby([CLIENT_KEY, COUNTERPARTY_KEY], sort=True)
             .agg(flow_amount=("amount", "sum"), flow_kind=("kind", lambda k: "+".join(sorted(set(k)))))
             .reset_index())
    total = flows.groupby(CLIENT_KEY)["amount"].sum()
    pairs["flow_share"] = pairs["flow_amount"] / pairs[CLIENT_KEY].map(total).replace(0.0, np.nan)
    known = pd.Index(pd.Series(np.asarray(client_ids, dtype=object)).astype("str").unique())
    scored = pd.DataFrame({
        "counterparty_tier": recs["tier"].astype("str").to_numpy(),
        "counterparty_growth": pd.to_numeric(recs["growth"], errors="coerce").to_numpy(dtype=float)
        if "growth" in recs.columns else np.nan,
        "counterparty_growth_lead": recs["flag_growth_lead"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "flag_growth_lead" in recs.columns else False,
    }, index=pd.Index(ids.to_numpy(), name=COUNTERPARTY_KEY))
    scored = scored[~scored.index.duplicated()]
    pairs = pairs.join(scored, on=COUNTERPARTY_KEY)
    is_client = pairs[COUNTERPARTY_KEY].isin(known).to_numpy()
    growth = pairs["counterparty_growth"].to_numpy(dtype=float)
    potential = pairs["counterparty_growth_lead"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        | (np.nan_to_num(growth, nan=-np.inf) >= min_growth)
    scored_now = pairs["counterparty_tier"].notna().to_numpy()
    kind = np.where(~is_client, "non_client", np.where(scored_now & potential, "client_growth", ""))
    pairs = pairs.assign(lead_kind=kind)[kind != ""]
    if pairs.empty:
        return _empty()
    non_client = pairs["lead_kind"].eq("non_client")
    pairs.loc[non_client, ["counterparty_tier"]] = None
    pairs.loc[non_client, ["counterparty_growth"]] = np.nan
    pairs["counterparty_growth_lead"] = pairs["counterparty_growth_lead"].astype("boolean").mask(non_client)
    pairs = pairs.sort_values([CLIENT_KEY, "flow_amount", COUNTERPARTY_KEY], ascending=[True, False, True],
                              kind="stable")
    pairs["rank"] = pairs.groupby(CLIENT_KEY).cumcount().astype("int64") + 1
    owner = core.set_index(CLIENT_KEY)
    pairs["rm_id"] = pairs[CLIENT_KEY].map(owner["rm_id"])
    pairs["client_tier"] = pairs[CLIENT_KEY].map(owner["tier"]).astype("str")
    pairs[MONTH_KEY] = month
    out = pairs.loc[:, list(LEAD_COLUMNS)]
    out = out.sort_values(["rm_id", CLIENT_KEY, "rank"], kind="stable", na_position="last", ignore_index=True)
    return _typed(out)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The leads' fixed dtypes (the same file for the same month)."""
    return frame.astype({
        "rm_id": "str", CLIENT_KEY: "str", "client_tier": "str", "rank": "int64", "lead_kind": "str",
        COUNTERPARTY_KEY: "str", "flow_kind": "str", "flow_amount": "float64", "flow_share": "float64",
        "counterparty_tier": "str", "counterparty_growth": "float64", "counterparty_growth_lead": "boolean",
    }).assign(**{MONTH_KEY: pd.to_datetime(frame[MONTH_KEY]).astype("datetime64[ns]")})


def _empty() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: pd.Series([], dtype="object") for c in LEAD_COLUMNS}))
