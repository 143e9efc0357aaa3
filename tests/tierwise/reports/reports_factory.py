"""A seeded, tiny bank for report tests: raw `clients` / `monthly` tables and a
recommendations table that follows the scoring contract (issue 6), derived from them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.features import CLIENT_COLUMNS, MONTHLY_COLUMNS, column_names

INDUSTRIES = ("manufacturing", "retail_trade", "technology", "construction", "agriculture")
REGIONS = ("north", "south", "east", "west")
TIERS = ("Premier", "Excellence", "Potential", "General")
TIER_ZH = {"Premier": "尊享", "Excellence": "卓越", "Potential": "潜力", "General": "一般"}
CHANNEL = {"Premier": "relationship_manager", "Excellence": "relationship_manager",
           "Potential": "branch", "General": "teller_digital"}
CHANNEL_ZH = {"relationship_manager": "客户经理", "branch": "网点", "teller_digital": "柜员"}


def make_bank(n_clients: int = 500, scored: tuple[str, ...] = ("2024-01", "2024-02", "2024-03"),
              *, history: int = 12, after: int = 0, seed: int = 0, n_rms: int = 4,
              shift_industry: str | None = None, shift: float = 0.6,
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(recs, clients, monthly). `shift_industry`: that industry's deposits fall by `shift`
    in the last scored month (an injected outflow). `after`: months of data after the last
    scored month (so labels can mature)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:05d}" for i in range(n_clients)])
    clients = pd.DataFrame({
        "client_id": ids,
        "segment": rng.choice(["retail", "sme"], n_clients, p=[0.8, 0.2]),
        "birth_year": pd.array(rng.integers(1945, 2003, n_clients), dtype="Int64"),
        "gender": rng.choice(["F", "M"], n_clients),
        "region": rng.choice(REGIONS, n_clients),
        "branch": rng.choice(["B01", "B02", "B03"], n_clients),
        "industry": rng.choice(INDUSTRIES, n_clients),
        "onboarding_month": pd.Timestamp("2015-01-01"),
        "income_band": rng.choice(["low", "mid", "high"], n_clients),
        "rm_id": np.where(rng.random(n_clients) < 0.6, [f"RM{k:02d}" for k in rng.integers(1, n_rms + 1, n_clients)], None),
    })
    clients.loc[::37, "birth_year"] = pd.NA
    clients.loc[::41, "gender"] = None
    clients = clients[column_names(CLIENT_COLUMNS)]

    first = pd.Timestamp(scored[0] + "-01") - pd.DateOffset(months=history - 1)
    last = pd.Timestamp(scored[-1] + "-01") + pd.DateOffset(months=after)
    months = pd.date_range(first, last, freq="MS")
    wealth = rng.lognormal(10, 1.2, n_clients)
    has_loan = rng.random(n_clients) < 0.5
    stress = rng.beta(1.2, 20, n_clients)
    churn_base = rng.beta(2, 8, n_clients)
    growth_base = rng.normal(0.05, 0.1, n_clients)
    frames = []
    shifted = pd.Timestamp(scored[-1] + "-01")
    for t, month in enumerate(months):
        wobble = 1 + 0.01 * rng.standard_normal(n_clients) + 0.002 * t
        dep = wealth * 0.4 * wobble
        if shift_industry is not None and month >= shifted:
            dep = np.where(clients["industry"].to_numpy() == shift_industry, dep * (1 - shift), dep)
        frame = pd.DataFrame({
            "client_id": ids, "month": month,
            "deposit_current": dep * 0.5, "deposit_time": dep * 0.5,
            "wealth_balance": wealth * 0.3 * wobble, "fund_balance": wealth * 0.2 * wobble,
            "insurance_balance": wealth * 0.1,
            "loan_balance": np.where(has_loan, wealth * 0.8, 0.0), "card_limit": 20000.0,
            "card_balance": 1000.0, "card_spend": 800.0,
            "branch_txn_count": rng.integers(0, 5, n_clients), "branch_txn_amount": 500.0,
            "mobile_txn_count": rng.integers(0, 40, n_clients), "mobile_txn_amount": 3000.0,
            "atm_txn_count": rng.integers(0, 5, n_clients), "atm_txn_amount": 200.0,
            "salary_inflow": wealth * 0.05, "products_held": rng.integers(1, 6, n_clients),
            "mobile_logins": rng.integers(0, 30, n_clients), "complaints": 0,
            "rm_contacts": rng.integers(0, 3, n_clients), "fee_income": wealth * 0.001,
            "days_past_due": np.where(rng.random(n_clients) < stress, 120, 0),
            "relationship_closed": rng.random(n_clients) < 0.01,
        })
        frames.append(frame)
    monthly = pd.concat(frames, ignore_index=True)[column_names(MONTHLY_COLUMNS)]
    monthly["client_id"] = monthly["client_id"].astype("str")

    rec_frames = []
    for label in scored:
        month = pd.Timestamp(label + "-01")
        m = monthly[monthly["month"] == month].reset_index(drop=True)
        rec_frames.append(_recs_for_month(m, clients, stress, has_loan, churn_base, growth_base, rng))
    recs = pd.concat(rec_frames, ignore_index=True)
    return recs, clients, monthly


def _recs_for_month(m: pd.DataFrame, clients: pd.DataFrame, stress: np.ndarray, has_loan: np.ndarray,
                    churn_base: np.ndarray, growth_base: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    n = len(m)
    assets = m[["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]].sum(axis=1)
    p_churn = np.clip(churn_base + 0.005 * rng.standard_normal(n), 0, 1)
    p_default = np.where(has_loan, np.clip(stress + 0.0005 * rng.random(n), 0, 1), np.nan)
    growth = growth_base + 0.005 * rng.standard_normal(n)
    exposure = m["loan_balance"].to_numpy()
    value = assets.to_numpy() * 0.02 * (1 - p_churn) - np.nan_to_num(p_default) * 0.45 * exposure * 0.05
    rank = pd.Series(value).rank(pct=True, method="first").to_numpy()
    tier = np.select([rank > 0.95, rank > 0.8, rank > 0.5], ["Premier", "Excellence", "Potential"], "General")
    contribution = assets.to_numpy() * 0.001
    cost = np.where(np.isin(tier, ["Premier", "Excellence"]), 150.0, np.where(tier == "Potential", 40.0, 10.0))
    top = np.isin(tier, ["Premier", "Excellence"])
    pd_high = np.nan_to_num(p_default) > 0.05
    recs = pd.DataFrame({
        "client_id": m["client_id"].astype("str"),
        "month": m["month"],
        "segment": clients["segment"].to_numpy(), "region": clients["region"].to_numpy(),
        "industry": clients["industry"].to_numpy(), "branch": clients["branch"].to_numpy(),
        "rm_id": clients["rm_id"].to_numpy(),
        "p_churn": p_churn, "p_default": p_default, "growth": growth,
        "expected_value_12m": value, "assets_total": assets.to_numpy(), "credit_exposure": exposure,
        "contribution_monthly": contribution, "cost_to_serve_monthly": cost,
        "tier": tier, "tier_zh": [TIER_ZH[t] for t in tier],
        "channel": [CHANNEL[t] for t in tier], "channel_zh": [CHANNEL_ZH[CHANNEL[t]] for t in tier],
        "flag_retention_priority": top & (p_churn > 0.3),
        "flag_risk_watch": pd_high,
        "flag_exit_review": top & pd_high,
        "flag_cost_review": contribution < cost,
        "flag_growth_lead": (tier == "Potential") & (growth > 0.15),
        "flag_rm_overflow": np.zeros(n, dtype=bool),
        "cost_review_reason": np.where(contribution < cost, "contribution below cost to serve", None),
        "tier_reason_en": [f"{t}: expected value rank {r:.0%}" for t, r in zip(tier, rank, strict=True)],
        "tier_reason_zh": [f"{TIER_ZH[t]}：预期价值排名 {r:.0%}" for t, r in zip(tier, rank, strict=True)],
    })
    drop = np.round(100 * p_churn).astype(int)
    for model in ("churn", "default", "growth"):
        for k in (1, 2, 3):
            has = np.arange(n) % 4 >= k - 1  # some clients have fewer reasons
            recs[f"reason_{model}_{k}_family"] = np.where(has, "deposits", None)
            recs[f"reason_{model}_{k}_en"] = np.where(
                has, [f"Deposits fell {d + k}% in the last 3 months ({model})" for d in drop], None)
            recs[f"reason_{model}_{k}_zh"] = np.where(
                has, [f"近3个月存款下降{d + k}%（{model}）" for d in drop], None)
            recs[f"reason_{model}_{k}_shap"] = np.where(has, 0.1 / k, np.nan)
    for col in ("client_id", "segment", "region", "industry", "branch", "rm_id", "tier", "tier_zh", "channel",
                "channel_zh", "cost_review_reason", "tier_reason_en", "tier_reason_zh"):
        recs[col] = recs[col].astype("str").where(pd.Series(recs[col]).notna(), None)
    return recs


def write_bank(folder, recs: pd.DataFrame, clients: pd.DataFrame, monthly: pd.DataFrame):
    """recommendations.parquet and bank/{clients,monthly}.parquet under `folder`."""
    bank = folder / "bank"
    bank.mkdir(parents=True, exist_ok=True)
    clients.to_parquet(bank / "clients.parquet", index=False)
    monthly.to_parquet(bank / "monthly.parquet", index=False)
    recs.to_parquet(folder / "recommendations.parquet", index=False)
    return folder / "recommendations.parquet", bank


SMALL_MONTHS = ("2024-01", "2024-02", "2024-03")
SMALL_REVIEW_EN = "PD 6.1% stayed above the limit of 5.0% for 3 months: one tier down"
SMALL_REVIEW_ZH = "违约概率6.1%连续3个月高于上限5.0%：降一级"
_SMALL_PLAN = {
    # client: {month: (rm_id, tier, expected value, assets)}; a month left out: no row that month
    "C00000": {"2024-01": ("RM01", "Premier", 900.0, 9e5), "2024-02": ("RM01", "Excellence", 950.0, 9.5e5),
               "2024-03": ("RM01", "Potential", 1000.0, 1e6)},
    "C00001": {"2024-01": ("RM01", "Potential", 2000.0, 1.5e6), "2024-02": ("RM01", "Potential", 2100.0, 1.8e6),
               "2024-03": ("RM01", "Excellence", 2500.4, 2e6)},
    "C00002": {"2024-02": ("RM01", "General", 50.0, 1e4)},
    "C00003": {"2024-01": ("RM02", "General", 12.0, 5e3), "2024-02": ("RM02", "General", 11.0, 5e3),
               "2024-03": ("RM02", "General", 10.0, 4e3)},
    "C00004": {"2024-01": ("RM02", "Premier", 19000.0, 4e6), "2024-02": ("RM02", "Premier", 19500.0, 4.1e6),
               "2024-03": ("RM02", "Premier", 20000.0, 4.2e6)},
    "C00005": {"2024-03": (None, "General", 7.0, 1e3)},
    "C00006": {"2024-03": ("RM02", "Potential", -30.0, 2e4)},
    "C00007": {"2024-02": ("RM03", "General", 5.0, 2e3)},
}


def small_archive_frames() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Three hand-set months of eight clients ({'YYYY-MM': rows}, monthly), figures checked by hand:

    2024-03 against 2024-02 -- RM01: C00000 Excellence -> Potential (downgraded by its exit review;
    risk watch cleared, cost review new), C00001 Potential -> Excellence, C00002 lost; RM02:
    C00003 (exit review opened) and C00006 (new client) 90+ days past due for the first time,
    C00004 90+ both months; RM03: C00007 lost, no client left; C00005 has no RM."""
    recs, _, monthly = make_bank(n_clients=len(_SMALL_PLAN), scored=SMALL_MONTHS, history=3, seed=3)
    flags = [c for c in recs.columns if c.startswith("flag_")]
    frames = {}
    for label in SMALL_MONTHS:
        month = pd.Timestamp(label + "-01")
        rows = recs[recs["month"] == month].set_index("client_id")
        keep = [cid for cid, plan in _SMALL_PLAN.items() if label in plan]
        rows = rows.loc[keep].copy()
        for cid in keep:
            rm, tier, value, assets = _SMALL_PLAN[cid][label]
            rows.loc[cid, ["rm_id", "tier", "tier_zh", "channel", "channel_zh"]] = [
                rm, tier, TIER_ZH[tier], CHANNEL[tier], CHANNEL_ZH[CHANNEL[tier]]]
            rows.loc[cid, ["expected_value_12m", "assets_total"]] = [value, assets]
            rows.loc[cid, "tier_reason_en"] = f"{tier}: set by hand for {label}"
            rows.loc[cid, "tier_reason_zh"] = f"{TIER_ZH[tier]}：{label} 手工设定"
        rows[flags] = False
        rows["exit_review_status"] = None
        rows["exit_review_reason_en"] = None
        rows["exit_review_reason_zh"] = None
        rows["exit_review_months"] = 0
        rows["exit_review_since"] = pd.NaT
        frames[label] = rows.reset_index()
    jan, feb, mar = (frames[m].set_index("client_id") for m in SMALL_MONTHS)
    # a review that closed in January (every month has a review date: tierwise.archive writes an
    # all-NaT exit_review_since as 0001-01-01, which read_archive cannot read back)
    jan.loc["C00001", ["exit_review_status", "exit_review_months"]] = ["closed", 2]
    jan.loc["C00001", "exit_review_since"] = pd.Timestamp("2023-12-01")
    feb.loc["C00000", ["flag_risk_watch", "flag_exit_review"]] = True
    feb.loc["C00000", ["exit_review_status", "exit_review_months"]] = ["opened", 1]
    feb.loc["C00000", "exit_review_since"] = pd.Timestamp("2024-02-01")
    mar.loc["C00000", "flag_cost_review"] = True
    mar.loc["C00000", ["exit_review_status", "exit_review_reason_en", "exit_review_reason_zh",
                       "exit_review_months"]] = ["downgraded", SMALL_REVIEW_EN, SMALL_REVIEW_ZH, 2]
    mar.loc["C00000", "exit_review_since"] = pd.Timestamp("2024-02-01")
    mar.loc["C00000", "tier_reason_en"] = SMALL_REVIEW_EN
    mar.loc["C00000", "tier_reason_zh"] = SMALL_REVIEW_ZH
    mar.loc["C00003", ["flag_risk_watch", "flag_exit_review"]] = True
    mar.loc["C00003", ["exit_review_status", "exit_review_months"]] = ["opened", 1]
    mar.loc["C00003", "exit_review_since"] = pd.Timestamp("2024-03-01")
    frames = {m: f.reset_index() for m, f in zip(SMALL_MONTHS, (jan, feb, mar), strict=True)}
    monthly = monthly.copy()
    monthly["days_past_due"] = 0
    for cid, label, days in (("C00003", "2024-03", 120), ("C00004", "2024-02", 120), ("C00004", "2024-03", 120),
                             ("C00006", "2024-03", 95), ("C00001", "2024-01", 120)):
        monthly.loc[(monthly["client_id"] == cid) & (monthly["month"] == pd.Timestamp(label + "-01")),
                    "days_past_due"] = days
    return frames, monthly


def write_small_archive(folder):
    """`small_archive_frames` written as `folder/archive` (tierwise.archive.write_month) and
    `folder/bank/{clients,monthly}.parquet`; returns (archive folder, bank folder, monthly)."""
    import datetime as dt

    from tierwise.archive import write_month

    frames, monthly = small_archive_frames()
    archive = folder / "archive"
    for label, rows in frames.items():
        year, month = map(int, label.split("-"))
        write_month(archive, dt.date(year, month, 1), rows)
    _, clients, _ = make_bank(n_clients=len(_SMALL_PLAN), scored=SMALL_MONTHS, history=3, seed=3)
    bank = folder / "bank"
    bank.mkdir(parents=True, exist_ok=True)
    clients.to_parquet(bank / "clients.parquet", index=False)
    monthly.to_parquet(bank / "monthly.parquet", index=False)
    return archive, bank, monthly
