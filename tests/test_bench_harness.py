"""CI runs the benchmark harness once at small scale so that it cannot rot."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def _harness():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_merge_replaces_same_name_and_scale():
    h = _harness()
    old = [{"name": "a", "scale": "full", "value": 1}, {"name": "a", "scale": "small", "value": 2}]
    new = [{"name": "a", "scale": "full", "value": 3}]
    merged = h.merge(old, new)
    assert {(r["scale"], r["value"]) for r in merged} == {("full", 3), ("small", 2)}


@pytest.mark.slow
def test_small_scale_run_writes_results(tmp_path):
    h = _harness()
    rows = h.run("small", tmp_path)
    assert rows, "no benchmark produced a figure"
    data = json.loads((tmp_path / "results.json").read_text())
    assert {"name", "value", "unit", "scale", "date", "machine"} <= set(data[0])
    assert all(r["scale"] == "small" for r in data)
    assert "| figure |" in (tmp_path / "results.md").read_text()
