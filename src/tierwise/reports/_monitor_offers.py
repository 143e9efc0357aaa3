"""The monitor's offers: what the bank offers each tier, and whether offered clients take it up.

Pure functions over the archived months (each row's offer columns `offer_<i>`, written by
scoring when the recommender bundles product models) and the raw monthly data:

- `offer_mix`: per tier (and over all clients), the share of each product among the month's
  offers, and how many clients got at least one;
- `take_up`: for the month k months back (k: the product labels' horizon, features.yaml
  `labels.products.horizon_months`, the one the propensity models were trained on), per
  product, the share of the clients offered it who opened it within the k months after, beside
  the adoption rate of the clients not offered it (both among clients who did not hold it
  then; the one label definition, `features.build_labels`). Until the monthly data reaches k
  months past that month, the take-up is "not yet mature" and says which month it waits for.

`offers_block` composes them into the monitor result's `offers` section. A month without offer
columns (a recommender with no product models) has no section but a note.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_KEY,
    PRODUCTS,
    FeatureConfig,
    build_labels,
    label_column,
    month_label,
    product_task,
)
from tierwise.models import TIERS

_OFFER = re.compile(r"offer_(\d+)")


def offer_slots(columns: Any) -> list[str]:
    """The product columns `offer_<i>` of a table, in rank order."""
    found = [(int(m.group(1)), c) for c in map(str, columns) if (m := _OFFER.fullmatch(c))]
    return [c for _, c in sorted(found)]


def _offered(recs: pd.DataFrame, slots: list[str]) -> pd.DataFrame:
    """(rows x PRODUCTS) bool: the product is among the row's offers."""
    names = recs[slots].astype(object).where(recs[slots].notna(), None).to_numpy(dtype=object)
    return pd.DataFrame({p: (names == p).any(axis=1) for p in PRODUCTS}, index=recs.index)


def offer_mix(recs: pd.DataFrame) -> list[dict[str, Any]]:
    """Per tier, then over all clients ("all"): clients, clients with at least one offer,
    offers made, and each product's share of those offers (None where no offer was made)."""
    slots = offer_slots(recs.columns)
    offered = _offered(recs, slots)
    rows = []
    tiers = [t for t in TIERS if (recs["tier"] == t).any()]
    for tier in [*tiers, "all"]:
        mask = np.ones(len(recs), bool) if tier == "all" else (recs["tier"] == tier).to_numpy()
        part = offered[mask]
        total = int(part.to_numpy().sum())
        rows.append({
            "tier": tier, "clients": int(mask.sum()), "clients_offered": int(part.any(axis=1).sum()),
            "offers": total,
            "share": {p: (float(part[p].sum() / total) if total else None) for p in PRODUCTS},
        })
    return rows


def take_up(offered_recs: pd.DataFrame, labels: pd.DataFrame, config: FeatureConfig) -> list[dict[str, Any]]:
    """Per product: among clients who did not hold it at the offered month (a known label), how
    many were offered it and how many of those opened it within the horizon (`take_up`), against
    the adoption rate of those not offered it (`rate_not_offered`) and their ratio (`lift`)."""
    offered = _offered(offered_recs, offer_slots(offered_recs.columns))
    ids = offered_recs[CLIENT_KEY].astype("str").to_numpy()
    rows = []
    for product in PRODUCTS:
        column = label_column(product_task(product), config)
        if column not in labels.columns:
            continue
        label = labels[column].reindex(ids).to_numpy(dtype=float)
        known = ~np.isnan(label)
        got = offered[product].to_numpy() & known
        rest = ~offered[product].to_numpy() & known
        rate_offered = float(label[got].mean()) if got.any() else None
        rate_rest = float(label[rest].mean()) if rest.any() else None
        rows.append({
            "product": product, "offered": int(got.sum()), "adopted": int(label[got].sum()),
            "take_up": rate_offered, "not_offered": int(rest.sum()), "adopted_not_offered": int(label[rest].sum()),
            "rate_not_offered": rate_rest,
            "lift": rate_offered / rate_rest if rate_offered is not None and rate_rest else None,
        })
    return rows


def take_up_month(month: Any, config: FeatureConfig) -> pd.Timestamp:
    """The month whose offers' take-up the monitor of `month` measures: the product labels'
    horizon before it."""
    return pd.Timestamp(month) - pd.DateOffset(months=config.labels.products.horizon_months)


def offers_block(recs: pd.DataFrame, month: pd.Timestamp, monthly: pd.DataFrame | None,
                 config: FeatureConfig, events: pd.DataFrame | None = None,
                 offered: pd.DataFrame | None = None) -> dict[str, Any]:
    """The monitor's `offers` section for `month` (see the module docstring). `recs` holds the
    months read for the monitor (the month in full); `offered`, the archived rows of
    `take_up_month` with their offer columns (None: those of `recs`, if it holds them)."""
    month = pd.Timestamp(month)
    cur = recs[recs["month"] == month]
    if not offer_slots(cur.columns) or cur[offer_slots(cur.columns)].isna().all().all():
        return {"available": False,
                "note": f"no offers for {month_label(month)}: the recommender bundles no product models, or the "
                        "month was scored without them"}
    horizon = config.labels.products.horizon_months
    offered_month = take_up_month(month, config)
    block: dict[str, Any] = {"available": True, "mix": offer_mix(cur.reset_index(drop=True)),
                             "horizon_months": horizon, "take_up_month": month_label(offered_month)}
    source = recs if offered is None else offered
    then = source[pd.to_datetime(source["month"]) == offered_month].reset_index(drop=True)
    due = month_label(month)
    if then.empty or not offer_slots(then.columns) or then[offer_slots(then.columns)].isna().all().all():
        block.update(matured=False, take_up=[],
                     note=f"no archived offers for {month_label(offered_month)} ({horizon} months before): "
                          "no take-up to measure yet")
    elif monthly is None or monthly.empty or pd.to_datetime(monthly["month"]).max() < month:
        block.update(matured=False, take_up=[],
                     note=f"not yet mature: the take-up of the offers of {month_label(offered_month)} needs monthly "
                          f"data up to {due} ({horizon} months after)")
    else:
        labels = build_labels(monthly, offered_month.date(), config, events=events).set_index(CLIENT_KEY)
        block.update(matured=True, take_up=take_up(then, labels, config),
                     note=f"offers of {month_label(offered_month)}: products opened by {due}")
    return block


def offer_metrics(offers: dict[str, Any]) -> dict[str, float | None]:
    """The offers' figures: each product's share of all offers, and once mature its take-up,
    the rate of those not offered it and their ratio."""
    if not offers.get("available"):
        return {}
    metrics: dict[str, float | None] = {}
    overall = next(r for r in offers["mix"] if r["tier"] == "all")
    for product, share in overall["share"].items():
        metrics[f"offers.share.{product}"] = share
    for row in offers.get("take_up") or []:
        metrics[f"offers.take_up.{row['product']}"] = row["take_up"]
        metrics[f"offers.rate_not_offered.{row['product']}"] = row["rate_not_offered"]
        metrics[f"offers.lift.{row['product']}"] = row["lift"]
    return metrics
