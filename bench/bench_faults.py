"""What checking resumed parts costs (issue 18, item 4): opening the parts folder of a 1M-client
job (20 parts of 50,000 rows; small scale: 4 of 5,000) with every part verified (SHA-256 of its
bytes, Parquet row count) against the old check (the file exists), each as a whole process, side
by side in one run: wall seconds, CPU seconds and the ratio."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from bench_harness import BenchContext, Figure

MAKE = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    from tierwise.scoring._checkpoint import PartStore
    parts, rows = int(sys.argv[2]), int(sys.argv[3])
    store = PartStore(sys.argv[1], {"bench": "resume"})
    rng = np.random.default_rng(7)
    for i in range(parts):
        frame = pd.DataFrame({f"x{k}": rng.random(rows) for k in range(30)})
        frame["client_id"] = [f"C{i:02d}{j:07d}" for j in range(rows)]
        frame["reason"] = rng.choice(["low engagement", "rising utilisation", "salary inflow down"], rows)
        store.write(i, (str(i), str(i + 1)), frame)
""")
VERIFIED = "from tierwise.scoring._checkpoint import PartStore; import sys; PartStore(sys.argv[1], {'bench': 'resume'})"
EXISTS = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import tierwise.scoring._checkpoint  # the same imports as the verified open
    folder = Path(sys.argv[1])
    body = json.loads((folder / "manifest.json").read_text())
    done = [c for c in body["chunks"] if (folder / c["file"]).is_file()]
""")


def _measured(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args[:3]} failed: {proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def resume_verify_1m(ctx: BenchContext) -> list[Figure]:
    parts, rows = ("4", "5000") if ctx.small else ("20", "50000")
    folder = ctx.workdir / "parts"
    _measured([sys.executable, "-c", MAKE, str(folder), parts, rows])
    size = sum(p.stat().st_size for p in folder.glob("part-*.parquet")) / 1024**2
    exists = _measured([sys.executable, "-c", EXISTS, str(folder)])
    verified = _measured([sys.executable, "-c", VERIFIED, str(folder)])
    ctx.notes.append(f"resume_verify: {parts} parts, {size:.0f} MiB")
    return [
        Figure("resume_verify_1m_seconds", round(verified[0], 2), "s"),
        Figure("resume_verify_1m_cpu_seconds", round(verified[1], 2), "s CPU"),
        Figure("resume_exists_only_1m_seconds", round(exists[0], 2), "s"),
        Figure("resume_exists_only_1m_cpu_seconds", round(exists[1], 2), "s CPU"),
        Figure("resume_verify_1m_ratio_vs_exists", round(verified[0] / exists[0], 2), "x"),
        Figure("resume_parts_1m_mib", round(size, 1), "MiB"),
    ]


BENCHMARKS = [resume_verify_1m]
