"""`month_groups` in the scoring job: the month's groups from the relations rows the month can
use (the same as from the whole table), and rejects that list only those rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tierwise.features import RELATION_COLUMNS, groups_of_month, read_relations
from tierwise.groups import month_groups
from tierwise.models import GroupsConfig

ROWS = [
    ("C1", "C2", "control", 0.9, None, "2025-01-01"),  # 0: C1+C2 from January on
    ("C3", "C4", "supplier", None, 100.0, "2025-01-01"),  # 1: a January flow only
    ("C3", "C5", "supplier", None, 100.0, "2025-02-01"),  # 2: February: C3+C5 (all of C3's flows)
    ("C4", "C5", "guarantee", None, 1e5, "2025-03-01"),  # 3: from March on
    ("C1", "C3", "customer", None, -1.0, "2025-01-01"),  # 4: bad, a January flow
    ("C2", "C4", "control", 2.0, None, "2025-02-01"),  # 5: bad, a February link
    ("C5", "X1", "mystery", None, 1.0, "2025-03-01"),  # 6: bad, an unknown kind
]
CLIENTS = pd.Series(["C1", "C2", "C3", "C4", "C5"], name="client_id")


def test_the_months_groups_are_the_whole_tables_and_rejects_are_the_months_rows(tmp_path):
    pd.DataFrame(ROWS, columns=[c.name for c in RELATION_COLUMNS]).to_parquet(tmp_path / "relations.parquet")
    whole = read_relations(tmp_path, CLIENTS).kept
    expected_rejects = {1: [4, 6], 2: [5, 6], 3: [5, 6]}
    for number, rejected in expected_rejects.items():
        month = dt.date(2025, number, 1)
        groups, rejects = month_groups(tmp_path, month, CLIENTS, GroupsConfig())
        pd.testing.assert_series_equal(groups, groups_of_month(CLIENTS, whole, pd.Timestamp(month)))
        assert rejects["_row"].tolist() == rejected and set(rejects["table"]) == {"relations"}
    feb, _ = month_groups(tmp_path, dt.date(2025, 2, 1), CLIENTS, GroupsConfig())
    assert feb.to_dict() == {"C1": "C1", "C2": "C1", "C3": "C3", "C4": "C4", "C5": "C3"}
    march, _ = month_groups(tmp_path, dt.date(2025, 3, 1), CLIENTS, GroupsConfig())
    assert march["C4"] == march["C5"] == "C4" and march["C3"] == "C3"


def test_a_bank_without_relations_has_no_groups(tmp_path):
    assert month_groups(tmp_path, dt.date(2025, 2, 1), CLIENTS, GroupsConfig()) == (None, None)
