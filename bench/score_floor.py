"""The floor of batch scoring (issue 19, item 4), in one process: what scoring a month cannot do
without. Prints one JSON object: wall and CPU seconds of

- `read`: one Arrow read of the month's input (`clients` and `monthly`, the whole files);
- `predict`: `Booster.predict` of each task model of the recommender over the month's clients;
- `treeshap`: the TreeSHAP kernel of each task model over the same rows;

and their sum, `floor`. Building the feature matrix is not timed: it is work a bank could do
once in the warehouse. Run by `bench_score_scaling.py` as
`python bench/score_floor.py BANK_FOLDER YYYY-MM MODEL_URI` with MLflow pointed at the store.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(bank: Path, month: str, model_uri: str) -> dict[str, float]:
    from tierwise import tracking
    from tierwise.features import read_raw_tables, snapshot_features
    from tierwise.models import tree_shap
    from tierwise.registry import load_recommender

    tracking.connect()
    recommender, _, configs = load_recommender(model_uri)
    files = [next(bank.glob(f"{name}.parquet")) for name in ("clients", "monthly")]
    _, read_wall, read_cpu = _timed(lambda: [pq.read_table(path) for path in files])
    clients, monthly = read_raw_tables(bank)
    when = dt.date(int(month[:4]), int(month[5:7]), 1)
    features = snapshot_features(clients, monthly, when, configs.features)
    del clients, monthly
    figures = {"rows": float(len(features)), "read_wall": read_wall, "read_cpu": read_cpu,
               "predict_wall": 0.0, "predict_cpu": 0.0, "treeshap_wall": 0.0, "treeshap_cpu": 0.0}
    for model in recommender.models.values():
        if model.booster_ is None:
            continue
        matrix = model.model_matrix(features)
        _, wall, cpu = _timed(lambda m=model, x=matrix: m.booster_.predict(x))
        figures["predict_wall"] += wall
        figures["predict_cpu"] += cpu
        _, wall, cpu = _timed(lambda m=model, x=matrix: tree_shap(m.booster_, x))
        figures["treeshap_wall"] += wall
        figures["treeshap_cpu"] += cpu
    figures["floor_wall"] = figures["read_wall"] + figures["predict_wall"] + figures["treeshap_wall"]
    figures["floor_cpu"] = figures["read_cpu"] + figures["predict_cpu"] + figures["treeshap_cpu"]
    return figures


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
