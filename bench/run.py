"""Benchmark harness: `make bench` (or `BENCH_SCALE=small make bench`).

Runs every `bench/bench_*.py` module's `BENCHMARKS` (functions taking a `BenchContext` and
returning a list of `Figure`), then writes:

- `bench/results.json`: a list of `{"name", "value", "unit", "scale", "date", "machine"}`,
  merged with earlier results (an entry is replaced by a new one of the same name and scale);
- `bench/results.md`: the same as a Markdown table, also copied into README.md between the
  `<!-- bench:start -->` and `<!-- bench:end -->` markers.

Figure names are stable across versions so that results can be compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tierwise.features import write_text_atomic

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
logger = logging.getLogger("bench")


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # what the issue asks for, e.g. "< 60"; shown in the table


@dataclass
class BenchContext:
    scale: str  # "full" or "small"
    workdir: Path
    python: str = sys.executable
    notes: list[str] = field(default_factory=list)
    last_cpu_seconds: float = 0.0  # user + system CPU of the last `run_measured` process

    @property
    def small(self) -> bool:
        return self.scale == "small"

    def run_measured(self, args: Sequence[str], *, env: dict[str, str] | None = None,
                     cwd: Path | None = None) -> tuple[float, float]:
        """Run a command; return (wall seconds, peak resident memory in GiB of that process)."""
        full_env = {**os.environ, **(env or {})}
        with tempfile.TemporaryFile() as log:
            start = time.perf_counter()
            proc = subprocess.Popen(list(args), env=full_env, cwd=cwd or self.workdir,
                                    stdout=log, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-4000:]
                raise RuntimeError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{tail}")
        self.last_cpu_seconds = usage.ru_utime + usage.ru_stime
        return seconds, usage.ru_maxrss / 1024 / 1024

    def tierwise(self, *args: str) -> list[str]:
        return [self.python, "-m", "tierwise", *args]


def machine() -> str:
    mem = psutil.virtual_memory().total / 1024**3
    return f"{os.cpu_count()} cores, {mem:.0f} GiB"


def discover(only: str | None) -> list[Callable[[BenchContext], list[Figure]]]:
    # benchmark modules do `from bench_harness import BenchContext, Figure`
    sys.modules["bench_harness"] = sys.modules[Figure.__module__]
    found = []
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(f"bench.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for fn in getattr(module, "BENCHMARKS", []):
            if only is None or only in fn.__name__ or only in path.stem:
                found.append(fn)
    return found


def merge(existing: list[dict], new: list[dict]) -> list[dict]:
    keys = {(r["name"], r["scale"]) for r in new}
    kept = [r for r in existing if (r["name"], r["scale"]) not in keys]
    return sorted(kept + new, key=lambda r: (r["scale"] != "full", r["name"]))


def to_markdown(rows: list[dict]) -> str:
    lines = [
        "| figure | value | unit | target | scale | machine | date |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = r["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| `{r['name']}` | {shown} | {r['unit']} | {r.get('target', '')} | "
                     f"{r['scale']} | {r['machine']} | {r['date']} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> None:
    if not readme.is_file():
        return
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text_atomic(readme, f"{head}{start}\n{table}{end}{tail}")


def run(scale: str, out_dir: Path, only: str | None = None, readme: Path | None = None) -> list[dict]:
    benchmarks = discover(only)
    today = dt.date.today().isoformat()
    where = machine()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tierwise-bench-") as tmp:
        for fn in benchmarks:
            logger.info("running %s (%s)", fn.__name__, scale)
            ctx = BenchContext(scale=scale, workdir=Path(tmp) / fn.__name__)
            ctx.workdir.mkdir(parents=True)
            for fig in fn(ctx):
                row = asdict(fig) | {"scale": scale, "date": today, "machine": where}
                rows.append(row)
                logger.info("  %s = %.6g %s", fig.name, fig.value, fig.unit)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_json = out_dir / "results.json"
    existing = json.loads(results_json.read_text()) if results_json.is_file() else []
    merged = merge(existing, rows)
    write_text_atomic(results_json, json.dumps(merged, indent=2) + "\n")
    table = to_markdown(merged)
    write_text_atomic(out_dir / "results.md", "# Benchmark results\n\nWritten by `make bench`.\n\n" + table)
    if readme is not None:
        update_readme(readme, to_markdown([r for r in merged if r["scale"] == "full"]))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default=os.environ.get("BENCH_SCALE", "full"), choices=["full", "small"])
    parser.add_argument("--only", default=None, help="run only benchmarks whose name contains this")
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    readme = REPO / "README.md" if args.out.resolve() == BENCH_DIR else None
    run(args.scale, args.out, args.only, readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
