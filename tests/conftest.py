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


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `tierwise ARGS...` in this process as a user would: returns (exit code, stdout, stderr)."""
    import sys

    from tierwise.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tierwise", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
