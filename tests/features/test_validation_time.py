"""Time sanity (issue 18, item 7): a monthly row dated after the extract's end month, and a
client onboarded after the latest month of the extract, are quarantined with a reason."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from test_validation import RULES, _clients, _monthly

from tierwise.features import ContractRules, months_within_end, validate_tables


def _with_future_row(month: str = "2099-01-01") -> pd.DataFrame:
    monthly = _monthly()
    extra = monthly.iloc[[0]].assign(month=pd.Timestamp(month))
    return pd.concat([monthly, extra], ignore_index=True)


def test_a_row_after_this_month_is_quarantined_with_a_reason():
    monthly = _with_future_row()
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert report.rows_rejected == {"clients": 0, "monthly": 1}
    rejected = report.rejected_monthly
    assert rejected["_row"].tolist() == [len(monthly) - 1]
    today = dt.date.today()
    assert rejected["reason"].iat[0] == f"month: after the extract's end month ({today:%Y-%m}) (2099-01-01)"
    assert report.monthly["month"].max() == pd.Timestamp("2023-03-01")


def test_the_declared_end_month_is_the_limit():
    rules = ContractRules(branches=RULES.branches, end_month=dt.date(2023, 2, 1))
    report = validate_tables(_clients(), _monthly(), rules=rules)
    assert set(report.rejected_monthly["month"]) == {pd.Timestamp("2023-03-01")}
    assert report.rejected_monthly["rule"].eq("after the extract's end month (2023-02)").all()
    # C3 was onboarded in 2023-02, the latest month left: kept
    assert report.rows_rejected["clients"] == 0
    assert report.rows_in["monthly"] == report.rows_kept["monthly"] + report.rows_rejected["monthly"]


def test_a_client_onboarded_after_the_latest_month_is_quarantined():
    clients = _clients()
    clients.loc[2, "onboarding_month"] = pd.Timestamp("2090-01-01")
    report = validate_tables(clients, _monthly(), rules=RULES)
    assert report.rejected_clients["client_id"].tolist() == ["C3"]
    assert report.rejected_clients["rule"].iat[0] == "onboarded after the latest month of the extract (2023-03)"
    # its monthly rows follow their client row into the quarantine
    assert set(report.rejected_monthly["client_id"]) == {"C3"}
    assert "C3" not in set(report.clients["client_id"])


def test_the_latest_month_can_be_given_for_chunks():
    clients = _clients()
    clients.loc[2, "onboarding_month"] = pd.Timestamp("2023-03-01")
    rules = ContractRules(branches=RULES.branches, latest_month=dt.date(2023, 2, 1))
    report = validate_tables(clients, _monthly(), rules=rules)
    assert report.rejected_clients["client_id"].tolist() == ["C3"]


def test_months_within_end_drops_later_and_unparseable_months():
    months = pd.Series(["2023-01-01", "2099-01-01", "not a month", None])
    kept = months_within_end(months, ContractRules(end_month=dt.date(2030, 1, 1)))
    assert kept.tolist() == [pd.Timestamp("2023-01-01")]
