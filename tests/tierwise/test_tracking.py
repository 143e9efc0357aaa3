from __future__ import annotations

import pytest

from tierwise import tracking


def test_default_store_is_sqlite_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("MLFLOW_ARTIFACTS_DESTINATION")
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking.artifact_location() == (tmp_path / "mlartifacts").as_uri()


def test_environment_overrides_the_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"
    assert tracking.artifact_location() is None  # the server decides


def test_unreachable_server_is_one_line(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(tracking.TrackingError, match=r"^MLflow tracking URI http://127.0.0.1:9 is unreachable: ") as exc:
        tracking.connect()
    assert "\n" not in str(exc.value)


def test_sqlite_store_in_a_missing_folder_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}")
    with pytest.raises(tracking.TrackingError, match=r"folder .*nowhere does not exist"):
        tracking.connect()
