"""The portfolio monitor's result: `build_monitor` composes the measures of `_monitor` (one
month against its baseline) and `_history` (the months up to it) into the JSON-ready dict that
`tierwise monitor` writes; `monitor_metrics` flattens it into MLflow metrics. Nothing here
reads files or touches MLflow.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import DataError, FeatureConfig, month_label
from tierwise.reports._config import MonitorConfig
from tierwise.reports._fairness import fairness_report
from tierwise.reports._history import history_block
from tierwise.reports._io import check_scored_month
from tierwise.reports._monitor import (
    cohort_shift,
    concentration,
    concentration_alerts,
    fund_flows,
    matured_labels,
    migration_matrix,
    pd_distribution,
    psi_alerts,
    psi_by_group,
    psi_table,
    realised_vs_predicted,
    seasonal_psi,
    tier_counts,
)
from tierwise.reports._monitor_groups import groups_block
from tierwise.reports._monitor_offers import offer_metrics, offers_block

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- composition
def add_raw_features(recs: pd.DataFrame, monthly: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """Attach raw monthly columns (and `deposit_total`) of the same month to each rec row."""
    if monthly is None:
        return recs
    wanted = [c for c in dict.fromkeys([*columns, "deposit_current", "deposit_time"]) if c in monthly.columns]
    wanted = [c for c in wanted if c not in recs.columns]
    if not wanted:
        return recs
    raw = monthly[["client_id", "month", *wanted]]
    out = recs.merge(raw, on=["client_id", "month"], how="left")
    if {"deposit_current", "deposit_time"} <= set(out.columns) and "deposit_total" not in recs.columns:
        out["deposit_total"] = out["deposit_current"] + out["deposit_time"]
    return out


def year_ago_frame(recs: pd.DataFrame, monthly: pd.DataFrame | None, year_ago: pd.Timestamp,
                   columns: tuple[str, ...]) -> tuple[pd.DataFrame | None, str]:
    """The clients of `year_ago` (the same month a year before the monitored one) and where
    they come from: the scored rows (`archive`, e.g. the archive's followed columns), the raw
    monthly data (`data`), or both; (None, '') when neither holds that month."""
    scored = recs[recs["month"] == year_ago]
    raw = None
    if monthly is not None and "month" in monthly.columns:
        raw = monthly[pd.to_datetime(monthly["month"]) == year_ago]
    has_raw = raw is not None and not raw.empty
    if scored.empty and not has_raw:
        return None, ""
    if scored.empty:
        wanted = [c for c in dict.fromkeys([*columns, "deposit_current", "deposit_time"]) if c in raw.columns]
        frame = raw[["client_id", "month", *wanted]].copy()
        if {"deposit_current", "deposit_time"} <= set(frame.columns):
            frame["deposit_total"] = frame["deposit_current"] + frame["deposit_time"]
        return frame.reset_index(drop=True), "data"
    frame = add_raw_features(scored, monthly, columns).reset_index(drop=True)
    return frame, "archive and data" if has_raw else "archive"


def build_monitor(recs: pd.DataFrame, month: pd.Timestamp, baseline: pd.Timestamp, cfg: MonitorConfig,
                  *, clients: pd.DataFrame | None = None, monthly: pd.DataFrame | None = None,
                  features: FeatureConfig | None = None,
                  events: pd.DataFrame | None = None,
                  offered: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every monitor figure for `month` against `baseline`, as a JSON-ready dict.

    `recs` holds both months and may hold others: the months of it among the
    `cfg.history.months` ending at `month` make the history (tiers and migration month by
    month, top-tier fund movements, exit reviews, expected and realised performance).
    `features` is the feature configuration the models were trained with (default: the
    defaults of `FeatureConfig`); realised outcomes use its labels, from the bank's recorded
    `events` (`read_events`) where present, as training does. `offered`: the archived rows of
    the month whose offers' take-up is measured (`take_up_month`; default: those in `recs`).
    """
    features = FeatureConfig() if features is None else features
    month, baseline = pd.Timestamp(month), pd.Timestamp(baseline)
    if month == baseline:
        raise DataError(f"--baseline {month_label(baseline)} is the same month as --month")
    for m, option in ((month, "--month"), (baseline, "--baseline")):
        check_scored_month(recs, m, what=option)
    limit = cfg.fairness.default_threshold  # the risk watch's PD limit (`MonitorConfig.with_policy`)
    enriched = add_raw_features(recs[recs["month"].isin([month, baseline])], monthly, cfg.psi.raw_features)
    cur = enriched[enriched["month"] == month].reset_index(drop=True)
    base = enriched[enriched["month"] == baseline].reset_index(drop=True)

    counts_cur, counts_base = tier_counts(cur), tier_counts(base)
    conc_cur = concentration(cur, cfg.concentration)
    conc_base = concentration(base, cfg.concentration)
    cohort = cohort_shift(base, cur, cfg.concentration)
    psi_scores = psi_table(base, cur, cfg.psi.scores, cfg.psi)
    feature_cols = tuple(c for c in (*cfg.psi.features, *cfg.psi.raw_features, "deposit_total")
                         if c in cur.columns or c in cfg.psi.features)
    psi_features = psi_table(base, cur, feature_cols, cfg.psi)
    year_ago = month - pd.DateOffset(months=12)
    year, year_source = year_ago_frame(recs, monthly, year_ago, cfg.psi.raw_features)
    if year is not None:
        psi_scores = seasonal_psi(psi_scores, psi_table(year, cur, cfg.psi.scores, cfg.psi),
                                  month_label(year_ago), cfg.psi)
        psi_features = seasonal_psi(psi_features, psi_table(year, cur, feature_cols, cfg.psi),
                                    month_label(year_ago), cfg.psi)
    psi_groups = [row for dim in cfg.psi.by for row in psi_by_group(base, cur, dim, cfg.psi.by_columns, cfg.psi)]
    labels = matured_labels(monthly, baseline, base["client_id"], features, events)
    top = cur[cur["tier"].isin(cfg.concentration.top_tiers)]
    exit_review = cur[cur["flag_exit_review"].astype(bool)]
    alerts = [
        *concentration_alerts(conc_cur, cohort, cfg.concentration),
        *psi_alerts(psi_scores + psi_features, psi_groups),
    ]
    fairness = fairness_report(cur, base, clients, labels, cfg.fairness,
                               top_tiers=cfg.concentration.top_tiers)
    alerts.extend(fairness["breaches"])
    groups, group_alerts = groups_block(base, cur, month, baseline, cfg.groups, cfg.concentration)
    alerts.extend(group_alerts)
    result = {
        "month": month_label(month),
        "baseline": month_label(baseline),
        "currency": cfg.report.currency,
        "code_names": cfg.report.names("en"),
        "clients": {"month": int(len(cur)), "baseline": int(len(base))},
        "tiers": {
            "month": _records(counts_cur),
            "baseline": _records(counts_base),
        },
        "migration": _matrix_dict(migration_matrix(base, cur)),
        "concentration": {"month": conc_cur, "baseline": conc_base, "cohort": cohort,
                          "limits": cfg.concentration.model_dump(mode="json")},
        "pd_distribution": {
            "top_tiers": pd_distribution(top["p_default"], limit, top.get("credit_exposure")),
            "exit_review": pd_distribution(exit_review["p_default"], limit, exit_review.get("credit_exposure")),
        },
        "fund_flows": _records(fund_flows(base, cur)),
        "psi": {"scores": psi_scores, "features": psi_features, "by_group": psi_groups,
                "warn": cfg.psi.warn, "alert": cfg.psi.alert,
                "year_ago": {"month": month_label(year_ago) if year is not None else None,
                             "source": year_source,
                             "note": "" if year is not None else
                             f"neither the scored months nor the data hold {month_label(year_ago)}: "
                             "no seasonal comparison",
                             "seasonal": [r["column"] for r in psi_scores + psi_features if r.get("seasonal")]}},
        "realised_vs_predicted": {
            "matured": labels is not None,
            "note": _label_note(labels, features),
            "rows": realised_vs_predicted(base, labels),
        },
        "fairness": fairness,
        "groups": groups,
        "offers": offers_block(recs, month, monthly, features, events, offered),
        "history": history_block(recs, month, cfg.history, top_tiers=cfg.concentration.top_tiers,
                                 monthly=monthly, features=features, events=events),
        "alerts": alerts,
    }
    logger.info("monitor %s vs %s: %d clients, %d alerts", result["month"], result["baseline"],
                len(cur), len(alerts))
    return _clean(result)


def _label_note(labels: pd.DataFrame | None, config: FeatureConfig) -> str:
    if labels is None:
        return (f"no labels have matured yet: churn needs {config.labels.churn.horizon_months} and default "
                f"{config.labels.default.horizon_months} months of monthly data after the baseline")
    missing = [m for m in ("churn", "default") if labels[m].isna().all()]
    return f"not yet matured: {', '.join(missing)}" if missing else "all labels matured"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _py(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _matrix_dict(matrix: pd.DataFrame) -> dict[str, Any]:
    return {"rows": [str(i) for i in matrix.index], "columns": [str(c) for c in matrix.columns],
            "counts": matrix.to_numpy().tolist()}


def _py(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _clean(obj: Any) -> Any:
    """Make a nested result JSON-ready: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return _py(obj)


def monitor_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The figures as flat MLflow metric names (only finite numbers)."""
    metrics: dict[str, float] = {}
    for row in result["tiers"]["month"]:
        metrics[f"tier_share.{row['tier']}"] = row["share"]
        metrics[f"tier_clients.{row['tier']}"] = row["clients"]
    conc = result["concentration"]["month"]
    metrics["concentration.top_n_share"] = conc["top_n_share"]
    for dim, block in conc["by"].items():
        metrics[f"concentration.hhi.{dim}"] = block["hhi"]
    for dim, segments in result["concentration"]["cohort"]["by"].items():
        for segment, row in segments.items():
            metrics[f"cohort.{dim}.{segment}.assets_change"] = row["assets_change"]
    for row in result["psi"]["scores"] + result["psi"]["features"]:
        metrics[f"psi.{row['column']}"] = row["psi"]
        if row.get("psi_year_ago") is not None:
            metrics[f"psi_year_ago.{row['column']}"] = row["psi_year_ago"]
    for row in result["psi"]["by_group"]:
        metrics[f"psi.{row['group']}.{row['segment']}.{row['column']}"] = row["psi"]
    for key in ("top_tiers", "exit_review"):
        dist = result["pd_distribution"][key]
        metrics[f"pd.{key}.mean"] = dist["mean"]
        metrics[f"pd.{key}.share_above_limit"] = dist["share_above_limit"]
    for row in result["fund_flows"]:
        metrics[f"fund_flow.{row['tier']}"] = row["net_flow"]
    for row in result["realised_vs_predicted"]["rows"]:
        if row["tier"] == "all":
            metrics[f"realised.{row['model']}"] = row["realised"]
            metrics[f"predicted.{row['model']}"] = row["predicted"]
    for row in result["fairness"]["comparisons"]:
        for name in ("selection_rate_ratio", "tpr_difference"):
            metrics[f"fairness.{row['decision']}.{row['attribute']}.{name}"] = row[name]
    metrics.update(group_metrics(result.get("groups") or {}))
    metrics.update(offer_metrics(result.get("offers") or {}))
    metrics.update(history_metrics(result["history"]))
    metrics["alerts"] = len(result["alerts"])
    return {_metric_name(k): float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def group_metrics(groups: dict[str, Any]) -> dict[str, float | None]:
    """The connected groups' figures (none when the month has no groups): HHI by group beside
    industry and region, the largest groups' shares, groups reported and over the limit."""
    if not groups.get("available"):
        return {}
    conc, limits = groups["concentration"], groups["limits"]
    metrics: dict[str, float | None] = {
        "concentration.hhi.group": conc["hhi_value"],
        "concentration.hhi_exposure.group": conc["hhi_exposure"],
        "groups.top_share_exposure": conc["top_share_exposure"],
        "groups.top_share_value": conc["top_share_value"],
        "groups.count": limits["groups"],
        "groups.reporting": limits["reporting"],
        "groups.over_limit": limits["over_limit"],
    }
    for kind, change in (groups.get("changes") or {}).items():
        if isinstance(change, dict) and "count" in change:
            metrics[f"groups.{kind}"] = change["count"]
    return metrics


def history_metrics(history: dict[str, Any]) -> dict[str, float | None]:
    """The history's figures at the monitored month (its last): top-tier share, the top-tier
    net flow, exit reviews by status, and expected (and realised, once matured) rates and AUC."""
    metrics: dict[str, float | None] = {}
    if history["tiers"]:
        metrics["top_tier_share"] = history["tiers"][-1]["top_tier_share"]
    if history["top_tier_flows"]:
        total = history["top_tier_flows"][-1]["rows"][-1]
        metrics["top_tier_flow.net_flow"] = total["net_flow"]
        metrics["top_tier_flow.net_flow_pct"] = total["net_flow_pct"]
    reviews = history["exit_reviews"]
    if reviews["available"] and reviews["counts"]:
        for status, count in reviews["counts"][-1].items():
            if status != "month":
                metrics[f"exit_reviews.{status}"] = count
    if history["performance"]:
        last = history["performance"][-1]
        for task in ("churn", "default"):
            for name in ("expected_rate", "expected_auc", "realised_rate", "realised_auc"):
                metrics[f"{name}.{task}"] = last[task][name]
    return metrics


def _metric_name(name: str) -> str:
    """MLflow allows letters, digits, _ - . / and spaces; anything else becomes '_'."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-./ ") else "_" for ch in name)
