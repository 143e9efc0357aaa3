"""`--dirty` and validation together: every injected row is rejected, no clean row is."""

from __future__ import annotations

import pandas as pd
import pytest

from tierwise.features import ContractRules, read_raw_tables, validate_tables
from tierwise.synthetic import DataConfig, OracleConfig, generate_bank, write_bank

CFG = DataConfig(oracle=OracleConfig(pairs=50, snapshots=1))


@pytest.fixture(scope="module")
def dirty_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    bank = generate_bank(CFG, clients=800, months=14, seed=3)
    write_bank(bank, out, dirty=CFG, seed=3)
    return out


def test_every_injected_row_rejected_and_no_clean_row(dirty_folder):
    clients, monthly = read_raw_tables(dirty_folder)
    injected = pd.read_parquet(dirty_folder / "_injected.parquet")
    report = validate_tables(clients, monthly, rules=ContractRules(branches=frozenset(CFG.branch_codes())))
    assert set(injected["kind"]) == {
        "negative_balance", "duplicate_row", "month_not_first_day", "month_before_onboarding",
        "non_numeric_amount", "unknown_branch", "client_rejected", "client_missing"}
    for table, rejected in (("clients", report.rejected_clients), ("monthly", report.rejected_monthly)):
        expected = set(injected.loc[injected["table"] == table, "_row"])
        assert set(rejected["_row"]) == expected, table
        assert rejected["reason"].str.len().gt(0).all()
        assert report.rows_in[table] == report.rows_kept[table] + report.rows_rejected[table]


def test_non_numeric_amounts_turn_the_column_to_text(dirty_folder):
    monthly = pd.read_parquet(dirty_folder / "monthly.parquet")
    assert pd.api.types.is_string_dtype(monthly["mobile_txn_amount"])


def test_clean_bank_has_no_injected_file_and_nothing_rejected(tmp_path):
    bank = generate_bank(CFG, clients=200, months=6, seed=1)
    (tmp_path / "_injected.parquet").write_text("stale")
    write_bank(bank, tmp_path, seed=1)
    assert not (tmp_path / "_injected.parquet").exists()
    report = validate_tables(*read_raw_tables(tmp_path), rules=ContractRules(branches=frozenset(CFG.branch_codes())))
    assert sum(report.rows_rejected.values()) == 0
