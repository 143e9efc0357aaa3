"""The feature catalogue: one line of plain English for every engineered snapshot feature.

`feature_catalog(config)` lists, in output order, exactly the feature columns
`snapshot_features` writes for that config (a test keeps the two in step). Each entry has a
`family` grouping correlated variants (all windows of a trend, the levels of one product
line): the reason codes aggregate SHAP values by family and phrase one reason per family.

Conventions in the names:
- `<series>_chg_<w>m` of a balance is a **log ratio**, log((x_t + 100) / (x_{t-w} + 100));
  of a count it is a **difference**, x_t - x_{t-w}. NaN when the client has no row at t-w
  (less history than the window, or a gap month), never zero.
- `<series>_slope_<w>m`: least-squares slope per month over the last w months (t included);
  `<series>_vol_<w>m`: standard deviation / (mean + 1000) over the same months.
- `<series>_avg_<w>m`, `_sum_<w>m`, `_max_<w>m`: over the last w months, t included, missing
  months ignored; NaN when the client's history is shorter than w months.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tierwise.features._feature_config import FeatureConfig

Kind = Literal["numeric", "categorical"]

CARRIED_COLUMNS: tuple[str, ...] = ("gender", "birth_year", "age_band", "branch", "rm_id")
"""Non-feature columns of a snapshot (for fairness checks and reports), after the features."""

STATIC_CATEGORICAL: tuple[str, ...] = ("segment", "region", "industry", "income_band")
PROTECTED_FEATURES: tuple[str, ...] = ("gender", "age_band")

BALANCE_SERIES = {
    "deposit_total": ("deposit_trend", "deposits (current + time)"),
    "investment_total": ("investment_trend", "investments (wealth + funds + insurance)"),
    "assets_total": ("assets_trend", "total assets (deposits + investments)"),
    "credit_exposure": ("credit_trend", "credit exposure (loan + card balance)"),
    "salary_inflow": ("salary_trend", "salary or revenue inflow"),
}
COUNT_SERIES = {
    "txn_count_total": ("activity_trend", "transactions in all channels"),
    "mobile_logins": ("digital_trend", "mobile-banking logins"),
    "products_held": ("products_trend", "product lines held"),
}
SLOPE_SERIES = {
    "deposit_total": ("deposit_trend", "deposits"),
    "assets_total": ("assets_trend", "total assets"),
}
VOL_SERIES = {
    "deposit_total": ("deposit_volatility", "deposits"),
    "assets_total": ("assets_volatility", "total assets"),
}
CHANNELS = ("branch", "mobile", "atm")


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    family: str
    description: str
    unit: str  # "currency", "ratio", "log ratio", "share", "count", "months", "currency per month", "category"
    kind: Kind = "numeric"


def feature_catalog(config: FeatureConfig) -> dict[str, FeatureInfo]:
    """Every engineered feature for `config`, in the column order of `snapshot_features`."""
    out: dict[str, FeatureInfo] = {}

    def add(name: str, family: str, description: str, unit: str, kind: Kind = "numeric") -> None:
        out[name] = FeatureInfo(name, family, description, unit, kind)

    groups = config.groups
    windows = config.windows
    long_windows = config.trend_windows
    if groups.levels:
        add("deposit_current", "deposit_level", "Current-account deposit balance at the snapshot month", "currency")
        add("deposit_time", "deposit_level", "Time-deposit balance at the snapshot month", "currency")
        add("deposit_total", "deposit_level", "Total deposits (current + time) at the snapshot month", "currency")
        add("wealth_balance", "investment_level", "Wealth-management products held at the snapshot month", "currency")
        add("fund_balance", "investment_level", "Mutual funds held at the snapshot month", "currency")
        add("insurance_balance", "investment_level", "Cash value of insurance policies at the snapshot month", "currency")
        add("investment_total", "investment_level", "Total investments (wealth + funds + insurance) at the snapshot month", "currency")
        add("investment_share", "investment_level", "Share of total assets held in investments rather than deposits", "share")
        add("assets_total", "assets_level", "Total assets with the bank (deposits + investments) at the snapshot month", "currency")
        add("loan_balance", "credit_level", "Outstanding loan balance at the snapshot month", "currency")
        add("card_limit", "credit_level", "Credit-card limit at the snapshot month", "currency")
        add("card_balance", "credit_level", "Credit-card balance at the snapshot month", "currency")
        add("credit_exposure", "credit_level", "Credit exposure (loan + card balance) at the snapshot month", "currency")
        add("card_spend", "card_spend", "Credit-card spend in the snapshot month", "currency")
        add("salary_inflow", "salary_level", "Salary (retail) or revenue (SME) credited in the snapshot month", "currency")
        add("fee_income", "fees", "Fees the bank earned from the client in the snapshot month", "currency")
    if groups.changes:
        for series, (family, what) in BALANCE_SERIES.items():
            for w in windows:
                add(f"{series}_chg_{w}m", family,
                    f"Change in {what} over {w} month{'s' * (w > 1)}, as a log ratio (positive = growing)",
                    "log ratio")
        for series, (family, what) in COUNT_SERIES.items():
            if series == "products_held" and not groups.products:
                continue
            for w in windows:
                add(f"{series}_chg_{w}m", family,
                    f"Change in {what} over {w} month{'s' * (w > 1)}, as a difference", "count")
    if groups.trends:
        for series, (family, what) in SLOPE_SERIES.items():
            for w in long_windows:
                add(f"{series}_slope_{w}m", family,
                    f"Monthly trend (least-squares slope) of {what} over the last {w} months", "currency per month")
        for series, (family, what) in VOL_SERIES.items():
            for w in long_windows:
                add(f"{series}_vol_{w}m", family,
                    f"Volatility of {what} over the last {w} months (standard deviation relative to the mean)", "ratio")
    if groups.activity:
        add("txn_count_total", "activity_level", "Transactions in all channels in the snapshot month", "count")
        add("txn_amount_total", "activity_level", "Amount transacted in all channels in the snapshot month", "currency")
        for w in long_windows:
            add(f"txn_count_total_avg_{w}m", "activity_level", f"Average monthly transactions over the last {w} months", "count")
        add("mobile_logins", "digital_engagement", "Mobile-banking logins in the snapshot month", "count")
        for w in long_windows:
            add(f"mobile_logins_avg_{w}m", "digital_engagement", f"Average monthly mobile logins over the last {w} months", "count")
        for w in long_windows:
            add(f"salary_inflow_avg_{w}m", "salary_level", f"Average monthly salary or revenue inflow over the last {w} months", "currency")
    if groups.recency:
        add("months_since_mobile_login", "mobile_recency", "Months since the last mobile-banking login (0 = this month; empty if never)", "months")
        add("months_since_salary", "salary_recency", "Months since the last salary or revenue inflow (0 = this month; empty if never)", "months")
        add("months_since_branch_visit", "branch_recency", "Months since the last branch transaction (0 = this month; empty if never)", "months")
    if groups.products:
        add("products_held", "products", "Number of product lines held at the snapshot month", "count")
    if groups.channels:
        for channel in CHANNELS:
            add(f"{channel}_txn_share_3m", "channel_mix",
                f"Share of the last 3 months' transactions made via {channel} (empty if none)", "share")
    if groups.arrears:
        add("days_past_due", "arrears", "Days past due on any credit product at the snapshot month", "days")
        for w in long_windows:
            add(f"days_past_due_max_{w}m", "arrears", f"Highest days past due in the last {w} months", "days")
        for w in long_windows:
            add(f"months_in_arrears_{w}m", "arrears", f"Months with any days past due in the last {w} months", "months")
    if groups.card:
        add("card_utilisation", "card_utilisation", "Credit-card balance as a share of the limit (empty without a card)", "share")
        for w in long_windows:
            add(f"card_utilisation_avg_{w}m", "card_utilisation", f"Average card utilisation over the last {w} months", "share")
        for w in windows:
            add(f"card_utilisation_chg_{w}m", "card_utilisation_trend",
                f"Change in card utilisation over {w} month{'s' * (w > 1)}, as a difference", "share")
    if groups.service:
        for w in long_windows:
            add(f"complaints_sum_{w}m", "complaints", f"Complaints filed in the last {w} months", "count")
        for w in long_windows:
            add(f"rm_contacts_sum_{w}m", "rm_contact", f"Contacts with a relationship manager in the last {w} months", "count")
    if groups.tenure:
        add("tenure_months", "tenure", "Months since the relationship started (onboarding month)", "months")
    if groups.value:
        n = config.value.average_months
        add("contribution_monthly", "contribution",
            f"Monthly contribution (margins on balances, loan and card interest, fees), averaged over {n} months", "currency")
        add("cost_to_serve_monthly", "cost_to_serve",
            f"Monthly cost of serving the client by channel (transactions, RM contacts), averaged over {n} months", "currency")
        add("net_contribution_monthly", "contribution", "Monthly contribution minus cost to serve", "currency")
    if groups.static:
        add("segment", "segment", "Client segment (retail or SME)", "category", "categorical")
        add("region", "region", "Region of the home branch", "category", "categorical")
        add("industry", "industry", "Industry of the business (SME) or of the employer (retail)", "category", "categorical")
        add("income_band", "income_band", "Declared income band (empty if unknown)", "category", "categorical")
    if config.protected.use_as_features:
        add("gender", "gender", "Gender (protected attribute, used only because the config says so)", "category", "categorical")
        add("age_band", "age_band", "Age band at the snapshot month (protected, used only because the config says so)", "category", "categorical")
    return out


WINDOW_PLACEHOLDERS = ("{w}", "{long}")
"""In a feature name a config gives (task `features`, `exclude`, `monotone`; reason-catalogue
keys): `{w}` stands for every configured window the feature is built for, `{long}` for the
longest of them. `days_past_due_max_{long}m` is `days_past_due_max_12m` with the default
windows and `days_past_due_max_6m` for a bank whose history keeps windows 1, 3, 6."""

_WINDOWED = re.compile(r"^(?P<stem>.+_)(?P<w>\d+)m$")


def window_variants(name: str, config: FeatureConfig, built: Iterable[str] | None = None) -> list[str]:
    """The built features a name with a window placeholder stands for, in window order
    (`[name]` for a name without one; `[]` when no window of `config` builds it)."""
    if not any(p in name for p in WINDOW_PLACEHOLDERS):
        return [name]
    known = set(feature_catalog(config) if built is None else built)
    each = [n for n in (name.replace("{w}", str(w)).replace("{long}", str(w)) for w in config.windows)
            if n in known]
    if "{long}" in name:
        return each[-1:]
    return each


def resolve_feature_names(names: Sequence[str], config: FeatureConfig) -> list[str]:
    """`names` with every window placeholder expanded (`window_variants`), order kept, each
    name once. A placeholder that no window builds stays as written, for the caller's
    unknown-feature message."""
    built = set(feature_catalog(config))
    out: list[str] = []
    for name in names:
        out.extend(window_variants(name, config, built) or [name])
    return list(dict.fromkeys(out))


def window_neutral(name: str) -> str | None:
    """`days_past_due_max_{long}m` for `days_past_due_max_12m`; None for a name without a
    window suffix. For the message that says how to write a window feature in a config."""
    match = _WINDOWED.match(name)
    return f"{match['stem']}{{long}}m" if match else None


def carried_columns(config: FeatureConfig) -> tuple[str, ...]:
    """Columns after the features in a snapshot: not model inputs, kept for fairness and reports."""
    used = set(PROTECTED_FEATURES) if config.protected.use_as_features else set()
    return tuple(c for c in CARRIED_COLUMNS if c not in used)
