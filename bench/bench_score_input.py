"""The pandas engine's two input paths side by side (issue 19, item 4): a `monthly.parquet` in
client_id order streamed into the chunks, against the same rows split into per-chunk files
first (`bench/run.py --only score_input`).

Set-up (not measured): the models, recommender and scoring bank of `bench_scoring`, cut to its
first 300,000 clients (small scale: 1,000) as `bench_score_scaling` cuts it; two copies of that
bank whose `monthly.parquet` holds the same rows in the same order and row groups, one with
column statistics (the engine streams it) and one without (it cannot tell the order, so it
splits the file first).

Figures, all from one run, the two processes taking turns (streamed, split, split, streamed)
so that a machine that slows down weighs on both:
- `score_input_300k_streamed_seconds`, `_cpu_seconds`, `_peak_gib` and the same for `split`:
  whole `tierwise score --no-archive --chunk-clients 50000` processes of the latest month, the
  mean of the two turns (peak: the larger);
- `score_input_300k_split_over_streamed` and `_cpu_` ratio: split over streamed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from bench_harness import BenchContext, Figure


def _copies(bank: Path, workdir: Path) -> dict[str, Path]:
    """The bank twice, its monthly rows rewritten with (streamed) and without (split) statistics."""
    monthly = pq.read_table(bank / "monthly.parquet")
    folders = {}
    for name, statistics in (("streamed", True), ("split", False)):
        folder = workdir / f"input_{name}"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(bank, folder)
        pq.write_table(monthly, folder / "monthly.parquet", write_statistics=statistics)
        folders[name] = folder
    return folders


def score_input(ctx: BenchContext) -> list[Figure]:
    scoring = sys.modules["bench.bench_scoring"]
    scaling = sys.modules["bench.bench_score_scaling"]
    env = scoring._env(ctx)
    bank, month = scoring._setup(ctx)
    clients = 1_000 if ctx.small else 300_000
    folders = _copies(scaling._cut(bank, ctx.workdir / f"bank_{clients}", clients), ctx.workdir)
    runs: dict[str, list[tuple[float, float, float]]] = {"streamed": [], "split": []}
    for name in ("streamed", "split", "split", "streamed"):
        seconds, peak = ctx.run_measured(ctx.tierwise(
            "score", "--data", str(folders[name]), "--month", month, "--out", str(ctx.workdir / f"input_{name}.parquet"),
            "--no-archive", "--chunk-clients", "50000"), env=env)
        runs[name].append((seconds, ctx.last_cpu_seconds, peak))
    label = "1k" if ctx.small else "300k"
    figures, mean = [], {}
    for name, measured in runs.items():
        wall, cpu = (float(np.mean([m[i] for m in measured])) for i in (0, 1))
        mean[name] = (wall, cpu)
        figures += [Figure(f"score_input_{label}_{name}_seconds", round(wall, 1), "s"),
                    Figure(f"score_input_{label}_{name}_cpu_seconds", round(cpu, 1), "s"),
                    Figure(f"score_input_{label}_{name}_peak_gib", round(max(m[2] for m in measured), 3), "GiB")]
    figures += [Figure(f"score_input_{label}_split_over_streamed", round(mean["split"][0] / mean["streamed"][0], 2), "x"),
                Figure(f"score_input_{label}_cpu_split_over_streamed",
                       round(mean["split"][1] / mean["streamed"][1], 2), "x")]
    return figures


BENCHMARKS = [score_input]
