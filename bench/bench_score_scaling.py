"""How batch scoring grows and how far it is from its floor (issue 19, item 4 and acceptance).

Set-up (not measured): the models, recommender and 1,000,000-client scoring bank of
`bench_scoring` (small scale: its 2,000-client bank); the first 100,000 and 300,000 clients of
that bank (small: 500 and 1,000), every table cut to them.

Figures, all from one run:
- `score_100k_seconds`, `score_300k_seconds`, `score_1m_seconds` (and `_cpu_seconds`): whole
  `tierwise score --no-archive` processes of the latest month; `score_1m_peak_gib` its peak
  memory;
- `score_fixed_seconds`, `score_us_per_client`: the least-squares line through the three;
- `score_floor_1m_seconds` (and `_cpu_seconds`): `bench/score_floor.py` on the 1M bank, one
  Arrow read of the input, three `Booster.predict` and the TreeSHAP kernel over the same rows,
  run before and after the 1M score and averaged;
- `score_1m_ratio_to_floor` (wall) and `score_1m_cpu_ratio_to_floor` (CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_harness import BenchContext, Figure

BENCH = Path(__file__).resolve().parent


def _cut(bank: Path, out: Path, clients: int) -> Path:
    """`bank` with only its first `clients` clients (every table with a client id cut to them)."""
    out.mkdir(parents=True, exist_ok=True)
    ids = pq.read_table(bank / "clients.parquet", columns=["client_id"]).column("client_id").slice(0, clients)
    keep = pa.array(ids.to_pylist())
    for path in sorted(bank.glob("*.parquet")):
        table = pq.read_table(path)
        for column in ("client_id", "from_client_id", "to_client_id"):
            if column in table.column_names:
                table = table.filter(pc.is_in(table.column(column), value_set=keep))
        pq.write_table(table, out / path.name)
    for path in sorted(p for p in bank.iterdir() if p.is_file() and p.suffix != ".parquet"):
        (out / path.name).write_bytes(path.read_bytes())
    return out


def _floor(ctx: BenchContext, bank: Path, month: str, env: dict[str, str], *,
           model_uri: str = "models:/tierwise-recommender@champion", offers: Path | None = None) -> dict[str, float]:
    """`bench/score_floor.py`'s figures (with `offers`, a scored file with offers: the offers floor too)."""
    args = [ctx.python, str(BENCH / "score_floor.py"), str(bank), month, model_uri,
            *([str(offers)] if offers is not None else [])]
    done = subprocess.run(args, env={**os.environ, **env}, cwd=ctx.workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"score_floor.py failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def score_scaling(ctx: BenchContext) -> list[Figure]:
    scoring = sys.modules["bench.bench_scoring"]
    env = scoring._env(ctx)
    bank, month = scoring._setup(ctx)
    sizes = (500, 1_000) if ctx.small else (100_000, 300_000)
    banks = [(n, _cut(bank, ctx.workdir / f"bank_{n}", n)) for n in sizes]
    total = pq.ParquetFile(bank / "clients.parquet").metadata.num_rows
    banks.append((total, bank))
    floors = [_floor(ctx, bank, month, env)]
    runs = {}
    for n, folder in reversed(banks):  # the whole bank first, right after the first floor
        seconds, peak = ctx.run_measured(ctx.tierwise("score", "--data", str(folder), "--month", month, "--out",
                                                      str(ctx.workdir / f"recs_{n}.parquet"), "--no-archive",
                                                      "--chunk-clients", "50000"), env=env)
        runs[n] = (seconds, ctx.last_cpu_seconds, peak)
        if n == total:
            floors.append(_floor(ctx, bank, month, env))
    floor_wall = float(np.mean([f["floor_wall"] for f in floors]))
    floor_cpu = float(np.mean([f["floor_cpu"] for f in floors]))
    n = np.array(sorted(runs), dtype=float)
    wall = np.array([runs[k][0] for k in sorted(runs)])
    slope, intercept = np.polyfit(n, wall, 1)
    label = {sizes[0]: "100k", sizes[1]: "300k", total: "1m"}
    figures = []
    for k in sorted(runs):
        figures += [Figure(f"score_{label[k]}_seconds", round(runs[k][0], 1), "s", "< 300" if k == total else ""),
                    Figure(f"score_{label[k]}_cpu_seconds", round(runs[k][1], 1), "s")]
    seconds, cpu, peak = runs[total]
    figures += [Figure("score_1m_peak_gib", round(peak, 3), "GiB", "<= 2"),
                Figure("score_fixed_seconds", round(float(intercept), 2), "s"),
                Figure("score_us_per_client", round(float(slope) * 1e6, 1), "µs"),
                Figure("score_floor_1m_seconds", round(floor_wall, 1), "s"),
                Figure("score_floor_1m_cpu_seconds", round(floor_cpu, 1), "s"),
                Figure("score_floor_1m_read_seconds", round(float(np.mean([f["read_wall"] for f in floors])), 1), "s"),
                Figure("score_floor_1m_predict_seconds", round(float(np.mean([f["predict_wall"] for f in floors])), 1), "s"),
                Figure("score_floor_1m_treeshap_seconds", round(float(np.mean([f["treeshap_wall"] for f in floors])), 1),
                       "s"),
                Figure("score_1m_ratio_to_floor", round(seconds / floor_wall, 2), "ratio", "<= 2.0"),
                Figure("score_1m_cpu_ratio_to_floor", round(cpu / floor_cpu, 2), "ratio")]
    return figures


BENCHMARKS = [score_scaling]
