"""The fixed cost of a command and the validation step (issue 19, item 4).

- `score_help`: `tierwise score --help` in a fresh process, median of 5 (wall and CPU): the
  imports every `tierwise score` pays before any work (a command loads only what it runs).
- `validate_50k`: `tierwise validate` of one scoring chunk's worth of bank, 50,000 clients x
  24 months (small scale: 2,000 x 12): read, the contract rules, the quarantine.

Run alone: `python bench/run.py --only startup` (add `--scale small` for a quick look).
"""

from __future__ import annotations

import statistics

from bench_harness import BenchContext, Figure


def score_help(ctx: BenchContext) -> list[Figure]:
    walls, cpus = [], []
    for _ in range(5):
        seconds, _ = ctx.run_measured(ctx.tierwise("score", "--help"))
        walls.append(seconds)
        cpus.append(ctx.last_cpu_seconds)
    return [
        Figure("score_help_seconds", round(statistics.median(walls), 3), "s"),
        Figure("score_help_cpu_seconds", round(statistics.median(cpus), 3), "s"),
    ]


def validate_50k(ctx: BenchContext) -> list[Figure]:
    clients, months = ("2000", "12") if ctx.small else ("50000", "24")
    bank = ctx.workdir / "bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", months, "--seed", "7",
                                  "--out", str(bank)))
    seconds, peak = ctx.run_measured(ctx.tierwise("validate", "--data", str(bank)))
    return [
        Figure("validate_50k_seconds", round(seconds, 2), "s"),
        Figure("validate_50k_cpu_seconds", round(ctx.last_cpu_seconds, 2), "s"),
        Figure("validate_50k_peak_gib", round(peak, 3), "GiB"),
    ]


BENCHMARKS = [score_help, validate_50k]
