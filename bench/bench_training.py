"""Training benchmarks (issue 4): flat-table CV quality, synthetic oracle ratios, demo timing.

Figures: `cv_auc_<dataset>` and `ece_<dataset>` (5-fold stratified CV of the whole procedure;
ECE on the pooled out-of-fold calibrated probabilities, each fold calibrated on a held-out part
of its training fold), `oracle_ratio_churn`, `oracle_ratio_default` ((AUC - 0.5) / (oracle AUC
- 0.5) on the out-of-time test rows of the oracle sample) and `train_demo_seconds` (training
the three tasks at the demo size through the CLI, tables built once).
"""

from __future__ import annotations

from pathlib import Path

from bench_harness import BenchContext, Figure

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
DATASETS = {"bank_churn_modelling": 0.866, "taiwan_credit_default": 0.784}


def _env(ctx: BenchContext) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{ctx.workdir / 'mlflow.db'}",
            "MLFLOW_ARTIFACTS_DESTINATION": str(ctx.workdir / "mlartifacts"),
            "TIERWISE_CONFIG_DIR": str(REPO / "configs")}


def _latest_metrics(ctx: BenchContext, experiment: str) -> dict[str, float]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=_env(ctx)["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(experiment)
    if exp is None:  # `train --task all` names a task the data cannot train and trains the others
        return {}
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
    return dict(runs[0].data.metrics) if runs else {}


def bench_flat_tables(ctx: BenchContext) -> list[Figure]:
    if ctx.small:
        return []  # minutes of cross-validation: full scale only
    figures = []
    for name, target in DATASETS.items():
        if not (SHARED / f"{name}.csv").is_file():
            ctx.notes.append(f"{name}: dataset not found in {SHARED}; skipped")
            continue
        ctx.run_measured(ctx.tierwise("train", "--dataset", str(REPO / "configs" / "datasets" / f"{name}.yaml")),
                         env=_env(ctx))
        metrics = _latest_metrics(ctx, f"tierwise-{name}")
        figures += [
            Figure(f"cv_auc_{name}", metrics["cv_roc_auc_mean"], "ROC AUC", f">= {target}"),
            Figure(f"ece_{name}", metrics["oof_ece"], "ECE", "<= 0.02"),
        ]
    return figures


def bench_synthetic_training(ctx: BenchContext) -> list[Figure]:
    bank = ctx.workdir / "bank"
    size = ["--clients", "2000", "--months", "30"] if ctx.small else []
    ctx.run_measured(ctx.tierwise("generate", "--out", str(bank), *size), env=_env(ctx))
    extra = ["--budget-minutes", "0"] if ctx.small else []
    seconds, peak = ctx.run_measured(ctx.tierwise("train", "--task", "all", "--data", str(bank), *extra),
                                     env=_env(ctx))
    figures = [Figure("train_demo_seconds", seconds, "s", "< 180"),
               Figure("train_demo_peak_gib", peak, "GiB", "")]
    for task in ("churn", "default"):
        metrics = _latest_metrics(ctx, f"tierwise-{task}")
        if "oracle_ratio" in metrics:
            figures.append(Figure(f"oracle_ratio_{task}", metrics["oracle_ratio"], "ratio", ">= 0.90"))
            figures.append(Figure(f"auc_{task}", metrics["roc_auc"], "ROC AUC", ""))
        elif not metrics:
            ctx.notes.append(f"{task}: not trained on this bank (train --task all says why); no oracle ratio")
        else:
            ctx.notes.append(f"{task}: no oracle rows in the test split; no oracle ratio")
    return figures


BENCHMARKS = [bench_flat_tables, bench_synthetic_training]
