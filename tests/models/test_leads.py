"""Supply-chain leads: core clients' counterparties ranked by flow, owned by the core client's RM;
non-clients and client counterparties with growth potential only; ids and amounts, no personal data."""

from __future__ import annotations

import pandas as pd

from tierwise.models import LEAD_COLUMNS, supply_chain_leads

MONTH = pd.Timestamp("2024-03-01")


def _recs() -> pd.DataFrame:
    rows = [  # client, rm, tier, growth, growth lead
        ("A", "RM1", "Premier", 0.05, False),
        ("B", "RM2", "Excellence", 0.02, False),
        ("C", "RM2", "Potential", 0.01, True),    # growth lead of the policy
        ("D", "RM3", "General", 0.30, False),     # high growth score
        ("E", "RM3", "General", 0.01, False),     # a client without growth potential
        ("F", "RM1", "Potential", 0.01, False),   # a Potential client: not core
    ]
    return pd.DataFrame(rows, columns=["client_id", "rm_id", "tier", "growth", "flag_growth_lead"])


def _relations() -> pd.DataFrame:
    rows = [
        ("A", "X1", "supplier", 100.0, MONTH), ("A", "X1", "customer", 50.0, MONTH),  # one pair, both ways
        ("A", "X2", "supplier", 300.0, MONTH),
        ("A", "C", "customer", 120.0, MONTH), ("A", "E", "customer", 400.0, MONTH),
        ("A", "X9", "supplier", 999.0, MONTH - pd.DateOffset(months=1)),  # another month: no lead
        ("A", "X3", "control", None, MONTH),                              # not a flow
        ("B", "D", "supplier", 10.0, MONTH), ("B", "X2", "supplier", 10.0, MONTH),
        ("F", "X4", "supplier", 500.0, MONTH),                            # F is not core
    ]
    frame = pd.DataFrame(rows, columns=["client_id", "counterparty_id", "kind", "amount", "month"])
    return frame.assign(share=None)


def _leads() -> pd.DataFrame:
    return supply_chain_leads(_recs(), _relations(), MONTH, client_ids=_recs()["client_id"], min_growth=0.15)


def test_each_core_clients_leads_are_ranked_by_flow_and_owned_by_its_rm():
    leads = _leads()
    assert list(leads.columns) == list(LEAD_COLUMNS)
    a = leads[leads["client_id"] == "A"]
    assert a["counterparty_id"].tolist() == ["X2", "X1", "C"]  # 300, 150 (both ways), 120; E has no potential
    assert a["rank"].tolist() == [1, 2, 3]
    assert (a["rm_id"] == "RM1").all() and (a["client_tier"] == "Premier").all()
    x1 = a.set_index("counterparty_id").loc["X1"]
    assert x1["flow_amount"] == 150.0 and x1["flow_kind"] == "customer+supplier"
    assert abs(x1["flow_share"] - 150.0 / 970.0) < 1e-12  # of all A's flows of the month
    assert a.set_index("counterparty_id")["lead_kind"].to_dict() == {"X2": "non_client", "X1": "non_client",
                                                                    "C": "client_growth"}
    b = leads[leads["client_id"] == "B"]
    assert b["counterparty_id"].tolist() == ["D", "X2"]  # equal flows: by counterparty id
    assert (b["rm_id"] == "RM2").all()
    assert b.set_index("counterparty_id").loc["D", "counterparty_tier"] == "General"
    assert pd.isna(b.set_index("counterparty_id").loc["X2", "counterparty_tier"])
    assert not leads["client_id"].isin(["C", "D", "E", "F"]).any()  # only core clients have leads
    assert not leads["counterparty_id"].isin(["X3", "X4", "X9", "E"]).any()


def test_the_leads_carry_ids_and_amounts_only_no_personal_data():
    clients = pd.DataFrame({"client_id": list("ABCDEF"), "name": [f"Firm {c} Ltd" for c in "ABCDEF"],
                            "contact_name": "Ms Li", "note": "free text", "birth_year": 1970,
                            "gender": "F", "segment": "sme"})
    leads = _leads()
    assert set(leads.columns) & set(clients.columns) == {"client_id"}
    text = leads.astype("str").to_numpy().ravel()
    assert not any(v in text for v in ("Firm A Ltd", "Ms Li", "free text"))


def test_no_core_client_or_no_flow_gives_an_empty_table_with_the_columns():
    recs = _recs().assign(tier="General")
    empty = supply_chain_leads(recs, _relations(), MONTH, client_ids=recs["client_id"], min_growth=0.15)
    assert empty.empty and list(empty.columns) == list(LEAD_COLUMNS)
    later = supply_chain_leads(_recs(), _relations(), MONTH + pd.DateOffset(months=1),
                               client_ids=_recs()["client_id"], min_growth=0.15)
    assert later.empty
