"""docs/mapping.md: its DuckDB SQL, run on small generated core-banking tables, writes
`clients` and `monthly` that pass the data contract with every row kept, and maps each
column group as the page says (so the page cannot rot)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    FeatureConfig,
    column_names,
    read_raw_tables,
    validate_tables,
)
from tierwise.profile import profile_tables

duckdb = pytest.importorskip("duckdb")

PAGE = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
FIRST, MONTHS = dt.date(2023, 1, 1), 14
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.DOTALL | re.MULTILINE)


def sql_blocks() -> list[str]:
    """The page's SQL blocks in order, without the one that loads the bank's own files."""
    blocks = SQL_BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    return [b for b in blocks if not b.lstrip().startswith("-- load")]


def month_end(i: int) -> dt.date:
    y, m = divmod(FIRST.month - 1 + i + 1, 12)
    return dt.date(FIRST.year + y, m + 1, 1) - dt.timedelta(days=1)


def core_banking(seed: int = 0) -> dict[str, pd.DataFrame]:
    """30 parties over 14 months, with the cases the SQL must handle: a recorded closure, a
    closure only by accounts, a party gone before the extract, one onboarded during it, a
    business, an unknown sex, no home branch, an overdraft, a fee refund, arrears on a card."""
    rng = np.random.default_rng(seed)
    n = 30
    ids = np.arange(1001, 1001 + n)
    since = [dt.date(2020, 5, 17)] * n
    since[1] = dt.date(2023, 6, 9)  # onboarded during the extract
    end: list[dt.date | None] = [None] * n
    end[2] = dt.date(2023, 9, 30)  # relationship closed, recorded
    end[4] = dt.date(2022, 3, 1)  # gone before the extract: not a client
    parties = pd.DataFrame({
        "party_id": ids,
        "party_type": ["business" if i == 3 else "person" for i in range(n)],
        "birth_date": [dt.date(1960 + i, 1 + i % 12, 5) for i in range(n)],
        "sex": ["x" if i == 5 else ("f" if i % 2 else "M") for i in range(n)],
        "industry_code": [None if i % 4 == 0 else f"I{i % 3}" for i in range(n)],
        "income_band": [None if i % 5 == 0 else "B2" for i in range(n)],
        "home_branch_id": [None if i == 6 else f"BR{i % 3}" for i in range(n)],
        "rm_id": [f"RM{i % 2}" if i % 3 == 0 else None for i in range(n)],
        "customer_since": since,
        "relationship_end": end,
    })
    branches = pd.DataFrame({"branch_id": ["BR0", "BR1", "BR2"], "region_code": ["north", "north", "south"]})
    families = pd.DataFrame({"product_code": ["CA", "SA", "TD", "WM", "MF", "INS"],
                             "family": ["current", "current", "time_deposit", "wealth", "fund", "insurance"]})
    accounts, balances, txns = [], [], []
    for i, pid in enumerate(ids):
        codes = ["CA", "SA"] + (["TD", "WM"] if i % 3 == 0 else []) + (["MF", "INS"] if i % 7 == 0 else [])
        for code in codes:
            aid = f"A{pid}-{code}"
            closed = dt.date(2023, 11, 20) if i == 7 else None  # every account closed: the relationship too
            accounts.append({"account_id": aid, "party_id": pid, "product_code": code,
                             "opened_on": since[i], "closed_on": closed})
            for k in range(MONTHS):
                balance = float(rng.uniform(100, 20_000))
                if i == 8 and code == "CA" and k == 3:
                    balance = -250.0  # overdrawn
                balances.append({"account_id": aid, "balance_date": month_end(k), "balance": balance})
        for k in range(MONTHS):
            if (i + k) % 4 == 3:
                continue  # a month without any transaction
            day = dt.datetime(month_end(k).year, month_end(k).month, 10, 12, 0)
            txns += [
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "BRANCH", "txn_type": "payment", "amount": 40.0},
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "INTERNET", "txn_type": "payment", "amount": 15.0},
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "MOBILE", "txn_type": "payment", "amount": 5.0},
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "ATM", "txn_type": "withdrawal", "amount": 100.0},
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "SYSTEM", "txn_type": "salary", "amount": 3000.0},
                {"account_id": f"A{pid}-CA", "booked_at": day, "channel": "SYSTEM", "txn_type": "fee", "amount": 12.0},
            ]
    txns.append({"account_id": "A1010-CA", "booked_at": dt.datetime(2023, 2, 11), "channel": "SYSTEM",
                 "txn_type": "fee_refund", "amount": 50.0})  # more refunded than charged in 2023-02
    loans = [{"loan_id": f"L{pid}", "party_id": pid, "balance_date": month_end(k), "outstanding": 5_000.0 - 100 * k,
              "days_past_due": 30 if (i == 15 and k >= 5) else 0}
             for i, pid in enumerate(ids) if i % 5 == 0 and i != 4 for k in range(MONTHS)]
    cards = [{"card_id": f"K{pid}", "party_id": pid, "statement_date": month_end(k) - dt.timedelta(days=5),
              "credit_limit": 2_000.0, "statement_balance": 300.0, "purchases": 250.0,
              "days_past_due": 95 if (i == 10 and k == 8) else 0}
             for i, pid in enumerate(ids) if i % 2 == 0 and i != 4 for k in range(MONTHS)]
    sessions = [{"party_id": pid, "started_at": dt.datetime(2023, 1 + k, 3 + j)}
                for i, pid in enumerate(ids) if i % 3 for k in range(12) for j in range(i % 4)]
    interactions = [{"party_id": ids[11], "occurred_at": dt.datetime(2023, 4, 2), "kind": "complaint"},
                    {"party_id": ids[11], "occurred_at": dt.datetime(2023, 4, 9), "kind": "rm_call"},
                    {"party_id": ids[11], "occurred_at": dt.datetime(2023, 4, 20), "kind": "rm_visit"}]
    return {"parties": parties, "branches": branches, "accounts": pd.DataFrame(accounts),
            "product_families": families, "account_balances": pd.DataFrame(balances),
            "loans": pd.DataFrame(loans), "cards": pd.DataFrame(cards), "transactions": pd.DataFrame(txns),
            "mobile_sessions": pd.DataFrame(sessions), "interactions": pd.DataFrame(interactions)}


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """(source tables, the bank folder the page's SQL wrote)."""
    root = tmp_path_factory.mktemp("mapping")
    (root / "bank").mkdir()
    source = core_banking()
    con = duckdb.connect()
    for name, frame in source.items():
        con.register(name, frame)
    cwd = Path.cwd()
    try:
        os.chdir(root)  # the page writes to bank/ relative to where DuckDB runs
        for block in sql_blocks():
            con.execute(block)
    finally:
        os.chdir(cwd)
        con.close()
    return source, root / "bank"


def test_the_page_has_a_block_for_every_column_group():
    text = "\n".join(sql_blocks())
    for table in ("extract_range", "party_months", "clients", "spine", "m_assets", "m_loans", "m_cards",
                  "m_txns", "m_contacts", "monthly"):
        assert f"CREATE OR REPLACE TABLE {table} AS" in text, table
    assert "COPY monthly TO 'bank/monthly.parquet'" in text


def test_the_sql_writes_tables_that_pass_the_contract_with_every_row_kept(mapped):
    _, bank = mapped
    clients, monthly = read_raw_tables(bank)
    assert list(clients.columns) == column_names(CLIENT_COLUMNS)
    assert list(monthly.columns) == column_names(MONTHLY_COLUMNS)
    report = validate_tables(clients, monthly)
    assert report.rows_rejected == {"clients": 0, "monthly": 0}, report.problems()
    assert report.rows_kept == {"clients": 29, "monthly": len(monthly)}


def test_clients_and_their_months_follow_the_relationship(mapped):
    _, bank = mapped
    clients, monthly = read_raw_tables(bank)
    clients = clients.set_index("client_id")
    assert "1005" not in clients.index  # closed before the extract
    assert clients.loc["1004", "segment"] == "sme" and clients.loc["1002", "segment"] == "retail"
    assert pd.isna(clients.loc["1006", "gender"]) and clients.loc["1002", "gender"] == "F"
    assert clients.loc["1007", "branch"] == "unknown" and clients.loc["1007", "region"] == "unknown"
    assert clients.loc["1003", "region"] == "south"
    rows = monthly.groupby("client_id")["month"].agg(["min", "max", "size"])
    assert rows.loc["1001", "size"] == MONTHS  # every month, also those without activity
    assert rows.loc["1002", "min"] == pd.Timestamp("2023-06-01")  # onboarded in June
    closed = monthly[monthly["relationship_closed"]]
    assert set(closed["client_id"]) == {"1003", "1008"}  # recorded; every account closed
    assert rows.loc["1003", "max"] == pd.Timestamp("2023-09-01")
    assert rows.loc["1008", "max"] == pd.Timestamp("2023-11-01")


def test_column_groups_are_summed_as_the_page_says(mapped):
    source, bank = mapped
    _, monthly = read_raw_tables(bank)
    row = monthly.set_index(["client_id", "month"])
    bal = source["account_balances"].merge(source["accounts"], on="account_id")
    bal["month"] = pd.to_datetime(bal["balance_date"]).dt.to_period("M").dt.to_timestamp()
    one = bal[(bal["party_id"] == 1001) & (bal["month"] == "2023-05-01")].set_index("product_code")["balance"]
    got = row.loc[("1001", pd.Timestamp("2023-05-01"))]
    assert got["deposit_current"] == pytest.approx(one["CA"] + one["SA"])
    assert got["deposit_time"] == pytest.approx(one["TD"]) and got["wealth_balance"] == pytest.approx(one["WM"])
    assert got["products_held"] == 5 + 1 + 1  # current, time deposit, wealth, fund, insurance; a loan; a card
    assert got["card_limit"] == 2_000.0 and got["loan_balance"] == pytest.approx(5_000.0 - 400)
    overdrawn = row.loc[("1009", pd.Timestamp("2023-04-01"))]
    assert overdrawn["loan_balance"] == pytest.approx(250.0)  # the overdraft is debt, no loan
    assert row.loc[("1011", pd.Timestamp("2023-09-01")), "days_past_due"] == 95  # card arrears
    assert row.loc[("1016", pd.Timestamp("2023-07-01")), "days_past_due"] == 30  # loan arrears
    active = row.loc[("1001", pd.Timestamp("2023-01-01"))]
    assert (active["branch_txn_count"], active["mobile_txn_count"], active["atm_txn_count"]) == (1, 2, 1)
    assert active["salary_inflow"] == 3000.0 and active["fee_income"] == 12.0
    assert row.loc[("1010", pd.Timestamp("2023-02-01")), "fee_income"] == pytest.approx(-38.0)
    quiet = row.loc[("1001", pd.Timestamp("2023-04-01"))]  # (0 + 3) % 4 == 3: no transactions
    assert quiet["branch_txn_count"] == 0 and quiet["salary_inflow"] == 0
    contact = row.loc[("1012", pd.Timestamp("2023-04-01"))]
    assert (contact["complaints"], contact["rm_contacts"]) == (1, 2)


def test_the_mapped_bank_can_be_profiled(mapped):
    _, bank = mapped
    short = FeatureConfig.model_validate({"windows": [1, 3], "labels": {
        "churn": {"horizon_months": 3}, "default": {"horizon_months": 3}, "growth": {"horizon_months": 3}}})
    profile = profile_tables(*read_raw_tables(bank), short)
    assert profile.clients == 29 and profile.history_months == MONTHS
    assert "monthly.deposit_current" not in profile.columns_with("empty")
