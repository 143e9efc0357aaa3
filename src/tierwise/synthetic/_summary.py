"""Summaries of a (validated) bank for `tierwise demo`: who the clients are, label base rates
computed from the monthly data, and the oracle's accuracy on its own sample.

Base rates use the labels of `tierwise.features` (`configs/features.yaml` `labels:`), the
same labels the models are trained on; the generator's own rules (`configs/data.yaml`
`labels:`) only drive the simulation and the oracle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tierwise.features import BALANCE_COLUMNS, TASKS, FeatureConfig, label_column, label_history

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


def label_base_rates(monthly: pd.DataFrame, config: FeatureConfig, *,
                     events: pd.DataFrame | None = None) -> dict[str, float]:
    """Churn, default (borrowers not in default) and mean growth over every snapshot month
    that has the task's full horizon ahead of it in the data, with the labels of
    `tierwise.features` (`build_labels`, so exactly the labels the models are trained on).

    Keys are the label columns (`churn_6m`, `default_12m`) and `<growth label>_mean`
    (`growth_12m_mean`) for the horizons of `config`. `events` is the bank's events table
    (`tierwise.features.read_events`), the label source where present.
    """
    labels = label_history(monthly, config, events=events)
    out = {}
    for task in TASKS:
        column = label_column(task, config)
        known = labels.loc[labels[f"{task}_complete"], column].dropna()
        key = f"{column}_mean" if task == "growth" else column
        out[key] = float(known.mean()) if len(known) else float("nan")
    return out


def oracle_auc(oracle: pd.DataFrame) -> dict[str, float]:
    """ROC AUC of the oracle's probabilities against the realised labels on its sample."""
    out = {}
    for name, p, y in (("churn_6m", "p_churn_6m", "churn_6m"), ("default_12m", "p_default_12m", "default_12m")):
        rows = oracle[oracle[p].notna() & oracle[y].notna()]
        labels = rows[y].astype(int)
        out[name] = float(roc_auc_score(labels, rows[p])) if labels.nunique() == 2 else float("nan")
    return out
