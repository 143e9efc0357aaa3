"""Portfolio-monitor metrics: pure functions over the recommendations table.

Each function takes frames (one scored month, or a baseline and a month) and returns plain
numbers, dicts or small frames; `build_monitor` composes them into the JSON-ready result that
`tierwise monitor` writes and logs. Nothing here reads files or touches MLflow.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_KEY,
    FeatureConfig,
    build_labels,
    label_column,
)
from tierwise.models import TIERS
from tierwise.reports._config import ConcentrationConfig, PsiConfig

logger = logging.getLogger(__name__)

PD_BINS: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0)
UNKNOWN = "unknown"


# --------------------------------------------------------------------------- basic measures
def psi(expected: pd.Series | np.ndarray, actual: pd.Series | np.ndarray, *, bins: int = 10,
        epsilon: float = 1e-4) -> float:
    """Population stability index of `actual` against `expected` (the baseline).

    Bins are the baseline's quantiles (ties merged); missing values form their own bin; an
    empty bin counts as `epsilon` of its side. Identical distributions give 0.
    """
    e = np.asarray(pd.to_numeric(pd.Series(expected), errors="coerce"), dtype="float64")
    a = np.asarray(pd.to_numeric(pd.Series(actual), errors="coerce"), dtype="float64")
    if e.size == 0 or a.size == 0:
        raise ValueError("psi needs at least one value on each side")
    finite = e[~np.isnan(e)]
    inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if finite.size else np.array([])
    e_share = _bin_shares(e, inner)
    a_share = _bin_shares(a, inner)
    e_share = np.where(e_share == 0, epsilon, e_share)
    a_share = np.where(a_share == 0, epsilon, a_share)
    both_empty = (e_share == epsilon) & (a_share == epsilon)
    terms = (a_share - e_share) * np.log(a_share / e_share)
    return float(np.sum(terms[~both_empty]))


def _bin_shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    idx = np.digitize(values[~missing], inner_edges, right=True)
    counts = np.bincount(idx, minlength=inner_edges.size + 1).astype("float64")
    counts = np.append(counts, missing.sum())
    return counts / values.size


def psi_status(value: float | None, cfg: PsiConfig) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return "alert" if value >= cfg.alert else "warn" if value >= cfg.warn else "ok"


def hhi(values: pd.Series) -> float:
    """Herfindahl-Hirschman index of the shares of `values` (non-negative): 1 = one holder."""
    v = pd.to_numeric(values, errors="coerce").fillna(0).clip(lower=0).to_numpy(dtype="float64")
    total = v.sum()
    if total <= 0:
        return float("nan")
    shares = v / total
    return float(np.sum(shares**2))


def top_n_share(values: pd.Series, n: int) -> float:
    """Share of the total held by the `n` largest values (non-negative)."""
    v = pd.to_numeric(values, errors="coerce").fillna(0).clip(lower=0).to_numpy(dtype="float64")
    total = v.sum()
    if total <= 0:
        return float("nan")
    return float(np.sort(v)[::-1][:n].sum() / total)


def tier_counts(recs: pd.DataFrame) -> pd.DataFrame:
    """Clients per tier and their share, in tier order (zero rows kept)."""
    counts = recs["tier"].value_counts().reindex(list(TIERS), fill_value=0)
    total = int(counts.sum())
    return pd.DataFrame({
        "tier": list(TIERS),
        "clients": counts.to_numpy(dtype="int64"),
        "share": counts.to_numpy(dtype="float64") / total if total else 0.0,
    })


def migration_matrix(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Clients by tier at baseline (rows, plus 'new') and at the month (columns, plus 'left')."""
    merged = baseline[["client_id", "tier"]].merge(
        current[["client_id", "tier"]], on="client_id", how="outer", suffixes=("_from", "_to"),
    )
    row = merged["tier_from"].astype("str").where(merged["tier_from"].notna(), "new")
    col = merged["tier_to"].astype("str").where(merged["tier_to"].notna(), "left")
    matrix = pd.crosstab(row, col)
    return matrix.reindex(index=[*TIERS, "new"], columns=[*TIERS, "left"], fill_value=0).astype("int64")


# --------------------------------------------------------------------------- concentration
def concentration(recs: pd.DataFrame, cfg: ConcentrationConfig) -> dict[str, Any]:
    """HHI and shares of top-tier value by each dimension, and the top-N client share."""
    top = recs[recs["tier"].isin(cfg.top_tiers)]
    value = pd.to_numeric(top[cfg.value_column], errors="coerce").fillna(0).clip(lower=0)
    out: dict[str, Any] = {
        "top_tier_clients": len(top),
        "top_tier_value": float(value.sum()),
        "top_n": cfg.top_n,
        "top_n_share": top_n_share(value, cfg.top_n),
        "by": {},
    }
    for dim in cfg.dimensions:
        groups = top[dim].astype("str").where(top[dim].notna(), UNKNOWN)
        by_value = value.groupby(groups).sum().sort_values(ascending=False)
        total = by_value.sum()
        shares = (by_value / total) if total > 0 else by_value * 0.0
        out["by"][dim] = {
            "hhi": hhi(by_value),
            "shares": {str(k): float(v) for k, v in shares.items()},
            "clients": {str(k): int(v) for k, v in groups.value_counts().items()},
        }
    return out


def cohort_shift(baseline: pd.DataFrame, current: pd.DataFrame, cfg: ConcentrationConfig) -> dict[str, Any]:
    """Follow the clients who were in the top tiers at the baseline into the month.

    Per segment of each dimension: their value share then and now, and the change of their
    assets. Following the same clients keeps re-ranking out of it, so an outflow in one
    segment shows in that segment only."""
    cohort = baseline[baseline["tier"].isin(cfg.top_tiers)][["client_id", *cfg.dimensions,
                                                            cfg.value_column, "assets_total"]]
    later = current[["client_id", cfg.value_column, "assets_total"]]
    merged = cohort.merge(later, on="client_id", how="left", suffixes=("_from", "_to"))
    value_from = pd.to_numeric(merged[f"{cfg.value_column}_from"], errors="coerce").fillna(0).clip(lower=0)
    value_to = pd.to_numeric(merged[f"{cfg.value_column}_to"], errors="coerce").fillna(0).clip(lower=0)
    assets_from = pd.to_numeric(merged["assets_total_from"], errors="coerce").fillna(0)
    assets_to = pd.to_numeric(merged["assets_total_to"], errors="coerce").fillna(0)
    out: dict[str, Any] = {"clients": int(len(merged)), "by": {}}
    for dim in cfg.dimensions:
        groups = merged[dim].astype("str").where(merged[dim].notna(), UNKNOWN)
        frame = pd.DataFrame({"g": groups, "vf": value_from, "vt": value_to, "af": assets_from, "ato": assets_to})
        agg = frame.groupby("g")[["vf", "vt", "af", "ato"]].sum()
        vf_total, vt_total = agg["vf"].sum(), agg["vt"].sum()
        out["by"][dim] = {
            str(seg): {
                "clients": int((groups == seg).sum()),
                "share_baseline": float(r.vf / vf_total) if vf_total > 0 else None,
                "share_month": float(r.vt / vt_total) if vt_total > 0 else None,
                "assets_baseline": float(r.af),
                "assets_month": float(r.ato),
                "assets_change": float(r.ato / r.af - 1) if r.af > 0 else None,
            }
            for seg, r in agg.iterrows()
        }
    return out


def concentration_alerts(current: dict[str, Any], cohort: dict[str, Any] | None,
                         cfg: ConcentrationConfig) -> list[dict[str, Any]]:
    """Breaches of the concentration limits, each naming the dimension and segment.

    Level limits (HHI, one segment's share, top-N share) on the month's top tiers; movement
    limits (share change, asset outflow) on the baseline's top-tier cohort (`cohort_shift`)."""
    alerts: list[dict[str, Any]] = []
    if np.isfinite(current["top_n_share"]) and current["top_n_share"] > cfg.top_n_share_limit:
        alerts.append(_alert("concentration", "top_n_share", None, None, current["top_n_share"],
                             cfg.top_n_share_limit,
                             f"the {cfg.top_n} largest top-tier clients hold "
                             f"{current['top_n_share']:.1%} of top-tier value (limit {cfg.top_n_share_limit:.0%})"))
    for dim, block in current["by"].items():
        if np.isfinite(block["hhi"]) and block["hhi"] > cfg.hhi_limit:
            alerts.append(_alert("concentration", "hhi", dim, None, block["hhi"], cfg.hhi_limit,
                                 f"HHI of top-tier value by {dim} is {block['hhi']:.3f} (limit {cfg.hhi_limit})"))
        for segment, share in block["shares"].items():
            if share > cfg.max_segment_share:
                alerts.append(_alert("concentration", "segment_share", dim, segment, share, cfg.max_segment_share,
                                     f"{dim} '{segment}' holds {share:.1%} of top-tier value "
                                     f"(limit {cfg.max_segment_share:.0%})"))
    for dim, segments in (cohort or {}).get("by", {}).items():
        for segment, row in segments.items():
            before, after = row["share_baseline"], row["share_month"]
            # only a fall alerts: shares sum to one, so one segment's outflow raises every other
            # segment's share -- a rise would blame the wrong segment (level limits catch build-ups)
            if before is not None and after is not None and before - after > cfg.max_share_change:
                alerts.append(_alert("concentration", "share_change", dim, segment, after - before,
                                     -cfg.max_share_change,
                                     f"{dim} '{segment}': share of the baseline top-tier clients' value fell "
                                     f"from {before:.1%} to {after:.1%} (limit -{cfg.max_share_change:.0%})"))
            change = row["assets_change"]
            if change is not None and change < -cfg.max_segment_outflow:
                alerts.append(_alert("concentration", "outflow", dim, segment, change, -cfg.max_segment_outflow,
                                     f"{dim} '{segment}': the baseline top-tier clients' assets fell "
                                     f"{-change:.1%} (limit {cfg.max_segment_outflow:.0%})"))
    return alerts


def _alert(kind: str, metric: str, dimension: str | None, segment: str | None, value: float,
           limit: float, message: str, level: str = "alert") -> dict[str, Any]:
    return {"kind": kind, "metric": metric, "dimension": dimension, "segment": segment,
            "value": float(value), "limit": float(limit), "level": level, "message": message}


# --------------------------------------------------------------------------- risk and flows
def pd_distribution(p_default: pd.Series, limit: float, exposure: pd.Series | None = None) -> dict[str, Any]:
    """Count, mean, quantiles, share above `limit` and a histogram of PDs (NaN = no exposure,
    or no default model). `exposure`: the clients' credit exposure, to count those with credit
    when no PD is assessed (default: the clients with a PD)."""
    values = pd.to_numeric(p_default, errors="coerce")
    known = values.dropna()
    hist = np.histogram(known.clip(0, 1), bins=np.array(PD_BINS))[0] if len(known) else np.zeros(len(PD_BINS) - 1)
    credit = len(known) if exposure is None else int((pd.to_numeric(exposure, errors="coerce") > 0).sum())
    return {
        "clients": int(len(values)),
        "with_exposure": int(credit),
        "mean": float(known.mean()) if len(known) else None,
        "quantiles": {f"p{int(q * 100)}": float(known.quantile(q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)}
        if len(known) else {},
        "share_above_limit": float((known >= limit).mean()) if len(known) else None,
        "limit": limit,
        "histogram": {"edges": list(PD_BINS), "counts": [int(c) for c in hist]},
    }


def fund_flows(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Change of `assets_total` by baseline tier (clients who left count with 0 at the month);
    clients new since the baseline form the row 'new'."""
    merged = baseline[["client_id", "tier", "assets_total"]].merge(
        current[["client_id", "assets_total"]], on="client_id", how="outer", suffixes=("_from", "_to"),
    )
    merged["group"] = merged["tier"].astype("str").where(merged["tier"].notna(), "new")
    merged["assets_total_from"] = pd.to_numeric(merged["assets_total_from"], errors="coerce").fillna(0.0)
    merged["assets_total_to"] = pd.to_numeric(merged["assets_total_to"], errors="coerce").fillna(0.0)
    grouped = merged.groupby("group").agg(
        clients=("client_id", "size"),
        assets_baseline=("assets_total_from", "sum"),
        assets_month=("assets_total_to", "sum"),
    ).reindex([*TIERS, "new"], fill_value=0)
    grouped["net_flow"] = grouped["assets_month"] - grouped["assets_baseline"]
    grouped["net_flow_pct"] = np.where(
        grouped["assets_baseline"] > 0, grouped["net_flow"] / grouped["assets_baseline"].where(grouped["assets_baseline"] > 0), np.nan,
    )
    return grouped.reset_index(names="tier")


# --------------------------------------------------------------------------- stability
def psi_table(baseline: pd.DataFrame, current: pd.DataFrame, columns: tuple[str, ...],
              cfg: PsiConfig) -> list[dict[str, Any]]:
    """PSI of each column present on both sides; absent columns are listed as 'n/a'."""
    rows = []
    for column in columns:
        if column not in baseline.columns or column not in current.columns:
            rows.append({"column": column, "psi": None, "status": "n/a", "note": "not in the data"})
            continue
        value = psi(baseline[column], current[column], bins=cfg.bins, epsilon=cfg.epsilon)
        rows.append({"column": column, "psi": value, "status": psi_status(value, cfg), "note": ""})
    return rows


def psi_by_group(baseline: pd.DataFrame, current: pd.DataFrame, group: str, columns: tuple[str, ...],
                 cfg: PsiConfig) -> list[dict[str, Any]]:
    """PSI of each column within each value of `group` (e.g. per industry).

    Groups smaller than `min_group_size` on either side are reported with status 'small'
    and never alert (their PSI is noise)."""
    if group not in baseline.columns or group not in current.columns:
        return []
    base_groups = baseline[group].astype("str").where(baseline[group].notna(), UNKNOWN)
    cur_groups = current[group].astype("str").where(current[group].notna(), UNKNOWN)
    rows = []
    for name in sorted(set(base_groups) | set(cur_groups)):
        b = baseline[base_groups == name]
        c = current[cur_groups == name]
        for column in columns:
            if column not in baseline.columns or column not in current.columns:
                continue
            if len(b) == 0 or len(c) == 0:
                value, status = None, "n/a"
            else:
                value = psi(b[column], c[column], bins=cfg.bins, epsilon=cfg.epsilon)
                small = min(len(b), len(c)) < cfg.min_group_size
                status = "small" if small else psi_status(value, cfg)
            rows.append({"group": group, "segment": name, "column": column, "psi": value,
                         "status": status, "n_baseline": int(len(b)), "n_month": int(len(c))})
    return rows


def seasonal_psi(rows: list[dict[str, Any]], year_rows: list[dict[str, Any]], year_ago: str,
                 cfg: PsiConfig) -> list[dict[str, Any]]:
    """`rows` (PSI against the baseline) with the PSI of the same column against `year_ago`,
    the same month a year earlier, and `seasonal`: the column moved against the baseline (warn
    or alert) but not against the same month last year -- a calendar pattern such as year-end
    bonuses in salary inflow, not drift."""
    by_column = {r["column"]: r for r in year_rows}
    out = []
    for row in rows:
        year = by_column.get(row["column"], {})
        value = year.get("psi")
        status = psi_status(value, cfg)
        seasonal = row["status"] in ("warn", "alert") and status == "ok"
        out.append({**row, "psi_year_ago": value, "status_year_ago": status, "year_ago": year_ago,
                    "seasonal": seasonal})
    return out


def psi_alerts(overall: list[dict[str, Any]], grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An alert (or warn) per column beyond the PSI limits. A seasonal column (`seasonal_psi`)
    is named as such and only warns: it differs from the baseline as it did a year earlier."""
    alerts = []
    for row in overall:
        if row["status"] in ("warn", "alert"):
            if row.get("seasonal"):
                alert = _alert("psi", row["column"], None, None, row["psi"], 0.0,
                               f"PSI of {row['column']} is {row['psi']:.3f} ({row['status']}) but "
                               f"{row['psi_year_ago']:.3f} against {row['year_ago']}, the same month a year "
                               "earlier: seasonal, not drift", "warn")
                alerts.append({**alert, "seasonal": True})
                continue
            alerts.append(_alert("psi", row["column"], None, None, row["psi"], 0.0,
                                 f"PSI of {row['column']} is {row['psi']:.3f} ({row['status']})", row["status"]))
    for row in grouped:
        if row["status"] in ("warn", "alert"):
            alerts.append(_alert("psi", row["column"], row["group"], row["segment"], row["psi"], 0.0,
                                 f"PSI of {row['column']} in {row['group']} '{row['segment']}' is "
                                 f"{row['psi']:.3f} ({row['status']})", row["status"]))
    return alerts


# --------------------------------------------------------------------------- realised outcomes
def matured_labels(monthly: pd.DataFrame | None, baseline: pd.Timestamp, clients: pd.Series,
                   config: FeatureConfig, events: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """Realised churn and default after `baseline` for `clients`, or None until matured.

    The labels are those the models were trained on (`tierwise.features.build_labels` with
    the feature configuration `config`), so realised rates compare like with like. Columns
    `client_id`, `churn`, `default`; a label is NaN when its horizon is not fully covered by
    `monthly` (and default is NaN for clients not eligible: no credit exposure at the
    baseline, or already in default). Clients not alive at the baseline get NaN. `events`:
    the bank's recorded events (`read_events`), the label source where present, as in training.
    """
    if monthly is None or monthly.empty:
        return None
    baseline = pd.Timestamp(baseline)
    month = pd.to_datetime(monthly["month"])
    if not month.min() <= baseline <= month.max():
        return None
    labels = build_labels(monthly, baseline.date(), config, events=events).set_index(CLIENT_KEY)
    out = pd.DataFrame({"client_id": pd.Series(clients, dtype="str").unique()})
    for task in ("churn", "default"):
        out[task] = out["client_id"].map(labels[label_column(task, config)]).astype("float64")
    if out[["churn", "default"]].isna().all().all():
        return None
    return out


def realised_vs_predicted(baseline_recs: pd.DataFrame, labels: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Mean predicted probability against the realised rate, overall and by tier."""
    if labels is None:
        return []
    merged = baseline_recs.merge(labels, on="client_id", how="inner")
    rows = []
    for model, score, extra in (("churn", "p_churn", None), ("default", "p_default", "credit_exposure")):
        part = merged[merged[model].notna() & merged[score].notna()]
        if extra is not None:
            part = part[pd.to_numeric(part[extra], errors="coerce").fillna(0) > 0]
        for tier, group in [("all", part), *((t, part[part["tier"] == t]) for t in TIERS)]:
            if len(group) == 0:
                continue
            rows.append({"model": model, "tier": tier, "clients": int(len(group)),
                         "predicted": float(group[score].mean()), "realised": float(group[model].mean())})
    return rows

