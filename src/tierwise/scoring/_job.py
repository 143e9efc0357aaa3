"""What both scoring engines share: reading and validating the raw tables (rejects beside the
output), the input fingerprint, chunk bounds, the batch step (relationship-manager capacity),
the atomic final write and the MLflow run."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    ROW_ID,
    DataError,
    FeatureConfig,
    read_raw_tables,
    table_path,
    validate_tables,
)
from tierwise.models import RECOMMENDATION_COLUMNS, Recommender, apply_rm_capacity, summarise_tiers
from tierwise import tracking
from tierwise.settings import RecommenderSettings
from tierwise.scoring._checkpoint import atomic_write_parquet, file_fingerprint

logger = logging.getLogger(__name__)

EXPERIMENT = "tierwise-scoring"
REJECT_COLUMNS = ("table", ROW_ID, CLIENT_KEY, MONTH_KEY, "reason")


@dataclass(frozen=True)
class ScoreInputs:
    """Validated raw tables cut for one snapshot month, and what the run log needs."""

    clients: pd.DataFrame  # kept clients alive at `month` (row at `month`), sorted by client_id
    monthly: pd.DataFrame  # their kept monthly rows up to `month`, sorted by client_id, month
    month: dt.date
    fingerprint: str
    rows_in: dict[str, int]
    rows_rejected: dict[str, int]


def rejects_path(out: Path) -> Path:
    return out.with_name(out.name + ".rejects.parquet")


def parts_path(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def model_configs(settings: RecommenderSettings | None) -> FeatureConfig:
    """The feature config the recommender was built with (its logged settings)."""
    if settings is None:
        raise DataError("the recommender model carries no settings.json artifact; rebuild it "
                        "with `tierwise recommend`")
    return settings.features


def rejects_frame(report: Any) -> pd.DataFrame:
    """Quarantined rows of both tables with their reasons, in one small frame (None: empty)."""
    parts = []
    tables = () if report is None else (("clients", report.rejected_clients), ("monthly", report.rejected_monthly))
    for table, frame in tables:
        if len(frame) == 0:
            continue
        month = frame[MONTH_KEY] if MONTH_KEY in frame.columns and table == "monthly" else pd.NaT
        parts.append(pd.DataFrame({
            "table": table,
            ROW_ID: frame[ROW_ID].to_numpy(dtype=np.int64),
            CLIENT_KEY: frame[CLIENT_KEY].astype("str").to_numpy(dtype=object, na_value=None),
            MONTH_KEY: pd.to_datetime(month, errors="coerce"),
            "reason": frame["reason"].astype("str").to_numpy(dtype=object),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="datetime64[ns]" if c == MONTH_KEY else
                                          ("int64" if c == ROW_ID else "str")) for c in REJECT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out[MONTH_KEY] = out[MONTH_KEY].astype("datetime64[ns]")
    out["table"] = out["table"].astype("str")
    out[CLIENT_KEY] = out[CLIENT_KEY].astype("str")
    out["reason"] = out["reason"].astype("str")
    return out


def prepare_inputs(data_dir: Path, month: dt.date, out: Path, *, extra_key: str = "") -> ScoreInputs:
    """Read and validate the raw tables, write the rejects, cut the tables for `month`."""
    files = [table_path(data_dir, "clients"), table_path(data_dir, "monthly")]
    fingerprint = file_fingerprint(files, month.isoformat(), extra_key)
    clients, monthly = read_raw_tables(data_dir)
    report = validate_tables(clients, monthly, sources=(str(files[0]), str(files[1])))
    rejects = rejects_frame(report)
    atomic_write_parquet(rejects, rejects_path(out))
    if len(rejects):
        logger.warning("%d row(s) quarantined with reasons in %s", len(rejects), rejects_path(out))
    kept_m = report.monthly
    t = pd.Timestamp(month)
    lo, hi = kept_m[MONTH_KEY].min(), kept_m[MONTH_KEY].max()
    if not lo <= t <= hi:
        raise DataError(f"--month {t:%Y-%m} is outside the data: {files[1]} covers {lo:%Y-%m} to {hi:%Y-%m}")
    alive = pd.Index(kept_m.loc[kept_m[MONTH_KEY] == t, CLIENT_KEY].unique())
    if len(alive) == 0:
        raise DataError(f"{files[1]}: no client has a row for --month {t:%Y-%m}; nothing to score")
    history = kept_m[(kept_m[MONTH_KEY] <= t) & kept_m[CLIENT_KEY].isin(alive)]
    history = history.drop(columns=[ROW_ID]).sort_values([CLIENT_KEY, MONTH_KEY], ignore_index=True)
    kept_c = report.clients[report.clients[CLIENT_KEY].isin(alive)].drop(columns=[ROW_ID])
    kept_c = kept_c.sort_values(CLIENT_KEY, ignore_index=True)
    logger.info("%d clients with a row at %s (of %d kept)", len(kept_c), f"{t:%Y-%m}", len(report.clients))
    return ScoreInputs(clients=kept_c, monthly=history, month=month, fingerprint=fingerprint,
                       rows_in=dict(report.rows_in), rows_rejected=dict(report.rows_rejected))


def chunk_bounds(ids: pd.Series | np.ndarray, size: int) -> list[tuple[int, int]]:
    """[start, stop) positions of consecutive chunks of `size` clients."""
    n = len(ids)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def history_slices(client_ids: np.ndarray, monthly_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted ids: first and past-last monthly row of each client."""
    return (np.searchsorted(monthly_ids, client_ids, side="left"),
            np.searchsorted(monthly_ids, client_ids, side="right"))


def finish(recs: pd.DataFrame, recommender: Recommender, out: Path) -> pd.DataFrame:
    """Batch step (RM capacity over every client), column order and types, atomic write."""
    n_rms = int(recs["rm_id"].dropna().nunique()) if "rm_id" in recs.columns else None
    recs = apply_rm_capacity(recs.reset_index(drop=True), recommender.policy, n_rms=n_rms or None)
    recs = recs.sort_values("client_id", kind="stable", ignore_index=True)
    recs = recs.loc[:, list(RECOMMENDATION_COLUMNS)]
    atomic_write_parquet(pa.Table.from_pandas(recs, preserve_index=False), out)
    return recs


def tier_counts(recs: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in recs["tier"].value_counts().items()}


def log_run(*, recs: pd.DataFrame, inputs: ScoreInputs, model_uri: str, model_version: str, engine: str,
            out: Path, seconds: float) -> str:
    """One MLflow run per scoring job: model version, input fingerprint, counts, tiers."""
    import mlflow

    client = tracking.connect()
    exp_id = tracking.experiment_id(client, EXPERIMENT)
    summary = summarise_tiers(recs) if len(recs) else None
    with mlflow.start_run(experiment_id=exp_id, run_name=f"score {inputs.month:%Y-%m}") as run:
        mlflow.log_params({"model_uri": model_uri, "model_version": model_version,
                           "input_fingerprint": inputs.fingerprint, "month": f"{inputs.month:%Y-%m}",
                           "engine": engine, "output": str(out)})
        mlflow.set_tags({"tierwise.fingerprint": inputs.fingerprint, "tierwise.model_version": model_version})
        metrics = {"clients_scored": len(recs), "seconds": seconds,
                   **{f"rows_in_{k}": v for k, v in inputs.rows_in.items()},
                   **{f"rows_rejected_{k}": v for k, v in inputs.rows_rejected.items()}}
        for tier, count in tier_counts(recs).items():
            metrics[f"tier_{tier}_clients"] = count
            metrics[f"tier_{tier}_share"] = count / max(len(recs), 1)
        for flag in [c for c in recs.columns if c.startswith("flag_")]:
            metrics[f"{flag}_clients"] = int(recs[flag].sum())
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        if summary is not None:
            mlflow.log_text(summary.to_csv(), "tier_summary.csv")
    return run.info.run_id

