"""`tierwise validate`: report, quarantine folder, exit codes."""

from __future__ import annotations

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


@pytest.fixture
def dirty(tmp_path):
    write_bank(generate_bank(CFG, clients=300, months=8, seed=3), tmp_path, dirty=CFG, seed=3)
    return tmp_path


def test_quarantines_rows_and_exits_zero(dirty):
    result = runner.invoke(app, ["validate", "--data", str(dirty)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "duplicate row" in result.output and "rejected" in result.output
    rejected = pd.read_parquet(dirty / "_rejected" / "monthly.parquet")
    injected = pd.read_parquet(dirty / "_injected.parquet")
    assert set(rejected["_row"]) == set(injected.loc[injected["table"] == "monthly", "_row"])
    assert {"reason", "column", "rule", "value"} <= set(rejected.columns)


def test_clean_data_reports_no_problems(tmp_path):
    write_bank(generate_bank(CFG, clients=50, months=3, seed=1), tmp_path, seed=1)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0
    assert "no problems found" in result.output
    assert not (tmp_path / "_rejected" / "monthly.parquet").exists()


def test_missing_column_is_a_data_error(tmp_path):
    write_bank(generate_bank(CFG, clients=20, months=2, seed=1), tmp_path, seed=1)
    monthly = pd.read_parquet(tmp_path / "monthly.parquet").drop(columns=["days_past_due"])
    monthly.to_parquet(tmp_path / "monthly.parquet")
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == f"{tmp_path / 'monthly.parquet'}: missing column 'days_past_due'"


def test_missing_file_is_a_data_error(tmp_path):
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert "clients.parquet: file not found" in str(result.exception)


def test_nonexistent_folder_fails_with_one_line_and_exit_one():
    proc = subprocess.run([sys.executable, "-m", "tierwise", "validate", "--data", "/nonexistent"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Warning" not in line
             and "require_minimum" not in line]
    assert lines == ["error: /nonexistent: data folder not found"]


def test_csv_input_validates_like_parquet(tmp_path):
    bank = generate_bank(CFG, clients=60, months=4, seed=2)
    bank.clients.to_csv(tmp_path / "clients.csv", index=False)
    monthly = bank.monthly.copy()
    monthly.loc[3, "complaints"] = -1
    monthly.to_csv(tmp_path / "monthly.csv", index=False)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    rejected = pd.read_parquet(tmp_path / "_rejected" / "monthly.parquet")
    assert rejected["_row"].tolist() == [3]
    assert rejected["reason"].iat[0] == "complaints: non-negative (-1)"
