"""What would move a client up a tier (issue 22): `python bench/run.py --only next_tier`.

Set-up (not measured): the demo bank (`tierwise generate` with `configs/data.yaml` as it is:
20,000 clients x 36 months, seed 42, the bank `make demo` runs on; small scale 2,500 x 36,
seed 22), the three task models trained through the CLI (`tierwise train --task all
--budget-minutes 0`) and the recommender built and registered (`tierwise recommend`), as a
bank would.

Measured, in a child process (`python bench/bench_next_tier.py --work DIR`, so the figures are
the whole process's too): the search of `models.NextTierSearch` with `configs/next_tier.yaml`
over the first 1,000 clients (by id) below the top tier in the latest month (small: 500), the
plausible ranges taken from the month's whole population. Then, outside the timing, every
alternative is re-run independently (`features.with_change` on the client's row, then
`Recommender.recommend`: models, TreeSHAP, policy) and compared with its target.

Figures:
- `next_tier_validity`: share of proposed alternatives whose re-run gives the target tier (must be 1.0);
- `next_tier_found_share`: share of the searched clients with at least one alternative (clients
  in default or under exit review count as not found: they are offered none);
- `next_tier_max_changes`: the most changes in any alternative (<= 3); `next_tier_mean_changes`;
- `next_tier_ms_per_client`: wall time of the search per client (<= 50 on 2 cores), and
  `next_tier_cpu_ms_per_client`: its CPU time (user + system, all threads) per client;
- `next_tier_process_seconds`, `next_tier_process_cpu_seconds`, `next_tier_process_peak_gib`: the
  whole child process (imports, loading the recommender, the month's features, the search, the
  re-runs), measured by the harness (`BenchContext.run_measured`, `last_cpu_seconds`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(bank: Path, clients: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from tierwise.features import read_raw_tables, snapshot_features, validate_tables, with_change
    from tierwise.models import TIERS_BY_RANK, NextTierSearch
    from tierwise.registry import load_recommender
    from tierwise.settings import load_settings

    settings = load_settings(REPO / "configs")
    loaded = load_recommender("models:/tierwise-recommender@champion")
    recommender, built = loaded.recommender, loaded.settings
    raw_clients, monthly = read_raw_tables(bank)
    report = validate_tables(raw_clients, monthly)
    month = pd.Timestamp(report.monthly["month"].max()).date()
    population = snapshot_features(report.clients, report.monthly, month, built.features)
    tiers = recommender.recommend(population, columns=("client_id", "tier"))["tier"].to_numpy()
    below = population[tiers != TIERS_BY_RANK[-1]].sort_values("client_id").head(clients).reset_index(drop=True)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    search = NextTierSearch.for_population(recommender, settings.next_tier, built.features, population)
    answers = search.search(below)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    checked = good = 0
    sizes: list[int] = []
    for i, answer in enumerate(answers):
        for alt in answer.alternatives:
            row = below.iloc[[i]].reset_index(drop=True)
            for change in alt.changes:
                row = with_change(row, change.column, np.array([change.amount]), built.features,
                                  settings.next_tier.hold_months)
            tier = recommender.recommend(row, columns=("client_id", "tier"))["tier"].iat[0]
            checked += 1
            good += TIERS_BY_RANK.index(tier) >= TIERS_BY_RANK.index(answer.target)
            sizes.append(len(alt.changes))
    statuses = pd.Series([a.status for a in answers]).value_counts().to_dict()
    n = len(answers)
    return {
        "next_tier_clients": float(n),
        "next_tier_alternatives": float(checked),
        "next_tier_validity": good / checked if checked else float("nan"),
        "next_tier_found_share": statuses.get("found", 0) / n if n else float("nan"),
        "next_tier_max_changes": float(max(sizes, default=0)),
        "next_tier_mean_changes": float(np.mean(sizes)) if sizes else float("nan"),
        "next_tier_ms_per_client": 1000.0 * wall / n,
        "next_tier_cpu_ms_per_client": 1000.0 * cpu / n,
        **{f"next_tier_status_{k}": float(v) for k, v in sorted(statuses.items())},
    }


def bench_next_tier(ctx):  # noqa: ANN001, ANN201 - the harness's BenchContext -> list[Figure]
    from bench_harness import Figure

    searched = 500 if ctx.small else 1000
    bank = ctx.workdir / "bank"
    size = ["--clients", "2500", "--months", "36", "--seed", "22"] if ctx.small else []  # full: the demo bank
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{ctx.workdir / 'mlflow.db'}",
           "MLFLOW_ARTIFACTS_DESTINATION": str(ctx.workdir / "mlartifacts"),
           "TIERWISE_CONFIG_DIR": str(REPO / "configs"), "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    ctx.run_measured(ctx.tierwise("generate", *size, "--out", str(bank)), env=env)
    ctx.run_measured(ctx.tierwise("train", "--task", "all", "--data", str(bank), "--budget-minutes", "0"), env=env)
    ctx.run_measured(ctx.tierwise("recommend", "--data", str(bank)), env=env)
    out = ctx.workdir / "next_tier.json"
    seconds, peak = ctx.run_measured([ctx.python, str(Path(__file__)), "--bank", str(bank), "--clients",
                                      str(searched), "--out", str(out)], env=env)
    cpu = ctx.last_cpu_seconds  # that process's user + system CPU (os.wait4), as every bench records it
    got = json.loads(out.read_text(encoding="utf-8"))
    targets = {"next_tier_validity": "= 1.0", "next_tier_max_changes": "<= 3", "next_tier_ms_per_client": "<= 50"}
    units = {"next_tier_validity": "share", "next_tier_found_share": "share", "next_tier_max_changes": "changes",
             "next_tier_mean_changes": "changes", "next_tier_ms_per_client": "ms", "next_tier_cpu_ms_per_client": "ms"}
    figures = [Figure(name, value, units.get(name, "clients"), targets.get(name, "")) for name, value in sorted(got.items())]
    return [*figures, Figure("next_tier_process_seconds", seconds, "s", ""),
            Figure("next_tier_process_cpu_seconds", cpu, "s", ""), Figure("next_tier_process_peak_gib", peak, "GiB", "")]


BENCHMARKS = [bench_next_tier]


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = measure(args.bank, args.clients)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
