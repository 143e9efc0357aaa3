"""Reading the bank's raw tables for the reports: the rows that pass the data contract."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tierwise.features import FeatureConfig, build_labels, read_raw_tables, validate_tables
from tierwise.reports import read_bank
from tierwise.synthetic import DataConfig, generate_bank, write_bank


def _dirty_bank(tmp_path):
    bank = generate_bank(DataConfig(), clients=120, months=8, seed=3, start=dt.date(2024, 1, 1))
    write_bank(bank, tmp_path, dirty=DataConfig(), seed=3)
    return tmp_path


def test_read_bank_leaves_out_the_rows_scoring_quarantines(tmp_path):
    folder = _dirty_bank(tmp_path)
    raw_clients, raw_monthly = read_raw_tables(folder)
    report = validate_tables(raw_clients, raw_monthly)
    assert report.rows_rejected["monthly"] > 0  # the dirty bank holds text in amount columns
    clients, monthly = read_bank(folder)
    assert len(clients) == report.rows_kept["clients"] and len(monthly) == report.rows_kept["monthly"]
    assert pd.api.types.is_float_dtype(monthly["mobile_txn_amount"])
    assert monthly["client_id"].map(type).eq(str).all()
    assert (monthly["month"] == monthly["month"].dt.to_period("M").dt.to_timestamp()).all()
    # the realised labels of the monitor can be built on what the reports read
    labels = build_labels(monthly, dt.date(2024, 3, 1), FeatureConfig())
    assert set(labels["client_id"]) <= set(clients["client_id"]) and len(labels) > 0


def test_read_bank_without_a_data_folder_is_none():
    assert read_bank(None) == (None, None)
