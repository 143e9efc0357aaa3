"""Summaries of a (validated) bank for `tierwise demo`: who the clients are, label base rates
computed from the monthly data, and the oracle's accuracy on its own sample.

The label rules here follow `configs/data.yaml` `labels:`; they exist so that the demo can
report base rates at this stage (the feature pipeline owns the labels used for training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tierwise.features import BALANCE_COLUMNS
from tierwise.synthetic._config import LabelsConfig

ASSET_BANDS = ((0.0, "< 50k"), (50_000.0, "50k - 500k"), (500_000.0, "500k - 5M"), (5_000_000.0, ">= 5M"))


def assets_total(monthly: pd.DataFrame) -> pd.Series:
    return monthly.loc[:, list(BALANCE_COLUMNS)].sum(axis=1)


def asset_band(values: pd.Series) -> pd.Series:
    edges = [b[0] for b in ASSET_BANDS][1:]
    labels = np.asarray([b[1] for b in ASSET_BANDS], dtype=object)
    return pd.Series(labels[np.searchsorted(edges, values.to_numpy(), side="right")], index=values.index)


def clients_by_segment_and_band(clients: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """Clients by segment x asset band of their latest month."""
    last = monthly.sort_values(["client_id", "month"]).groupby("client_id", sort=False).tail(1)
    band = asset_band(assets_total(last)).rename("asset_band")
    seg = last["client_id"].map(clients.set_index("client_id")["segment"]).rename("segment")
    table = pd.crosstab(seg, band).reindex(columns=[b[1] for b in ASSET_BANDS], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table


def label_base_rates(monthly: pd.DataFrame, labels: LabelsConfig) -> dict[str, float]:
    """Churn (6m), default (12m, borrowers not in default) and mean growth (12m) over every
    snapshot month that has the full horizon ahead of it in the data."""
    months = np.sort(monthly["month"].unique())
    clients = monthly["client_id"].unique()
    ci = pd.Index(clients).get_indexer(monthly["client_id"])
    ti = np.searchsorted(months, monthly["month"].to_numpy())
    shape = (clients.size, months.size)

    def grid(values, fill, dtype):
        out = np.full(shape, fill, dtype=dtype)
        out[ci, ti] = values
        return out

    present = grid(True, False, bool)
    assets = grid(assets_total(monthly).to_numpy(float), np.nan, float)
    txn = grid((monthly["mobile_txn_count"] + monthly["branch_txn_count"] + monthly["atm_txn_count"]).to_numpy(), 0, np.int64)
    dpd = grid(monthly["days_past_due"].to_numpy(), 0, np.int64)
    closed = grid(monthly["relationship_closed"].to_numpy(bool), False, bool)
    exposure = grid((monthly["loan_balance"] + monthly["card_balance"]).to_numpy(float) > 0, False, bool)
    hc, hd, hg = labels.churn_horizon_months, labels.default_horizon_months, labels.growth_horizon_months
    churn, default, growth = [], [], []
    for t in range(months.size):
        base = present[:, t] & ~closed[:, t]
        if t + hc < months.size:
            sl = slice(t + 1, t + 1 + hc)
            with np.errstate(invalid="ignore"):
                drained = present[:, sl] & (assets[:, sl] < labels.churn_asset_share * assets[:, [t]]) & (txn[:, sl] == 0)
            churn.append((closed[:, sl] | drained | ~present[:, sl]).any(axis=1)[base])
        if t + hd < months.size:
            sl = slice(t + 1, t + 1 + hd)
            ok = base & exposure[:, t] & (dpd[:, t] < labels.default_dpd)
            default.append((present[:, sl] & (dpd[:, sl] >= labels.default_dpd)).any(axis=1)[ok])
        if t + hg < months.size:
            kept = base & present[:, t + hg] & ~closed[:, t + hg]
            g = np.log((assets[kept, t + hg] + labels.growth_offset) / (assets[kept, t] + labels.growth_offset))
            growth.append(g)
    def mean(parts):
        return float(np.concatenate(parts).mean()) if parts and sum(p.size for p in parts) else float("nan")
    return {"churn_6m": mean(churn), "default_12m": mean(default), "growth_12m_mean": mean(growth)}


def oracle_auc(oracle: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of the oracle's probabilities against the realised labels on its sample."""
    out = {}
    for name, p, y in (("churn_6m", "p_churn_6m", "churn_6m"), ("default_12m", "p_default_12m", "default_12m")):
        rows = oracle[oracle[p].notna() & oracle[y].notna()]
        labels = rows[y].astype(int)
        out[name] = float(roc_auc_score(labels, rows[p])) if labels.nunique() == 2 else float("nan")
    return out
