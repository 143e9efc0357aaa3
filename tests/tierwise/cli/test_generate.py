"""`tierwise generate`: files, determinism, one-line errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tierwise.cli import app
from tierwise.features import TierwiseError

runner = CliRunner()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generate(out, *extra: str):
    return runner.invoke(app, ["generate", "--clients", "120", "--months", "14", "--out", str(out), *extra])


def test_writes_the_tables_with_months_as_dates(tmp_path):
    result = _generate(tmp_path / "bank", "--seed", "2", "--start", "2022-05")
    assert result.exit_code == 0, result.output
    assert "wrote 120 clients" in result.output
    folder = tmp_path / "bank"
    assert {p.name for p in folder.glob("*.parquet")} == {"clients.parquet", "monthly.parquet", "oracle.parquet",
                                                          "relations.parquet", "oracle_groups.parquet"}
    assert str(pq.read_schema(folder / "relations.parquet").field("month").type) == "date32[day]"
    assert str(pq.read_schema(folder / "monthly.parquet").field("month").type) == "date32[day]"
    monthly = pd.read_parquet(folder / "monthly.parquet")
    assert min(monthly["month"]).isoformat() == "2022-05-01"


def test_same_seed_same_files_different_seed_different_files(tmp_path):
    for name, seed in (("a", "9"), ("b", "9"), ("c", "10")):
        assert _generate(tmp_path / name, "--seed", seed).exit_code == 0
    for table in ("clients", "monthly", "oracle"):
        assert _sha(tmp_path / "a" / f"{table}.parquet") == _sha(tmp_path / "b" / f"{table}.parquet")
    assert _sha(tmp_path / "a" / "monthly.parquet") != _sha(tmp_path / "c" / "monthly.parquet")


def test_dirty_writes_the_injected_list(tmp_path):
    assert _generate(tmp_path, "--dirty", "--seed", "1").exit_code == 0
    injected = pd.read_parquet(tmp_path / "_injected.parquet")
    assert {"table", "_row", "client_id", "kind"} == set(injected.columns)
    assert len(injected) > 0


@pytest.mark.parametrize(("args", "message"), [
    (["--clients", "-5"], "--clients must be a positive whole number, got -5"),
    (["--months", "0"], "--months must be a positive whole number, got 0"),
    (["--start", "2024-13"], "--start: '2024-13' is not a month; write it as YYYY-MM, e.g. 2024-03"),
])
def test_bad_flag_values_are_user_errors(tmp_path, args, message):
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), *args])
    assert isinstance(result.exception, TierwiseError)
    assert str(result.exception) == message


def test_negative_clients_fails_with_one_line_from_the_console_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tierwise", "generate", "--clients", "-5", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Warning" not in line
             and "require_minimum" not in line]
    assert lines == ["error: --clients must be a positive whole number, got -5"]


def test_an_out_folder_that_is_a_file_is_one_line_and_the_file_is_kept(tmp_path):
    # write failures go through the one writer: one line naming the path and what to do
    taken = tmp_path / "bank"
    taken.write_text("not a folder")
    proc = subprocess.run([sys.executable, "-m", "tierwise", "generate", "--clients", "50", "--months", "14",
                           "--out", str(taken / "inner")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Warning" not in line
             and "require_minimum" not in line]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot create the folder {taken / 'inner'}: a part of "
                                                   "the path is a file"), lines
    assert "Traceback" not in proc.stderr and taken.read_text() == "not a folder"
