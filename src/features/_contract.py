"""The raw input contract: the columns of the bank's monthly warehouse extract.

This is the single source of truth for column names and types of the two raw tables
(`clients` and `monthly`, see DESIGN.md "Data model"). The synthetic bank writes exactly
these columns; the pandera schemas validate against them; the feature pipeline reads them.

Kinds: "str" (string), "int" (integer), "float" (real number), "bool", "month" (first day of
a month; datetime64 in memory, a date on disk).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawColumn:
    name: str
    kind: str
    nullable: bool
    description: str


CLIENT_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("client_id", "str", False, "client identifier (key)"),
    RawColumn("segment", "str", False, "retail or sme"),
    RawColumn("birth_year", "int", True, "year of birth (of the owner, for SME); protected"),
    RawColumn("gender", "str", True, "F or M (of the owner, for SME); protected"),
    RawColumn("region", "str", False, "region of the home branch"),
    RawColumn("branch", "str", False, "home branch code"),
    RawColumn("industry", "str", True, "industry of the business (SME) or of the employer (retail)"),
    RawColumn("onboarding_month", "month", False, "month the relationship started"),
    RawColumn("income_band", "str", True, "declared income band; unknown for some clients"),
    RawColumn("rm_id", "str", True, "relationship manager currently assigned, if any"),
)

MONTHLY_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("client_id", "str", False, "client identifier (key)"),
    RawColumn("month", "month", False, "first day of the month (key)"),
    RawColumn("deposit_current", "float", False, "current-account deposit balance, month end"),
    RawColumn("deposit_time", "float", False, "time-deposit balance, month end"),
    RawColumn("wealth_balance", "float", False, "wealth-management products held, month end"),
    RawColumn("fund_balance", "float", False, "mutual funds held, month end"),
    RawColumn("insurance_balance", "float", False, "insurance policies' cash value, month end"),
    RawColumn("loan_balance", "float", False, "outstanding loan balance, month end"),
    RawColumn("card_limit", "float", False, "credit-card limit"),
    RawColumn("card_balance", "float", False, "credit-card balance, month end"),
    RawColumn("card_spend", "float", False, "credit-card spend in the month"),
    RawColumn("branch_txn_count", "int", False, "transactions at a branch counter"),
    RawColumn("branch_txn_amount", "float", False, "amount transacted at a branch counter"),
    RawColumn("mobile_txn_count", "int", False, "transactions in the mobile app"),
    RawColumn("mobile_txn_amount", "float", False, "amount transacted in the mobile app"),
    RawColumn("atm_txn_count", "int", False, "ATM transactions"),
    RawColumn("atm_txn_amount", "float", False, "amount transacted at ATMs"),
    RawColumn("salary_inflow", "float", False, "salary (retail) or revenue (SME) credited"),
    RawColumn("products_held", "int", False, "number of product lines held"),
    RawColumn("mobile_logins", "int", False, "mobile-banking logins"),
    RawColumn("complaints", "int", False, "complaints filed"),
    RawColumn("rm_contacts", "int", False, "contacts with a relationship manager"),
    RawColumn("fee_income", "float", False, "fees the bank earned from the client"),
    RawColumn("days_past_due", "int", False, "days past due on any credit product, month end"),
    RawColumn("relationship_closed", "bool", False, "the client closed the relationship this month"),
)

CLIENT_KEY = "client_id"
MONTH_KEY = "month"
PROTECTED_ATTRIBUTES: tuple[str, ...] = ("gender", "birth_year")
BALANCE_COLUMNS: tuple[str, ...] = (
    "deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance",
)


def column_names(columns: tuple[RawColumn, ...]) -> list[str]:
    return [c.name for c in columns]
