"""The client archive: month partitions replaced atomically, identical reruns, readers that need
nothing of tierwise (pandas, pyarrow, DuckDB), the tier memory read from the months before."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

from tierwise import archive
from tierwise.features import DataError, OutputError

JAN, FEB, MAR, APR = (dt.date(2025, m, 1) for m in (1, 2, 3, 4))


def month_rows(month: dt.date, n: int = 5, *, tier: str = "Excellence", pd_default: float = 0.01) -> pd.DataFrame:
    ids = [f"C{i:03d}" for i in range(n)]
    return pd.DataFrame({
        "client_id": ids[::-1],  # written sorted whatever the order given
        "month": pd.Timestamp(month),
        "segment": "retail",
        "rm_id": ["RM1", None, "RM2", "RM1", "RM2"][:n],
        "tier": tier,
        "p_churn": np.linspace(0.1, 0.5, n),
        "p_default": pd_default,
        "flag_exit_review": [True] + [False] * (n - 1),
        "exit_review_status": ["opened"] + [None] * (n - 1),
        "exit_review_since": [pd.Timestamp(month)] + [pd.NaT] * (n - 1),
        "exit_review_months": [1] + [0] * (n - 1),
        "model_version": "3",
    })


def test_a_month_round_trips_and_other_months_are_untouched(tmp_path):
    folder = tmp_path / "archive"
    first = archive.write_month(folder, JAN, month_rows(JAN))
    jan_bytes = first.read_bytes()
    archive.write_month(folder, FEB, month_rows(FEB, tier="Premier"))
    archive.write_month(folder, FEB, month_rows(FEB, tier="Potential"))  # replaced, not appended
    assert first.read_bytes() == jan_bytes
    assert archive.archived_months(folder) == [JAN, FEB]
    got = archive.read_archive(folder)
    assert list(got.columns) == list(archive.SCORED_COLUMNS)
    assert got["month"].dtype == "datetime64[ns]" and len(got) == 10
    assert got.loc[got["month"] == pd.Timestamp(FEB), "tier"].eq("Potential").all()
    assert got.loc[got["month"] == pd.Timestamp(JAN), "client_id"].tolist() == sorted(f"C{i:03d}" for i in range(5))
    first_row = got[(got["client_id"] == "C004") & (got["month"] == pd.Timestamp(JAN))].iloc[0]
    assert first_row["exit_review_status"] == "opened" and first_row["exit_review_since"] == pd.Timestamp(JAN)
    assert pd.isna(got["tier_prev"]).all()  # columns a frame lacks are null
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]  # no temporary file left


def test_rewriting_a_month_gives_the_same_bytes(tmp_path):
    folder = tmp_path / "archive"
    path = archive.write_month(folder, JAN, month_rows(JAN))
    before = path.read_bytes()
    archive.write_month(folder, JAN, month_rows(JAN).sample(frac=1.0, random_state=3))
    assert path.read_bytes() == before


def test_a_failed_write_leaves_the_old_partition(tmp_path, monkeypatch):
    folder = tmp_path / "archive"
    path = archive.write_month(folder, JAN, month_rows(JAN))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(archive.pq, "write_table", broken)
    with pytest.raises(OutputError, match=r"cannot write .*part-0.parquet: disk full \(part-0.parquet as it was is kept\)"):
        archive.write_month(folder, JAN, month_rows(JAN, tier="General"))  # one line, not a traceback
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [archive.PART_FILE]


def test_duplicate_clients_are_refused(tmp_path):
    rows = pd.concat([month_rows(JAN), month_rows(JAN).head(1)], ignore_index=True)
    with pytest.raises(DataError, match="client_id is not unique"):
        archive.write_month(tmp_path / "archive", JAN, rows)
    assert archive.archived_months(tmp_path / "archive") == []


def test_pandas_pyarrow_and_duckdb_read_it_as_it_is(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    folder = tmp_path / "archive"
    for month in (JAN, FEB, MAR):
        archive.write_month(folder, month, month_rows(month))
    plain = pd.read_parquet(folder)
    assert len(plain) == 15 and sorted(plain["month"].astype(str).unique()) == ["2025-01-01", "2025-02-01",
                                                                                  "2025-03-01"]
    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    assert dataset.count_rows() == 15
    con = duckdb.connect()
    rows = con.execute(f"SELECT month, count(*), sum(CASE WHEN exit_review_status = 'opened' THEN 1 ELSE 0 END) "
                       f"FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true) "
                       "GROUP BY month ORDER BY month").fetchall()
    assert [(str(m), n, k) for m, n, k in rows] == [("2025-01-01", 5, 1), ("2025-02-01", 5, 1), ("2025-03-01", 5, 1)]


def test_reading_a_month_that_is_not_archived_names_the_archived_ones(tmp_path):
    folder = tmp_path / "archive"
    archive.write_month(folder, JAN, month_rows(JAN))
    with pytest.raises(DataError, match=r"month 2025-03 is not archived; archived months: 2025-01"):
        archive.read_archive(folder, months=[MAR])
    with pytest.raises(DataError, match="no archive column 'salary'"):
        archive.read_archive(folder, columns=["salary"])
    with pytest.raises(DataError, match="no archived month"):
        archive.check_archive(tmp_path / "empty")
    picked = archive.read_archive(folder, columns=["tier"], clients=["C001", "C999"])
    assert picked.columns.tolist() == ["client_id", "month", "tier"] and picked["client_id"].tolist() == ["C001"]


def test_a_broken_partition_is_a_one_line_error(tmp_path):
    folder = tmp_path / "archive"
    path = archive.write_month(folder, JAN, month_rows(JAN))
    path.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot be read as an archive partition"):
        archive.read_archive(folder)


def test_prior_state_remembers_the_last_tier_and_the_lowest_pd_of_the_window(tmp_path, caplog):
    folder = tmp_path / "archive"
    archive.write_month(folder, dt.date(2024, 10, 1), month_rows(dt.date(2024, 10, 1), tier="General", pd_default=0.001))
    archive.write_month(folder, JAN, month_rows(JAN, tier="Premier", pd_default=0.02))
    archive.write_month(folder, FEB, month_rows(FEB, n=3, tier="Excellence", pd_default=0.03))
    archive.write_month(folder, APR, month_rows(APR, tier="General", pd_default=0.5))  # after: never read
    state = archive.prior_state(folder, MAR, trend_months=3).set_index("client_id")
    assert sorted(state.index) == [f"C{i:03d}" for i in range(5)]  # October is outside the window
    assert state.loc["C000", "tier_prev"] == "Excellence" and state.loc["C004", "tier_prev"] == "Premier"
    assert state.loc["C000", "p_default_prev"] == pytest.approx(0.02)  # lowest of January and February
    assert state.loc["C002", "exit_review_status"] == "opened" and pd.isna(state.loc["C000", "exit_review_status"])
    # a month with no archived previous month says where its memory came from
    with caplog.at_level(logging.WARNING, logger="tierwise.archive"):
        later = archive.prior_state(folder, dt.date(2025, 5, 1), trend_months=3)
    assert later["tier_prev"].eq("General").all()
    assert archive.prior_state(folder, JAN, trend_months=2).empty  # only October, outside
    assert archive.prior_state(None, JAN, trend_months=3).empty
    assert archive.memory_months(folder, MAR, trend_months=3) == [JAN, FEB]


def test_a_month_without_any_review_keeps_its_dates_empty(tmp_path):
    rows = month_rows(JAN).assign(exit_review_since=pd.NaT, exit_review_status=None)
    archive.write_month(tmp_path / "archive", JAN, rows)
    got = archive.read_archive(tmp_path / "archive")
    assert got["exit_review_since"].isna().all() and got["exit_review_since"].dtype == "datetime64[ns]"
