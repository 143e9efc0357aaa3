"""Row-level data contracts: each rule rejects with a reason; nothing is silently dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import (
    CLIENT_COLUMNS,
    ContractRules,
    DataError,
    reference_rules,
    validate_tables,
)
from tierwise.features._validation import build_schema

RULES = ContractRules(branches=frozenset({"EA01", "NO02"}))


def _clients() -> pd.DataFrame:
    # a null in every nullable column type
    return pd.DataFrame({
        "client_id": ["C1", "C2", "C3"], "segment": ["retail", "sme", "retail"],
        "birth_year": pd.array([1980, None, 1975], dtype="Int64"), "gender": ["F", None, "M"],
        "region": ["EA", "NO", "EA"], "branch": ["EA01", "NO02", "EA01"],
        "industry": [None, "finance", "construction"],
        "onboarding_month": pd.to_datetime(["2020-01-01", "2021-06-01", "2023-02-01"]),
        "income_band": ["<5k", None, "5k-10k"], "rm_id": [None, "RM1", None],
    })


def _monthly() -> pd.DataFrame:
    months = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01"])
    rows = []
    for cid, ms in (("C1", months), ("C2", months), ("C3", months[1:])):
        for m in ms:
            rows.append({"client_id": cid, "month": m})
    df = pd.DataFrame(rows)
    n = len(df)
    for col in ("deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance",
                "loan_balance", "card_limit", "card_balance", "card_spend", "branch_txn_amount",
                "mobile_txn_amount", "atm_txn_amount", "salary_inflow", "fee_income"):
        df[col] = np.linspace(10.0, 100.0, n)
    for col in ("branch_txn_count", "mobile_txn_count", "atm_txn_count", "products_held", "mobile_logins",
                "complaints", "rm_contacts", "days_past_due"):
        df[col] = np.arange(n, dtype=np.int64) % 3
    df["relationship_closed"] = False
    return df


def _reasons(report) -> dict[int, str]:
    return dict(zip(report.rejected_monthly["_row"], report.rejected_monthly["reason"], strict=True))


def test_clean_tables_pass_untouched():
    report = validate_tables(_clients(), _monthly(), rules=RULES)
    assert report.rows_rejected == {"clients": 0, "monthly": 0}
    assert list(report.monthly.columns)[0] == "_row"
    assert report.monthly["relationship_closed"].dtype == bool


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("deposit_current", -5.0, "non-negative"),
    ("month", pd.Timestamp("2023-02-15"), "first day of month"),
    ("client_id", "C9", "client not in clients"),
    ("days_past_due", -1, "non-negative"),
    ("month", pd.NaT, "not null"),
])
def test_each_rule_rejects_with_its_reason(column, value, rule):
    monthly = _monthly()
    monthly[column] = monthly[column].astype(object) if column == "days_past_due" else monthly[column]
    monthly.loc[4, column] = value
    report = validate_tables(_clients(), monthly, rules=RULES)
    reasons = _reasons(report)
    assert list(reasons) == [4]
    assert f"{column}: {rule}" in reasons[4]
    assert len(report.monthly) == len(monthly) - 1


def test_text_in_a_numeric_column_is_rejected_with_the_raw_value():
    monthly = _monthly()
    monthly["fee_income"] = monthly["fee_income"].map(repr).astype("str")
    monthly.loc[2, "fee_income"] = "n/a"
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert _reasons(report) == {2: "fee_income: not a number (n/a)"}
    assert pd.api.types.is_float_dtype(report.monthly["fee_income"])


def test_identical_duplicates_keep_the_first_copy():
    monthly = _monthly()
    monthly = pd.concat([monthly, monthly.iloc[[3]]], ignore_index=True)
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert list(_reasons(report)) == [len(monthly) - 1]
    assert "duplicate row" in report.rejected_monthly["reason"].iat[0]


def test_conflicting_duplicates_reject_every_copy():
    monthly = _monthly()
    extra = monthly.iloc[[3]].copy()
    extra["deposit_current"] = 1.0
    monthly = pd.concat([monthly, extra], ignore_index=True)
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert sorted(_reasons(report)) == [3, len(monthly) - 1]
    assert report.rejected_monthly["rule"].eq("conflicting duplicate key").all()


def test_rows_before_onboarding_and_after_closing():
    monthly = _monthly()
    monthly.loc[monthly["client_id"].eq("C2") & monthly["month"].eq("2023-02-01"), "relationship_closed"] = True
    clients = _clients()
    clients.loc[2, "onboarding_month"] = pd.Timestamp("2023-03-01")
    report = validate_tables(clients, monthly, rules=RULES)
    rules = set(report.rejected_monthly["rule"])
    assert rules == {"after the relationship closed", "before onboarding_month"}
    assert len(report.rejected_monthly) == 2


def test_rejected_client_takes_its_monthly_rows_along():
    clients = _clients()
    clients.loc[0, "branch"] = "XX99"
    report = validate_tables(clients, _monthly(), rules=RULES)
    assert report.rejected_clients["reason"].iat[0] == "branch: known branch code (XX99)"
    assert set(report.rejected_monthly["rule"]) == {"client row rejected"}
    assert len(report.rejected_monthly) == 3


def test_problems_summary_names_column_rule_count_and_examples():
    monthly = _monthly()
    monthly.loc[[1, 5], "deposit_time"] = -1.0
    report = validate_tables(_clients(), monthly, rules=RULES)
    row = report.problems().iloc[0]
    assert (row["column"], row["rule"], row["rows"], row["example_rows"]) == ("deposit_time", "non-negative", 2, "1, 5")


def test_missing_column_is_a_data_error():
    with pytest.raises(DataError, match=r"^monthly: missing column 'complaints'$"):
        validate_tables(_clients(), _monthly().drop(columns=["complaints"]), rules=RULES)


def test_no_usable_rows_is_a_data_error():
    monthly = _monthly()
    monthly["deposit_current"] = -1.0
    with pytest.raises(DataError, match=r"^monthly: no usable rows \(8 rejected\); most common problem: deposit_current: non-negative$"):
        validate_tables(_clients(), monthly, rules=RULES)


def test_schema_is_built_from_the_contract():
    schema = build_schema(CLIENT_COLUMNS, RULES, name="clients")
    assert list(schema.columns) == [c.name for c in CLIENT_COLUMNS]
    assert {n for n, c in schema.columns.items() if c.nullable} == {c.name for c in CLIENT_COLUMNS if c.nullable}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(
    ["neg", "day", "orphan", "dup", "text"])), max_size=6))
def test_rows_in_equal_rows_kept_plus_rejected(bad):
    monthly = _monthly()
    monthly["wealth_balance"] = monthly["wealth_balance"].map(repr).astype("str")
    dups = []
    for row, kind in bad:
        if kind == "neg":
            monthly.loc[row, "deposit_current"] = -3.0
        elif kind == "day":
            monthly.loc[row, "month"] = monthly.loc[row, "month"] + pd.Timedelta(days=3)
        elif kind == "orphan":
            monthly.loc[row, "client_id"] = "C404"
        elif kind == "text":
            monthly.loc[row, "wealth_balance"] = "abc"
        else:
            dups.append(row)
    monthly = pd.concat([monthly, monthly.iloc[dups]], ignore_index=True)
    try:
        report = validate_tables(_clients(), monthly, rules=RULES)
    except DataError:
        return  # every row was bad
    assert report.rows_in["monthly"] == len(monthly) == report.rows_kept["monthly"] + report.rows_rejected["monthly"]
    assert not set(report.monthly["_row"]) & set(report.rejected_monthly["_row"])
    assert not report.monthly.duplicated(["client_id", "month"]).any()


def test_every_client_rejected_is_a_one_line_data_error_not_a_type_error():
    """Issue 16, symptom 1: the timeline rule crashed once no client row was left."""
    clients = _clients().assign(branch="ZZ99")
    with pytest.raises(DataError, match=r"^clients: no usable rows \(3 rejected\); most common problem: branch: known branch code$"):
        validate_tables(clients, _monthly(), rules=RULES)


def test_branch_region_and_industry_are_checked_only_against_a_supplied_list():
    clients = _clients().assign(branch="ZZ99", region="Far North", industry="mining")
    assert validate_tables(clients, _monthly()).rows_rejected == {"clients": 0, "monthly": 0}
    rules = ContractRules(regions=frozenset({"EA"}), industries=frozenset({"finance", "construction"}))
    report = validate_tables(_clients(), _monthly(), rules=rules)
    assert report.rejected_clients["reason"].tolist() == ["region: known region (NO)"]


@pytest.mark.parametrize("value", [float("inf"), 1e20, -1e300])
def test_an_integer_too_large_for_int64_is_rejected(value):
    monthly = _monthly()
    monthly["complaints"] = monthly["complaints"].astype("float64")
    monthly.loc[2, "complaints"] = value
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert _reasons(report) == {2: f"complaints: integer out of range ({value})"}
    assert report.monthly["complaints"].dtype == "int64"


def test_months_in_mixed_time_zones_keep_their_local_date():
    monthly = _monthly()
    monthly["month"] = [m.tz_localize("UTC" if i % 2 else "Asia/Shanghai") for i, m in enumerate(monthly["month"])]
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert report.rows_rejected == {"clients": 0, "monthly": 0}
    assert report.monthly["month"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2023-01-01", "2023-02-01", "2023-03-01"]


@pytest.mark.parametrize(("value", "rule"), [(20230201, "not a date"), ("2023-13-01", "not a date"),
                                             ("1600-02-01", "not a date"),
                                             (pd.Timestamp("2023-02-01 10:30"), "first day of month")])
def test_odd_months_are_rejected(value, rule):
    monthly = _monthly().astype({"month": object})
    monthly.loc[1, "month"] = value
    report = validate_tables(_clients(), monthly, rules=RULES)
    assert list(_reasons(report)) == [1]
    assert _reasons(report)[1].startswith(f"month: {rule}")


def test_reference_rules_read_the_lists_the_bank_supplies(tmp_path):
    assert reference_rules(tmp_path) == ContractRules()
    pd.DataFrame({"branch": ["EA01", " NO02 ", None], "region": [None, None, None]}).to_parquet(tmp_path / "branches.parquet")
    pd.DataFrame({"industry": ["finance"]}).to_csv(tmp_path / "industries.csv", index=False)
    rules = reference_rules(tmp_path)
    assert (rules.branches, rules.regions, rules.industries) == (frozenset({"EA01", "NO02"}), None, frozenset({"finance"}))
    report = validate_tables(_clients(), _monthly(), rules=rules)
    assert report.rejected_clients["reason"].tolist() == ["industry: known industry (construction)"]


def test_a_reference_list_without_codes_is_a_data_error(tmp_path):
    pd.DataFrame({"branch": [None, None]}, dtype="str").to_csv(tmp_path / "branches.csv", index=False)
    with pytest.raises(DataError, match=r"branches.csv: no branch codes \(delete the file to accept any code\)$"):
        reference_rules(tmp_path)


def test_a_column_named_like_the_row_number_is_a_data_error():
    monthly = _monthly().assign(_row="x")
    with pytest.raises(DataError, match=r"^monthly: column '_row' is reserved for row numbers \(rename it in the extract\)$"):
        validate_tables(_clients(), monthly, rules=RULES)


@pytest.mark.parametrize("allowed", [
    {"a", "c", None},
    ["b", float("nan"), 3, "zz"],
    pd.Index(["a", "b"], dtype="str"),
    pd.Series(["c", None], dtype="str"),
    set(),
])
def test_text_isin_answers_as_pandas_isin(allowed):
    from tierwise.features import text_isin

    values = pd.Series(["a", "b", None, "c", "a", "d"], dtype="str", index=[5, 4, 3, 2, 1, 0])
    expected = values.isin(allowed)
    got = text_isin(values, allowed)
    assert got.dtype == bool and got.index.equals(values.index)
    assert got.tolist() == expected.tolist()
    objects = values.astype(object)  # not the str dtype: pandas answers
    assert text_isin(objects, allowed).tolist() == objects.isin(allowed).tolist()
