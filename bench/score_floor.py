"""The floor of batch scoring (issue 19, item 4), in one process: what scoring a month cannot do
without. Prints one JSON object: wall and CPU seconds of

- `read`: one Arrow read of the month's input (`clients` and `monthly`, the whole files);
- `predict`: `Booster.predict` of each task model of the recommender over the month's clients;
- `treeshap`: the TreeSHAP kernel of each task model over the same rows;

and their sum, `floor`. Building the feature matrix is not timed: it is work a bank could do
once in the warehouse. Run by `bench_score_scaling.py` as
`python bench/score_floor.py BANK_FOLDER YYYY-MM MODEL_URI` with MLflow pointed at the store.

With a fourth argument, the output file of a score with offers (`offer_1..k` columns) by a
recommender with product models, the floor also counts what offers cannot do without:
`products_predict`, `Booster.predict` of every product model over the month's clients, and
`products_treeshap`, the TreeSHAP kernel of each product model over exactly the clients that
file offers that product to (the rows the job explains); `floor_offers` is `floor` plus both.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _offered_rows(offers_file: Path, client_ids) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Product -> positions (in `client_ids` order) of the clients the scored file offers it to."""
    import pandas as pd

    names = [c for c in pq.ParquetFile(offers_file).schema_arrow.names
             if c.startswith("offer_") and c.removeprefix("offer_").isdigit()]
    offered = pq.read_table(offers_file, columns=["client_id", *names]).to_pandas()
    position = pd.Index(client_ids.astype("str")).get_indexer(offered["client_id"].astype("str"))
    rows: dict[str, np.ndarray] = {}
    for name in names:
        for product, at in offered.groupby(name, sort=True).indices.items():
            rows[str(product)] = np.union1d(rows.get(str(product), np.array([], dtype=np.int64)), position[at])
    return {p: r[r >= 0] for p, r in rows.items()}


def main(bank: Path, month: str, model_uri: str, offers_file: Path | None = None) -> dict[str, float]:
    from tierwise import tracking
    from tierwise.features import read_raw_tables, snapshot_features
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
               **_models_floor(recommender.models, features)}
    figures["floor_wall"] = figures["read_wall"] + figures["predict_wall"] + figures["treeshap_wall"]
    figures["floor_cpu"] = figures["read_cpu"] + figures["predict_cpu"] + figures["treeshap_cpu"]
    if offers_file is not None:
        if not recommender.products:
            raise SystemExit(f"{model_uri} has no product models: no offers floor to measure")
        offered = _offered_rows(offers_file, features["client_id"])
        products = _models_floor(recommender.products, features, explained=offered)
        figures.update({f"products_{name}": value for name, value in products.items()})
        for kind in ("wall", "cpu"):
            figures[f"floor_offers_{kind}"] = (figures[f"floor_{kind}"] + figures[f"products_predict_{kind}"]
                                               + figures[f"products_treeshap_{kind}"])
    return figures


def _models_floor(models, features, explained: dict[str, np.ndarray] | None = None) -> dict[str, float]:  # noqa: ANN001
    """Wall and CPU seconds of `Booster.predict` of each of `models` (name -> model) over every
    row of `features` and of its TreeSHAP kernel over every row, or with `explained` (name ->
    row positions) over those rows only; `explained_rows` counts the rows explained."""
    from tierwise.models import tree_shap

    out = dict.fromkeys(("predict_wall", "predict_cpu", "treeshap_wall", "treeshap_cpu", "explained_rows"), 0.0)
    for name, model in models.items():
        if model.booster_ is None:
            continue
        matrix = model.model_matrix(features)
        _, wall, cpu = _timed(lambda m=model, x=matrix: m.booster_.predict(x))
        out["predict_wall"] += wall
        out["predict_cpu"] += cpu
        rows = None if explained is None else explained.get(name, np.array([], dtype=np.int64))
        picked = matrix if rows is None else matrix[rows]
        if len(picked) == 0:
            continue
        _, wall, cpu = _timed(lambda m=model, x=picked: tree_shap(m.booster_, x))
        out["treeshap_wall"] += wall
        out["treeshap_cpu"] += cpu
        out["explained_rows"] += float(len(picked))
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3],
                          Path(sys.argv[4]) if len(sys.argv) > 4 else None)))
