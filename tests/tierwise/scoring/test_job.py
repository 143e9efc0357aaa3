"""The preparation step both engines share: validate, quarantine with reasons, cut for the month."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tierwise.features import (
    CLIENT_KEY,
    MONTH_KEY,
    ROW_ID,
    DataError,
    check_month_in_range,
    read_raw_tables,
    reference_rules,
)
from tierwise.scoring._job import REJECT_COLUMNS, prepare_month
from tierwise.synthetic import DataConfig, generate_bank, write_bank


@pytest.fixture(scope="module")
def dirty_bank(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    bank = generate_bank(DataConfig(), clients=120, months=8, seed=3, start=dt.date(2024, 1, 1))
    write_bank(bank, root / "bank", dirty=DataConfig(), seed=3)
    clients, monthly = read_raw_tables(root / "bank")
    return clients, monthly


def test_prepared_month_keeps_clients_with_a_row_at_the_month_and_their_history(dirty_bank):
    clients, monthly = dirty_bank
    month = dt.date(2024, 6, 1)
    prepared = prepare_month(clients, monthly, month, sources=("clients.parquet", "monthly.parquet"))
    t = pd.Timestamp(month)
    alive = set(prepared.monthly.loc[prepared.monthly[MONTH_KEY] == t, CLIENT_KEY])
    assert set(prepared.clients[CLIENT_KEY]) == alive and alive
    assert (prepared.monthly[MONTH_KEY] <= t).all()
    assert prepared.clients[CLIENT_KEY].is_monotonic_increasing
    assert ROW_ID not in prepared.clients.columns and ROW_ID not in prepared.monthly.columns
    # the injected bad rows are quarantined with a reason, never silently dropped
    assert len(prepared.rejects) > 0
    assert list(prepared.rejects.columns) == list(REJECT_COLUMNS)
    assert prepared.rejects["reason"].str.len().gt(0).all()


def test_preparing_chunks_equals_preparing_the_whole(dirty_bank):
    clients, monthly = dirty_bank
    month, sources = dt.date(2024, 6, 1), ("c", "m")
    whole = prepare_month(clients, monthly, month, sources=sources)
    ids = sorted(clients[CLIENT_KEY].dropna().unique())
    cut = ids[len(ids) // 2]
    parts = [prepare_month(clients[side(clients[CLIENT_KEY])], monthly[side(monthly[CLIENT_KEY])], month,
                           sources=sources)
             for side in (lambda s: s.fillna("") < cut, lambda s: s.fillna("") >= cut)]
    joined = pd.concat([p.clients for p in parts]).sort_values(CLIENT_KEY, ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole.clients, check_dtype=False)
    assert sum(len(p.monthly) for p in parts) == len(whole.monthly)


def test_scoring_checks_the_branch_list_the_bank_supplies_and_no_other(dirty_bank, tmp_path):
    clients, monthly = dirty_bank
    month, sources = dt.date(2024, 6, 1), ("c", "m")
    unknown = set(clients.loc[clients["branch"] == "ZZ99", CLIENT_KEY])  # the dirty bank's unknown branch
    assert unknown and unknown <= set(prepare_month(clients, monthly, month, sources=sources).clients[CLIENT_KEY])
    listed = clients.loc[clients["branch"] != "ZZ99", ["branch"]].drop_duplicates()
    listed.to_csv(tmp_path / "branches.csv", index=False)
    prepared = prepare_month(clients, monthly, month, sources=sources, rules=reference_rules(tmp_path))
    assert not unknown & set(prepared.clients[CLIENT_KEY])
    assert prepared.rejects["reason"].str.contains("known branch code").any()


def test_a_set_with_no_usable_row_is_quarantined_whole(dirty_bank):
    clients, monthly = dirty_bank
    one = clients[CLIENT_KEY].dropna().iloc[0]
    mine = monthly[monthly[CLIENT_KEY] == one].assign(**{ROW_ID: 0})
    orphan = clients[clients[CLIENT_KEY] == one].assign(**{CLIENT_KEY: "not-a-client-id!!", ROW_ID: 0})
    prepared = prepare_month(orphan, mine, dt.date(2024, 6, 1), sources=("c", "m"))
    assert len(prepared.clients) == 0
    assert len(prepared.rejects) == len(orphan) + len(mine)


def test_month_outside_the_data_names_the_file_and_the_range():
    months = pd.Series(pd.to_datetime(["2024-01-01", "2024-08-01", None]))
    check_month_in_range(dt.date(2024, 8, 1), months, source="monthly.parquet", what="--month")
    with pytest.raises(DataError, match=r"--month 2024-09 is outside the data: monthly.parquet covers "
                                        r"2024-01 to 2024-08"):
        check_month_in_range(dt.date(2024, 9, 1), months, source="monthly.parquet", what="--month")
    with pytest.raises(DataError, match="has no valid month"):
        check_month_in_range(dt.date(2024, 9, 1), pd.Series(pd.to_datetime([None, None])), source="m.csv",
                             what="--month")


# --------------------------------------------------------------------------- the streamed output


def _table(n: int, start: int = 0):
    import numpy as np
    import pyarrow as pa

    ids = np.arange(start, start + n)
    return pa.table({"client_id": pa.array([f"C{i:06d}" for i in ids]), "value": pa.array(ids * 0.5)})


@pytest.mark.parametrize("cuts", [[250], [1, 99, 100, 50], [7] * 35 + [5]])
def test_streamed_parquet_has_the_same_bytes_however_the_rows_come(tmp_path, cuts):
    import pyarrow.parquet as pq

    from tierwise.scoring._job import parquet_stream

    whole = tmp_path / "whole.parquet"
    with parquet_stream(whole, rows=100) as add:
        add(_table(250))
    cut = tmp_path / "cut.parquet"
    with parquet_stream(cut, rows=100) as add:
        start = 0
        for n in cuts:
            add(_table(n, start))
            start += n
    assert cut.read_bytes() == whole.read_bytes()
    meta = pq.ParquetFile(cut).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 50]
    assert pq.read_table(cut).equals(_table(250))


def test_streamed_parquet_is_written_whole_or_not_at_all(tmp_path):
    from tierwise.scoring._job import parquet_stream

    target = tmp_path / "out.parquet"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="killed"), parquet_stream(target, rows=10) as add:
        add(_table(25))
        raise RuntimeError("killed halfway")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]  # no temporary file left
