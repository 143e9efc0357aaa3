"""Batch scoring and serving of the recommender (issue 6).

Set-up (not measured): a training bank (20,000 clients; small scale 1,500) on which the three
task models are trained through the CLI (`tierwise train --task all`), and the recommender
built and registered (`tierwise recommend`); a scoring bank of 1,000,000 clients x 14 months
(small scale 2,000) generated with another seed.

Figures:
- `score_1m_seconds`, `score_1m_peak_gib`: `tierwise score` of the latest month of the scoring
  bank (validation, features, three models, top-3 TreeSHAP reasons each, the policy, RM
  capacity, atomic write), wall time and peak memory of the process;

`serve_lean` (a benchmark of its own: `bench/run.py --only serve_lean`; issue 19, item 1):
- `serve_errors`, `serve_p50_ms`, `serve_p99_ms`, `serve_rps`: 2,000 single-client requests
  (small: 200) at 20 concurrent against `tierwise serve` (the lean server, 2 workers) of the
  champion recommender, built on its own training bank (5,000 clients; small 1,500); the load
  generator is 20 threads, each with one keep-alive HTTP connection, in the bench process on
  the same 2 cores as the servers;
- `serve_plain_errors`, `serve_plain_p50_ms`, `serve_plain_p99_ms`, `serve_plain_rps`: the same
  for `mlflow models serve` of the plain churn model (`tierwise-churn@champion`, 2 workers);
- `serve_p99_ratio_vs_plain_mlflow`, `serve_rps_ratio_vs_plain_mlflow`: lean over plain;
- `serve_cpu_ms_per_client`, `serve_plain_cpu_ms_per_client`: CPU time (user + system, from
  /proc) of the server's whole process tree during its blocks, per answered client;
- `serve_loadgen_cpu_share`: the load generator's CPU time over the wall time of all blocks
  (1.0 = one of the two cores busy all along).
- `archive_month_1m_seconds`: `tierwise score --archive` of the same month into an archive that
  already holds its 11 months before (the 11 are the scored month written under earlier month
  names: reading them costs what reading real months costs), i.e. scoring with the tier memory
  read from the archive, the exit reviews carried, and the month's partition written;
  `archive_month_1m_ratio_vs_score` is it over `score_1m_seconds` of the same run;
- `run_month_20k_seconds`: `tierwise run-month` (validate and score, archive, every RM's page
  and the index, the monitor) of the latest month of the 20,000-client training bank, its
  archive holding the month before (run first, not measured);
- `serve_p99_ratio_vs_plain_mlflow`: the recommender's p99 over the p99 of a plain single
  LightGBM model (`tierwise-churn@champion`, an `mlflow.sklearn` model) served the same way
  under the same load in the same run.

Both servers run side by side and take the load in turns, in blocks of a quarter of the
requests in the order recommender, plain, plain, recommender, recommender, plain, plain,
recommender (ABBA twice): a machine that gets slower or faster during the run (another
tenant, the clock) weighs on both equally instead of on whichever went second. Only one server
is under load at a time; the idle one waits on its socket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from bench_harness import BenchContext, Figure

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _env(ctx: BenchContext) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{ctx.workdir / 'mlflow.db'}",
            "MLFLOW_ARTIFACTS_DESTINATION": str(ctx.workdir / "mlartifacts"),
            "TIERWISE_CONFIG_DIR": str(REPO / "configs"),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def _setup(ctx: BenchContext) -> tuple[Path, str]:
    """Train + register the models and the recommender; generate the scoring bank (the training
    bank stays in `ctx.workdir / "train_bank"`)."""
    train_clients, score_clients = ("1500", "2000") if ctx.small else ("20000", "1000000")
    env = _env(ctx)
    train_bank, score_bank = ctx.workdir / "train_bank", ctx.workdir / "score_bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", train_clients, "--months", "36", "--seed", "11",
                                  "--out", str(train_bank)), env=env)
    ctx.run_measured(ctx.tierwise("train", "--task", "all", "--data", str(train_bank), "--budget-minutes", "0"),
                     env=env)
    ctx.run_measured(ctx.tierwise("recommend", "--data", str(train_bank)), env=env)
    ctx.run_measured(ctx.tierwise("generate", "--clients", score_clients, "--months", "14", "--seed", "12",
                                  "--start", "2024-01", "--out", str(score_bank)), env=env)
    return score_bank, "2025-02"


def score_1m(ctx: BenchContext) -> list[Figure]:
    bank, month = _setup(ctx)
    out = ctx.workdir / "recommendations.parquet"
    seconds, peak = ctx.run_measured(ctx.tierwise("score", "--data", str(bank), "--month", month,
                                                  "--out", str(out), "--no-archive", "--chunk-clients", "50000"), env=_env(ctx))
    archived = _archive_month(ctx, bank, month, out)
    monthly_job = _run_month(ctx, ctx.workdir / "train_bank")
    return [Figure("score_1m_seconds", round(seconds, 1), "s", "< 300"),
            Figure("score_1m_peak_gib", round(peak, 3), "GiB", "< 6"),
            Figure("archive_month_1m_seconds", round(archived, 1), "s"),
            Figure("archive_month_1m_ratio_vs_score", round(archived / seconds, 3), "x"),
            Figure("run_month_20k_seconds", round(monthly_job, 1), "s")]


def _archive_month(ctx: BenchContext, bank: Path, month: str, scored: Path) -> float:
    """Seconds of scoring `month` into an archive holding the 11 months before it."""
    os.environ.update(_env(ctx))
    import datetime as dt

    import pandas as pd

    from tierwise.archive import write_month
    from tierwise.features import add_months

    archive = ctx.workdir / "archive"
    when = dt.date(int(month[:4]), int(month[5:]), 1)
    rows = pd.read_parquet(scored)
    for k in range(1, 12):
        write_month(archive, add_months(when, -k), rows)
    del rows
    seconds, _ = ctx.run_measured(ctx.tierwise("score", "--data", str(bank), "--month", month, "--archive",
                                               str(archive), "--chunk-clients", "50000"), env=_env(ctx))
    return seconds


def _run_month(ctx: BenchContext, bank: Path) -> float:
    """Seconds of `tierwise run-month` of the bank's latest month, the month before archived."""
    import pandas as pd

    from tierwise.features import add_months, month_label

    latest = pd.Timestamp(pd.read_parquet(bank / "monthly.parquet", columns=["month"])["month"].max()).date()
    archive, outputs = ctx.workdir / "monthly_archive", ctx.workdir / "monthly_outputs"
    common = ("--data", str(bank), "--archive", str(archive), "--outputs", str(outputs))
    ctx.run_measured(ctx.tierwise("run-month", "--month", month_label(add_months(latest, -1)), *common), env=_env(ctx))
    seconds, _ = ctx.run_measured(ctx.tierwise("run-month", "--month", month_label(latest), *common), env=_env(ctx))
    return seconds


# --------------------------------------------------------------------------- serving


def _requests(ctx: BenchContext, bank: Path, month: str, n: int) -> tuple[list[bytes], list[bytes]]:
    """Single-client JSON bodies for the recommender and for the plain churn model."""
    os.environ.update(_env(ctx))
    import datetime as dt

    import pandas as pd

    from tierwise.features import read_raw_tables, snapshot_features
    from tierwise.recommender import request_frame
    from tierwise.registry import load_model, load_recommender

    recommender, _, built_with = load_recommender("models:/tierwise-recommender@champion")

    clients, monthly = read_raw_tables(bank)
    ids = clients["client_id"].head(max(n // 4, 50))
    clients, monthly = clients[clients["client_id"].isin(ids)], monthly[monthly["client_id"].isin(ids)]
    when = dt.date(int(month[:4]), int(month[5:]), 1)
    features = snapshot_features(clients, monthly, when, built_with.features)
    rows = request_frame(features, recommender)
    churn = load_model("models:/tierwise-churn@champion")
    plain = features.loc[:, churn.input_columns_].copy()
    for col in plain.columns:
        if isinstance(plain[col].dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(plain[col]):
            plain[col] = plain[col].astype("str")
        else:
            plain[col] = plain[col].astype("float64")
    rec_rows = json.loads(rows.to_json(orient="records"))
    plain_rows = json.loads(plain.to_json(orient="records"))
    pick = [i % len(rec_rows) for i in range(n)]
    return ([json.dumps({"dataframe_records": [rec_rows[i]]}).encode() for i in pick],
            [json.dumps({"dataframe_records": [plain_rows[i]]}).encode() for i in pick])


def _load(port: int, bodies: list[bytes], concurrency: int = 20) -> tuple[int, np.ndarray]:
    """Errors and latencies (ms): `concurrency` threads, each with one keep-alive connection."""
    import http.client
    import threading

    local = threading.local()
    headers = {"Content-Type": "application/json"}

    def one(body: bytes) -> tuple[bool, float]:
        start = time.perf_counter()
        for attempt in (0, 1):  # a connection the server closed is reopened once
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", "/invocations", body, headers)
                response = conn.getresponse()
                response.read()
                return response.status == 200, (time.perf_counter() - start) * 1000
            except (http.client.HTTPException, OSError):
                conn.close()
                local.conn = None
                if attempt:
                    return False, (time.perf_counter() - start) * 1000
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, bodies))
    errors = sum(1 for ok, _ in results if not ok)
    return errors, np.array([ms for _, ms in results])


def _started(model_uri: str, log: Path, *, lean: bool = False, workers: int = 1) -> tuple[subprocess.Popen, int]:
    from tierwise.features import TierwiseError
    from tierwise.serving import start_server, wait_until_ready

    proc, port = start_server(model_uri, log_file=log, lean=lean, workers=workers)
    try:
        wait_until_ready(proc, port, seconds=300, path="/ready" if lean else "/ping")
    except TierwiseError as exc:
        _stop(proc)
        raise RuntimeError(f"{model_uri}: {exc}; see {log}") from None
    return proc, port


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


ABBA = ("rec", "plain", "plain", "rec", "rec", "plain", "plain", "rec")
"""The turns of the two servers (see the module docstring): each gets 4 blocks of n/4."""


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its live descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, frontier = {pid}, {pid}
    while frontier:
        frontier = {p for p, (parent, _) in stats.items() if parent in frontier} - tree
        tree |= frontier
    return sum(stats[p][1] for p in tree if p in stats)


def _served_in_turns(ctx: BenchContext, bodies: dict[str, list[bytes]]) -> dict[str, dict[str, float]]:
    """Per server: errors, latencies (ms), wall seconds and server CPU seconds over its blocks
    of `ABBA`, and the load generator's CPU seconds."""
    uris = {"rec": "models:/tierwise-recommender@champion", "plain": "models:/tierwise-churn@champion"}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for key, uri in uris.items():
            servers[key] = _started(uri, ctx.workdir / f"serve_{key}.log", lean=key == "rec", workers=2)
            _load(servers[key][1], bodies[key][:40])  # warm-up (numba kernels, first imports)
        blocks = {key: np.array_split(np.arange(len(bodies[key])), ABBA.count(key)) for key in uris}
        out = {key: {"errors": 0, "wall": 0.0, "cpu": 0.0, "loadgen_cpu": 0.0, "ms": []} for key in uris}
        for key in ABBA:
            rows = blocks[key][len(out[key]["ms"])]
            proc = servers[key][0]
            cpu0, gen0, wall0 = _tree_cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
            failed, took = _load(servers[key][1], [bodies[key][i] for i in rows])
            out[key]["wall"] += time.perf_counter() - wall0
            out[key]["loadgen_cpu"] += time.process_time() - gen0
            out[key]["cpu"] += _tree_cpu_seconds(proc.pid) - cpu0
            out[key]["errors"] += failed
            out[key]["ms"].append(took)
        for key in uris:
            out[key]["ms"] = np.concatenate(out[key]["ms"])
        return out
    finally:
        for proc, _ in servers.values():
            _stop(proc)


def _setup_serve(ctx: BenchContext) -> tuple[Path, str]:
    """A training bank, the three task models and the recommender (for `serve_lean` alone)."""
    clients = "1500" if ctx.small else "5000"
    env = _env(ctx)
    bank = ctx.workdir / "serve_bank"
    ctx.run_measured(ctx.tierwise("generate", "--clients", clients, "--months", "30", "--seed", "11",
                                  "--out", str(bank)), env=env)
    ctx.run_measured(ctx.tierwise("train", "--task", "all", "--data", str(bank), "--budget-minutes", "0"), env=env)
    ctx.run_measured(ctx.tierwise("recommend", "--data", str(bank)), env=env)
    import pandas as pd

    latest = pd.Timestamp(pd.read_parquet(bank / "monthly.parquet", columns=["month"])["month"].max())
    return bank, f"{latest:%Y-%m}"


def serve_lean(ctx: BenchContext) -> list[Figure]:
    bank, month = _setup_serve(ctx)
    n = 200 if ctx.small else 2000
    rec_bodies, plain_bodies = _requests(ctx, bank, month, n)
    served = _served_in_turns(ctx, {"rec": rec_bodies, "plain": plain_bodies})
    rec, plain = served["rec"], served["plain"]
    p99, plain_p99 = float(np.percentile(rec["ms"], 99)), float(np.percentile(plain["ms"], 99))
    rps, plain_rps = len(rec["ms"]) / rec["wall"], len(plain["ms"]) / plain["wall"]
    answered, plain_answered = len(rec["ms"]) - rec["errors"], len(plain["ms"]) - plain["errors"]
    loadgen = (rec["loadgen_cpu"] + plain["loadgen_cpu"]) / (rec["wall"] + plain["wall"])
    return [Figure("serve_errors", float(rec["errors"]), "requests", "0"),
            Figure("serve_p50_ms", round(float(np.percentile(rec["ms"], 50)), 1), "ms"),
            Figure("serve_p99_ms", round(p99, 1), "ms"),
            Figure("serve_rps", round(rps, 1), "req/s"),
            Figure("serve_cpu_ms_per_client", round(1000 * rec["cpu"] / max(answered, 1), 2), "ms", "<= 2"),
            Figure("serve_plain_errors", float(plain["errors"]), "requests"),
            Figure("serve_plain_p50_ms", round(float(np.percentile(plain["ms"], 50)), 1), "ms"),
            Figure("serve_plain_p99_ms", round(plain_p99, 1), "ms"),
            Figure("serve_plain_rps", round(plain_rps, 1), "req/s"),
            Figure("serve_plain_cpu_ms_per_client", round(1000 * plain["cpu"] / max(plain_answered, 1), 2), "ms"),
            Figure("serve_p99_ratio_vs_plain_mlflow", round(p99 / plain_p99, 3), "ratio", "<= 0.05"),
            Figure("serve_rps_ratio_vs_plain_mlflow", round(rps / plain_rps, 2), "ratio", ">= 20"),
            Figure("serve_loadgen_cpu_share", round(loadgen, 3), "cores")]


BENCHMARKS = [score_1m, serve_lean]
