"""A month's relations rows (`read_relations(..., month=)`, `month_rows`): read with pyarrow and
filtered before pandas, checked with the same rules, the same groups as the whole table's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.features import (
    RELATION_COLUMNS,
    DataError,
    check_relations,
    flows_of,
    groups_of_month,
    links_as_of,
    read_relations,
)
from tierwise.features._io import read_file
from tierwise.features._relations import month_rows

NAMES = [c.name for c in RELATION_COLUMNS]
MONTHS = pd.date_range("2024-01-01", periods=8, freq="MS")
CLIENTS = pd.Series([f"C{i:03d}" for i in range(60)])


def _bank(seed: int = 7, rows: int = 3000) -> pd.DataFrame:
    """Links and flows over eight months, with re-reported links, duplicates and bad rows."""
    rng = np.random.default_rng(seed)
    kinds = np.array(["control", "guarantee", "supplier", "customer", " Supplier ", "CONTROL"])
    firms = np.concatenate([CLIENTS.to_numpy(), [f"X{i}" for i in range(20)]])
    frame = pd.DataFrame({
        "client_id": rng.choice(CLIENTS.to_numpy(), rows),
        "counterparty_id": rng.choice(firms, rows),
        "kind": rng.choice(kinds, rows, p=[0.1, 0.05, 0.4, 0.4, 0.03, 0.02]),
        "share": np.where(rng.random(rows) < 0.5, rng.random(rows), np.nan),
        "amount": rng.integers(0, 5000, rows).astype(float),
        "month": [d.date() for d in MONTHS[rng.integers(0, len(MONTHS), rows)]],
    })
    frame.loc[rng.random(rows) < 0.02, "amount"] = -1.0
    return pd.concat([frame, frame.sample(80, random_state=seed)], ignore_index=True)  # duplicates


def _write(frame: pd.DataFrame, path, row_group_size: int = 500) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size)


def test_a_months_groups_and_links_are_the_whole_tables(tmp_path):
    bank = _bank()
    _write(bank, tmp_path / "relations.parquet")
    whole = read_relations(tmp_path, CLIENTS)
    ids = CLIENTS.astype("str")
    for month in MONTHS:
        part = read_relations(tmp_path, CLIENTS, month=month)
        assert 0 < part.rows_in < whole.rows_in
        pd.testing.assert_series_equal(groups_of_month(ids, part.kept, month), groups_of_month(ids, whole.kept, month))
        pd.testing.assert_frame_equal(links_as_of(part.kept, month), links_as_of(whole.kept, month))
        pd.testing.assert_frame_equal(flows_of(part.kept, month), flows_of(whole.kept, month))
        # the month's rejects are the whole table's rejects of rows the month reads, same reasons
        read = set(month_rows(tmp_path / "relations.parquet", month)[1])
        mine = whole.rejected[whole.rejected["_row"].isin(read)].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.rejected, mine)
    assert len(groups_of_month(ids, whole.kept, MONTHS[-1]).unique()) < len(ids), "the bank has groups"


def test_the_rows_read_are_the_files_rows_at_their_positions(tmp_path):
    bank = _bank(seed=3)
    _write(bank, tmp_path / "relations.parquet", row_group_size=300)
    month = MONTHS[3]
    rows, positions = month_rows(tmp_path / "relations.parquet", month)
    whole = read_file(tmp_path / "relations.parquet")
    pd.testing.assert_frame_equal(rows, whole.iloc[positions].reset_index(drop=True))
    kind = whole["kind"].str.strip().str.lower()
    month_of = pd.to_datetime(whole["month"])
    expected = (kind.isin(["control", "guarantee"]) & (month_of <= month)) | \
        (kind.isin(["supplier", "customer"]) & (month_of == month))
    assert positions.tolist() == np.flatnonzero(expected.to_numpy()).tolist()


GOOD = [
    ("C001", "C002", "control", 0.8, None, "2024-01-01"),
    ("C002", "X1", "supplier", None, 100.0, "2024-03-01"),
    ("C003", "C001", "customer", None, 50.0, "2024-02-01"),
]
BAD_OF_MONTH = [
    ("C001", "C003", "supplier", None, -5.0, "2024-03-01"),  # 3: a negative amount
    ("C002", "C003", "control", 1.5, None, "2024-02-01"),  # 4: a link of an earlier month, share > 1
    ("C002", "X2", "customer", None, 9.0, "2024-03-15"),  # 5: a flow of the month, not its first day
    ("C001", "X3", "owns", None, 1.0, "2024-07-01"),  # 6: an unknown kind, of a later month
    ("C001", "X4", "supplier", None, 1.0, "March"),  # 7: a month that cannot be read
    ("C001", "X5", "control", None, None, None),  # 8: no month
    ("C001", "X6", None, None, 1.0, "2024-09-01"),  # 9: no kind
]
BAD_OF_OTHER_MONTHS = [
    ("C001", "C003", "supplier", None, -5.0, "2024-02-01"),  # 10: a flow of an earlier month
    ("C009", "C001", "control", 0.6, None, "2024-04-01"),  # 11: a link of a later month, client unknown
    ("C002", "X1", "customer", None, None, "2024-05-01"),  # 12: a later flow without an amount
]


def _reasons(report) -> dict[int, str]:
    return dict(zip(report.rejected["_row"], report.rejected["reason"], strict=True))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_bad_rows_of_the_month_are_rejected_others_only_by_the_whole_table_check(tmp_path, suffix):
    frame = pd.DataFrame([*GOOD, *BAD_OF_MONTH, *BAD_OF_OTHER_MONTHS], columns=NAMES)
    if suffix == ".csv":
        frame.to_csv(tmp_path / "relations.csv", index=False)
    else:
        _write(frame.assign(month=frame["month"].astype("str").where(frame["month"].notna())),
               tmp_path / "relations.parquet", row_group_size=4)
    clients = pd.Series(["C001", "C002", "C003"])
    march = read_relations(tmp_path, clients, month=pd.Timestamp("2024-03-01"))
    reasons = _reasons(march)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "amount: non-negative (-5.0)" in reasons[3] and "share: share in 0..1 (1.5)" in reasons[4]
    assert "month: first day of month" in reasons[5] and "kind: known kind (owns)" in reasons[6]
    assert "month: not a date (March)" in reasons[7] and "month: not null" in reasons[8]
    assert "kind: not empty" in reasons[9]
    assert march.kept["_row"].tolist() == [0, 1], "February's flow (row 2) is not March's"
    whole = _reasons(read_relations(tmp_path, clients))
    assert sorted(whole) == [*range(3, 13)], "the whole-table check still rejects the other months' rows"
    assert "client_id: client not in clients" in whole[11] and "flow needs an amount" in whole[12]
    # an unknown kind or an unreadable month is every month's business
    january = _reasons(read_relations(tmp_path, clients, month=pd.Timestamp("2024-01-01")))
    assert sorted(january) == [6, 7, 8, 9]


def test_a_date_column_of_the_month_and_out_of_range_dates(tmp_path):
    rows = [*GOOD, ("C001", "X7", "control", None, None, "3000-01-01"), ("C002", "X8", "control", None, None,
                                                                        "2030-01-01")]
    frame = pd.DataFrame(rows, columns=NAMES)
    table = pa.Table.from_pandas(frame.drop(columns="month"), preserve_index=False).append_column(
        "month", pa.array([pd.Timestamp(m).date() for m in frame["month"]], pa.date32()))
    pq.write_table(table, tmp_path / "relations.parquet")
    report = read_relations(tmp_path, month=pd.Timestamp("2024-03-01"))
    assert _reasons(report) == {3: "month: not a date (3000-01-01)"}, "year 3000 is no month datetime64 holds"
    assert report.kept["_row"].tolist() == [0, 1]
    assert check_relations(read_file(tmp_path / "relations.parquet")).rejected["_row"].tolist() == [3]


def test_a_file_without_a_month_column_is_the_same_error(tmp_path):
    pd.DataFrame(GOOD, columns=NAMES).drop(columns="month").to_parquet(tmp_path / "relations.parquet")
    with pytest.raises(DataError, match=r"relations.parquet: missing column 'month'"):
        read_relations(tmp_path, month=pd.Timestamp("2024-03-01"))


def test_empty_kind_and_month_columns_are_every_months_rejects(tmp_path):
    empty = pa.table({"client_id": ["C001", "C002"], "counterparty_id": ["X1", "X2"], "kind": pa.nulls(2),
                      "share": pa.nulls(2, pa.float64()), "amount": [1.0, 2.0], "month": pa.nulls(2)})
    pq.write_table(empty, tmp_path / "relations.parquet")
    report = read_relations(tmp_path, month=pd.Timestamp("2024-03-01"))
    assert report.kept.empty and report.rejected["_row"].tolist() == [0, 1]
    assert all("kind: not empty" in r and "month: not null" in r for r in report.rejected["reason"])
