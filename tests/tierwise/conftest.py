"""Fixtures shared by the tierwise tests: one small `tierwise demo` run for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_factory import DemoRun, run_demo

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """`tierwise demo` run once (about two minutes); the end-to-end test and the checks of its
    RM report and monitor against `outputs/recommendations.parquet` all read this run."""
    return run_demo(tmp_path_factory.mktemp("demo"), CONFIG_DIR)
