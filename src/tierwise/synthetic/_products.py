"""Product adoption in the synthetic bank (data.yaml `products`; off when absent).

Every month each active client may open each product family they do not hold
(`tierwise.features.PRODUCTS`), with a monthly probability

    p = sigmoid(base + wealth + engagement + family_stage + senior_stage + digital_affinity + cross_sell)

whose terms are fixed coefficients times the latent state (log assets, engagement), life stage
(age 28-45: family formation; 55+: saving for retirement), the client's digital affinity and
whether they already hold the family's related product (cross-sell). Loans keep the bank's own
origination mechanism (`_bank._step`: family formation and SME business need). What a client
holds shows in the contract's own columns (`features.PRODUCT_COLUMNS`): a balance product not
held has a zero balance, a card not held a zero limit, mobile banking not held no logins or app
transactions, salary domiciliation not held no salary inflow.

The adoption draws have their own random stream, so the rest of the bank draws the same
numbers; the oracle re-simulates adoption with the same step (`_bank._step`), so its
adoption probabilities are this world's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from tierwise.features import PRODUCTS

# The bank's per-client dataclasses (`_bank._State`, `_bank._Static`); typed loosely here so
# that this module does not import the bank that calls it.
_State = _Static = Any

ADOPTION_DRIVERS = ("wealth", "engagement", "family_stage", "senior_stage", "digital_affinity", "cross_sell",
                    "business_need")
LOAN_DRIVERS = ("family_stage", "business_need")  # the bank's own loan origination (products off)
_P = {p: i for i, p in enumerate(PRODUCTS)}
BALANCE_PRODUCTS = ("time_deposit", "wealth", "funds", "insurance")  # shares 1..4 of the balance split

# product: (base logit, coefficients over ADOPTION_DRIVERS, the related product of cross_sell).
# Adoption is personal: what the client holds (cross-sell) and the latent drivers the data
# shows (wealth in balances, engagement and digital affinity in logins and channel mix) move
# the monthly logit by several units; life stage, which the models cannot see (age is not an
# input), is a smaller term and mostly works through what it makes a client hold (a loan).
_ADOPTION: dict[str, tuple[float, tuple[float, ...], str]] = {
    "time_deposit": (-5.8, (1.80, 0.00, 0.00, 1.60, -1.60, 2.40, 0.00), "wealth"),
    "wealth": (-7.2, (3.80, 0.50, 0.00, 0.40, 0.00, 1.80, 0.00), "time_deposit"),
    "funds": (-7.8, (2.20, 0.80, 0.00, -1.80, 2.80, 1.60, 0.00), "mobile_banking"),
    "insurance": (-7.2, (1.20, 0.00, 0.80, 0.00, 0.00, 3.40, 0.00), "loan"),
    "loan": (-7.2, (0.80, 0.50, 0.90, -2.00, 0.00, 2.40, 2.80), "credit_card"),
    "credit_card": (-7.4, (0.00, 2.80, 0.50, -1.80, 1.00, 2.00, 0.00), "salary_domiciliation"),
    "mobile_banking": (-6.7, (0.00, 3.00, 0.00, -1.80, 1.30, 2.20, 0.00), "credit_card"),
    "salary_domiciliation": (-7.6, (0.00, 1.40, 0.50, -1.00, 0.00, 2.60, 0.00), "mobile_banking"),
}
ADOPTED = tuple(p for p in _ADOPTION if p != "loan")  # the families this module adopts (loans: `_bank._step`)
MODELLED = tuple(_ADOPTION)  # every family with an adoption logit (loans: `loan_probability`)
_POT_SHARE = np.array([0.30, 0.20, 0.10, 0.05])  # typical share of assets of a newly opened balance product


def init_products(cl: _Static, st: _State, rng: np.random.Generator) -> tuple[_Static, _State]:
    """The holdings at the first month and what an adopted product would look like (a balance
    share, a card limit), drawn from the products' own stream."""
    n = cl.is_sme.shape[0]
    held = np.zeros((n, len(PRODUCTS)), bool)
    for j, product in enumerate(BALANCE_PRODUCTS, start=1):
        held[:, _P[product]] = cl.shares[:, j] > 0
    held[:, _P["loan"]] = st.loan > 0
    held[:, _P["credit_card"]] = cl.card_limit > 0
    held[:, _P["mobile_banking"]] = rng.random(n) < cl.digital * 0.8
    held[:, _P["salary_domiciliation"]] = (cl.employed > 0) & (rng.random(n) < 0.7)
    pot = _POT_SHARE * np.exp(0.3 * rng.standard_normal((n, 4)))
    pot_shares = np.concatenate([cl.shares[:, :1], np.where(cl.shares[:, 1:] > 0, cl.shares[:, 1:], pot)], axis=1)
    pot_card = np.where(cl.card_limit > 0, cl.card_limit, np.round(np.exp(cl.log_income) * rng.uniform(1.0, 3.0, n), -2))
    return replace(cl, pot_shares=pot_shares, pot_card=pot_card), replace(st, held=held)


def driver_terms(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(MODELLED), len(ADOPTION_DRIVERS)) terms of each family's adoption logit."""
    x = np.stack([
        np.clip((st.log_assets - 10.0) / 1.5, -2.0, 3.0),
        st.e,
        ((st.age >= 28) & (st.age < 45)).astype(float),
        (st.age >= 55).astype(float),
        (cl.digital - 0.5) * 4.0,
        np.zeros_like(st.e),
        cl.is_sme.astype(float),
    ], axis=1)
    out = np.empty((x.shape[0], len(MODELLED), x.shape[1]))
    for k, product in enumerate(MODELLED):
        _, coef, related = _ADOPTION[product]
        xp = x.copy()
        xp[:, 5] = st.held[:, _P[related]]
        out[:, k] = xp * np.asarray(coef)
    return out


def _probability(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(MODELLED)) monthly probability to open each family, given not held."""
    base = np.array([_ADOPTION[p][0] for p in MODELLED])
    return 1.0 / (1.0 + np.exp(-(base + driver_terms(st, cl).sum(axis=2))))


def adoption_probability(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(ADOPTED)) monthly probability to open each family this module adopts, given not held."""
    return _probability(st, cl)[:, [MODELLED.index(p) for p in ADOPTED]]


def loan_probability(st: _State, cl: _Static) -> np.ndarray:
    """(n,) monthly probability to take a loan, given none: the bank's loan origination when
    adoption is on (drawn from the bank's own stream by `_bank._step`)."""
    return _probability(st, cl)[:, MODELLED.index("loan")]


def adopt(st: _State, cl: _Static, active: np.ndarray, rng: np.random.Generator) -> tuple[_Static, np.ndarray]:
    """This month's holdings (adoptions decided by the state at the end of last month) and the
    client view the month is observed with: balance shares over held products, card limit if held."""
    p = adoption_probability(st, cl)
    u = rng.random(p.shape)
    held = st.held.copy()
    cols = [_P[q] for q in ADOPTED]
    held[:, cols] |= (u < p) & active[:, None]
    held[:, _P["salary_domiciliation"]] &= cl.employed > 0
    mask = np.concatenate([np.ones((held.shape[0], 1), bool),
                           held[:, [_P[q] for q in BALANCE_PRODUCTS]]], axis=1)
    shares = cl.pot_shares * mask
    shares = shares / shares.sum(axis=1, keepdims=True)
    card = np.where(held[:, _P["credit_card"]], cl.pot_card, 0.0)
    return replace(cl, shares=shares, card_limit=card), held


def observe(obs: dict[str, np.ndarray], held: np.ndarray, quiet: np.ndarray) -> None:
    """Show the holdings in the app and salary columns (in place): no app, no logins or app
    transactions; a held app is used at least once a month unless the client is quiet."""
    app = held[:, _P["mobile_banking"]]
    obs["mobile_logins"] = np.where(app & ~quiet, np.maximum(obs["mobile_logins"], 1), 0).astype(np.int64)
    obs["mobile_txn_count"] = np.where(app, obs["mobile_txn_count"], 0).astype(np.int64)
    obs["mobile_txn_amount"] = np.where(app, obs["mobile_txn_amount"], 0.0)
    obs["salary_inflow"] = np.where(held[:, _P["salary_domiciliation"]], obs["salary_inflow"], 0.0)


def after_step(held: np.ndarray, loan: np.ndarray) -> np.ndarray:
    """Holdings at the end of the month: a loan is held while its balance is above zero."""
    held = held.copy()
    held[:, _P["loan"]] = loan > 0
    return held


def adoption_drivers(st: _State, cl: _Static) -> dict[str, np.ndarray]:
    """Per family, the dominant true driver of an adoption from the state at a snapshot (None
    where no term is strong): the largest positive term of the family's logit (loans too); a
    cross-sell is named by what the client holds (`holds_<related product>`), since each
    holding shows in its own columns."""
    terms = driver_terms(st, cl)
    out: dict[str, np.ndarray] = {}
    for k, product in enumerate(MODELLED):
        names = np.asarray([f"holds_{_ADOPTION[product][2]}" if d == "cross_sell" else d
                            for d in ADOPTION_DRIVERS], dtype=object)
        best = np.argmax(terms[:, k], axis=1)
        strong = terms[np.arange(terms.shape[0]), k, best] > 0.3
        out[product] = np.where(strong, names[best], None)
    return out
