"""`tierwise profile`: the printed profile, the JSON file, one-line errors on a bad folder."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.cli import app
from tierwise.features import DataError
from tierwise.synthetic import DataConfig, OracleConfig, generate_bank, write_bank

runner = CliRunner()
CFG = DataConfig(oracle=OracleConfig(pairs=20, snapshots=1))
EMPTY = ["deposit_time", "wealth_balance", "fund_balance", "insurance_balance", "mobile_logins", "complaints"]


@pytest.fixture(scope="module")
def short_bank(tmp_path_factory):
    """21 months, no closures recorded, several product columns filled with zeros, as CSV."""
    folder = tmp_path_factory.mktemp("short")
    bank = generate_bank(CFG, clients=300, months=21, seed=4, start=dt.date(2023, 1, 1))
    write_bank(bank, folder, seed=4)
    monthly = pd.read_parquet(folder / "monthly.parquet")
    monthly[EMPTY] = 0
    monthly["relationship_closed"] = False
    monthly.to_csv(folder / "monthly.csv", index=False)
    (folder / "monthly.parquet").unlink()
    return folder


def test_profile_prints_empty_columns_and_why_nothing_trains(short_bank, tmp_path):
    out = tmp_path / "profile.json"
    result = runner.invoke(app, ["profile", "--data", str(short_bank), "--out", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "300 clients" in result.output and "21 months of history" in result.output
    for column in EMPTY:
        assert column in result.output
    assert "25 months in all, and the data has 21" in result.output
    assert "windows 1, 3, 6, 12 (13 months up to a snapshot), label horizons churn 6, default 12, growth 12" in result.output
    assert "tasks that can be trained: none" in result.output
    data = json.loads(out.read_text())
    statuses = {c["column"]: c["status"] for c in data["columns"] if c["table"] == "monthly"}
    assert statuses["relationship_closed"] == "empty" and statuses["deposit_current"] == "ok"
    assert data["history_months"] == 21 and data["snapshot_months"] == []
    assert {t["task"] for t in data["tasks"]} == {"churn", "default", "growth"}
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write leaves no temporary file


def test_shorter_windows_and_horizons_make_tasks_trainable(short_bank, tmp_path):
    from tierwise.config import default_config_dir

    configs = tmp_path / "configs"  # features.yaml alone: the profile reads nothing else
    configs.mkdir()
    text = (default_config_dir() / "features.yaml").read_text()
    text = text.replace("windows: [1, 3, 6, 12]", "windows: [1, 3, 6]")
    text = text.replace("horizon_months: 12", "horizon_months: 6")
    (configs / "features.yaml").write_text(text)
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["profile", "--data", str(short_bank), "--config-dir", str(configs),
                                 "--out", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert len(data["snapshot_months"]) == 21 - 7 - 6 + 1
    growth = next(t for t in data["tasks"] if t["task"] == "growth")
    assert growth["trainable"], growth


def test_missing_file_is_a_data_error(tmp_path):
    result = runner.invoke(app, ["profile", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert "clients.parquet: file not found" in str(result.exception)


def test_bad_folder_is_one_line_and_exit_one(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tierwise", "profile", "--data", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "data folder not found" in lines[0]
