"""Property test over the data contract: whatever tables a bank brings, `validate_tables`
ends in a report whose rows add up, or in a one-line `DataError`; never another exception.

The tables are drawn against the contract (see `contract_tables`): columns dropped, empty
tables, every row rejected, wrong types, text in number columns, NaN and infinities, odd dates
(mid-month, out of range, unparseable, mixed time zones), duplicated keys. Seeded: the same
examples every run.
"""

from __future__ import annotations

import pandas as pd
from contract_tables import CLIENT_IDS, MONTHS, check_report, one_line, table
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    ContractRules,
    DataError,
    validate_tables,
)

PROPERTY = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RULES = st.sampled_from([
    ContractRules(),
    ContractRules(branches=frozenset({"EA01"})),
    ContractRules(branches=frozenset({"EA01", "NO02"}), regions=frozenset({"EA"}),
                  industries=frozenset({"finance"})),
])


@seed(16)
@PROPERTY
@given(clients=table(CLIENT_COLUMNS, 5), monthly=table(MONTHLY_COLUMNS, 10), rules=RULES)
def test_any_tables_give_a_report_or_a_one_line_data_error(clients, monthly, rules):
    try:
        report = validate_tables(clients, monthly, rules=rules)
    except DataError as exc:
        one_line(exc)
        return
    event("report", f"{report.rows_rejected['monthly'] > 0} monthly rows rejected")
    check_report(report, clients, monthly)


@seed(16)
@settings(PROPERTY, max_examples=15)
@given(monthly=table(MONTHLY_COLUMNS, 8), branch=st.sampled_from(["ZZ99", None, "", 7]))
def test_every_client_rejected_is_a_one_line_data_error(monthly, branch):
    """Symptom 1 of issue 16: every client rejected (here for its branch code) ended in a
    `TypeError` from the timeline rule instead of a message."""
    clients = pd.DataFrame({"client_id": list(CLIENT_IDS), "segment": "retail", "birth_year": 1980,
                            "gender": "F", "region": "EA", "branch": branch, "industry": None,
                            "onboarding_month": MONTHS[0], "income_band": None, "rm_id": None})
    try:
        validate_tables(clients, monthly, rules=ContractRules(branches=frozenset({"EA01"})))
    except DataError as exc:
        one_line(exc)
        assert str(exc).startswith(f"clients: no usable rows ({len(CLIENT_IDS)} rejected)") or "monthly" in str(exc)
    else:
        raise AssertionError("no client row is usable")
