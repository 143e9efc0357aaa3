"""Product families: which raw column shows that a client holds a product (the one definition).

A client holds product family `p` in a month when the family's column in `monthly` is above
zero that month. No new columns: every family reads a column the contract already has
(`_contract.MONTHLY_COLUMNS`). A bank whose extract leaves a family's column empty (all zero,
as the warehouse profile does for the products it lacks) has no adoptions of that family: its
propensity task is skipped and named (`product_families_present`).

Which families are credit products and what each is worth is the bank's product config
(`configs/products.yaml`, `models.ProductFamilyConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

PRODUCT_COLUMNS: Mapping[str, str] = {
    "time_deposit": "deposit_time",
    "wealth": "wealth_balance",
    "funds": "fund_balance",
    "insurance": "insurance_balance",
    "loan": "loan_balance",
    "credit_card": "card_limit",
    "mobile_banking": "mobile_logins",
    "salary_domiciliation": "salary_inflow",
}
"""Product family -> the monthly column whose value above zero means the client holds it."""

PRODUCTS: tuple[str, ...] = tuple(PRODUCT_COLUMNS)
PRODUCT_TASK_PREFIX = "adopt_"


def product_task(product: str) -> str:
    """The task name of a product family's propensity model: `adopt_<product>`."""
    if product not in PRODUCT_COLUMNS:
        raise ValueError(f"unknown product family {product!r}; one of {PRODUCTS}")
    return f"{PRODUCT_TASK_PREFIX}{product}"


def task_product(task: str) -> str | None:
    """The product family of a propensity task name, None for any other task."""
    if task.startswith(PRODUCT_TASK_PREFIX) and task[len(PRODUCT_TASK_PREFIX):] in PRODUCT_COLUMNS:
        return task[len(PRODUCT_TASK_PREFIX):]
    return None


def holds(values: np.ndarray) -> np.ndarray:
    """Held where the family's column is above zero (NaN -- no row -- is not held)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0) > 0


def product_families_present(monthly: pd.DataFrame) -> dict[str, str | None]:
    """Per family: None when the extract can show adoptions of it, else the one-line reason."""
    out: dict[str, str | None] = {}
    for product, column in PRODUCT_COLUMNS.items():
        if column not in monthly.columns:
            out[product] = f"monthly has no column {column}"
        elif not holds(monthly[column].to_numpy()).any():
            out[product] = f"column {column} is empty (never above zero)"
        else:
            out[product] = None
    return out
