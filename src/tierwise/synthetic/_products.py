"""Product adoption in the synthetic bank (data.yaml `products`; off when absent).

Every month each active client may open each product family they do not hold
(`tierwise.features.PRODUCTS`), with a monthly probability

    p = sigmoid(base + sum over drivers d of coef[product, d] * x_d)

a small base rate (about a third of a percent a month) moved by large, product-specific
coefficients on a few known drivers x_d of the client:

- `wealth`: the latent log assets (shows in balances);
- `income`: a retail client's monthly salary, log (the declared income band; the salary inflow
  where the salary is paid here);
- `engagement`: the latent engagement (transactions, logins, card spend);
- `digital_affinity`: the client's share of activity in the app (the channel mix);
- `business_need`: an SME client (the segment);
- `family_stage` (age 28-45) and `senior_stage` (55 and over): life stage, which the models
  cannot see (age is a protected attribute, not an input); it shows through what it makes a
  client hold and how they bank (older clients use branches, `digital_affinity`);
- `cross_sell`: holding the family's related product (each holding shows in its own columns).

So the products a young salaried client and a retired saver are likely to open differ by
several units of log-odds (see `_ADOPTION`). Loans keep the bank's own origination mechanism
(`_bank._step`, its own stream) with this logit. A held product may also be given up
(`_CLOSE`, a small monthly hazard), so the clients who have not opened a product are not only
those who never would. What a client holds shows in the contract's own columns
(`features.PRODUCT_COLUMNS`): a balance product not held has a zero balance, a card not held a
zero limit, mobile banking not held no logins or app transactions, salary domiciliation not
held no salary inflow.

The adoption draws have their own random stream, so the rest of the bank draws the same
numbers; the oracle re-simulates adoption with the same step (`_bank._step`), so its
adoption probabilities are this world's. The driver it records for a client and family
(`adoption_drivers`) is the driver whose term raises that family's logit most above its
average among the clients who do not hold it -- what an explanation of a model of this world
should name -- where the client's probability is elevated.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from tierwise.features import PRODUCTS

# The bank's per-client dataclasses (`_bank._State`, `_bank._Static`); typed loosely here so
# that this module does not import the bank that calls it.
_State = _Static = Any

ADOPTION_DRIVERS = ("wealth", "income", "engagement", "digital_affinity", "business_need", "family_stage",
                    "senior_stage", "cross_sell")
_P = {p: i for i, p in enumerate(PRODUCTS)}
BALANCE_PRODUCTS = ("time_deposit", "wealth", "funds", "insurance")  # shares 1..4 of the balance split

# product: (monthly adoption rate among clients who do not hold it, coefficients over
# ADOPTION_DRIVERS, the related product of cross_sell). The base logit of each family is
# solved on the first month's population to give that rate (`_solve_base`), so the
# coefficients set the spread between clients and the rate stays where it is.
_ADOPTION: dict[str, tuple[float, tuple[float, ...], str]] = {
    #                   rate   wealth income  eng  digital  sme  family senior cross
    "time_deposit": (0.0175, (3.5, 0.0, 0.0, -1.2, -3.0, 0.0, 0.5, 0.0), "wealth"),
    "wealth": (0.0125, (5.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.4), "time_deposit"),
    "funds": (0.0175, (1.2, 0.0, 2.4, 1.2, 0.0, 0.0, -0.5, 3.6), "wealth"),
    "insurance": (0.015, (0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 5.2), "loan"),
    "loan": (0.0125, (-2.0, 0.0, 0.0, 0.0, 5.2, 0.6, -0.8, 3.0), "credit_card"),
    "credit_card": (0.02, (0.0, 2.4, 1.2, 0.0, 0.0, 0.0, -0.5, 4.0), "salary_domiciliation"),
    "mobile_banking": (0.03, (-1.0, 0.0, 1.5, 1.5, 0.0, 0.0, 0.0, 3.5), "salary_domiciliation"),
    "salary_domiciliation": (0.015, (0.0, 0.0, 1.8, 0.0, 3.0, 0.0, 0.0, 3.0), "credit_card"),
}
ADOPTED = tuple(p for p in _ADOPTION if p != "loan")  # the families this module adopts (loans: `_bank._step`)
MODELLED = tuple(_ADOPTION)  # every family with an adoption logit (loans: `loan_probability`)
_CROSS = ADOPTION_DRIVERS.index("cross_sell")
_POT_SHARE = np.array([0.30, 0.20, 0.10, 0.05])  # typical share of assets of a newly opened balance product
# share of the initial holdings kept (the rest are products the client has not opened yet)
_KEEP = {"time_deposit": 0.5, "wealth": 0.5, "funds": 0.5, "insurance": 0.5, "credit_card": 0.6,
         "mobile_banking": 0.5, "salary_domiciliation": 0.5}
_CLOSE = 0.03  # monthly hazard of giving up a held family (loans: repaid)


def init_products(cl: _Static, st: _State, rng: np.random.Generator) -> tuple[_Static, _State]:
    """The holdings at the first month (the bank's initial balance split and card, thinned:
    most clients hold a few products) and what an adopted product would look like (a balance
    share, a card limit), drawn from the products' own stream."""
    n = cl.is_sme.shape[0]
    held = np.zeros((n, len(PRODUCTS)), bool)
    for j, product in enumerate(BALANCE_PRODUCTS, start=1):
        held[:, _P[product]] = cl.shares[:, j] > 0
    held[:, _P["loan"]] = st.loan > 0
    held[:, _P["credit_card"]] = cl.card_limit > 0
    held[:, _P["mobile_banking"]] = rng.random(n) < cl.digital * 0.8
    held[:, _P["salary_domiciliation"]] = (cl.employed > 0) & (rng.random(n) < 0.7)
    for product, keep in _KEEP.items():
        held[:, _P[product]] &= rng.random(n) < keep
    pot = _POT_SHARE * np.exp(0.3 * rng.standard_normal((n, 4)))
    pot_shares = np.concatenate([cl.shares[:, :1], np.where(cl.shares[:, 1:] > 0, cl.shares[:, 1:], pot)], axis=1)
    pot_card = np.where(cl.card_limit > 0, cl.card_limit, np.round(np.exp(cl.log_income) * rng.uniform(1.0, 3.0, n), -2))
    st = replace(st, held=held)
    terms = driver_terms(st, cl).sum(axis=2)
    base = np.array([_solve_base(terms[~held[:, _P[p]], k], _ADOPTION[p][0]) for k, p in enumerate(MODELLED)])
    return replace(cl, pot_shares=pot_shares, pot_card=pot_card, adopt_base=np.tile(base, (n, 1))), st


def _solve_base(x: np.ndarray, rate: float) -> float:
    """The base logit b with mean(sigmoid(b + x)) = rate (bisection)."""
    lo, hi = -30.0, 5.0
    if x.size == 0:
        return float(np.log(rate / (1 - rate)))
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(1.0 / (1.0 + np.exp(-(mid + x)))) < rate else (lo, mid)
    return (lo + hi) / 2


def driver_values(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(ADOPTION_DRIVERS)) the drivers' values x_d (cross_sell: 0, set per family)."""
    retail = ~cl.is_sme.astype(bool)
    return np.stack([
        np.clip((st.log_assets - 10.0) / 1.5, -2.0, 3.0),
        np.where(retail & (cl.employed > 0), np.clip((cl.log_income - 9.0) / 0.6, -2.5, 2.5), -1.0),
        np.clip(st.e, -2.5, 2.5),
        (cl.digital - 0.6) / 0.2,
        cl.is_sme.astype(float),
        ((st.age >= 28) & (st.age < 45)).astype(float),
        (st.age >= 55).astype(float),
        np.zeros_like(st.e),
    ], axis=1)


def driver_terms(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(MODELLED), len(ADOPTION_DRIVERS)) terms of each family's adoption logit."""
    x = driver_values(st, cl)
    out = np.empty((x.shape[0], len(MODELLED), x.shape[1]))
    for k, product in enumerate(MODELLED):
        _, coef, related = _ADOPTION[product]
        x[:, _CROSS] = st.held[:, _P[related]]
        out[:, k] = x * np.asarray(coef)
    return out


def _probability(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(MODELLED)) monthly probability to open each family, given not held."""
    return 1.0 / (1.0 + np.exp(-(cl.adopt_base + driver_terms(st, cl).sum(axis=2))))


def adoption_probability(st: _State, cl: _Static) -> np.ndarray:
    """(n, len(ADOPTED)) monthly probability to open each family this module adopts, given not held."""
    return _probability(st, cl)[:, [MODELLED.index(p) for p in ADOPTED]]


def loan_probability(st: _State, cl: _Static) -> np.ndarray:
    """(n,) monthly probability to take a loan, given none: the bank's loan origination when
    adoption is on (drawn from the bank's own stream by `_bank._step`)."""
    return _probability(st, cl)[:, MODELLED.index("loan")]


def opening_probability(st: _State, cl: _Static, active: np.ndarray) -> dict[str, np.ndarray]:
    """Per family, the probability that a client who does not hold it opens it this month
    (decided by the state at the end of last month, as `adopt` and the bank's loan origination
    do): active clients only, salary domiciliation for the employed, a loan when none is open."""
    p = _probability(st, cl) * np.asarray(active, float)[:, None]
    out = {product: p[:, k] for k, product in enumerate(MODELLED)}
    out["salary_domiciliation"] = out["salary_domiciliation"] * (cl.employed > 0)
    out["loan"] = out["loan"] * (st.loan <= 0)
    return out


def adopt(st: _State, cl: _Static, active: np.ndarray, rng: np.random.Generator) -> tuple[_Static, np.ndarray]:
    """This month's holdings (adoptions and give-ups decided by the state at the end of last
    month) and the client view the month is observed with: balance shares over held products,
    card limit if held."""
    p = adoption_probability(st, cl)
    u = rng.random(p.shape)
    close = rng.random(p.shape) < _CLOSE
    held = st.held.copy()
    cols = [_P[q] for q in ADOPTED]
    opened = (u < p) & active[:, None]
    held[:, cols] = np.where(held[:, cols], ~(close & active[:, None]), opened)
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


def driver_name(product: str, driver: str) -> str:
    """The name the oracle records: a cross-sell is named by what the client holds
    (`holds_<related product>`), since each holding shows in its own columns."""
    return f"holds_{_ADOPTION[product][2]}" if driver == "cross_sell" else driver


def adoption_drivers(st: _State, cl: _Static, held: dict[str, np.ndarray], p: dict[str, np.ndarray], *,
                     elevated_ratio: float, min_term: float = 0.3) -> dict[str, np.ndarray]:
    """Per family, the dominant true driver of each client's adoption probability `p[family]`
    (`held[family]`: holds it now): the driver whose term is furthest above its mean over the
    clients here who do not hold the family (a model's explanation is relative to that average
    too), named where the client does not hold the family, that term is above `min_term` and
    the probability is at least `elevated_ratio` x its mean over those clients; None elsewhere."""
    terms = driver_terms(st, cl)
    out: dict[str, np.ndarray] = {}
    for k, product in enumerate(MODELLED):
        names = np.asarray([driver_name(product, d) for d in ADOPTION_DRIVERS], dtype=object)
        free = ~np.asarray(held[product], bool)
        named = np.full(free.shape[0], None, dtype=object)
        if free.any():
            centred = terms[:, k] - terms[free, k].mean(axis=0)
            best = np.argmax(centred, axis=1)
            strong = centred[np.arange(centred.shape[0]), best] > min_term
            elevated = p[product] >= elevated_ratio * np.mean(p[product][free])
            named = np.where(free & strong & elevated, names[best], None)
        out[product] = named
    return out
