"""The product propensity task family: one config (`configs/products.yaml`) for every product
family's "adopts p within h months, given not held at t" model, and the product facts the
offers need (margin, credit, risk-reducing).

The family's `model` block is a task config template; `task_configs` gives one `TaskConfig`
per product (task `adopt_<product>`), so the one trainer trains them all the same way.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tierwise.features import PRODUCTS, FrozenConfig, product_task
from tierwise.models._task import TaskConfig


class ProductSpec(FrozenConfig):
    """What the bank earns from a product and how the policy treats it."""

    margin: float = Field(ge=0, description="expected value to the bank of one adoption (currency, 12 months)")
    credit: bool = Field(False, description="a credit product: never offered on risk watch, exit review or default")
    risk_reducing: bool = Field(False, description="lowers the bank's risk with the client: offered under exit review")
    name_en: str = ""
    name_zh: str = ""


class ProductFamilyConfig(FrozenConfig):
    """`configs/products.yaml`: the product families, their facts and the model template."""

    products: dict[str, ProductSpec]
    offers: int = Field(3, ge=1, le=len(PRODUCTS), description="offers per client (top by expected value)")
    model: TaskConfig

    @model_validator(mode="after")
    def _known(self) -> ProductFamilyConfig:
        unknown = sorted(set(self.products) - set(PRODUCTS))
        if unknown:
            raise ValueError(f"unknown product famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                             f"known: {', '.join(PRODUCTS)}")
        if self.model.kind != "binary":
            raise ValueError("model.kind must be binary (adopts or not)")
        return self

    @property
    def credit_products(self) -> frozenset[str]:
        return frozenset(p for p, spec in self.products.items() if spec.credit)

    @property
    def risk_reducing_products(self) -> frozenset[str]:
        return frozenset(p for p, spec in self.products.items() if spec.risk_reducing)

    def task_configs(self) -> dict[str, TaskConfig]:
        """One task config per configured product, in `PRODUCTS` order: `adopt_<product>`."""
        return {product_task(p): self.model.model_copy(update={"task": product_task(p)})
                for p in PRODUCTS if p in self.products}
