"""Offers in the recommender's output (issue 20, items 4 and 5): the product propensity models
the bank has registered (any subset of `features.PRODUCTS`, none at all included), scored on
the same snapshot features as the task models, ranked by `models.choose_offers` behind the
policy's gates, and each offer's reason from TreeSHAP of that product's model.

Columns, for offer i = 1..`family.offers` (`offer_columns`): `offer_{i}` (the product family,
missing when fewer products are allowed), `offer_{i}_en` / `_zh` (its name), `_propensity`,
`_value` (propensity x margin), and the offer's reason `offer_{i}_reason_family`, `_en`, `_zh`,
`_shap`: the feature family that raises that product's propensity the most for the client
(positive SHAP, at least the catalogues' `min_shap`; protected features are never a reason),
phrased by the same reason catalogues as the task reasons ("raises the likelihood of buying
funds: ..."). A recommender without product models has none of these columns.

A product is eligible only where the client does not hold it at the snapshot (its
`features.PRODUCT_COLUMNS` column not above zero, the label's own definition). Work per batch
is vectorised: one prediction per product model on the batch, then TreeSHAP only on the rows
where that product is offered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tierwise.features import PRODUCT_COLUMNS, PRODUCTS, holds, product_task
from tierwise.models._offers import choose_offers
from tierwise.models._product_family import ProductFamilyConfig
from tierwise.models._train import MatrixColumns, TierwiseModel
from tierwise.models._treeshap import tree_shap

OFFER_PARTS: tuple[str, ...] = ("", "_en", "_zh", "_propensity", "_value",
                                "_reason_family", "_reason_en", "_reason_zh", "_reason_shap")
_NUMBERS = ("_propensity", "_value", "_reason_shap")


def offer_columns(offers: int) -> list[str]:
    """The `offer_{i}{part}` columns for i = 1..offers, in order."""
    return [f"offer_{i}{part}" for i in range(1, offers + 1) for part in OFFER_PARTS]


def is_number_column(column: str) -> bool:
    """Whether an offer column holds numbers (else text)."""
    return column.endswith(_NUMBERS)


def held_columns(products: Sequence[str]) -> list[str]:
    """The snapshot columns that say whether each product is held (`features.PRODUCT_COLUMNS`)."""
    return [PRODUCT_COLUMNS[p] for p in products]


def propensities(models: Mapping[str, TierwiseModel], features: pd.DataFrame, *, threads: int | None,
                 matrices: dict[tuple, np.ndarray], key_of) -> pd.DataFrame:  # noqa: ANN001
    """(rows x products with a model, `PRODUCTS` order) calibrated propensity, NaN where the
    client holds the product. `matrices` caches input matrices by `key_of(model)` (shared with
    the task models when their inputs are the same)."""
    out: dict[str, np.ndarray] = {}
    for product in PRODUCTS:
        model = models.get(product)
        if model is None:
            continue
        key = key_of(model)
        if key not in matrices:
            matrices[key] = model.model_matrix(features)
        p = np.asarray(model.predict_matrix(matrices[key], num_threads=threads), dtype=np.float64)
        held = holds(features[PRODUCT_COLUMNS[product]].to_numpy(dtype=np.float64, na_value=np.nan))
        out[product] = np.where(held, np.nan, p)
    return pd.DataFrame(out, index=features.index)


def offer_arrays(models: Mapping[str, TierwiseModel], family: ProductFamilyConfig, features: pd.DataFrame,
                 explain, *, risk_watch: np.ndarray, exit_review: np.ndarray, in_default: np.ndarray,  # noqa: ANN001
                 threads: int | None = None, shap_threads: int | None = None,
                 matrices: dict[tuple, np.ndarray] | None = None, key_of=None) -> dict[str, np.ndarray]:  # noqa: ANN001
    """The `offer_columns(family.offers)` as numpy arrays (text: object, None where missing).
    `explain(task, contrib, X)` gives the `reason_{task}_1_*` columns as arrays (a reason writer
    with k = 1, direction up, e.g. `models.CatalogueReasons(..., k=1, direction="up")`)."""
    n = len(features)
    matrices = {} if matrices is None else matrices
    key_of = key_of or (lambda model: ("own", id(model)))
    prop = propensities(models, features, threads=threads, matrices=matrices, key_of=key_of)
    chosen = choose_offers(prop, family, risk_watch=risk_watch, exit_review=exit_review, in_default=in_default)
    out: dict[str, np.ndarray] = {}
    picks = {}
    for i in range(1, family.offers + 1):
        names = chosen[f"offer_{i}"].to_numpy(dtype=object, na_value=None)
        picks[i] = names
        out[f"offer_{i}"] = names
        out[f"offer_{i}_en"] = np.array([_name(family, p, "en") for p in names], dtype=object)
        out[f"offer_{i}_zh"] = np.array([_name(family, p, "zh") for p in names], dtype=object)
        out[f"offer_{i}_propensity"] = chosen[f"offer_{i}_propensity"].to_numpy(dtype=np.float64)
        out[f"offer_{i}_value"] = chosen[f"offer_{i}_value"].to_numpy(dtype=np.float64)
        for part in ("family", "en", "zh"):
            out[f"offer_{i}_reason_{part}"] = np.full(n, None, dtype=object)
        out[f"offer_{i}_reason_shap"] = np.full(n, np.nan)
    for product, model in models.items():
        offered = {i: names == product for i, names in picks.items()}
        rows = np.flatnonzero(np.logical_or.reduce(list(offered.values())))
        if rows.size == 0 or model.booster_ is None:
            continue
        matrix = matrices[key_of(model)][rows]
        contrib = tree_shap(model.booster_, matrix, n_threads=shap_threads)
        X = MatrixColumns(matrix, model.feature_names_, model.categories_, features.index[rows])
        task = product_task(product)
        reasons = explain(task, contrib, X)
        for i, mask in offered.items():
            at = mask[rows]
            if not at.any():
                continue
            for part in ("family", "en", "zh", "shap"):
                out[f"offer_{i}_reason_{part}"][rows[at]] = reasons[f"reason_{task}_1_{part}"][at]
    return {c: out[c] for c in offer_columns(family.offers)}


def _name(family: ProductFamilyConfig, product: str | None, lang: str) -> str | None:
    if product is None:
        return None
    spec = family.products[product]
    return (spec.name_zh if lang == "zh" else spec.name_en) or product


def gate_offers(frame: pd.DataFrame, family: ProductFamilyConfig) -> pd.DataFrame:
    """`frame` (recommendation rows with offer columns) with the policy's gates applied again
    after a later step raised a flag (the connected-group post-step puts members on risk
    watch): a gated offer is removed and the offers below it move up. Rows whose offers are
    all allowed are returned as they are."""
    k = family.offers
    if f"offer_{k}" not in frame.columns or len(frame) == 0:
        return frame
    no_credit = np.zeros(len(frame), bool)
    for flag in ("flag_risk_watch", "flag_exit_review", "flag_in_default"):
        if flag in frame.columns:
            no_credit |= frame[flag].to_numpy(dtype=bool, na_value=False)
    review = (frame["flag_exit_review"].to_numpy(dtype=bool, na_value=False)
              if "flag_exit_review" in frame.columns else np.zeros(len(frame), bool))
    names = np.stack([frame[f"offer_{i}"].to_numpy(dtype=object, na_value=None) for i in range(1, k + 1)], axis=1)
    credit = np.vectorize(lambda p: p in family.credit_products, otypes=[bool])(names)
    reducing = np.vectorize(lambda p: p in family.risk_reducing_products, otypes=[bool])(names)
    present = names != None  # noqa: E711 (object arrays)
    bad = present & ((no_credit[:, None] & credit) | (review[:, None] & ~reducing))
    if not bad.any():
        return frame
    keep = present & ~bad
    order = np.argsort(~keep, axis=1, kind="stable")
    empty = ~np.take_along_axis(keep, order, axis=1)
    out = frame.copy()
    rows = np.flatnonzero(bad.any(axis=1))
    for part in OFFER_PARTS:
        cols = [f"offer_{i}{part}" for i in range(1, k + 1)]
        number = is_number_column(cols[0])
        stacked = np.stack([out[c].to_numpy(dtype=np.float64 if number else object,
                                             na_value=np.nan if number else None) for c in cols], axis=1)
        moved = np.take_along_axis(stacked[rows], order[rows], axis=1)
        moved[empty[rows]] = np.nan if number else None
        for j, col in enumerate(cols):
            values = stacked[:, j].copy()
            values[rows] = moved[:, j]
            out[col] = values if number else pd.array(values, dtype="str")
    return out
