"""A tiny seeded bank for the feature (and CLI) tests: a few clients x months, a null in every nullable
column, and the awkward cases (a late joiner, a leaver, a gap month, arrears, no card)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tierwise.features import CLIENT_COLUMNS, MONTHLY_COLUMNS

START = dt.date(2022, 1, 1)


def month_at(i: int) -> dt.date:
    year, month = divmod(START.month - 1 + i, 12)
    return dt.date(START.year + year, month + 1, 1)


def make_bank(n_clients: int = 8, n_months: int = 30, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clients and monthly tables following `features._contract`.

    Client 0 joins in month 10 (short history); client 1 closes in month 20 and then has no
    rows; client 2 has a gap (no row in month 15); client 3 goes into arrears; client 4 has no
    card; the clients table has a null in every nullable column.
    """
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n_clients)]
    clients = pd.DataFrame({
        "client_id": pd.array(ids, dtype="str"),
        "segment": pd.array(rng.choice(["retail", "sme"], n_clients), dtype="str"),
        "birth_year": pd.array(rng.integers(1950, 2000, n_clients), dtype="Int64"),
        "gender": pd.array(rng.choice(["F", "M"], n_clients), dtype="str"),
        "region": pd.array(rng.choice(["north", "south", "east"], n_clients), dtype="str"),
        "branch": pd.array(rng.choice(["B01", "B02", "B03"], n_clients), dtype="str"),
        "industry": pd.array(rng.choice(["retail", "manufacturing", "services"], n_clients), dtype="str"),
        "onboarding_month": pd.to_datetime([START] * n_clients),
        "income_band": pd.array(rng.choice(["low", "mid", "high"], n_clients), dtype="str"),
        "rm_id": pd.array(rng.choice(["RM1", "RM2"], n_clients), dtype="str"),
    })
    for column in (c.name for c in CLIENT_COLUMNS if c.nullable):
        clients.loc[n_clients - 1, column] = pd.NA
    clients.loc[0, "onboarding_month"] = pd.Timestamp(month_at(10))

    rows = []
    for i, cid in enumerate(ids):
        wealth = float(rng.lognormal(10, 1))
        first = 10 if i == 0 else 0
        last = 20 if i == 1 else n_months - 1
        for m in range(first, last + 1):
            if i == 2 and m == 15:
                continue
            drift = 1.0 + 0.02 * rng.standard_normal()
            wealth *= drift
            has_card = i != 4
            limit = 20000.0 if has_card else 0.0
            card_balance = float(rng.uniform(0, limit))
            rows.append({
                "client_id": cid,
                "month": pd.Timestamp(month_at(m)),
                "deposit_current": wealth * 0.3,
                "deposit_time": wealth * 0.4 * float(rng.uniform(0.8, 1.2)),
                "wealth_balance": wealth * 0.2 if i % 2 else 0.0,
                "fund_balance": wealth * 0.05,
                "insurance_balance": wealth * 0.05,
                "loan_balance": 50000.0 if i % 3 == 0 else 0.0,
                "card_limit": limit,
                "card_balance": card_balance,
                "card_spend": card_balance * 0.5,
                "branch_txn_count": int(rng.integers(0, 3) * (m % 4 == 0)),
                "branch_txn_amount": float(rng.uniform(0, 1000)),
                "mobile_txn_count": int(rng.integers(0, 20)),
                "mobile_txn_amount": float(rng.uniform(0, 5000)),
                "atm_txn_count": int(rng.integers(0, 5)),
                "atm_txn_amount": float(rng.uniform(0, 2000)),
                "salary_inflow": float(rng.uniform(3000, 9000)) if m % 6 else 0.0,
                "products_held": int(rng.integers(1, 6)),
                "mobile_logins": int(rng.integers(0, 10) * (m % 5 != 0)),
                "complaints": int(rng.random() < 0.05),
                "rm_contacts": int(rng.integers(0, 2)),
                "fee_income": float(rng.uniform(0, 50)),
                "days_past_due": int(30 * max(0, m - 18)) if i == 3 else 0,
                "relationship_closed": bool(i == 1 and m == 20),
            })
    monthly = pd.DataFrame(rows)
    monthly["client_id"] = monthly["client_id"].astype("str")
    int_columns = [c.name for c in MONTHLY_COLUMNS if c.kind == "int"]
    monthly[int_columns] = monthly[int_columns].astype("int64")
    return clients, monthly
