"""Next-best-product benchmark (issue 20): `python bench/run.py --only nbp` (separately runnable).

On a synthetic bank with product adoption on (data.yaml `products:`), trains every product
propensity of `configs/products.yaml` through the one trainer (out-of-time, client-disjoint
split; logged and registered in MLflow under the bench's work folder), then, on the test-group
rows of the out-of-time test period that are in the oracle sample, ranks the products each
client does not hold three ways:

- tierwise: by the calibrated propensity of each product's model;
- oracle: by the generator's true adoption probability (`p_adopt_<product>_<h>m`);
- popularity: by each product's adoption rate on the train rows.

Figures: `nbp_map3` (tierwise's MAP@3), `nbp_map3_oracle`, `nbp_map3_oracle_ratio` (target >=
0.90), `nbp_map3_vs_popularity` (>= 1.5), `nbp_truthfulness_top3` (>= 0.80: the generator's adoption driver
is among the top-3 reason families of that product's model, configs/drivers.yaml `products`), `nbp_train_products_seconds` / `_cpu_seconds` (the
whole process: generation, table, eight models, registration).

The measured work runs in a child process (`python bench/bench_nbp.py --work DIR`), so the
time is the whole process's; it writes `nbp.json` in DIR, which the harness reads.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def product_configs(folder: Path) -> Path:
    """The repository's configs copied to `folder` with product adoption on (data.yaml
    `products:`); also used by bench_score_offers."""
    import yaml

    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(REPO / "configs", folder)
    data = yaml.safe_load((folder / "data.yaml").read_text(encoding="utf-8"))
    data["products"] = {"horizon_months": 3}
    (folder / "data.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def _config_dir(work: Path, months: int) -> Path:
    """The repository's configs with product adoption on and the history fitted to `months`."""
    import yaml

    folder = product_configs(work / "configs")
    features = yaml.safe_load((folder / "features.yaml").read_text(encoding="utf-8"))
    features["history_months"] = months
    (folder / "features.yaml").write_text(yaml.safe_dump(features, allow_unicode=True), encoding="utf-8")
    return folder


def measure(work: Path, clients: int, months: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from tierwise import training
    from tierwise.features import PRODUCTS, product_task
    from tierwise.models import map_at_k
    from tierwise.settings import load_settings
    from tierwise.synthetic import generate_bank, write_bank

    settings = load_settings(_config_dir(work, months))
    data_cfg = settings.require("data")
    data_cfg = data_cfg.model_copy(update={"oracle": data_cfg.oracle.model_copy(update={"pairs": clients})})
    bank = write_bank(generate_bank(data_cfg, clients=clients, months=months), work / "bank")["monthly"].parent
    family = settings.require("products")
    configs = family.task_configs()
    untrainable: dict[str, str] = {}
    rows = training.train_tasks(list(configs), data_dir=bank, configs=configs,
                                feature_config=settings.require("features"),
                                catalogues=settings.require("reasons"), budget_minutes=0.0,
                                n_snapshots=8, untrainable=untrainable)
    keys = ["client_id", "snapshot_month"]
    oracle = pd.read_parquet(bank / "oracle.parquet")
    oracle["snapshot_month"] = pd.to_datetime(oracle["snapshot_month"])
    horizon = settings.require("features").labels.products.horizon_months
    test, train_rate = None, {}
    for _, result in rows:
        product = result.config.task.removeprefix("adopt_")
        pred = result.predictions[[*keys, result.model.target_, "score"]].rename(
            columns={result.model.target_: f"y_{product}", "score": f"s_{product}"})
        pred["snapshot_month"] = pd.to_datetime(pred["snapshot_month"])
        test = pred if test is None else test.merge(pred, on=keys, how="outer")
        train_rate[product] = float(result.metrics.get("train_positive_rate", np.nan))
    trained = [p for p in PRODUCTS if f"s_{p}" in test.columns]
    joined = test.merge(oracle[[*keys, *(f"p_adopt_{p}_{horizon}m" for p in trained)]], on=keys, how="inner")
    scores = joined[[f"s_{p}" for p in trained]].to_numpy(float)
    actual = joined[[f"y_{p}" for p in trained]].fillna(0).to_numpy(float) > 0
    orc = joined[[f"p_adopt_{p}_{horizon}m" for p in trained]].to_numpy(float)
    orc = np.where(np.isnan(scores), np.nan, orc)  # the same eligible products
    frames = training.synthetic_frames(bank, [product_task(p) for p in trained], settings.require("features"),
                                       n_snapshots=8)
    rate = np.array([frames[product_task(p)].part("train")[frames[product_task(p)].target].mean() for p in trained])
    popularity = np.where(np.isnan(scores), np.nan, rate[None, :])
    out = {
        "nbp_map3": map_at_k(scores, actual),
        "nbp_map3_oracle": map_at_k(orc, actual),
        "nbp_map3_popularity": map_at_k(popularity, actual),
        "nbp_test_rows": float(len(joined)),
        "nbp_products_trained": float(len(trained)),
    }
    out["nbp_map3_oracle_ratio"] = out["nbp_map3"] / out["nbp_map3_oracle"]
    out["nbp_map3_vs_popularity"] = out["nbp_map3"] / out["nbp_map3_popularity"]
    for _, result in rows:
        out[f"nbp_auc_{result.config.task}"] = float(result.metrics["roc_auc"])
        if "oracle_ratio" in result.metrics:
            out[f"nbp_oracle_ratio_{result.config.task}"] = float(result.metrics["oracle_ratio"])
    out.update(_truthfulness(rows, frames, oracle, settings))
    out["untrainable"] = untrainable  # type: ignore[assignment]
    return out


def _truthfulness(rows, frames, oracle, settings) -> dict[str, float]:  # noqa: ANN001
    """Share of (client, product) pairs of the oracle sample, not held, with a recorded adoption
    driver, whose driver's reason family (configs/drivers.yaml `products`) is among the top-3
    reason families of that product's model (TreeSHAP, `models.reason_codes`)."""
    import pandas as pd

    from tierwise.features import feature_catalog
    from tierwise.models import measure_truthfulness, reason_codes, shap_values

    fc = settings.require("features")
    families = {name: info.family for name, info in feature_catalog(fc).items()}
    catalogues, drivers = settings.require("reasons"), settings.require("drivers")
    hits = clients = 0
    out: dict[str, float] = {}
    for _, result in rows:
        task = result.config.task
        frame = frames.get(task)
        if frame is None:
            continue
        data = frame.data.assign(snapshot_month=pd.to_datetime(frame.data["snapshot_month"]).astype("datetime64[ns]"))
        test = data[data[frame.split_column] == "test"]
        picked = test.merge(oracle[["client_id", "snapshot_month"]], on=["client_id", "snapshot_month"], how="inner")
        if picked.empty:
            continue
        X = result.model.model_inputs(picked)
        reasons = reason_codes(shap_values(result.model.booster_, X), X, families, catalogues, model=task, k=3)
        reasons.insert(0, "snapshot_month", picked["snapshot_month"].to_numpy())
        reasons.insert(0, "client_id", picked["client_id"].to_numpy())
        got = measure_truthfulness(reasons, oracle, drivers, task=task)
        out[f"nbp_truthfulness_top3_{task}"] = got["share"]
        hits += got["share"] * got["clients"]
        clients += got["clients"]
    out["nbp_truthfulness_top3"] = hits / clients if clients else float("nan")
    return out


def bench_nbp(ctx):  # noqa: ANN001, ANN201 - the harness's BenchContext -> list[Figure]
    import resource

    from bench_harness import Figure

    clients, months = (6000, 24) if ctx.small else (20000, 24)
    work = ctx.workdir / "nbp"
    work.mkdir(parents=True, exist_ok=True)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
           "MLFLOW_ARTIFACTS_DESTINATION": str(work / "mlartifacts")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, peak = ctx.run_measured([ctx.python, str(Path(__file__)), "--work", str(work),
                                      "--clients", str(clients), "--months", str(months)], env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    got = json.loads((work / "nbp.json").read_text(encoding="utf-8"))
    for task, reason in got.pop("untrainable", {}).items():
        ctx.notes.append(f"nbp: {task} not trained: {reason}")
    targets = {"nbp_map3_oracle_ratio": ">= 0.90", "nbp_map3_vs_popularity": ">= 1.5", "nbp_truthfulness_top3": ">= 0.80"}
    units = {"nbp_test_rows": "rows", "nbp_products_trained": "models"} | {
        name: "share" for name in got if name.startswith("nbp_truthfulness")}
    figures = [Figure(name, value, "ROC AUC" if "_auc_" in name else units.get(name, "ratio" if "ratio" in name
                      or "vs" in name else "MAP@3"), targets.get(name, "")) for name, value in sorted(got.items())]
    return [*figures, Figure("nbp_train_products_seconds", seconds, "s", ""),
            Figure("nbp_train_products_cpu_seconds", cpu, "s", ""), Figure("nbp_train_products_peak_gib", peak, "GiB", "")]


BENCHMARKS = [bench_nbp]


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=20000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = measure(args.work, args.clients, args.months)
    (args.work / "nbp.json").write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
