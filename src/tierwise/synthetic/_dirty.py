"""`--dirty`: inject realistic bad rows into the clean tables and record exactly which.

Defect kinds (the row identifier `_row` is the 0-based position in the file as written):

- `negative_balance` (monthly): a balance column made negative;
- `duplicate_row` (monthly): an identical copy of a client-month, placed right after the
  original (the copy is the injected row; validation keeps the first copy);
- `month_not_first_day` (monthly): month moved to the 15th;
- `month_before_onboarding` (monthly): a row dated before the client's onboarding month
  (months out of order with the client's history);
- `non_numeric_amount` (monthly): `mobile_txn_amount` written as text such as `n/a` or
  `1,234.50`; this turns the whole column into text on disk;
- `unknown_branch` (clients): a branch code the bank does not have; the client's monthly rows
  are recorded as `client_rejected` (validation rejects them because their client is);
- `client_missing` (monthly): the client's row is removed from `clients`; all their monthly
  rows are recorded.

Closing rows (`relationship_closed`) are never altered, so that no clean row becomes invalid
as a side effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.features import BALANCE_COLUMNS, CLIENT_KEY, MONTH_KEY
from tierwise.synthetic._config import DirtyConfig

ROW_ID = "_row"
_TEXT_AMOUNTS = ("n/a", "1,234.50", "12.5k", "--", "N/A", "？")


def inject_defects(clients: pd.DataFrame, monthly: pd.DataFrame, cfg: DirtyConfig,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(dirty clients, dirty monthly, injected) where injected lists (table, _row, client_id, kind)."""
    k = max(1, min(cfg.rows_per_defect, int(cfg.max_share_per_defect * len(monthly)) or 1))
    n_clients = max(1, min(k // 5 or 1, len(clients) // 20))
    ids = clients[CLIENT_KEY].to_numpy()
    chosen = rng.choice(ids, size=min(2 * n_clients, len(ids)), replace=False)
    missing_ids, branch_ids = set(chosen[:n_clients]), set(chosen[n_clients:])

    monthly = monthly.reset_index(drop=True).copy()
    monthly["_kind"] = ""
    monthly["_dup"] = False
    owner = monthly[CLIENT_KEY]
    monthly.loc[owner.isin(missing_ids), "_kind"] = "client_missing"
    monthly.loc[owner.isin(branch_ids), "_kind"] = "client_rejected"

    closing = monthly["relationship_closed"].to_numpy(dtype=bool)
    candidates = np.flatnonzero((monthly["_kind"] == "").to_numpy() & ~closing)
    kinds = ("negative_balance", "duplicate_row", "month_not_first_day", "month_before_onboarding",
             "non_numeric_amount")
    picks = rng.choice(candidates, size=min(len(kinds) * k, candidates.size), replace=False)
    groups = dict(zip(kinds, np.array_split(picks, len(kinds)), strict=True))

    rows = groups["negative_balance"]
    cols = rng.choice(np.asarray(BALANCE_COLUMNS), size=rows.size)
    for r, c in zip(rows, cols, strict=True):
        monthly.loc[r, c] = -(abs(float(monthly.loc[r, c])) + round(float(rng.uniform(1, 5000)), 2))
    monthly.loc[rows, "_kind"] = "negative_balance"

    rows = groups["month_not_first_day"]
    monthly.loc[rows, MONTH_KEY] = monthly.loc[rows, MONTH_KEY] + pd.Timedelta(days=14)
    monthly.loc[rows, "_kind"] = "month_not_first_day"

    rows = groups["month_before_onboarding"]
    onboarding = monthly.loc[rows, CLIENT_KEY].map(clients.set_index(CLIENT_KEY)["onboarding_month"])
    back = pd.to_timedelta(rng.integers(1, 4, rows.size) * 31, unit="D")
    monthly.loc[rows, MONTH_KEY] = (onboarding - back).dt.to_period("M").dt.to_timestamp().to_numpy()
    monthly.loc[rows, "_kind"] = "month_before_onboarding"

    rows = groups["non_numeric_amount"]
    amounts = monthly["mobile_txn_amount"].map(repr).astype("str")
    amounts.iloc[rows] = rng.choice(np.asarray(_TEXT_AMOUNTS), size=rows.size)
    monthly["mobile_txn_amount"] = amounts
    monthly.loc[rows, "_kind"] = "non_numeric_amount"

    rows = np.sort(groups["duplicate_row"])
    copies = monthly.loc[rows].copy()
    copies["_kind"] = "duplicate_row"
    copies["_dup"] = True
    # a copy sorts right after its original
    order_key = np.concatenate([np.arange(len(monthly)) * 2, rows * 2 + 1])
    monthly = pd.concat([monthly, copies], ignore_index=True)
    monthly = monthly.iloc[np.argsort(order_key, kind="stable")].reset_index(drop=True)

    clients = clients.copy()
    clients["_kind"] = ""
    clients.loc[clients[CLIENT_KEY].isin(branch_ids), "branch"] = "ZZ99"
    clients.loc[clients[CLIENT_KEY].isin(branch_ids), "_kind"] = "unknown_branch"
    clients = clients[~clients[CLIENT_KEY].isin(missing_ids)].reset_index(drop=True)

    injected = pd.concat([
        _injected("clients", clients),
        _injected("monthly", monthly),
    ], ignore_index=True)
    return (clients.drop(columns=["_kind"]), monthly.drop(columns=["_kind", "_dup"]), injected)


def _injected(table: str, df: pd.DataFrame) -> pd.DataFrame:
    mask = (df["_kind"] != "").to_numpy()
    return pd.DataFrame({
        "table": pd.array([table] * int(mask.sum()), dtype="str"),
        ROW_ID: np.flatnonzero(mask).astype(np.int64),
        CLIENT_KEY: pd.array(df[CLIENT_KEY].to_numpy()[mask], dtype="str"),
        "kind": pd.array(df["_kind"].to_numpy()[mask], dtype="str"),
    })
