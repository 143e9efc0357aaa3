"""Fairness of the tier assignment and of each model's decisions across gender and age bands.

Protected attributes come from the `clients` table, joined by `client_id`, only here: they
are never model features and never appear in explanations. Group rates are computed with
fairlearn's `MetricFrame`; a breach of a configured threshold is reported, never dropped.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, selection_rate, true_positive_rate

from tierwise.features import age_band
from tierwise.reports._config import FairnessConfig

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"

#: decision name -> (model label it predicts, or None; plain description)
DECISIONS: dict[str, tuple[str | None, str]] = {
    "top_tier": (None, "assigned a top tier"),
    "churn_high": ("churn", "churn likelihood at or above the policy threshold"),
    "default_high": ("default", "default risk at or above the policy limit"),
    "growth_lead": (None, "flagged as a growth lead"),
}


def age_groups(birth_year: pd.Series, month: pd.Timestamp) -> pd.Series:
    """The features' age band (`tierwise.features.AGE_BANDS`) at `month`; 'unknown' when missing."""
    bands = pd.Series(age_band(birth_year, month), index=birth_year.index, dtype="object")
    return bands.where(bands.notna(), UNKNOWN).astype("str")


def protected_groups(recs: pd.DataFrame, clients: pd.DataFrame, month: pd.Timestamp,
                     cfg: FairnessConfig) -> pd.DataFrame:
    """`client_id` with one column per configured attribute (gender, age_band)."""
    wanted = [c for c in ("gender", "birth_year") if c in clients.columns]
    joined = recs[["client_id"]].merge(clients[["client_id", *wanted]].drop_duplicates("client_id"),
                                       on="client_id", how="left")
    out = pd.DataFrame({"client_id": joined["client_id"]})
    for attribute in cfg.attributes:
        if attribute == "age_band":
            source = joined["birth_year"] if "birth_year" in joined else pd.Series(np.nan, index=joined.index)
            out[attribute] = age_groups(source, month).to_numpy()
        elif attribute in joined.columns:
            col = joined[attribute]
            out[attribute] = col.astype("str").where(col.notna(), UNKNOWN)
        else:
            out[attribute] = UNKNOWN
    return out


def decisions(recs: pd.DataFrame, cfg: FairnessConfig, top_tiers: tuple[str, ...]) -> pd.DataFrame:
    """Boolean decision columns per client (NaN where a decision does not apply)."""
    p_default = pd.to_numeric(recs["p_default"], errors="coerce")
    return pd.DataFrame({
        "client_id": recs["client_id"].to_numpy(),
        "top_tier": recs["tier"].isin(top_tiers).astype("float64").to_numpy(),
        "churn_high": (pd.to_numeric(recs["p_churn"], errors="coerce") >= cfg.churn_threshold).astype("float64").to_numpy(),
        "default_high": (p_default >= cfg.default_threshold).astype("float64").where(p_default.notna()).to_numpy(),
        "growth_lead": recs["flag_growth_lead"].astype(bool).astype("float64").to_numpy(),
    })


def compare_groups(decision: pd.Series, groups: pd.Series, cfg: FairnessConfig,
                   labels: pd.Series | None = None) -> dict[str, Any]:
    """Selection rate (and TPR when labels are given) per group with fairlearn, plus the
    selection-rate ratio (min/max) and TPR difference (max-min) over groups large enough."""
    keep = decision.notna() & groups.notna()
    if labels is not None:
        keep &= labels.notna()
    d = decision[keep].astype(int).to_numpy()
    g = groups[keep].astype("str").to_numpy()
    out: dict[str, Any] = {"groups": [], "selection_rate_ratio": None, "tpr_difference": None,
                           "excluded": []}
    if d.size == 0:
        return out
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "clients": count},
                        y_true=d, y_pred=d, sensitive_features=g).by_group
    tpr = None
    if labels is not None:
        y = labels[keep].astype(int).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tpr = MetricFrame(metrics={"tpr": true_positive_rate, "positives": _positives},
                              y_true=y, y_pred=d, sensitive_features=g).by_group
    eligible_rates, eligible_tpr = [], []
    for group in sorted(frame.index, key=_group_order):
        n = int(frame.loc[group, "clients"])
        row = {"group": str(group), "clients": n, "selection_rate": float(frame.loc[group, "selection_rate"])}
        big = n >= cfg.min_group_size
        if big:
            eligible_rates.append(row["selection_rate"])
        else:
            out["excluded"].append(f"{group} ({n} clients < {cfg.min_group_size})")
        if tpr is not None:
            positives = int(tpr.loc[group, "positives"])
            row["positives"] = positives
            row["tpr"] = float(tpr.loc[group, "tpr"]) if positives else None
            if big and positives >= cfg.min_positives:
                eligible_tpr.append(row["tpr"])
        out["groups"].append(row)
    if len(eligible_rates) >= 2 and max(eligible_rates) > 0:
        out["selection_rate_ratio"] = min(eligible_rates) / max(eligible_rates)
    if len(eligible_tpr) >= 2:
        out["tpr_difference"] = max(eligible_tpr) - min(eligible_tpr)
    return out


def _group_order(name: object) -> tuple[int, float, str]:
    """Age bands in age order ('<25', '25-34', ..., '65+'), then other names, 'unknown' last."""
    text = str(name)
    if text == UNKNOWN:
        return (3, 0.0, text)
    if text.startswith("<"):
        return (0, 0.0, text)
    match = re.match(r"^(\d+)", text)
    return (1, float(match.group(1)), text) if match else (2, 0.0, text)


def _positives(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    return int(np.sum(y_true))


def fairness_report(current: pd.DataFrame, baseline: pd.DataFrame, clients: pd.DataFrame | None,
                    labels: pd.DataFrame | None, cfg: FairnessConfig,
                    *, top_tiers: tuple[str, ...] = ("Premier", "Excellence")) -> dict[str, Any]:
    """Selection-rate ratios on the month's decisions; TPR differences on the baseline's
    decisions against matured labels. Breaches are listed as alerts naming decision and attribute."""
    result: dict[str, Any] = {
        "thresholds": {"min_selection_rate_ratio": cfg.min_selection_rate_ratio,
                       "max_tpr_difference": cfg.max_tpr_difference,
                       "churn_threshold": cfg.churn_threshold, "default_threshold": cfg.default_threshold},
        "decisions": {k: v[1] for k, v in DECISIONS.items()},
        "comparisons": [], "breaches": [], "note": "",
    }
    if clients is None:
        result["note"] = "no clients table in the data folder: fairness could not be computed"
        result["breaches"].append({"kind": "fairness", "metric": "not_computed", "dimension": None,
                                   "segment": None, "value": 0.0, "limit": 0.0, "level": "warn",
                                   "message": result["note"]})
        return result
    month = pd.Timestamp(current["month"].iloc[0])
    groups_cur = protected_groups(current, clients, month, cfg)
    dec_cur = decisions(current, cfg, top_tiers)
    dec_base = groups_base = lab = None
    if labels is not None and len(baseline):
        groups_base = protected_groups(baseline, clients, pd.Timestamp(baseline["month"].iloc[0]), cfg)
        dec_base = decisions(baseline, cfg, top_tiers)
        lab = dec_base[["client_id"]].merge(labels, on="client_id", how="left")
    for name, (label, _) in DECISIONS.items():
        for attribute in cfg.attributes:
            cur = compare_groups(dec_cur[name], groups_cur[attribute], cfg)
            row = {"decision": name, "attribute": attribute, "groups": cur["groups"],
                   "selection_rate_ratio": cur["selection_rate_ratio"], "tpr_difference": None,
                   "tpr_groups": [], "excluded": cur["excluded"]}
            if label is not None and lab is not None and lab[label].notna().any():
                base = compare_groups(dec_base[name], groups_base[attribute], cfg, labels=lab[label])
                row["tpr_difference"] = base["tpr_difference"]
                row["tpr_groups"] = base["groups"]
            result["comparisons"].append(row)
            ratio, diff = row["selection_rate_ratio"], row["tpr_difference"]
            if ratio is not None and ratio < cfg.min_selection_rate_ratio:
                result["breaches"].append(_breach(name, attribute, "selection_rate_ratio", ratio,
                                                  cfg.min_selection_rate_ratio, "below"))
            if diff is not None and diff > cfg.max_tpr_difference:
                result["breaches"].append(_breach(name, attribute, "tpr_difference", diff,
                                                  cfg.max_tpr_difference, "above"))
    if result["breaches"]:
        logger.warning("fairness: %d breach(es)", len(result["breaches"]))
    return result


def _breach(decision: str, attribute: str, metric: str, value: float, limit: float, side: str) -> dict[str, Any]:
    return {"kind": "fairness", "metric": metric, "dimension": attribute, "segment": decision,
            "value": float(value), "limit": float(limit), "level": "alert",
            "message": f"fairness: {metric.replace('_', ' ')} of '{decision}' across {attribute} is "
                       f"{value:.3f}, {side} the limit {limit}"}
