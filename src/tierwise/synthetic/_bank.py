"""The synthetic bank: a known causal world behind the raw `clients` and `monthly` tables.

Latent state per client (evolving month to month, AR processes with shocks):

- wealth (`log_assets`): heavy-tailed, grows with life stage, salary and engagement;
- engagement `E`: drives mobile logins, mobile/branch transactions, card spend;
- financial stress `S` (plus, for SME and industry-exposed retail, the industry cycle):
  drives card utilisation, salary/revenue drops, ATM cash use and early arrears;
- dissatisfaction `D` (jumps after service incidents): drives complaints, branch visits,
  RM contacts;
- outflow `O` (a competitor offer pulling money out): drives falling time deposits and
  wealth balances and large outgoing mobile transfers;
- life stage (age, loans taken around family formation) and leverage (loan vs income).

Churn: a client starts leaving with a hazard driven by low engagement, dissatisfaction and
outflow; leavers run their balances down over 1-4 months, then close (or go dormant: no
transactions, a small residue of assets). A share of leavers close abruptly with no warning.
Default: from current, a client slips into 30 dpd with a hazard driven by stress, leverage and
the industry cycle; 30 -> 60 -> 90+ (or cure); a share jump straight to 90+.

The step function `_step` is shared by the main simulation and the oracle (which re-simulates
futures from the true state at a snapshot), so the oracle's probabilities are exactly the
probabilities of this world.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    PRODUCT_COLUMNS,
    ConfigError,
    add_months,
    column_names,
    holds,
    month_range,
)
from tierwise.synthetic import _products
from tierwise.synthetic._config import DataConfig, LabelsConfig, ShiftConfig
from tierwise.synthetic._network import generate_network

logger = logging.getLogger(__name__)

ACTIVE, LEAVING, DORMANT, CLOSED = 0, 1, 2, 3
CHURN_DRIVERS = ("disengagement", "service_dissatisfaction", "asset_outflow")
DEFAULT_DRIVERS = ("financial_stress", "arrears_history", "industry_downturn", "over_leverage")
INCOME_BANDS = ("<5k", "5k-10k", "10k-20k", "20k-50k", "50k+")
_INCOME_EDGES = np.array([5_000, 10_000, 20_000, 50_000])

# Spring Festival month by year (the spending peak); other years fall back to February.
_FESTIVAL_MONTH = {2018: 2, 2019: 2, 2020: 1, 2021: 2, 2022: 2, 2023: 1, 2024: 2, 2025: 1,
                   2026: 2, 2027: 2, 2028: 1, 2029: 2, 2030: 2, 2031: 1, 2032: 2}

# --- the world's fixed coefficients (the config sets base rates, not the mechanism) -------
_E_RHO, _E_SD, _E_SHOCK_P, _E_SHOCK = 0.85, 0.22, 0.015, -0.9
_S_RHO, _S_SD, _S_SHOCK_P, _S_SHOCK = 0.92, 0.17, 0.010, 1.0
_D_RHO, _D_JUMP_P = 0.65, 0.022
_O_RHO, _O_JUMP_P = 0.80, 0.014
_CYC_RHO, _CYC_SD = 0.93, 0.30
_C_E, _C_D, _C_O = 2.2, 1.2, 1.6  # churn-start logit weights: -E, D, O
_D_S, _D_L, _D_I = 2.6, 0.4, 0.35  # arrears-entry logit weights: S, leverage, industry cycle
_SME_CYCLE_BETA, _RETAIL_CYCLE_BETA = 0.45, 0.15
# empirical ratios between the per-month hazards and the configured horizon base rates
_CHURN_MONTHLY_FACTOR = 1.04
_DEFAULT_ENTRY_FACTOR = 0.33


@dataclass
class _Static:
    """Per-client attributes that do not change (arrays aligned by client)."""

    is_sme: np.ndarray
    age0: np.ndarray  # age at the first simulated month
    log_income: np.ndarray  # monthly salary (retail) or revenue (SME), log
    mu_e: np.ndarray  # long-run engagement
    mu_s: np.ndarray  # long-run financial fragility
    digital: np.ndarray  # share of activity in the mobile app
    shares: np.ndarray  # (n, 5) asset split over the balance products
    card_limit: np.ndarray
    has_rm: np.ndarray
    cycle_beta: np.ndarray
    ticket: np.ndarray  # typical transaction amount
    employed: np.ndarray
    industry: np.ndarray  # industry index (-1 none)
    onboard: np.ndarray  # month index of onboarding (<=0: before the window)
    pot_shares: np.ndarray | None = None  # product adoption on (_products): balance split over all products
    pot_card: np.ndarray | None = None  # product adoption on: the card limit a card holder has
    adopt_base: np.ndarray | None = None  # product adoption on: (n, families) base logit of each family's adoption

    def take(self, idx: np.ndarray) -> _Static:
        return _Static(**{f.name: _take(getattr(self, f.name), idx) for f in fields(self)})


def _take(arr: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if arr is None else arr[idx].copy()


@dataclass
class _State:
    """Latent state per row at the end of a month (the oracle copies this)."""

    log_assets: np.ndarray
    e: np.ndarray
    s: np.ndarray
    d: np.ndarray
    o: np.ndarray
    loan: np.ndarray
    bucket: np.ndarray  # 0 current, 1 = 30 dpd, 2 = 60 dpd, 3 = 90+ (default)
    months_default: np.ndarray
    phase: np.ndarray
    countdown: np.ndarray
    close_at_end: np.ndarray
    leave_driver: np.ndarray  # index into CHURN_DRIVERS, -1 none
    age: np.ndarray
    cyc: np.ndarray  # the client's industry cycle value this month
    held: np.ndarray | None = None  # product adoption on: (n, len(PRODUCTS)) families held

    def take(self, idx: np.ndarray) -> _State:
        return _State(**{f.name: _take(getattr(self, f.name), idx) for f in fields(self)})


@dataclass(frozen=True)
class _Coef:
    churn0: float
    default0: float
    abrupt: float
    dormant: float
    sudden: float


@dataclass(frozen=True)
class SyntheticBank:
    """What `generate_bank` returns: the two raw tables and the oracle sample (and, for a
    profile whose bank records them, its `events` table; None otherwise; and, when
    `network.enabled`, the `relations` table with its group oracle)."""

    clients: pd.DataFrame
    monthly: pd.DataFrame
    oracle: pd.DataFrame
    events: pd.DataFrame | None = None
    relations: pd.DataFrame | None = None
    group_oracle: pd.DataFrame | None = None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _churn_contrib(st: _State) -> np.ndarray:
    """(n, 3) contributions to the churn-start logit, in CHURN_DRIVERS order."""
    return np.stack([_C_E * np.maximum(-st.e, 0.0), _C_D * st.d, _C_O * st.o], axis=1)


def _stress(st: _State, cl: _Static) -> np.ndarray:
    return st.s + cl.cycle_beta * st.cyc


def _leverage(st: _State, cl: _Static) -> np.ndarray:
    return np.minimum(st.loan / (12.0 * np.exp(cl.log_income)), 8.0)


def _default_contrib(st: _State, cl: _Static) -> np.ndarray:
    """(n, 3) contributions to the arrears-entry logit: stress, industry cycle, leverage."""
    return np.stack([
        _D_S * np.maximum(st.s, 0.0),
        _D_S * cl.cycle_beta * np.maximum(st.cyc, 0.0) + _D_I * cl.is_sme * np.maximum(st.cyc, 0.0),
        _D_L * _leverage(st, cl),
    ], axis=1)


def _churn_logit(st: _State, coef: _Coef) -> np.ndarray:
    return coef.churn0 - _C_E * st.e + _C_D * st.d + _C_O * st.o


def _default_logit(st: _State, cl: _Static, coef: _Coef) -> np.ndarray:
    return (coef.default0 + _D_S * _stress(st, cl) + _D_L * _leverage(st, cl)
            + _D_I * cl.is_sme * st.cyc)


def _festival(date: dt.date) -> bool:
    return date.month == _FESTIVAL_MONTH.get(date.year, 2)


def _step(st: _State, cl: _Static, t: int, date: dt.date, cyc: np.ndarray,
          rng: np.random.Generator, coef: _Coef,
          drain: np.ndarray | None = None,
          prng: np.random.Generator | None = None) -> tuple[_State, dict[str, np.ndarray], np.ndarray]:
    """Advance one month. Returns the new state, the observed columns, and the mask of rows
    that exist this month (onboarded and not closed before this month).

    `drain` (the injected shift, see `_shift_drain`): per client, the log of the share of
    assets kept this month (0 = untouched); the money that leaves shows as outgoing mobile
    transfers. None (no shift) leaves every number as it was. With product adoption on
    (`st.held` set), `prng` draws the adoptions (`_products.adopt`) and the month shows them."""
    n = st.e.shape[0]
    onboarded = cl.onboard <= t
    present = onboarded & (st.phase != CLOSED)
    active = present & (st.phase == ACTIVE) & (st.bucket < 3)
    held = None
    if st.held is not None:
        cl, held = _products.adopt(st, cl, active, prng)

    # -- events decided by the state at the end of last month --------------------------
    u = rng.random(n)
    p_churn = _sigmoid(_churn_logit(st, coef)) * active
    start_leave = u < p_churn * (1 - coef.abrupt)
    abrupt = (u >= p_churn * (1 - coef.abrupt)) & (u < p_churn)
    countdown_new = rng.integers(2, 6, n)
    close_new = rng.random(n) >= coef.dormant
    leave_driver = np.where(start_leave | abrupt, np.argmax(_churn_contrib(st), axis=1), st.leave_driver)

    phase = st.phase.copy()
    countdown = np.where(start_leave, countdown_new, st.countdown)
    close_at_end = np.where(start_leave, close_new, st.close_at_end)
    phase[start_leave] = LEAVING
    leaving_now = present & (phase == LEAVING)
    countdown = np.where(leaving_now, countdown - 1, countdown)
    ends = leaving_now & (countdown <= 0)
    closed_now = abrupt | (ends & close_at_end)
    phase[ends & ~close_at_end] = DORMANT
    phase[closed_now] = CLOSED

    # arrears transitions
    exposure = (st.loan > 0) | (cl.card_limit > 0)
    u2 = rng.random(n)
    stress = _stress(st, cl)
    p01 = _sigmoid(_default_logit(st, cl, coef)) * exposure * present
    bucket = st.bucket.copy()
    b0, b1, b2 = st.bucket == 0, st.bucket == 1, st.bucket == 2
    bucket[b0 & (u2 < p01 * (1 - coef.sudden))] = 1
    bucket[b0 & (u2 >= p01 * (1 - coef.sudden)) & (u2 < p01)] = 3
    p12 = _sigmoid(-0.4 + 1.2 * stress)
    p23 = _sigmoid(0.5 + 1.2 * stress)
    bucket[b1 & (u2 < p12)] = 2
    bucket[b1 & (u2 > p12 + 0.3 * (1 - p12))] = 0
    bucket[b2 & (u2 < p23)] = 3
    bucket[b2 & (u2 > p23 + 0.5 * (1 - p23))] = 0
    bucket[~present] = st.bucket[~present]
    months_default = np.where(bucket == 3, st.months_default + 1, 0)

    # loans: origination around family formation and for SME, amortisation when current
    age = st.age + 1.0 / 12.0
    p_loan = np.where(cl.is_sme, 0.010, np.where((age > 26) & (age < 42), 0.006, 0.0015))
    if st.held is not None:  # product adoption on: loans are taken as the other families are opened
        p_loan = _products.loan_probability(st, cl)
    new_loan = (rng.random(n) < p_loan) & (st.loan <= 0) & active
    loan_size = np.exp(cl.log_income) * 12.0 * rng.uniform(1.0, 4.0, n)
    loan = np.where(bucket == 0, st.loan * 0.988, st.loan)
    loan = np.where(loan < 200.0, 0.0, loan)
    loan = np.where(new_loan, loan_size, loan)

    # -- latent traits evolve ---------------------------------------------------------
    e = (cl.mu_e + _E_RHO * (st.e - cl.mu_e) + _E_SD * rng.standard_normal(n)
         + _E_SHOCK * (rng.random(n) < _E_SHOCK_P))
    e = np.where(leaving_now, e - 0.45, e)
    s = cl.mu_s + _S_RHO * (st.s - cl.mu_s) + _S_SD * rng.standard_normal(n) + _S_SHOCK * (rng.random(n) < _S_SHOCK_P)
    d = _D_RHO * st.d + (rng.random(n) < _D_JUMP_P) * (1.0 + rng.exponential(1.0, n))
    o = _O_RHO * st.o + (rng.random(n) < _O_JUMP_P) * (0.8 + rng.exponential(0.7, n))
    new_st = _State(st.log_assets, e, s, d, o, loan, bucket, months_default, phase, countdown,
                    close_at_end, leave_driver, age, cyc)
    stress = _stress(new_st, cl)

    growth = np.select([age < 30, age < 45, age < 60], [0.024, 0.020, 0.014], 0.006)
    growth = growth + 0.004 * e + 0.002 * (cl.log_income - 9.0) - 0.015 * np.maximum(stress, 0)
    windfall = (rng.random(n) < 0.006) * np.log(1.8)
    log_assets = (st.log_assets + growth - 0.08 * o + 0.035 * rng.standard_normal(n) + windfall
                  + np.where(leaving_now, np.log(0.35), 0.0))
    log_assets = np.where(ends & ~close_at_end, log_assets + np.log(0.15), log_assets)
    moved_out = None
    if drain is not None:
        moved_out = np.where(onboarded, np.exp(log_assets) * -np.expm1(drain), 0.0)
        log_assets = log_assets + drain
    new_st = replace(new_st, log_assets=np.where(onboarded, log_assets, st.log_assets))
    dormant = phase == DORMANT

    # -- observed columns -------------------------------------------------------------
    fest = _festival(date)
    assets = np.exp(new_st.log_assets)
    noise = np.exp(0.05 * rng.standard_normal((n, 5)))
    bal = assets[:, None] * cl.shares * noise
    bal[:, 1] *= np.exp(-0.5 * o)  # time deposits run off first when money moves out
    bal[:, 0] *= np.exp(-0.35 * stress)
    income = np.exp(cl.log_income)
    salary = np.where(
        cl.is_sme,
        income * np.exp(0.6 * cyc - 0.2 * s + 0.06 * rng.standard_normal(n)) * (1.15 if date.month in (11, 12) else 1.0),
        income * np.exp(-0.2 * stress + 0.04 * rng.standard_normal(n)) * (2.0 if date.month == 12 else 1.0),
    ) * cl.employed
    salary = np.where(leaving_now & (rng.random(n) < 0.6), 0.0, salary)
    util = _sigmoid(-1.2 + 1.3 * stress + 0.2 * rng.standard_normal(n) + 0.3 * fest)
    util = np.where(bucket >= 1, np.maximum(util, 0.92), util)
    card_balance = cl.card_limit * util
    card_spend = np.where(bucket == 3, 0.0, cl.card_limit * 0.25 * np.exp(0.25 * e + 0.2 * rng.standard_normal(n)) * (1.6 if fest else 1.0))
    act = np.exp(e)
    mobile_logins = rng.poisson(cl.digital * 16.0 * act)
    mobile_n = rng.poisson(cl.digital * 10.0 * act)
    branch_n = rng.poisson((1 - cl.digital) * 3.0 * np.exp(0.4 * e) + 0.5 * d)
    atm_n = rng.poisson(1.5 * (1 + 0.6 * np.maximum(stress, 0)) * (1.5 if fest else 1.0))
    lognoise = np.exp(0.3 * rng.standard_normal((n, 3)))
    mobile_amt = mobile_n * cl.ticket * lognoise[:, 0] + assets * 0.08 * o
    if moved_out is not None:
        mobile_amt = mobile_amt + moved_out
    branch_amt = branch_n * cl.ticket * 2.5 * lognoise[:, 1]
    atm_amt = atm_n * np.minimum(cl.ticket, 3000.0) * 0.6 * lognoise[:, 2] * (1.4 if fest else 1.0)
    complaints = rng.poisson(0.01 + 0.8 * d)
    rm_contacts = rng.poisson(np.where(cl.has_rm, 1.0 + 0.5 * d, 0.03 + 0.2 * d))
    dpd_noise = rng.integers(0, 30, n)

    quiet = dormant | closed_now
    for arr in (mobile_logins, mobile_n, branch_n, atm_n):
        arr[quiet] = 0
    mobile_amt = np.where(quiet, 0.0, mobile_amt)
    branch_amt = np.where(quiet, 0.0, branch_amt)
    atm_amt = np.where(quiet, 0.0, atm_amt)
    card_spend = np.where(quiet, 0.0, card_spend)
    salary = np.where(quiet, 0.0, salary)
    bal = np.where(closed_now[:, None], 0.0, bal)
    loan_obs = np.where(closed_now, 0.0, loan)
    card_balance = np.where(closed_now, 0.0, card_balance)
    card_limit = np.where(closed_now, 0.0, cl.card_limit)
    bal = np.round(bal, 2)
    products = ((bal > 0).sum(axis=1) + (card_limit > 0) + (loan_obs > 0)).astype(np.int64)
    dpd = np.select([bucket == 1, bucket == 2, bucket == 3],
                    [30 + dpd_noise, 60 + dpd_noise, np.minimum(60 + 30 * months_default + dpd_noise, 720)], 0)
    fee = 0.0006 * bal[:, 2:5].sum(axis=1) + 0.004 * card_spend + 1.5 * branch_n + 0.5 * atm_n

    obs = {
        "deposit_current": bal[:, 0], "deposit_time": bal[:, 1], "wealth_balance": bal[:, 2],
        "fund_balance": bal[:, 3], "insurance_balance": bal[:, 4],
        "loan_balance": np.round(loan_obs, 2), "card_limit": np.round(card_limit, 2),
        "card_balance": np.round(card_balance, 2), "card_spend": np.round(card_spend, 2),
        "branch_txn_count": branch_n.astype(np.int64), "branch_txn_amount": np.round(branch_amt, 2),
        "mobile_txn_count": mobile_n.astype(np.int64), "mobile_txn_amount": np.round(mobile_amt, 2),
        "atm_txn_count": atm_n.astype(np.int64), "atm_txn_amount": np.round(atm_amt, 2),
        "salary_inflow": np.round(salary, 2), "products_held": products,
        "mobile_logins": mobile_logins.astype(np.int64), "complaints": complaints.astype(np.int64),
        "rm_contacts": rm_contacts.astype(np.int64), "fee_income": np.round(fee, 2),
        "days_past_due": dpd.astype(np.int64), "relationship_closed": closed_now & present,
    }
    if held is not None:
        _products.observe(obs, held, quiet)
        new_st = replace(new_st, held=_products.after_step(held, loan))
    return new_st, obs, present


# --- label paths: shared by the oracle's futures and the realised outcomes ----------------

@dataclass
class _Paths:
    """Future months h = 1..H (columns) of the label-relevant observations (rows: pairs)."""

    assets: np.ndarray
    txn: np.ndarray
    dpd: np.ndarray
    closed: np.ndarray
    present: np.ndarray


def _label_values(assets_t: np.ndarray, paths: _Paths, lab: LabelsConfig) -> dict[str, np.ndarray]:
    """Churn, default and growth labels of the definitions in `configs/data.yaml` `labels:`."""
    hc, hd, hg = lab.churn_horizon_months, lab.default_horizon_months, lab.growth_horizon_months
    p = paths.present
    drained = p & (paths.assets < lab.churn_asset_share * assets_t[:, None]) & (paths.txn == 0)
    gone = ~p  # no row: the relationship closed earlier
    churn = (paths.closed[:, :hc] | drained[:, :hc] | gone[:, :hc]).any(axis=1)
    default = (p[:, :hd] & (paths.dpd[:, :hd] >= lab.default_dpd)).any(axis=1)
    kept = p[:, hg - 1] & ~paths.closed[:, hg - 1]
    growth = np.where(kept, np.log((paths.assets[:, hg - 1] + lab.growth_offset)
                                   / (assets_t + lab.growth_offset)), np.nan)
    return {"churn": churn, "default": default, "growth": growth}


def _assets_total(obs: dict[str, np.ndarray]) -> np.ndarray:
    return (obs["deposit_current"] + obs["deposit_time"] + obs["wealth_balance"]
            + obs["fund_balance"] + obs["insurance_balance"])


def _txn_total(obs: dict[str, np.ndarray]) -> np.ndarray:
    return obs["mobile_txn_count"] + obs["branch_txn_count"] + obs["atm_txn_count"]


# --- the world -------------------------------------------------------------------------------


def _draw_clients(n: int, months: int, cfg: DataConfig, rng: np.random.Generator) -> tuple[_Static, _State, dict]:
    pop = cfg.population
    is_sme = rng.random(n) < pop.sme_share
    age0 = np.where(is_sme, rng.uniform(28, 68, n), 20 + 60 * rng.beta(1.6, 2.2, n))
    n_ind = len(pop.industries)
    industry = rng.integers(0, n_ind, n)
    no_industry = (~is_sme) & (rng.random(n) < pop.industry_missing_share_retail)
    industry = np.where(no_industry, -1, industry)
    employed = np.where(is_sme, 1.0, np.where(age0 > 62, 0.15, 0.93) > rng.random(n)).astype(float)
    employed = np.where(is_sme, 1.0, employed)
    z = rng.standard_normal(n)
    peak = np.exp(-((age0 - 47.0) / 18.0) ** 2)
    log_income = np.where(is_sme, 11.2 + 0.8 * z, 8.9 + 0.35 * peak + 0.55 * z)
    tail = np.clip(rng.standard_t(3, n), -4, 6)
    log_assets = (9.0 + 0.9 * (log_income - 9.0) + 0.9 * tail + 0.025 * (age0 - 40)
                  + np.where(is_sme, 0.8, 0.0))
    big = rng.random(n) < pop.very_large_client_share
    log_assets = log_assets + big * rng.uniform(2.5, 4.0, n)
    mu_e = 0.6 * rng.standard_normal(n) - 0.012 * (age0 - 40)
    mu_s = 0.75 * rng.standard_normal(n) - 0.25 * (log_income - 9.0) - 0.6
    digital = np.clip(0.92 - 0.012 * np.maximum(age0 - 30, 0) + 0.08 * rng.standard_normal(n), 0.1, 0.97)
    rich = np.clip((log_assets - 9.0) / 3.0, 0, 1)
    holds = np.stack([
        np.ones(n, bool), rng.random(n) < 0.45 + 0.4 * rich, rng.random(n) < 0.15 + 0.6 * rich,
        rng.random(n) < 0.10 + 0.5 * rich, rng.random(n) < 0.12 + 0.3 * rich,
    ], axis=1)
    base = np.array([0.35, 0.30, 0.20, 0.10, 0.05]) * np.exp(0.3 * rng.standard_normal((n, 5)))
    base[:, 0] *= np.exp(-1.2 * rich)
    shares = base * holds
    shares /= shares.sum(axis=1, keepdims=True)
    has_loan = rng.random(n) < np.where(is_sme, pop.loan_share_sme, pop.loan_share_retail)
    # most borrowers also hold a card; business cards are common among SME
    p_card = np.where(is_sme, 0.8, np.where(has_loan, 0.85, pop.card_share_retail + 0.2 * rich))
    has_card = rng.random(n) < p_card
    card_limit = has_card * np.round(np.exp(log_income) * rng.uniform(1.0, 3.0, n), -2)
    has_rm = is_sme & (rng.random(n) < 0.5) | (log_assets > np.quantile(log_assets, 0.92))
    amp = np.asarray(pop.industry_cycle_amplitude, float)
    amp = np.resize(amp, n_ind) if amp.size else np.ones(n_ind)
    cycle_beta = np.where(industry < 0, 0.0, np.where(is_sme, _SME_CYCLE_BETA, _RETAIL_CYCLE_BETA) * amp[np.maximum(industry, 0)])
    ticket = np.exp(log_income) * 0.04 * np.exp(0.3 * rng.standard_normal(n))
    in_window = rng.random(n) < pop.onboarding_in_window_share
    onboard = np.where(in_window, rng.integers(1, max(months, 2), n), -rng.integers(0, 180, n))
    onboard = np.where(in_window, np.minimum(onboard, months - 1), onboard)

    loan = has_loan * np.exp(log_income) * 12.0 * rng.uniform(0.3, 3.5, n)
    st = _State(
        log_assets=log_assets, e=mu_e + 0.4 * rng.standard_normal(n), s=mu_s + 0.45 * rng.standard_normal(n),
        d=np.zeros(n), o=np.zeros(n), loan=loan, bucket=np.zeros(n, np.int8),
        months_default=np.zeros(n, np.int64), phase=np.zeros(n, np.int8),
        countdown=np.zeros(n, np.int64), close_at_end=np.zeros(n, bool),
        leave_driver=np.full(n, -1, np.int64), age=age0.copy(), cyc=np.zeros(n),
    )
    cl = _Static(is_sme, age0, log_income, mu_e, mu_s, digital, shares, card_limit, has_rm,
                 cycle_beta, ticket, employed, industry, onboard)
    extra = {"in_window": in_window, "has_card": has_card}
    return cl, st, extra


def _calibrate(cl: _Static, st: _State, cfg: DataConfig) -> _Coef:
    """Hazard intercepts that hit the configured base rates on the initial population."""
    r = cfg.rates
    h_churn = (1 - (1 - r.churn_6m) ** (1 / 6)) * _CHURN_MONTHLY_FACTOR
    h_entry = (1 - (1 - r.default_12m) ** (1 / 12)) / _DEFAULT_ENTRY_FACTOR
    exposure = (st.loan > 0) | (cl.card_limit > 0)
    # the stationary spread of the latent traits, not the initial draw
    rng = np.random.default_rng(0)
    n = st.e.shape[0]
    e = cl.mu_e + _E_SD / np.sqrt(1 - _E_RHO**2) * rng.standard_normal(n)
    d = (_D_JUMP_P / (1 - _D_RHO)) * 2.0 * (rng.random(n) < 0.15)
    o = (_O_JUMP_P / (1 - _O_RHO)) * 1.5 * (rng.random(n) < 0.1)
    s = cl.mu_s + _S_SD / np.sqrt(1 - _S_RHO**2) * rng.standard_normal(n)
    cyc = _CYC_SD / np.sqrt(1 - _CYC_RHO**2) * rng.standard_normal(n)
    churn_x = -_C_E * e + _C_D * d + _C_O * o
    default_x = (_D_S * (s + cl.cycle_beta * cyc) + _D_L * np.minimum(st.loan / (12 * np.exp(cl.log_income)), 8)
                 + _D_I * cl.is_sme * cyc)[exposure]
    return _Coef(
        churn0=_solve_intercept(churn_x, h_churn), default0=_solve_intercept(default_x, h_entry),
        abrupt=r.abrupt_churn_share, dormant=r.dormant_share, sudden=r.sudden_default_share,
    )


def _solve_intercept(x: np.ndarray, target: float) -> float:
    lo, hi = -20.0, 5.0
    if x.size == 0:
        return _logit(target)
    for _ in range(60):
        mid = (lo + hi) / 2
        if _sigmoid(mid + x).mean() < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class _Shift:
    """The injected shift of one generation run, resolved against its window."""

    config: ShiftConfig | None
    industry: int  # index into population.industries (-1: no shift)
    first: int  # first shifted month index

    @classmethod
    def of(cls, cfg: DataConfig, start: dt.date, months: int) -> _Shift:
        if cfg.shift is None:
            return cls(None, -1, 0)
        first = cfg.shift.first_index(start, months)
        if not 0 <= first < months:
            last = add_months(start, months - 1)
            raise ConfigError(f"shift.from_month {cfg.shift.from_month} is outside the simulated months "
                              f"{start:%Y-%m}..{last:%Y-%m} (month index 0..{months - 1})")
        return cls(cfg.shift, cfg.population.industries.index(cfg.shift.industry), first)

    def drain(self, cl: _Static, t: int) -> np.ndarray | None:
        return _shift_drain(self.config, self.industry, cl.industry, t, self.first)


def _shift_drain(shift: ShiftConfig | None, shifted: int, industry: np.ndarray, t: int,
                 first: int) -> np.ndarray | None:
    """The injected shift in month `t` (see `ShiftConfig`): per client, the log of the share of
    assets kept this month -- `log(1 - outflow) / ramp_months` for clients of industry index
    `shifted` during the ramp (months `first` .. `first + ramp_months - 1`), 0 for everyone
    else. None when there is no shift this month."""
    if shift is None or not first <= t < first + shift.ramp_months:
        return None
    return np.where(industry == shifted, np.log1p(-shift.deposit_outflow) / shift.ramp_months, 0.0)


def _snapshot_months(months: int, cfg: DataConfig) -> list[int]:
    """The oracle's snapshot months: the latest `oracle.snapshots` months whose every label
    horizon is inside the data -- the months the training split holds out as its out-of-time
    test period, where the model is compared with the oracle (never earlier than month 12, when
    a client's year of history is complete, unless the data is shorter)."""
    horizon = max(cfg.labels.churn_horizon_months, cfg.labels.default_horizon_months,
                  cfg.labels.growth_horizon_months)
    last = months - 1 - horizon
    if last < 0 or cfg.oracle.pairs == 0:
        return []
    first = max(min(12, last), last - cfg.oracle.snapshots + 1)
    return list(range(first, last + 1))


def generate_bank(cfg: DataConfig, *, clients: int | None = None, months: int | None = None,
                  seed: int | None = None, start: dt.date | None = None,
                  progress: Callable[[int], None] | None = None) -> SyntheticBank:
    """Simulate the bank. Same config and seed give bit-identical tables."""
    n = cfg.bank.clients if clients is None else clients
    m = cfg.bank.months if months is None else months
    seed = cfg.bank.seed if seed is None else seed
    start = cfg.bank.start_date() if start is None else start
    if n < 1 or m < 1:
        raise ValueError("clients and months must be positive")
    ss = np.random.SeedSequence(seed)
    rng_static, rng_dyn, rng_cycle, rng_oracle, rng_sample = (np.random.default_rng(s) for s in ss.spawn(5))
    dates = month_range(start, add_months(start, m - 1))
    horizon = max(cfg.labels.churn_horizon_months, cfg.labels.default_horizon_months, cfg.labels.growth_horizon_months)

    cl, st, extra = _draw_clients(n, m, cfg, rng_static)
    coef = _calibrate(cl, st, cfg)
    rng_products = rng_products_oracle = None
    if cfg.products is not None:  # their own streams: spawned after the five above, which stay as they were
        rng_products, rng_products_oracle = (np.random.default_rng(s) for s in ss.spawn(2))
        cl, st = _products.init_products(cl, st, rng_products)
    n_ind = len(cfg.population.industries)
    cycles = np.zeros((m + 1, max(n_ind, 1)))
    cycles[0] = _CYC_SD / np.sqrt(1 - _CYC_RHO**2) * rng_cycle.standard_normal(max(n_ind, 1))
    for t in range(1, m + 1):
        cycles[t] = _CYC_RHO * cycles[t - 1] + _CYC_SD * rng_cycle.standard_normal(max(n_ind, 1))
    ind_idx = np.maximum(cl.industry, 0)
    st = replace(st, cyc=np.where(cl.industry < 0, 0.0, cycles[0][ind_idx]))

    shift = _Shift.of(cfg, start, m)
    if shift.config is not None:
        logger.info("injected shift: %s clients move %.0f%% of their assets out from month %d over %d month(s)",
                    shift.config.industry, 100 * shift.config.deposit_outflow, shift.first, shift.config.ramp_months)

    snaps = _snapshot_months(m, cfg)
    per_snap = cfg.oracle.pairs // len(snaps) if snaps else 0
    saved: dict[int, tuple[np.ndarray, _State, np.ndarray]] = {}
    owned: dict[int, dict[str, np.ndarray]] = {}  # product adoption on: families held at each snapshot
    # label-relevant history of every client (months x clients)
    assets_hist = np.zeros((m, n))
    txn_hist = np.zeros((m, n), np.int64)
    dpd_hist = np.zeros((m, n), np.int64)
    closed_hist = np.zeros((m, n), bool)
    present_hist = np.zeros((m, n), bool)
    exposure_hist = np.zeros((m, n), bool)

    parts: list[tuple[np.ndarray, int, dict[str, np.ndarray]]] = []
    for t, date in enumerate(dates):
        cyc = np.where(cl.industry < 0, 0.0, cycles[t + 1][ind_idx])
        st, obs, present = _step(st, cl, t, date, cyc, rng_dyn, coef, shift.drain(cl, t), rng_products)
        rows = np.flatnonzero(present)
        parts.append((rows, t, {k: v[rows] for k, v in obs.items()}))
        assets_hist[t] = _assets_total(obs)
        txn_hist[t] = _txn_total(obs)
        dpd_hist[t] = obs["days_past_due"]
        closed_hist[t] = obs["relationship_closed"]
        present_hist[t] = present
        exposure_hist[t] = (obs["loan_balance"] + obs["card_balance"]) > 0
        if t in snaps:
            eligible = np.flatnonzero(present & ~obs["relationship_closed"])
            k = min(per_snap, eligible.size)
            pick = np.sort(rng_sample.choice(eligible, size=k, replace=False)) if k else eligible[:0]
            saved[t] = (pick, st.take(pick), cycles[t + 1].copy())
            if cfg.products is not None:
                owned[t] = {p: holds(obs[c][pick]) for p, c in PRODUCT_COLUMNS.items()}
        if progress is not None:
            progress(1)

    clients_df = _clients_frame(cl, extra, cfg, start, dates, rng_static)
    monthly_df = _monthly_frame(parts, dates, n)
    oracle_df = _oracle_frame(saved, cl, coef, cfg, dates, horizon, rng_oracle, assets_hist,
                              txn_hist, dpd_hist, closed_hist, present_hist, exposure_hist, shift,
                              owned, rng_products_oracle)
    if not cfg.network.enabled:
        return SyntheticBank(clients_df, monthly_df, oracle_df)
    network = generate_network(clients_df, dates, cfg.network, seed)  # its own random stream
    return SyntheticBank(clients_df, monthly_df, oracle_df, relations=network.relations, group_oracle=network.oracle)


def client_ids(n: int) -> np.ndarray:
    width = max(7, len(str(n)))
    return np.array([f"C{i:0{width}d}" for i in range(n)])


def _clients_frame(cl: _Static, extra: dict, cfg: DataConfig, start: dt.date,
                   dates: list[dt.date], rng: np.random.Generator) -> pd.DataFrame:
    pop = cfg.population
    n = cl.is_sme.shape[0]
    year0 = start.year
    birth_year = (year0 - np.floor(cl.age0)).astype(np.int64)
    gender = np.where(rng.random(n) < 0.5, "F", "M").astype(object)
    gender[rng.random(n) < pop.gender_missing_share] = None
    region_idx = rng.integers(0, len(pop.regions), n)
    branch_k = rng.integers(1, pop.branches_per_region + 1, n)
    region = np.asarray(pop.regions, dtype=object)[region_idx]
    branch = np.array([f"{r}{k:02d}" for r, k in zip(region, branch_k, strict=True)], dtype=object)
    industry = np.where(cl.industry < 0, None, np.asarray(pop.industries, dtype=object)[np.maximum(cl.industry, 0)])
    declared = np.exp(cl.log_income + 0.15 * rng.standard_normal(n))
    band = np.asarray(INCOME_BANDS, dtype=object)[np.searchsorted(_INCOME_EDGES, declared, side="right")]
    band[rng.random(n) < pop.income_band_missing_share * np.where(cl.is_sme, 2.0, 1.0)] = None
    month0 = np.datetime64(start, "M")
    onboarding = (month0 + cl.onboard.astype("timedelta64[M]")).astype("datetime64[D]")
    rm_num = rng.integers(1, 6, n)
    rm_id = np.where(cl.has_rm, np.char.add(np.char.add("RM", branch.astype(str)), np.char.zfill(rm_num.astype(str), 2)).astype(object), None)
    df = pd.DataFrame({
        "client_id": client_ids(n),
        "segment": np.where(cl.is_sme, "sme", "retail"),
        "birth_year": birth_year,
        "gender": gender,
        "region": region,
        "branch": branch,
        "industry": industry,
        "onboarding_month": onboarding.astype("datetime64[ns]"),
        "income_band": band,
        "rm_id": rm_id,
    })
    for col in ("client_id", "segment", "gender", "region", "branch", "industry", "income_band", "rm_id"):
        df[col] = df[col].astype("str")
    df["birth_year"] = df["birth_year"].astype("Int64")
    assert list(df.columns) == column_names(CLIENT_COLUMNS)
    return df


def _monthly_frame(parts: list, dates: list[dt.date], n: int) -> pd.DataFrame:
    idx = np.concatenate([p[0] for p in parts])
    t = np.concatenate([np.full(p[0].size, p[1], np.int64) for p in parts])
    order = np.lexsort((t, idx))
    ids = client_ids(n)
    month_arr = np.array([np.datetime64(d, "D") for d in dates]).astype("datetime64[ns]")
    data: dict[str, object] = {"client_id": pd.array(ids[idx[order]], dtype="str"),
                               "month": month_arr[t[order]]}
    for col in column_names(MONTHLY_COLUMNS)[2:]:
        data[col] = np.concatenate([p[2][col] for p in parts])[order]
    df = pd.DataFrame(data)
    df["relationship_closed"] = df["relationship_closed"].astype(bool)
    return df


def _oracle_frame(saved: dict, cl: _Static, coef: _Coef, cfg: DataConfig, dates: list[dt.date],
                  horizon: int, rng: np.random.Generator, assets_hist, txn_hist, dpd_hist,
                  closed_hist, present_hist, exposure_hist, shift: _Shift,
                  owned: dict[int, dict[str, np.ndarray]] | None = None,
                  prng: np.random.Generator | None = None) -> pd.DataFrame:
    lab = cfg.labels
    k = cfg.oracle.futures
    ids = client_ids(cl.is_sme.shape[0])
    frames = []
    churn_base, default_base = cfg.rates.churn_6m, cfg.rates.default_12m
    for t, (pick, st, _) in sorted(saved.items()):
        if pick.size == 0:
            continue
        cl_p = cl.take(pick)
        assets_t = assets_hist[t, pick]
        exposure = exposure_hist[t, pick]
        in_default = dpd_hist[t, pick] >= lab.default_dpd
        # realised outcomes from the simulated history
        sl = slice(t + 1, t + 1 + horizon)
        realised = _label_values(assets_t, _Paths(
            assets_hist[sl, pick].T, txn_hist[sl, pick].T, dpd_hist[sl, pick].T,
            closed_hist[sl, pick].T, present_hist[sl, pick].T), lab)
        # re-simulated futures from the true latent state at t
        rep = np.repeat(np.arange(pick.size), k)
        fst, fcl = st.take(rep), cl_p.take(rep)
        shape = (rep.size, horizon)
        pa_, tx, dp = np.zeros(shape), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        cl_, pr = np.zeros(shape, bool), np.zeros(shape, bool)
        cyc = fst.cyc.copy()
        adopted = _adoption_paths(owned, t, fst, cfg)
        for h in range(horizon):
            cyc = np.where(fcl.industry < 0, 0.0, _CYC_RHO * cyc + _CYC_SD * rng.standard_normal(rep.size))
            date = add_months(dates[t], h + 1)
            if adopted is not None and h < cfg.products.horizon_months:
                active = (fcl.onboard <= t + 1 + h) & (fst.phase == ACTIVE) & (fst.bucket < 3)
                for product, q in _products.opening_probability(fst, fcl, active).items():
                    adopted.stay[product] *= 1.0 - q
            fst, obs, present = _step(fst, fcl, t + 1 + h, date, cyc, rng, coef, shift.drain(fcl, t + 1 + h), prng)
            if adopted is not None and h < cfg.products.horizon_months:
                for product, column in PRODUCT_COLUMNS.items():
                    adopted.shown[product] |= holds(obs[column])
            pa_[:, h], tx[:, h], dp[:, h] = _assets_total(obs), _txn_total(obs), obs["days_past_due"]
            cl_[:, h], pr[:, h] = obs["relationship_closed"], present
        sim = _label_values(assets_t[rep], _Paths(pa_, tx, dp, cl_, pr), lab)
        p_churn = sim["churn"].reshape(-1, k).mean(axis=1)
        p_default = sim["default"].reshape(-1, k).mean(axis=1)
        g = sim["growth"].reshape(-1, k)
        with np.errstate(invalid="ignore"):
            exp_growth = np.where(np.isnan(g).all(axis=1), np.nan,
                                  np.nansum(g, axis=1) / np.maximum((~np.isnan(g)).sum(axis=1), 1))
        scored = exposure & ~in_default
        p_default = np.where(scored, p_default, np.nan)
        churn_driver = _name_driver(_churn_contrib(st), CHURN_DRIVERS,
                                    p_churn >= cfg.oracle.elevated_ratio * churn_base)
        leaving = st.phase == LEAVING
        churn_driver = np.where(leaving & (st.leave_driver >= 0),
                                np.asarray(CHURN_DRIVERS, dtype=object)[np.maximum(st.leave_driver, 0)], churn_driver)
        dcontrib = _default_contrib(st, cl_p)
        default_driver = _name_driver(dcontrib, ("financial_stress", "industry_downturn", "over_leverage"),
                                      scored & (p_default >= cfg.oracle.elevated_ratio * default_base))
        default_driver = np.where(scored & np.isin(st.bucket, (1, 2)), "arrears_history", default_driver)
        frames.append(pd.DataFrame({
            "client_id": ids[pick],
            "snapshot_month": np.datetime64(dates[t], "D").astype("datetime64[ns]"),
            "segment": np.where(cl_p.is_sme, "sme", "retail"),
            "has_credit_exposure": exposure,
            "in_default": in_default,
            "p_churn_6m": p_churn,
            "p_default_12m": p_default,
            "expected_growth_12m": exp_growth,
            "churn_6m": realised["churn"],
            "default_12m": np.where(scored, realised["default"].astype(float), np.nan),
            "growth_12m": realised["growth"],
            "churn_driver": churn_driver,
            "default_driver": default_driver,
            **_adoption_columns(adopted, owned, t, st, cl_p, k, cfg),
        }))
    if not frames:
        return _empty_oracle()
    df = pd.concat(frames, ignore_index=True)
    for col in ("client_id", "segment", "churn_driver", "default_driver",
                *(c for c in df.columns if c.startswith("adopt_") and c.endswith("_driver"))):
        df[col] = df[col].astype("str")
    return df


@dataclass
class _AdoptionPaths:
    """The oracle's futures of one snapshot, per family: `stay`, the probability that the
    future has not opened it yet given the path of its latent state (the product of one minus
    each month's opening probability: exact given the path, so the oracle's probability is not
    rounded to 1/futures); `shown`, whether the family's column has shown it held in a future
    month; `held`, held in the latent state at the snapshot (a holding the snapshot's columns
    did not show, as an app not used that month: such a client's label is whether it shows)."""

    stay: dict[str, np.ndarray]
    shown: dict[str, np.ndarray]
    held: dict[str, np.ndarray]

    def probability(self, product: str, k: int) -> np.ndarray:
        """Per pair, the probability to show family `product` held within the horizon."""
        value = np.where(self.held[product], self.shown[product], 1.0 - self.stay[product])
        return value.reshape(-1, k).mean(axis=1)


def _adoption_paths(owned: dict | None, t: int, fst: _State, cfg: DataConfig) -> _AdoptionPaths | None:
    """The futures' adoption paths before the first future month (None: adoption off)."""
    if cfg.products is None or not owned:
        return None
    n = fst.e.shape[0]
    return _AdoptionPaths({product: np.ones(n) for product in PRODUCT_COLUMNS},
                          {product: np.zeros(n, bool) for product in PRODUCT_COLUMNS},
                          {product: fst.held[:, j].copy() for j, product in enumerate(PRODUCT_COLUMNS)})


def _adoption_columns(adopted: _AdoptionPaths | None, owned: dict | None, t: int, st: _State, cl: _Static, k: int,
                      cfg: DataConfig) -> dict[str, np.ndarray]:
    """The oracle's adoption columns: `p_adopt_<p>_<h>m`, the true probability to hold family p
    within h months among clients who do not hold it at the snapshot (NaN for holders), and
    `adopt_<p>_driver`, the dominant driver of that probability (None for holders)."""
    if adopted is None:
        return {}
    h = cfg.products.horizon_months
    p = {product: adopted.probability(product, k) for product in PRODUCT_COLUMNS}
    drivers = _products.adoption_drivers(st, cl, owned[t], p, elevated_ratio=cfg.oracle.elevated_ratio)
    out: dict[str, np.ndarray] = {}
    for product in PRODUCT_COLUMNS:
        held = owned[t][product]
        out[f"p_adopt_{product}_{h}m"] = np.where(held, np.nan, p[product])
        out[f"adopt_{product}_driver"] = np.where(held, None, drivers[product])
    return out


def _empty_oracle() -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": pd.Series([], dtype="str"), "snapshot_month": pd.Series([], dtype="datetime64[ns]"),
        "segment": pd.Series([], dtype="str"), "has_credit_exposure": pd.Series([], dtype=bool),
        "in_default": pd.Series([], dtype=bool), "p_churn_6m": pd.Series([], dtype=float),
        "p_default_12m": pd.Series([], dtype=float), "expected_growth_12m": pd.Series([], dtype=float),
        "churn_6m": pd.Series([], dtype=bool), "default_12m": pd.Series([], dtype=float),
        "growth_12m": pd.Series([], dtype=float), "churn_driver": pd.Series([], dtype="str"),
        "default_driver": pd.Series([], dtype="str"),
    })


def _name_driver(contrib: np.ndarray, names: tuple[str, ...], elevated: np.ndarray) -> np.ndarray:
    best = np.argmax(contrib, axis=1)
    strong = contrib[np.arange(contrib.shape[0]), best] > 0.3
    return np.where(elevated & strong, np.asarray(names, dtype=object)[best], None)





