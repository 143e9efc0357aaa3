"""Snapshot features and training sets at scale (issue 3 acceptance).

Figures: `features_snapshot_100k_seconds`, `features_snapshot_100k_peak_gib` (one snapshot of
100,000 clients x 36 months, through `tierwise features`, reading the Parquet files included)
and `trainset_12_snapshots_100k_seconds` (`tierwise trainset` over the 12 snapshot months
whose 12-month label horizons fit in the 36 months). BENCH_SCALE=small: 2,000 clients x 24.
"""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_harness import BenchContext, Figure


def _last_month(path) -> str:
    """The last month of the generated bank, as YYYY-MM."""
    column = pq.read_table(path, columns=["month"]).column("month")
    return f"{pc.max(column).as_py():%Y-%m}"


def bench_features(ctx: BenchContext) -> list[Figure]:
    clients, months = (2_000, 24) if ctx.small else (100_000, 36)
    bank = ctx.workdir / "bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", str(clients), "--months", str(months),
                                  "--seed", "7", "--out", str(bank)))
    last = _last_month(bank / "monthly.parquet")
    seconds, peak = ctx.run_measured(ctx.tierwise("features", "--data", str(bank), "--month", last,
                                                  "--out", str(ctx.workdir / "features.parquet")))
    # the latest snapshots whose 12-month label horizon fits in the data: with 36 months,
    # t = months 13 .. 24, so the longest (12-month) windows have full history too
    to = _shift(last, -12)
    first = _shift(to, -11 if not ctx.small else -5)
    train_seconds, _ = ctx.run_measured(ctx.tierwise("trainset", "--data", str(bank), "--from", first,
                                                     "--to", to, "--out", str(ctx.workdir / "trainset.parquet")))
    return [
        Figure("features_snapshot_100k_seconds", seconds, "s", "< 15"),
        Figure("features_snapshot_100k_peak_gib", peak, "GiB", "< 6"),
        Figure("trainset_12_snapshots_100k_seconds", train_seconds, "s", "< 90"),
    ]


def _shift(month: str, k: int) -> str:
    y, m = divmod(int(month[:4]) * 12 + int(month[5:]) - 1 + k, 12)
    return f"{y:04d}-{m + 1:02d}"


BENCHMARKS = [bench_features]
