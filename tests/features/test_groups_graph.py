"""Connected groups from relations: control, guarantees, economic dependence (scipy csgraph)."""

from __future__ import annotations

import pandas as pd

from tierwise.features import RELATION_COLUMNS, check_relations, dependence_edges, groups_of_month

M = pd.Timestamp("2025-03-01")
IDS = ["A", "B", "C", "D", "E", "F", "G", "H"]


def _rel(rows):
    return check_relations(pd.DataFrame(rows, columns=[c.name for c in RELATION_COLUMNS])).kept


def test_control_guarantee_and_dependence_join_firms_minority_stakes_do_not():
    rel = _rel([
        ("A", "B", "control", 0.51, None, "2025-01-01"),   # majority: joins
        ("B", "C", "control", None, None, "2025-02-01"),   # control without a share: joins
        ("D", "A", "control", 0.50, None, "2025-01-01"),   # exactly half: not control
        ("E", "F", "guarantee", None, 1e6, "2025-03-01"),  # guarantee: joins
        ("G", "H", "customer", None, 60.0, "2025-03-01"),  # 60% of G's flows: dependence
        ("G", "X1", "supplier", None, 40.0, "2025-03-01"),
        ("H", "X2", "supplier", None, 100.0, "2025-03-01"),  # H depends on a non-client: joins no one
        ("D", "E", "customer", None, 90.0, "2025-02-01"),  # last month's flow does not count now
    ])
    groups = groups_of_month(pd.Series(IDS), rel, M, dependence_share=0.5)
    assert groups.to_dict() == {"A": "A", "B": "A", "C": "A", "D": "D", "E": "E", "F": "E", "G": "G", "H": "G"}
    stricter = groups_of_month(pd.Series(IDS), rel, M, dependence_share=0.7)
    assert stricter["H"] == "H" and stricter["G"] == "G"


def test_a_link_not_yet_reported_does_not_join():
    rel = _rel([("A", "B", "control", 0.9, None, "2025-04-01")])
    assert groups_of_month(pd.Series(IDS), rel, M)["B"] == "B"


def test_dependence_share_counts_supplier_and_customer_flows_together():
    rel = _rel([("A", "B", "supplier", None, 50.0, "2025-03-01"), ("A", "B", "customer", None, 10.0, "2025-03-01"),
                ("A", "X", "customer", None, 40.0, "2025-03-01")])
    edges = dependence_edges(rel, 0.6)
    assert edges[["client_id", "counterparty_id"]].values.tolist() == [["A", "B"]]
    assert dependence_edges(rel, 0.61).empty
