"""Fairness of the tier assignment and of each model's decisions across gender and age bands.

Protected attributes come from the `clients` table, joined by `client_id`, only here: they
are never model features and never appear in explanations. Group rates are computed with
fairlearn's `MetricFrame`, each with its Wilson interval; the 'unknown' group is reported apart
and kept out of every ratio; a ratio alerts only when the groups it compares have enough clients
and events (`min_group_size`, `min_events`). A breach is reported, never dropped.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, selection_rate, true_positive_rate
from scipy.stats import norm

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


def wilson_interval(events: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval of the rate `events / n` (None, None when `n` is 0)."""
    if n <= 0:
        return None, None
    z = float(norm.ppf(0.5 + confidence / 2))
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def ratio_interval(low: tuple[int, int], high: tuple[int, int],
                   confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Interval of the rate ratio (events_low / n_low) / (events_high / n_high) on the log scale
    (Katz); a zero count takes 0.5 (Haldane) so that the upper end stays finite (the lower end
    is then 0 when the lower group has none selected)."""
    (x1, n1), (x2, n2) = low, high
    if n1 <= 0 or n2 <= 0:
        return None, None
    none_selected = x1 == 0
    if x1 == 0 or x2 == 0:
        x1, x2, n1, n2 = x1 + 0.5, x2 + 0.5, n1 + 0.5, n2 + 0.5
    z = float(norm.ppf(0.5 + confidence / 2))
    log_ratio = np.log((x1 / n1) / (x2 / n2))
    se = np.sqrt(max(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2, 0.0))
    # no one selected in the lower group: the ratio is 0 and so is the interval's lower end
    return 0.0 if none_selected else float(np.exp(log_ratio - z * se)), float(np.exp(log_ratio + z * se))


def difference_interval(high: tuple[int, int], low: tuple[int, int],
                        confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Newcombe's hybrid score interval of the difference of two rates (high minus low),
    from their Wilson intervals."""
    (x1, n1), (x2, n2) = high, low
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    if l1 is None or l2 is None:
        return None, None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    return (float(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
            float(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def compare_groups(decision: pd.Series, groups: pd.Series, cfg: FairnessConfig,
                   labels: pd.Series | None = None) -> dict[str, Any]:
    """Selection rate (and TPR when labels are given) per group with fairlearn and their
    Wilson intervals, plus the selection-rate ratio (lowest over highest rate) and the TPR
    difference (highest minus lowest) over the groups large enough, with their intervals.

    The 'unknown' group (attribute not recorded) is reported apart (`unknown`) and never
    enters a ratio or a difference: it is not a group of people. A ratio may alert
    (`ratio_alerts`) only when both groups it compares have `cfg.min_group_size` clients and
    `cfg.min_events` selected and (with `cfg.require_significance`) its interval lies below 1;
    the TPR difference only when both have `cfg.min_positives`."""
    keep = decision.notna() & groups.notna()
    if labels is not None:
        keep &= labels.notna()
    d = decision[keep].astype(int).to_numpy()
    g = groups[keep].astype("str").to_numpy()
    out: dict[str, Any] = {"groups": [], "unknown": None, "selection_rate_ratio": None,
                           "selection_rate_ratio_ci": None, "ratio_groups": None, "ratio_supported": False,
                           "ratio_significant": False,
                           "ratio_alerts": False, "tpr_difference": None, "tpr_difference_ci": None,
                           "tpr_alerts": False, "excluded": [], "confidence": cfg.confidence}
    if d.size == 0:
        return out
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "clients": count, "selected": _positives},
                        y_true=d, y_pred=d, sensitive_features=g).by_group
    tpr = None
    if labels is not None:
        y = labels[keep].astype(int).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tpr = MetricFrame(metrics={"tpr": true_positive_rate, "positives": _positives, "caught": _caught},
                              y_true=y, y_pred=d, sensitive_features=g).by_group
    rated, tpr_rated = [], []
    for group in sorted(frame.index, key=_group_order):
        n, selected = int(frame.loc[group, "clients"]), int(frame.loc[group, "selected"])
        low, high = wilson_interval(selected, n, cfg.confidence)
        row = {"group": str(group), "clients": n, "selected": selected,
               "selection_rate": float(frame.loc[group, "selection_rate"]), "selection_rate_ci": [low, high]}
        if tpr is not None:
            positives = int(tpr.loc[group, "positives"])
            row["positives"] = positives
            row["tpr"] = float(tpr.loc[group, "tpr"]) if positives else None
            row["caught"] = int(tpr.loc[group, "caught"])
            row["tpr_ci"] = list(wilson_interval(row["caught"], positives, cfg.confidence)) if positives else None
        if str(group) == UNKNOWN:
            out["unknown"] = row
            out["excluded"].append(f"{UNKNOWN} ({n} clients): not recorded, reported apart and not compared")
            continue
        out["groups"].append(row)
        if n < cfg.min_group_size:
            out["excluded"].append(f"{group} ({n} clients < {cfg.min_group_size})")
            continue
        rated.append(row)
        if tpr is not None and row["positives"] >= cfg.min_positives:
            tpr_rated.append(row)
    if len(rated) >= 2:
        lowest = min(rated, key=lambda r: r["selection_rate"])
        highest = max(rated, key=lambda r: r["selection_rate"])
        if highest["selection_rate"] > 0:
            out["selection_rate_ratio"] = lowest["selection_rate"] / highest["selection_rate"]
            out["selection_rate_ratio_ci"] = list(ratio_interval(
                (lowest["selected"], lowest["clients"]), (highest["selected"], highest["clients"]), cfg.confidence))
            out["ratio_groups"] = [lowest["group"], highest["group"]]
            out["ratio_supported"] = min(lowest["selected"], highest["selected"]) >= cfg.min_events
            high_end = out["selection_rate_ratio_ci"][1]
            out["ratio_significant"] = high_end is not None and high_end < 1
            out["ratio_alerts"] = (out["ratio_supported"]
                                   and out["selection_rate_ratio"] < cfg.min_selection_rate_ratio
                                   and (out["ratio_significant"] or not cfg.require_significance))
    if len(tpr_rated) >= 2:
        lowest = min(tpr_rated, key=lambda r: r["tpr"])
        highest = max(tpr_rated, key=lambda r: r["tpr"])
        out["tpr_difference"] = highest["tpr"] - lowest["tpr"]
        out["tpr_difference_ci"] = list(difference_interval(
            (highest["caught"], highest["positives"]), (lowest["caught"], lowest["positives"]), cfg.confidence))
        low_end = out["tpr_difference_ci"][0]
        out["tpr_alerts"] = (out["tpr_difference"] > cfg.max_tpr_difference
                             and (not cfg.require_significance or (low_end is not None and low_end > 0)))
    return out


def support_note(result: dict[str, Any], cfg: FairnessConfig) -> str:
    """Why a ratio below the limit does not alert: too few selected clients, or an interval
    reaching 1 (the rates cannot be told apart from noise)."""
    ratio = result["selection_rate_ratio"]
    if ratio is None or result["ratio_alerts"] or ratio >= cfg.min_selection_rate_ratio:
        return ""
    if not result["ratio_supported"]:
        return (f"ratio {ratio:.3f} below {cfg.min_selection_rate_ratio} but not an alert: fewer than "
                f"{cfg.min_events} selected clients in {' or '.join(result['ratio_groups'])}")
    return (f"ratio {ratio:.3f} below {cfg.min_selection_rate_ratio} but not an alert: its interval "
            f"{interval_text(result['selection_rate_ratio_ci'])} reaches 1, the rates do not differ beyond noise")


def interval_text(ci: list[float | None] | None, digits: int = 3) -> str:
    """'[0.712, 0.905]' or 'n/a'."""
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


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


def _caught(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    return int(np.sum((np.asarray(y_true) == 1) & (np.asarray(y_pred) == 1)))


def fairness_report(current: pd.DataFrame, baseline: pd.DataFrame, clients: pd.DataFrame | None,
                    labels: pd.DataFrame | None, cfg: FairnessConfig,
                    *, top_tiers: tuple[str, ...] = ("Premier", "Excellence")) -> dict[str, Any]:
    """Selection-rate ratios on the month's decisions; TPR differences on the baseline's
    decisions against matured labels. Breaches are listed as alerts naming decision and attribute."""
    result: dict[str, Any] = {
        "thresholds": {"min_selection_rate_ratio": cfg.min_selection_rate_ratio,
                       "max_tpr_difference": cfg.max_tpr_difference, "min_group_size": cfg.min_group_size,
                       "min_events": cfg.min_events, "min_positives": cfg.min_positives,
                       "confidence": cfg.confidence, "require_significance": cfg.require_significance,
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
            row = {"decision": name, "attribute": attribute, "groups": cur["groups"], "unknown": cur["unknown"],
                   "selection_rate_ratio": cur["selection_rate_ratio"],
                   "selection_rate_ratio_ci": cur["selection_rate_ratio_ci"], "ratio_groups": cur["ratio_groups"],
                   "ratio_supported": cur["ratio_supported"], "ratio_significant": cur["ratio_significant"],
                   "ratio_alerts": cur["ratio_alerts"], "tpr_difference": None, "tpr_difference_ci": None,
                   "tpr_groups": [], "excluded": cur["excluded"], "note": support_note(cur, cfg)}
            tpr_alerts = False
            if label is not None and lab is not None and lab[label].notna().any():
                base = compare_groups(dec_base[name], groups_base[attribute], cfg, labels=lab[label])
                row["tpr_difference"], row["tpr_difference_ci"] = base["tpr_difference"], base["tpr_difference_ci"]
                row["tpr_groups"] = base["groups"]
                tpr_alerts = base["tpr_alerts"]
            row["tpr_alerts"] = tpr_alerts
            result["comparisons"].append(row)
            if cur["ratio_alerts"]:
                result["breaches"].append(_breach(name, attribute, "selection_rate_ratio", row["selection_rate_ratio"],
                                                  cfg.min_selection_rate_ratio, "below",
                                                  row["selection_rate_ratio_ci"], row["ratio_groups"]))
            if tpr_alerts:
                result["breaches"].append(_breach(name, attribute, "tpr_difference", row["tpr_difference"],
                                                  cfg.max_tpr_difference, "above", row["tpr_difference_ci"]))
    if result["breaches"]:
        logger.warning("fairness: %d breach(es)", len(result["breaches"]))
    return result


def _breach(decision: str, attribute: str, metric: str, value: float, limit: float, side: str,
            ci: list[float | None] | None = None, between: list[str] | None = None) -> dict[str, Any]:
    groups = f" ({between[0]} against {between[1]})" if between else ""
    return {"kind": "fairness", "metric": metric, "dimension": attribute, "segment": decision,
            "value": float(value), "limit": float(limit), "level": "alert", "ci": ci,
            "message": f"fairness: {metric.replace('_', ' ')} of '{decision}' across {attribute}{groups} is "
                       f"{value:.3f} (interval {interval_text(ci)}), {side} the limit {limit}"}
