"""Reason codes (issue 5, items 3 and 5): truthfulness on the synthetic bank, and speed.

Truthfulness: generate the demo bank (20,000 clients x 36 months; small scale 1,500 x 30),
build the training table over the latest usable snapshots plus the oracle's snapshot months,
train churn and default with the project's trainer (LightGBM candidate only, no tuning: the
task config's starting parameters), explain the oracle-sample rows with the fast kernel and
`models.reason_codes`, and count how often a family that reveals the generator's recorded
driver (`configs/drivers.yaml`) is among the top-3 reason families
(`truthfulness_top3_churn`, `truthfulness_top3_default`; acceptance >= 0.80).

Speed: `reason_codes` (top 3, both languages) on 1,000,000 rows of that churn model's SHAP
values (the oracle rows' values tiled; small scale 20,000), extrapolated to three models
(`reason_codes_3_models_1m_seconds`; budget about a minute).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_harness import BenchContext, Figure

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
logger = logging.getLogger("bench")


def _truthfulness_run(ctx: BenchContext) -> tuple[list[Figure], dict]:
    from tierwise.features import build_training_table, feature_catalog, read_raw_tables, task_frame
    from tierwise.models import (
        measure_truthfulness,
        merged_families,
        reason_codes,
        shap_values,
        train_split,
    )
    from tierwise.settings import load_settings
    from tierwise.training import snapshot_months

    clients, months = ("1500", "30") if ctx.small else ("20000", "36")
    bank = ctx.workdir / "explain_bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", months, "--seed", "42",
                                  "--out", str(bank)), env={"TIERWISE_CONFIG_DIR": str(CONFIG_DIR)})
    settings = load_settings(CONFIG_DIR)
    fc = settings.require("features")
    raw_clients, monthly = read_raw_tables(bank)
    oracle = pd.read_parquet(bank / "oracle.parquet")
    oracle["snapshot_month"] = pd.to_datetime(oracle["snapshot_month"]).astype("datetime64[ns]")
    snaps = set(snapshot_months(monthly, fc, 5 if ctx.small else 8))
    snaps |= {m.date() for m in oracle["snapshot_month"].unique()}
    table = build_training_table(raw_clients, monthly, sorted(snaps), fc)
    families = {name: info.family for name, info in feature_catalog(fc).items()}
    catalogues = settings.require("reasons")
    drivers = settings.require("drivers")
    drivers.check_families(sorted(set(merged_families(families, list(families), catalogues).values())))
    figures, details = [], {}
    for task in ("churn", "default"):
        frame = task_frame(table, task, fc)
        config = settings.task(task).model_copy(update={"candidates": ["lightgbm"]})
        result = train_split(frame, config, budget_minutes=0.0)
        data = frame.data.assign(snapshot_month=pd.to_datetime(frame.data["snapshot_month"]).astype("datetime64[ns]"))
        rows = data.merge(oracle[["client_id", "snapshot_month"]], on=["client_id", "snapshot_month"], how="inner")
        X = result.model.model_inputs(rows)
        contrib = shap_values(result.model.booster_, X)
        reasons = reason_codes(contrib, X, families, catalogues, model=task, k=3)
        reasons.insert(0, "snapshot_month", rows["snapshot_month"].to_numpy())
        reasons.insert(0, "client_id", rows["client_id"].to_numpy())
        out = measure_truthfulness(reasons, oracle, drivers, task=task)
        details[task] = {**out, "auc": result.metrics.get("roc_auc"), "contrib": contrib, "X": X}
        figures.append(Figure(f"truthfulness_top3_{task}", round(out["share"], 4), "share", ">= 0.80"))
        by = ", ".join(f"{d} {v['share']:.2f} (n={v['clients']})" for d, v in out["by_driver"].items())
        note = f"truthfulness_top3_{task}: {out['clients']} oracle clients with a driver; by driver: {by}"
        ctx.notes.append(note)
        logger.info(note)
    return figures, details


def bench_truthfulness(ctx: BenchContext) -> list[Figure]:
    from tierwise.features import feature_catalog
    from tierwise.models import reason_codes
    from tierwise.settings import load_settings

    figures, details = _truthfulness_run(ctx)
    # speed of the phrasing step on realistic values: the churn model's SHAP values, tiled
    contrib, X = details["churn"]["contrib"], details["churn"]["X"]
    n = 20_000 if ctx.small else 1_000_000
    take = np.resize(np.arange(len(X)), n)
    big_X, big_c = X.iloc[take].reset_index(drop=True), contrib[take]
    settings = load_settings(CONFIG_DIR)
    families = {name: info.family for name, info in feature_catalog(settings.require("features")).items()}
    catalogues = settings.require("reasons")
    start = time.perf_counter()
    reason_codes(big_c, big_X, families, catalogues, model="churn", k=3)
    seconds = time.perf_counter() - start
    figures.append(Figure("reason_codes_3_models_1m_seconds", round(3 * seconds * 1_000_000 / n, 1), "s", "~ 60"))
    return figures


BENCHMARKS = [bench_truthfulness]
