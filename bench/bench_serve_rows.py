"""In-process cost of the served rows' path (issue 19, item 1): `bench/run.py --only serve_rows`.

Set-up (not measured): the training bank, the three task models and the recommender of
`serve_lean` (`bench_scoring._setup_serve`), and its single-client request rows.

Figures: `serve_rows_{1,5,20}_us_per_client`: CPU time (`time.process_time`, one thread, in
this process) of `models.pyfunc.plain_rows` + `models.recommend_rows` per client, for calls of
1, 5 and 20 rows (what a request and the lean server's joined requests cost without HTTP), the
best of three passes over the rows.
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench_harness import BenchContext, Figure

SIZES = (1, 5, 20)


def serve_rows(ctx: BenchContext) -> list[Figure]:
    scoring = sys.modules["bench.bench_scoring"]  # loaded by bench/run.py, as the other benches use it
    bank, month = scoring._setup_serve(ctx)
    bodies, _ = scoring._requests(ctx, bank, month, 200 if ctx.small else 800)
    os.environ.update(scoring._env(ctx))
    from tierwise.models import recommend_rows
    from tierwise.models.pyfunc import plain_rows
    from tierwise.registry import load_recommender

    recommender = load_recommender("models:/tierwise-recommender@champion").recommender
    rows = [json.loads(body)["dataframe_records"][0] for body in bodies]
    calls = 300 if ctx.small else 1500
    out = []
    for size in SIZES:
        batches = [rows[(i * size) % (len(rows) - size):][:size] for i in range(calls)]
        for batch in batches[:20]:  # warm: numba, caches
            recommend_rows(recommender, plain_rows(batch, recommender))
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for batch in batches:
                recommend_rows(recommender, plain_rows(batch, recommender))
            best = min(best, (time.process_time() - start) / (calls * size))
        out.append(Figure(f"serve_rows_{size}_us_per_client", round(best * 1e6, 1), "µs"))
    return out


BENCHMARKS = [serve_rows]
