"""Shared fixtures: MLflow always points at a temporary store; configs from this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _mlflow_in_tmp(tmp_path, monkeypatch):
    """No test writes to ./mlflow.db: tracking and artifacts live in the test's tmp_path."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(tmp_path / "mlartifacts"))
    monkeypatch.setenv("TIERWISE_CONFIG_DIR", str(CONFIG_DIR))
    yield


@pytest.fixture
def config_dir() -> Path:
    return CONFIG_DIR
