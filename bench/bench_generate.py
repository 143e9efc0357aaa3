"""The synthetic bank generator: 100,000 clients x 36 months (small scale: 2,000 x 12)."""

from __future__ import annotations

from bench_harness import BenchContext, Figure


def generate_100k_36m(ctx: BenchContext) -> list[Figure]:
    clients, months = ("2000", "12") if ctx.small else ("100000", "36")
    out = ctx.workdir / "bank"
    seconds, peak = ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", months,
                                                  "--seed", "7", "--out", str(out)))
    return [
        Figure("generate_100k_36m_seconds", round(seconds, 2), "s", "< 60"),
        Figure("generate_100k_36m_peak_gib", round(peak, 3), "GiB", "< 4"),
    ]


BENCHMARKS = [generate_100k_36m]
