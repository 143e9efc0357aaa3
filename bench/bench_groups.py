"""Connected groups (issue 21): recovery of the planted groups, and speed on a bank-sized graph.

`python bench/run.py --only groups` runs both:

- `groups_recovery`: the synthetic bank (20,000 clients x 12 months; small scale 3,000),
  groups of its last month against the group oracle (sklearn `adjusted_rand_score`, over the
  SME clients: retail clients have no relations): control and guarantees only against the
  planted control groups, every edge kind against the planted control + dependence groups;
- `groups_1m_5m`: a generated relations table of 1,000,000 clients and 5,000,000 rows
  (1,000,000 control / guarantee links, 4,000,000 supplier / customer flows of one month; small
  scale 100,000 / 500,000), written to Parquet first (not timed); then one process reads it,
  validates it (`check_relations`) and finds the month's groups (`groups_of_month`): its wall
  seconds, CPU seconds and peak memory are the figures, and the same process reports the
  seconds of the group step alone.

`python bench/run.py --only groups_month` runs the third alone:

- `groups_month_job`: the relations step of a month's scoring job (issue 19, item 4) on a
  history of 14 months (1,000,000 clients: 1,000,000 control / guarantee links of the first
  month, 1,000,000 supplier / customer flows in every month, 15,000,000 rows; small scale
  50,000 clients), written to Parquet first (not timed). Side by side in one run, one process
  each: the whole table checked then the last month's groups (`read_relations` without a month,
  as the job did before), and the job's step (`tierwise.groups.month_groups`: only the rows the
  month can use); wall seconds, CPU seconds and peak memory of each, their ratios, and the
  groups compared (they must be equal).
"""

from __future__ import annotations

import json
import resource

from bench_harness import BenchContext, Figure

_MAKE = r"""
import sys
import numpy as np, pandas as pd
n, rows, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(np.random.SeedSequence([21, 5]))
ids = np.char.add("C", np.char.zfill(np.arange(n).astype("str"), 8))
links = n
flows = rows - links
a = rng.integers(0, n, rows)
b = rng.integers(0, n, rows)
b = np.where(a == b, (b + 1) % n, b)
outside = rng.random(rows) < 0.3
cp = np.where(outside, np.char.add("X", np.char.zfill(b.astype("str"), 8)), ids[b])
kind = np.empty(rows, dtype=object)
kind[:links] = np.where(rng.random(links) < 0.75, "control", "guarantee")
kind[links:] = np.where(rng.random(flows) < 0.5, "supplier", "customer")
share = np.full(rows, np.nan)
share[:links] = np.where(kind[:links] == "control", np.round(rng.uniform(0.05, 1.0, links), 4), np.nan)
amount = np.round(rng.lognormal(10, 1.5, rows), 2)
month = np.where(np.arange(rows) < links, np.datetime64("2025-01-01", "ns"), np.datetime64("2025-06-01", "ns"))
df = pd.DataFrame({"client_id": ids[a], "counterparty_id": cp, "kind": kind, "share": share,
                   "amount": amount, "month": month})
df = df.drop_duplicates(["client_id", "counterparty_id", "kind", "month"])
df.to_parquet(out, index=False)
pd.DataFrame({"client_id": ids}).to_parquet(out + ".clients", index=False)
"""

_JOB = r"""
import json, sys, time
import pandas as pd
from tierwise.features import check_relations, groups_of_month
path, report = sys.argv[1], sys.argv[2]
clients = pd.read_parquet(path + ".clients")["client_id"]
rel = pd.read_parquet(path)
t0 = time.perf_counter()
checked = check_relations(rel, client_ids=clients, source=path)
t1 = time.perf_counter()
groups = groups_of_month(clients, checked.kept, pd.Timestamp("2025-06-01"))
t2 = time.perf_counter()
sizes = groups.value_counts()
json.dump({"rows": len(rel), "rejected": len(checked.rejected), "validate_seconds": t1 - t0,
           "groups_seconds": t2 - t1, "groups": int(len(sizes)), "largest": int(sizes.iloc[0])},
          open(report, "w"))
"""


def groups_recovery(ctx: BenchContext) -> list[Figure]:
    from sklearn.metrics import adjusted_rand_score

    from tierwise.features import check_relations, connected_groups, group_edges, groups_of_month
    from tierwise.synthetic import DataConfig, OracleConfig, generate_bank

    clients = 3000 if ctx.small else 20000
    bank = generate_bank(DataConfig(oracle=OracleConfig(pairs=0)), clients=clients, months=12, seed=42)
    rel = check_relations(bank.relations, client_ids=bank.clients["client_id"]).kept
    oracle = bank.group_oracle
    last = rel["month"].max()
    control = connected_groups(oracle["client_id"], group_edges(rel, last, include=("control", "guarantee")))
    every = groups_of_month(oracle["client_id"], rel, last)
    ids = oracle["client_id"]
    planted = oracle["dependence_group"].value_counts()
    ctx.notes.append(f"groups_recovery: {len(ids)} SME clients, {int((planted > 1).sum())} planted groups")
    return [
        Figure("groups_adjusted_rand_control",
               round(adjusted_rand_score(oracle["control_group"], control.reindex(ids)), 4), "ARI", "= 1.0"),
        Figure("groups_adjusted_rand_dependence",
               round(adjusted_rand_score(oracle["dependence_group"], every.reindex(ids)), 4), "ARI", ">= 0.90"),
    ]


def groups_1m_5m(ctx: BenchContext) -> list[Figure]:
    n, rows = (100_000, 500_000) if ctx.small else (1_000_000, 5_000_000)
    table = ctx.workdir / "relations.parquet"
    report = ctx.workdir / "report.json"
    ctx.run_measured([ctx.python, "-c", _MAKE, str(n), str(rows), str(table)])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, peak = ctx.run_measured([ctx.python, "-c", _JOB, str(table), str(report)])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got = json.loads(report.read_text())
    ctx.notes.append(f"groups_1m_5m: {got}")
    return [
        Figure("groups_1m_clients_5m_edges_seconds", round(seconds, 2), "s", "< 60"),
        Figure("groups_1m_clients_5m_edges_cpu_seconds", round(cpu, 2), "s"),
        Figure("groups_1m_clients_5m_edges_peak_gib", round(peak, 3), "GiB"),
        Figure("groups_1m_clients_5m_edges_group_step_seconds", round(got["groups_seconds"], 2), "s"),
        Figure("groups_1m_clients_5m_edges_validate_seconds", round(got["validate_seconds"], 2), "s"),
    ]


_MAKE_HISTORY = r"""
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
n, months, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(np.random.SeedSequence([19, 4]))
ids = np.char.add("C", np.char.zfill(np.arange(n).astype("str"), 8))
firms = pa.array(np.concatenate([ids, np.char.add("X", np.char.zfill(np.arange(n).astype("str"), 8))]))
parts = []
def block(kind, share, amount, month, a, b):
    return pa.table({"client_id": pa.array(ids).take(pa.array(a)), "counterparty_id": firms.take(pa.array(b)),
                     "kind": pa.array(kind), "share": pa.array(share), "amount": pa.array(amount),
                     "month": pa.array(np.full(len(a), month, dtype="datetime64[D]"), pa.date32())})
a = rng.integers(0, n, n)
b = (a + rng.integers(1, n, n)) % n + np.where(rng.random(n) < 0.3, n, 0)
kind = np.where(rng.random(n) < 0.85, "control", "guarantee")
share = np.where(kind == "control", np.round(rng.uniform(0.05, 1.0, n), 4), np.nan)
parts.append(block(kind, share, np.round(rng.lognormal(12, 1, n), 2), np.datetime64("2024-01-01"), a, b))
a = rng.integers(0, n, n)
b = (a + rng.integers(1, n, n)) % n + np.where(rng.random(n) < 0.3, n, 0)
kind = np.where(rng.random(n) < 0.5, "supplier", "customer")
for m in range(months):
    amount = np.round(rng.lognormal(10, 1.5, n), 2)
    parts.append(block(kind, np.full(n, np.nan), amount, (np.datetime64("2024-01", "M") + m).astype("datetime64[D]"),
                       a, b))
pq.write_table(pa.concat_tables(parts), folder + "/relations.parquet")
pq.write_table(pa.table({"client_id": ids}), folder + "/clients.parquet")
"""

_MONTH_JOB = r"""
import datetime as dt, json, sys, time
import pandas as pd
from tierwise.features import groups_of_month, read_relations
from tierwise.groups import month_groups
from tierwise.models import GroupsConfig
folder, how, month, out = sys.argv[1], sys.argv[2], dt.date.fromisoformat(sys.argv[3]), sys.argv[4]
ids = pd.read_parquet(folder + "/clients.parquet")["client_id"]
t0 = time.perf_counter()
if how == "whole":
    checked = read_relations(folder, client_ids=ids)
    groups = groups_of_month(ids, checked.kept, pd.Timestamp(month))
else:
    groups, _ = month_groups(folder, month, ids, GroupsConfig())
json.dump({"seconds": time.perf_counter() - t0, "groups": int((groups.value_counts() > 1).sum())}, open(out, "w"))
groups.to_frame().to_parquet(out + ".parquet")
"""


def groups_month_job(ctx: BenchContext) -> list[Figure]:
    import pandas as pd

    n, months = (50_000, 14) if ctx.small else (1_000_000, 14)
    folder = ctx.workdir / "relations_history"
    folder.mkdir(exist_ok=True)
    ctx.run_measured([ctx.python, "-c", _MAKE_HISTORY, str(n), str(months), str(folder)])
    last = (pd.Timestamp("2024-01-01") + pd.DateOffset(months=months - 1)).date().isoformat()
    got = {}
    for how in ("whole", "month"):
        report = ctx.workdir / f"groups_{how}.json"
        seconds, peak = ctx.run_measured([ctx.python, "-c", _MONTH_JOB, str(folder), how, last, str(report)])
        got[how] = {"process_seconds": seconds, "cpu": ctx.last_cpu_seconds, "peak": peak,
                    **json.loads(report.read_text())}
    same = pd.read_parquet(f"{ctx.workdir}/groups_whole.json.parquet").equals(
        pd.read_parquet(f"{ctx.workdir}/groups_month.json.parquet"))
    if not same:
        raise RuntimeError("groups_month_job: the month's groups differ from the whole table's")
    ctx.notes.append(f"groups_month_job: {n} clients x {months} months, groups equal; {got}")
    whole, month = got["whole"], got["month"]
    return [
        Figure("groups_month_job_step_seconds", round(month["seconds"], 2), "s"),
        Figure("groups_month_job_whole_table_step_seconds", round(whole["seconds"], 2), "s"),
        Figure("groups_month_job_cpu_seconds", round(month["cpu"], 2), "s"),
        Figure("groups_month_job_whole_table_cpu_seconds", round(whole["cpu"], 2), "s"),
        Figure("groups_month_job_peak_gib", round(month["peak"], 3), "GiB"),
        Figure("groups_month_job_whole_table_peak_gib", round(whole["peak"], 3), "GiB"),
        Figure("groups_month_job_step_ratio_to_whole_table", round(month["seconds"] / whole["seconds"], 3), "x"),
    ]


BENCHMARKS = [groups_recovery, groups_1m_5m, groups_month_job]
