"""Fixtures shared by the tierwise tests: one small `tierwise demo` run for the whole session;
a seeded tiny bank (with injected bad rows) and a registered tiny recommender, built once per
module in their own MLflow store (scoring, the monthly job)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import recommender_factory as factory
from demo_factory import DemoRun, run_demo

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """`tierwise demo` run once (about two minutes); the end-to-end test and the checks of its
    RM pages and monitor against the client archive (`outputs/archive/`) all read this run."""
    return run_demo(tmp_path_factory.mktemp("demo"), CONFIG_DIR)


@pytest.fixture(scope="module")
def scoring_world(tmp_path_factory):
    """(bank folder, month, MLflow URI, model URI): a dirty 300-client bank and its recommender."""
    from tierwise.synthetic import DataConfig, generate_bank, write_bank

    root = tmp_path_factory.mktemp("scoring")
    bank = generate_bank(DataConfig(), clients=300, months=16, seed=5, start=dt.date(2023, 1, 1))
    write_bank(bank, root / "bank", dirty=DataConfig(), seed=5)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with factory.in_store(uri, str(root / "mlartifacts")):
        model = factory.register_tiny_recommender(root / "bank")
    month = factory.latest_month(root / "bank")
    return {"bank": root / "bank", "month": month, "tracking": uri,
            "artifacts": str(root / "mlartifacts"), "model": model}


@pytest.fixture
def world(scoring_world, monkeypatch):
    """`scoring_world` with MLflow pointed at its store for this test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", scoring_world["tracking"])
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", scoring_world["artifacts"])
    return scoring_world
