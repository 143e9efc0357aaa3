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


def _own_bank(folder, *, clients=40, months=3, seed=4):
    """A bank of its own: not written by `tierwise generate` (no manifest), branch codes its own."""
    write_bank(generate_bank(CFG, clients=clients, months=months, seed=seed), folder, seed=seed)
    (folder / "_generated.json").unlink()
    table = pd.read_parquet(folder / "clients.parquet")
    table["branch"] = "HQ" + table["branch"].str[-2:]
    table.to_parquet(folder / "clients.parquet")
    return table


def test_a_bank_without_a_branch_list_keeps_every_branch_code(tmp_path):
    _own_bank(tmp_path)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_a_generated_bank_with_its_own_branch_codes_and_no_defects_keeps_them(tmp_path):
    """As `generate --profile warehouse` writes it: a manifest, the bank's codes, no branch list."""
    write_bank(generate_bank(CFG, clients=30, months=2, seed=5), tmp_path, seed=5)
    clients = pd.read_parquet(tmp_path / "clients.parquet")
    clients.assign(branch="0" + clients["branch"].str[-3:]).to_parquet(tmp_path / "clients.parquet")
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output
    checked = runner.invoke(app, ["validate", "--data", str(tmp_path), "--check-branches"])
    assert "known branch code" in str(checked.exception)


def test_a_branch_list_the_bank_supplies_is_checked_with_its_regions(tmp_path):
    clients = _own_bank(tmp_path)
    listed = clients.iloc[:3]
    listed[["branch", "region"]].to_csv(tmp_path / "branches.csv", index=False)
    unlisted = ~clients["branch"].isin(listed["branch"]) | ~clients["region"].isin(listed["region"])
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    rejected = pd.read_parquet(tmp_path / "_rejected" / "clients.parquet")
    assert set(rejected["client_id"]) == set(clients.loc[unlisted, "client_id"]) != set()
    assert rejected["rule"].isin(["known branch code", "known region"]).all()
    again = runner.invoke(app, ["validate", "--data", str(tmp_path), "--any-branch"], terminal_width=200)
    assert "known branch code" not in again.output


def test_any_branch_keeps_the_synthetic_banks_unknown_branch_codes(dirty):
    result = runner.invoke(app, ["validate", "--data", str(dirty), "--any-branch"], terminal_width=200)
    assert result.exit_code == 0, result.output
    injected = pd.read_parquet(dirty / "_injected.parquet")
    unknown_branch = set(injected.loc[injected["kind"] == "unknown_branch", "_row"])
    assert unknown_branch
    path = dirty / "_rejected" / "clients.parquet"
    assert not path.exists() or not set(pd.read_parquet(path)["_row"]) & unknown_branch
    runner.invoke(app, ["validate", "--data", str(dirty)], terminal_width=200)  # built-in bank: its list
    assert set(pd.read_parquet(path)["_row"]) >= unknown_branch


def test_every_client_rejected_is_one_line_not_a_traceback(tmp_path):
    """Issue 16, symptom 1: every client rejected for its branch code crashed with a TypeError."""
    _own_bank(tmp_path, clients=20)
    pd.DataFrame({"branch": ["EA01"]}).to_csv(tmp_path / "branches.csv", index=False)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError), result.output
    assert str(result.exception) == (f"{tmp_path / 'clients.parquet'}: no usable rows (20 rejected); "
                                     "most common problem: branch: known branch code")


def test_a_branch_list_without_its_column_is_a_data_error(tmp_path):
    _own_bank(tmp_path, clients=10)
    pd.DataFrame({"code": ["EA01"]}).to_csv(tmp_path / "branches.csv", index=False)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == (f"{tmp_path / 'branches.csv'}: missing column 'branch' "
                                     "(a reference list of branches needs it)")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "cannot be read: No columns to parse from file"),
    (b'client_id,month\n\xff\xfe,1,2,3\n"open', "cannot be read: Error tokenizing data"),
    ("client_id\n\u00e9\n".encode("latin-1"), "cannot be read: 'utf-8' codec can't decode"),
])
def test_an_unreadable_csv_is_one_line(tmp_path, content, message):
    write_bank(generate_bank(CFG, clients=5, months=2, seed=1), tmp_path, seed=1)
    (tmp_path / "monthly.parquet").unlink()
    (tmp_path / "monthly.csv").write_bytes(content)
    result = runner.invoke(app, ["validate", "--data", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert str(result.exception).startswith(f"{tmp_path / 'monthly.csv'}: {message}")
    assert "\n" not in str(result.exception)
