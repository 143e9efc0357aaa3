"""The optional relations table: its contract, and bad rows quarantined with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.features import (
    RELATION_COLUMNS,
    DataError,
    check_relations,
    links_as_of,
    read_relations,
)

M1, M2 = "2025-01-01", "2025-02-01"


def _table(rows):
    return pd.DataFrame(rows, columns=[c.name for c in RELATION_COLUMNS])


GOOD = [
    ("C1", "C2", "control", 0.8, None, M1),
    ("C1", "X9", "supplier", None, 1200.0, M1),
    ("C2", "C1", "guarantee", None, 5e5, M1),
    ("C3", "C1", "customer", None, 10.0, M2),
]


def test_good_rows_are_kept_and_typed():
    report = check_relations(_table(GOOD), client_ids=pd.Series(["C1", "C2", "C3"]))
    assert report.rejected.empty and len(report.kept) == 4
    kept = report.kept
    assert pd.api.types.is_datetime64_any_dtype(kept["month"])
    assert kept["share"].dtype == np.float64 and kept["amount"].dtype == np.float64
    assert list(kept["kind"]) == ["control", "supplier", "guarantee", "customer"]


@pytest.mark.parametrize(("row", "column", "rule"), [
    (("C1", "C2", "owns", 0.8, None, M1), "kind", "known kind"),
    ((" ", "C2", "control", 0.8, None, M1), "client_id", "not empty"),
    (("C1", None, "control", 0.8, None, M1), "counterparty_id", "not empty"),
    (("C1", "C2", "control", 1.5, None, M1), "share", "share in 0..1"),
    (("C1", "C2", "supplier", None, -3.0, M1), "amount", "non-negative"),
    (("C1", "C2", "supplier", None, "lots", M1), "amount", "not a number"),
    (("C1", "C2", "customer", None, None, M1), "amount", "flow needs an amount"),
    (("C1", "C2", "control", 0.6, None, "2025-01-15"), "month", "first day of month"),
    (("C1", "C1", "control", 0.6, None, M1), "counterparty_id", "linked to itself"),
    (("C7", "C1", "control", 0.6, None, M1), "client_id", "client not in clients"),
])
def test_a_bad_row_is_quarantined_with_its_reason(row, column, rule):
    report = check_relations(_table([*GOOD, row]), client_ids=pd.Series(["C1", "C2", "C3"]))
    assert len(report.kept) == len(GOOD), "the good rows stay"
    assert len(report.rejected) == 1 and report.rows_in == len(GOOD) + 1
    bad = report.rejected.iloc[0]
    assert bad["_row"] == len(GOOD) and bad["column"] == column and bad["rule"] == rule
    assert f"{column}: {rule}" in bad["reason"]


def test_conflicting_duplicates_are_all_rejected_identical_copies_after_the_first():
    rows = [*GOOD, ("C1", "X9", "supplier", None, 999.0, M1), ("C3", "C1", "customer", None, 10.0, M2)]
    report = check_relations(_table(rows))
    rules = dict(zip(report.rejected["_row"], report.rejected["rule"], strict=True))
    assert rules == {1: "conflicting duplicate key", 4: "conflicting duplicate key", 5: "duplicate row"}
    assert len(report.kept) == 3


def test_a_missing_column_is_one_error_naming_the_file():
    with pytest.raises(DataError, match=r"rel.csv: missing column 'kind'"):
        check_relations(_table(GOOD).drop(columns="kind"), source="rel.csv")


def test_a_bank_without_relations_has_none(tmp_path):
    assert read_relations(tmp_path) is None
    _table(GOOD).to_csv(tmp_path / "relations.csv", index=False)
    assert len(read_relations(tmp_path).kept) == 4


def test_a_later_row_replaces_a_link_and_flows_do_not_carry_over():
    rows = [*GOOD, ("C1", "C2", "control", 0.0, None, M2)]
    kept = check_relations(_table(rows)).kept
    jan = links_as_of(kept, pd.Timestamp(M1))
    feb = links_as_of(kept, pd.Timestamp(M2))
    assert jan.query("kind == 'control'")["share"].tolist() == [0.8]
    assert feb.query("kind == 'control'")["share"].tolist() == [0.0]
    assert set(feb["kind"]) == {"control", "guarantee"}
