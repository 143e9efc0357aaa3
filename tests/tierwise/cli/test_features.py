"""`tierwise features` and `tierwise trainset`: files written, one-line errors for bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from tierwise.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "features"))
from feature_bank import make_bank  # noqa: E402 - the feature tests' tiny bank


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    clients, monthly = make_bank(n_clients=12, n_months=30, seed=2)
    folder = tmp_path / "bank"
    folder.mkdir()
    clients.to_parquet(folder / "clients.parquet", index=False)
    monthly.to_parquet(folder / "monthly.parquet", index=False)
    return folder


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["tierwise", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), captured.out, captured.err


def test_features_writes_one_row_per_alive_client(bank_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out" / "features.parquet"
    code, stdout, _ = run(monkeypatch, capsys, "features", "--data", str(bank_dir), "--month", "2023-04", "--out", str(out))
    assert code == 0, stdout
    table = pd.read_parquet(out)
    monthly = pd.read_parquet(bank_dir / "monthly.parquet")
    alive = monthly[monthly["month"] == pd.Timestamp("2023-04-01")]["client_id"].nunique()
    assert len(table) == alive and "assets_total" in table.columns
    assert f"{alive:,} clients" in stdout
    assert not list(out.parent.glob("*.tmp"))


def test_trainset_writes_stacked_snapshots(bank_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "train.parquet"
    code, stdout, _ = run(monkeypatch, capsys, "trainset", "--data", str(bank_dir), "--from", "2022-07",
                          "--to", "2023-04", "--out", str(out))
    assert code == 0, stdout
    table = pd.read_parquet(out)
    assert table["snapshot_month"].nunique() == 10
    assert set(table["split"]) <= {"train", "valid", "test", "unused"} and "unused" in set(table["split"])
    assert (table[table["split"] != "unused"].groupby("client_id")["split"].nunique() == 1).all()
    assert f"unused {(table['split'] == 'unused').sum():,}" in stdout
    assert {"churn_6m", "default_12m", "growth_12m"} <= set(table.columns)


def test_missing_table_is_one_line(bank_dir, tmp_path, monkeypatch, capsys):
    (bank_dir / "monthly.parquet").unlink()
    code, _, err = run(monkeypatch, capsys, "features", "--data", str(bank_dir), "--month", "2023-04",
                       "--out", str(tmp_path / "f.parquet"))
    assert code == 1
    assert "monthly.parquet: file not found" in err and len(err.strip().splitlines()) == 1


def test_month_outside_the_data_is_one_line(bank_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "features", "--data", str(bank_dir), "--month", "2031-01",
                       "--out", str(tmp_path / "f.parquet"))
    assert code == 1
    assert "snapshot month 2031-01 is outside the data: monthly covers 2022-01 to 2024-06" in err
    assert not (tmp_path / "f.parquet").exists()


def test_duplicate_rows_are_one_line(bank_dir, tmp_path, monkeypatch, capsys):
    monthly = pd.read_parquet(bank_dir / "monthly.parquet")
    pd.concat([monthly, monthly.iloc[[40]]]).to_parquet(bank_dir / "monthly.parquet", index=False)
    code, _, err = run(monkeypatch, capsys, "trainset", "--data", str(bank_dir), "--from", "2022-07",
                       "--to", "2023-04", "--out", str(tmp_path / "t.parquet"))
    assert code == 1 and "duplicate client-month" in err


def test_bad_month_flag(bank_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "trainset", "--data", str(bank_dir), "--from", "2023-13",
                       "--to", "2023-04", "--out", str(tmp_path / "t.parquet"))
    assert code == 2 and "'2023-13' is not a month" in err
    code, _, err = run(monkeypatch, capsys, "trainset", "--data", str(bank_dir), "--from", "2023-05",
                       "--to", "2023-04", "--out", str(tmp_path / "t.parquet"))
    assert code == 2 and "is before --from" in err


def test_quarantine_sets_bad_rows_aside_and_continues(bank_dir, tmp_path, monkeypatch, capsys):
    monthly = pd.read_parquet(bank_dir / "monthly.parquet")
    monthly = pd.concat([monthly, monthly.iloc[[40]]], ignore_index=True)  # a duplicated client-month
    monthly["card_spend"] = monthly["card_spend"].astype("str")
    monthly.loc[7, "card_spend"] = "n/a"  # a non-numeric amount
    monthly.to_parquet(bank_dir / "monthly.parquet", index=False)
    out = tmp_path / "f.parquet"
    args = ["features", "--data", str(bank_dir), "--month", "2023-04", "--out", str(out)]
    code, _, err = run(monkeypatch, capsys, *args)
    assert code == 1 and "column 'card_spend' has type str, expected numbers (row 7 holds 'n/a')" in err
    code, stdout, _ = run(monkeypatch, capsys, *args, "--quarantine")
    assert code == 0, stdout
    rejected = pd.read_parquet(bank_dir / "_rejected" / "monthly.parquet")
    assert len(rejected) >= 2 and out.is_file()
