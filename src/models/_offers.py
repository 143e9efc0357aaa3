"""Offers: which products to offer each client next (issue 20), and how good a ranking is.

Pure functions on arrays and frames; the recommender calls `choose_offers` with the product
propensities (calibrated, NaN where the client already holds the product) and the policy's
flags. Expected value of an offer = propensity x the product's configured margin; the top
`offers` products by expected value are offered, after the policy's gates:

- no credit product for a client on risk watch, in exit review or in default;
- under exit review, nothing but risk-reducing products.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tierwise.models._product_family import ProductFamilyConfig


def offer_mask(products: Sequence[str], family: ProductFamilyConfig, *, risk_watch: np.ndarray,
               exit_review: np.ndarray, in_default: np.ndarray) -> np.ndarray:
    """(rows x products) True where the policy allows offering the product to the client."""
    credit = np.array([p in family.credit_products for p in products])
    reducing = np.array([p in family.risk_reducing_products for p in products])
    no_credit = np.asarray(risk_watch, bool) | np.asarray(exit_review, bool) | np.asarray(in_default, bool)
    allowed = ~(no_credit[:, None] & credit[None, :])
    return allowed & ~(np.asarray(exit_review, bool)[:, None] & ~reducing[None, :])


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """(rows x k) column indices of the k largest values per row, best first; -1 where fewer
    than k values are finite (or there are fewer than k columns). Ties go to the earlier
    column (stable)."""
    filled = np.where(np.isfinite(values), values, -np.inf)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :k]
    finite = np.take_along_axis(np.isfinite(values), order, axis=1)
    best = np.where(finite, order, -1)
    short = k - best.shape[1]  # a menu of fewer products than offers
    return np.pad(best, ((0, 0), (0, short)), constant_values=-1) if short > 0 else best


def choose_offers(propensity: pd.DataFrame, family: ProductFamilyConfig, *, risk_watch: np.ndarray,
                  exit_review: np.ndarray, in_default: np.ndarray) -> pd.DataFrame:
    """Per row of `propensity` (columns: product families, NaN = held or not modelled): the
    top `family.offers` allowed products by expected value. Columns `offer_<i>` (product; missing
    when fewer products are allowed), `offer_<i>_propensity`, `offer_<i>_value` for i = 1..offers, same index."""
    products = [p for p in propensity.columns if p in family.products]
    p = propensity[products].to_numpy(dtype=float)
    margin = np.array([family.products[q].margin for q in products])
    allowed = offer_mask(products, family, risk_watch=risk_watch, exit_review=exit_review, in_default=in_default)
    value = np.where(allowed, p * margin[None, :], np.nan)
    best = top_k(value, family.offers)
    names = np.asarray([*products, None], dtype=object)
    rows = np.arange(len(p))[:, None]
    out = {}
    for i in range(family.offers):
        col = best[:, i]
        out[f"offer_{i + 1}"] = pd.array(names[col], dtype="str")  # -1 picks the trailing None: missing
        out[f"offer_{i + 1}_propensity"] = np.where(col >= 0, p[rows[:, 0], np.maximum(col, 0)], np.nan)
        out[f"offer_{i + 1}_value"] = np.where(col >= 0, value[rows[:, 0], np.maximum(col, 0)], np.nan)
    return pd.DataFrame(out, index=propensity.index)


def average_precision_at_k(ranking: np.ndarray, actual: np.ndarray, k: int = 3) -> np.ndarray:
    """Per row, AP@k of `ranking` ((rows x >= k) column indices, -1 = none) against `actual`
    ((rows x products) bool: adopted): sum of precision@i at each hit i <= k, divided by
    min(number adopted, k); 0 for a row with no adoption (as Kaggle's Santander MAP@7)."""
    actual = np.asarray(actual, bool)
    rank = ranking[:, :k]
    hit = np.where(rank >= 0, np.take_along_axis(actual, np.maximum(rank, 0), axis=1), False)
    precision = np.cumsum(hit, axis=1) / np.arange(1, k + 1)
    n_true = np.minimum(actual.sum(axis=1), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_true > 0, (precision * hit).sum(axis=1) / np.maximum(n_true, 1), 0.0)


def map_at_k(scores: np.ndarray, actual: np.ndarray, k: int = 3) -> float:
    """MAP@k of ranking each row's finite `scores` (NaN = not eligible: held) against `actual`."""
    return float(average_precision_at_k(top_k(np.asarray(scores, float), k), actual, k).mean())
