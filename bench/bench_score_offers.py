"""Scoring 1M clients with offers against the speed issue's floor (issue 20, acceptance):
`python bench/run.py --only score_offers`.

Set-up (not measured): the task models, the plain recommender and the 1,000,000-client x
14-month scoring bank of `bench_scoring._setup` (small scale: 2,000 clients); a product bank
(20,000 clients x 36 months, small 1,500, seed 11, data.yaml `products:` on) on which every
product propensity of `configs/products.yaml` is trained (`tierwise train --task products`);
then `tierwise recommend` bundles the same task champions with the product champions into a
second recommender version, the offers recommender. The plain version is kept by number.

Measured in one run, in this order: `tierwise score --no-archive` of the latest month with the
plain recommender, the same with the offers recommender, then the floor twice
(`bench/score_floor.py` via `bench_score_scaling._floor`, given the offers score's output). Both
scores are whole processes over the same bank and month with the same chunking.

Two floors, both from the same floor runs:
- the task floor, the speed issue's: one Arrow read and the three task models' predict and
  TreeSHAP (the floor of the plain score);
- the offers floor: the task floor plus every product model's predict over the month's clients
  and its TreeSHAP kernel over exactly the clients the offers score offered that product to
  (the rows the job explains). It is what a score with offers cannot do without, so the
  offers score's ratio is taken to it.

Figures: `score_1m_offers_seconds`, `score_1m_offers_cpu_seconds`, `score_1m_offers_peak_gib`;
`score_1m_offers_plain_seconds` (and `_cpu_seconds`: the plain score of this run);
`score_1m_offers_floor_seconds` (the offers floor) and `score_1m_offers_task_floor_seconds`;
`score_1m_offers_ratio_to_floor` (wall, to the offers floor; the speed issue's bar is
`score_1m_ratio_to_floor` <= 2.0), `score_1m_offers_cpu_ratio_to_floor`;
`score_1m_offers_plain_ratio_to_floor` (the plain score over the task floor, in this run);
`score_1m_offers_ratio_vs_plain` (wall and `_cpu_`): with offers over without. At small scale
the names stay the same (the scale column says small).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
from bench_harness import BenchContext, Figure

RECOMMENDER = "tierwise-recommender"
logger = logging.getLogger("bench")


def _champion(env: dict[str, str]) -> str:
    """The version number the recommender's champion alias points at now."""
    os.environ.update(env)
    from tierwise import tracking
    from tierwise.registry import CHAMPION

    client = tracking.connect()
    return str(client.get_model_version_by_alias(RECOMMENDER, CHAMPION).version)


def _offers_recommender(ctx: BenchContext, env: dict[str, str]) -> None:
    """Train the product propensities on a bank with adoption and register the offers recommender."""
    clients = "1500" if ctx.small else "20000"
    bank = ctx.workdir / "product_bank"
    configs = sys.modules["bench.bench_nbp"].product_configs(ctx.workdir / "configs_products")  # adoption on
    ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", "36", "--seed", "11",
                                  "--out", str(bank), "--config-dir", str(configs)), env=env)
    ctx.run_measured(ctx.tierwise("train", "--task", "products", "--data", str(bank), "--budget-minutes", "0"),
                     env=env)
    ctx.run_measured(ctx.tierwise("recommend", "--data", str(ctx.workdir / "train_bank")), env=env)


def _score(ctx: BenchContext, bank: Path, month: str, version: str, name: str,
           env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak GiB) of one whole `tierwise score --no-archive` process."""
    seconds, peak = ctx.run_measured(ctx.tierwise("score", "--data", str(bank), "--month", month, "--model",
                                                  f"models:/{RECOMMENDER}/{version}", "--out",
                                                  str(ctx.workdir / f"recs_{name}.parquet"), "--no-archive",
                                                  "--chunk-clients", "50000"), env=env)
    return seconds, ctx.last_cpu_seconds, peak


def _offered_share(path: Path) -> float:
    """Share of the scored clients with at least one offer (checks that offers were made)."""
    import pyarrow.parquet as pq

    first = pq.read_table(path, columns=["offer_1"]).column("offer_1")
    return 1.0 - first.null_count / max(len(first), 1)


def score_offers(ctx: BenchContext) -> list[Figure]:
    scoring = sys.modules["bench.bench_scoring"]
    scaling = sys.modules["bench.bench_score_scaling"]
    env = scoring._env(ctx)
    bank, month = scoring._setup(ctx)
    plain = _champion(env)
    _offers_recommender(ctx, env)
    offers = _champion(env)
    if offers == plain:
        raise RuntimeError("tierwise recommend did not register a new recommender version")
    plain_run = _score(ctx, bank, month, plain, "plain", env)
    offers_run = _score(ctx, bank, month, offers, "offers", env)
    scored = ctx.workdir / "recs_offers.parquet"
    floors = [scaling._floor(ctx, bank, month, env, model_uri=f"models:/{RECOMMENDER}/{offers}", offers=scored)
              for _ in range(2)]
    share = _offered_share(scored)
    if share == 0.0:
        raise RuntimeError("the offers recommender made no offer")
    ctx.notes.append(f"score_offers: {share:.1%} of clients got at least one offer")
    logger.info("  %s", ctx.notes[-1])
    task_wall = float(np.mean([f["floor_wall"] for f in floors]))
    floor_wall = float(np.mean([f["floor_offers_wall"] for f in floors]))
    floor_cpu = float(np.mean([f["floor_offers_cpu"] for f in floors]))
    seconds, cpu, peak = offers_run
    return [Figure("score_1m_offers_seconds", round(seconds, 1), "s"),
            Figure("score_1m_offers_cpu_seconds", round(cpu, 1), "s"),
            Figure("score_1m_offers_peak_gib", round(peak, 3), "GiB"),
            Figure("score_1m_offers_plain_seconds", round(plain_run[0], 1), "s"),
            Figure("score_1m_offers_plain_cpu_seconds", round(plain_run[1], 1), "s"),
            Figure("score_1m_offers_floor_seconds", round(floor_wall, 1), "s"),
            Figure("score_1m_offers_task_floor_seconds", round(task_wall, 1), "s"),
            Figure("score_1m_offers_plain_ratio_to_floor", round(plain_run[0] / task_wall, 2), "ratio"),
            Figure("score_1m_offers_ratio_to_floor", round(seconds / floor_wall, 2), "ratio", "<= 2.0"),
            Figure("score_1m_offers_cpu_ratio_to_floor", round(cpu / floor_cpu, 2), "ratio"),
            Figure("score_1m_offers_ratio_vs_plain", round(seconds / plain_run[0], 3), "x"),
            Figure("score_1m_offers_cpu_ratio_vs_plain", round(cpu / plain_run[1], 3), "x")]


BENCHMARKS = [score_offers]
