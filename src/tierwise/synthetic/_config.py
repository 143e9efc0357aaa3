"""Configuration of the synthetic bank (`configs/data.yaml`), parsed by the CLI and passed down."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator, model_validator

from tierwise.features import MONTHLY_COLUMNS, FrozenConfig, month_index, parse_month


class BankConfig(FrozenConfig):
    """Size, seed and first month of the default (demo) bank."""

    clients: int = Field(20_000, ge=1)
    months: int = Field(36, ge=1, le=600)
    seed: int = Field(42, ge=0)
    start: str = "2023-01"

    @field_validator("start")
    @classmethod
    def _month(cls, value: str) -> str:
        parse_month(value)
        return value

    def start_date(self) -> dt.date:
        return parse_month(self.start)


class PopulationConfig(FrozenConfig):
    """Who the clients are: segments, geography, industries, missingness."""

    sme_share: float = Field(0.15, ge=0, le=1)
    regions: tuple[str, ...] = ("EA", "NO", "SO", "WE", "CE", "NE")
    branches_per_region: int = Field(8, ge=1, le=99)
    industries: tuple[str, ...] = (
        "manufacturing", "retail_trade", "construction", "real_estate", "hospitality",
        "technology", "agriculture", "logistics", "finance", "public_sector",
    )
    # how strongly each industry's business cycle swings (same order as `industries`)
    industry_cycle_amplitude: tuple[float, ...] = (1.0, 0.9, 1.4, 1.5, 1.2, 0.8, 0.9, 1.0, 0.6, 0.3)
    onboarding_in_window_share: float = Field(0.12, ge=0, le=1)
    income_band_missing_share: float = Field(0.12, ge=0, le=1)
    industry_missing_share_retail: float = Field(0.10, ge=0, le=1)
    gender_missing_share: float = Field(0.02, ge=0, le=1)
    card_share_retail: float = Field(0.45, ge=0, le=1)
    loan_share_retail: float = Field(0.22, ge=0, le=1)
    loan_share_sme: float = Field(0.60, ge=0, le=1)
    very_large_client_share: float = Field(0.002, ge=0, le=1)


class BaseRatesConfig(FrozenConfig):
    """Target base rates; the generator sets its hazard intercepts to hit them."""

    churn_6m: float = Field(0.10, gt=0, lt=0.5)
    default_12m: float = Field(0.03, gt=0, lt=0.3)
    abrupt_churn_share: float = Field(0.10, ge=0, le=1)  # leavers with no warning at all
    dormant_share: float = Field(0.35, ge=0, le=1)  # leavers who go dormant instead of closing
    sudden_default_share: float = Field(0.08, ge=0, le=1)  # defaults without 30/60 dpd first


class LabelsConfig(FrozenConfig):
    """Label definitions; the feature pipeline must use the same numbers."""

    churn_horizon_months: int = Field(6, ge=1, description="set from features.yaml labels.churn; leave it out")
    churn_asset_share: float = Field(0.10, gt=0, lt=1)
    default_horizon_months: int = Field(12, ge=1, description="set from features.yaml labels.default; leave it out")
    default_dpd: int = Field(90, ge=1)
    growth_horizon_months: int = Field(12, ge=1, description="set from features.yaml labels.growth; leave it out")
    growth_offset: float = Field(1000.0, ge=0)


class OracleConfig(FrozenConfig):
    """The Bayes oracle: how many (client, snapshot) pairs, snapshots and re-simulated futures."""

    pairs: int = Field(20000, ge=0)
    snapshots: int = Field(2, ge=1)  # the latest usable months: the training split's test period
    futures: int = Field(64, ge=64)
    elevated_ratio: float = Field(1.5, ge=1)  # a driver is named when p >= ratio x base rate


class NetworkConfig(FrozenConfig):
    """The network of firms among SME clients (`relations.parquet`; see `synthetic._network`)."""

    enabled: bool = Field(True, description="write relations.parquet and the group oracle (false: no network)")
    control_share: float = Field(0.3, ge=0, le=1, description="share of SME clients in planted control groups")
    group_size: tuple[int, int] = Field((2, 6), description="smallest and largest control group")
    guarantee_share: float = Field(0.3, ge=0, le=1, description="controlled firms that guarantee their parent")
    minority_share: float = Field(0.1, ge=0, description="minority stakes (share < 0.5), per SME client")
    dependence_hub_share: float = Field(0.03, ge=0, le=1, description="SME clients that are hubs of a dependence group")
    dependents: tuple[int, int] = Field((2, 5), description="fewest and most dependents of a hub")
    dependence_share: tuple[float, float] = Field((0.6, 0.9), description="share of a dependent's flows with its hub")
    counterparties: tuple[int, int] = Field((4, 10), description="fewest and most flow counterparties of a firm")
    client_counterparty_share: float = Field(0.2, ge=0, le=1, description="flow counterparties that are clients")
    non_clients: int = Field(20_000, ge=1, description="pool of non-client firm ids (X0000000 ...)")
    flow_spread: float = Field(3.0, gt=0, description="gamma shape of flow weights (larger: more even)")
    flow_noise: float = Field(0.25, ge=0, description="month-to-month lognormal noise of each flow")


class DirtyConfig(FrozenConfig):
    """`--dirty`: how many rows of each defect kind to inject (at most this share of rows)."""

    rows_per_defect: int = Field(25, ge=1)
    max_share_per_defect: float = Field(0.002, gt=0, le=0.05)


class ShiftConfig(FrozenConfig):
    """An injected shift (`shift:` in data.yaml, `tierwise generate --shift-industry`): from
    `from_month` on, every client of `industry` moves `deposit_outflow` of their deposits and
    wealth out of the bank, spread evenly over `ramp_months` months (the money leaves as large
    outgoing mobile transfers). Other industries are untouched. For testing the monitor."""

    industry: str = Field(description="the shifted industry, one of population.industries")
    from_month: str | int | None = Field(
        None, description="first shifted month: YYYY-MM, or a month index (0 = the first month); "
                          "default the middle month of the window")
    deposit_outflow: float = Field(0.6, gt=0, lt=1, description="share of their deposits and wealth that leaves")
    ramp_months: int = Field(3, ge=1, le=24, description="the outflow is spread evenly over this many months")

    @field_validator("from_month")
    @classmethod
    def _from_month(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, str):
            try:
                parse_month(value)
            except ValueError:
                raise ValueError("write the month as YYYY-MM (e.g. 2024-09) or a month index (e.g. 20)") from None
        if isinstance(value, int) and value < 0:
            raise ValueError(f"a month index must be zero or positive, got {value}")
        return value

    def first_index(self, start: dt.date, months: int) -> int:
        """The index (0 = the first simulated month) of the first shifted month."""
        if self.from_month is None:
            return months // 2
        if isinstance(self.from_month, int):
            return self.from_month
        return month_index(parse_month(self.from_month)) - month_index(start)


WAREHOUSE_EMPTY_COLUMNS: tuple[str, ...] = (
    "deposit_time", "wealth_balance", "fund_balance", "insurance_balance", "card_limit", "mobile_logins", "complaints",
)
_FILLABLE = tuple(c.name for c in MONTHLY_COLUMNS if c.kind in ("int", "float") and c.name != "days_past_due")


class ProductsConfig(FrozenConfig):
    """Product adoption (`synthetic._products`): every month each active client may open the
    product families they do not hold, with probabilities driven by the latent state, life
    stage and what they already hold; the oracle records the true adoption probability per
    family within `horizon_months` (the features config's `labels.products.horizon_months`)
    and the driver of each. Absent (null) = off: the bank is unchanged."""

    horizon_months: int = Field(3, ge=1, le=12, description="adoption horizon of the oracle (as labels.products)")


class WarehouseConfig(FrozenConfig):
    """`tierwise generate --profile warehouse`: a bank that looks like a real retail bank's
    warehouse extract mapped onto `clients` and `monthly`, not like the demo bank.

    The same simulated world, drawn with a smaller, mostly retail, deposit-only population
    (few loans, no credit cards without a loan), and then written the way such an extract
    arrives: a short history; no closure records (`relationship_closed` is never set -- a
    client who leaves has a last row with nothing left and then no rows); branch codes from
    the bank's own numbering (four digits, none of them in the synthetic branch list, so the
    bank supplies no branch reference list); the product columns the bank does not have
    (`empty_columns`) filled with zeros, and `products_held` counting what is left.
    `--events` also writes `events.parquet` with the defaults the bank records (the month days
    past due first reach `labels.default_dpd`) and no closures.
    """

    clients: int = Field(1500, ge=1, description="number of clients (--clients overrides)")
    months: int = Field(21, ge=1, le=600, description="months of history (--months overrides)")
    start: str = Field("2024-04", description="first month, YYYY-MM (--start overrides)")
    sme_share: float = Field(0.03, ge=0, le=1, description="share of SME clients (population.sme_share)")
    loan_share_retail: float = Field(0.08, ge=0, le=1, description="retail clients with a loan at the start")
    loan_share_sme: float = Field(0.30, ge=0, le=1, description="SME clients with a loan at the start")
    card_share_retail: float = Field(0.0, ge=0, le=1, description="card holders among retail clients without a loan")
    empty_columns: tuple[str, ...] = Field(
        WAREHOUSE_EMPTY_COLUMNS, description="monthly columns the bank does not have, filled with zeros")

    @field_validator("start")
    @classmethod
    def _month(cls, value: str) -> str:
        parse_month(value)
        return value

    @field_validator("empty_columns")
    @classmethod
    def _fillable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in _FILLABLE]
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a numeric monthly column that can be empty; "
                             f"one of {', '.join(_FILLABLE)}")
        return value

    def start_date(self) -> dt.date:
        return parse_month(self.start)

    def population(self, base: PopulationConfig) -> PopulationConfig:
        """`base` with this profile's population shares."""
        return base.model_copy(update={
            "sme_share": self.sme_share, "loan_share_retail": self.loan_share_retail,
            "loan_share_sme": self.loan_share_sme, "card_share_retail": self.card_share_retail,
        })


class DataConfig(FrozenConfig):
    """`configs/data.yaml`."""

    bank: BankConfig = BankConfig()
    population: PopulationConfig = PopulationConfig()
    rates: BaseRatesConfig = BaseRatesConfig()
    labels: LabelsConfig = LabelsConfig()
    oracle: OracleConfig = OracleConfig()
    dirty: DirtyConfig = DirtyConfig()
    network: NetworkConfig = Field(NetworkConfig(), description="relations among SME clients (relations.parquet)")
    products: ProductsConfig | None = None
    shift: ShiftConfig | None = Field(
        None, description="an injected shift for testing the monitor (one industry moves money out); "
                          "absent = none, the bank is unchanged")
    warehouse: WarehouseConfig = Field(
        WarehouseConfig(), description="`generate --profile warehouse`: a bank that looks like a real "
                                       "warehouse extract (short history, no closures, empty product columns)")
    end_month: str | None = Field(
        None, description="the extract's declared end month, YYYY-MM: `validate` and `features --quarantine` "
                          "quarantine monthly rows dated after it; absent = this month")

    @field_validator("end_month")
    @classmethod
    def _end_month(cls, value: str | None) -> str | None:
        if value is not None:
            parse_month(value)
        return value

    def end_date(self) -> dt.date | None:
        """The declared end month of the extract (None: this month)."""
        return None if self.end_month is None else parse_month(self.end_month)

    @model_validator(mode="after")
    def _shift_industry_known(self) -> DataConfig:
        if self.shift is not None and self.shift.industry not in self.population.industries:
            raise ValueError(f"shift.industry '{self.shift.industry}' is not one of population.industries: "
                             f"{', '.join(self.population.industries)}")
        return self

    def branch_codes(self) -> tuple[str, ...]:
        return branch_codes(self.population)


def branch_codes(population: PopulationConfig) -> tuple[str, ...]:
    """The bank's branch codes: region code + two digits, e.g. `EA03`."""
    return tuple(f"{r}{k:02d}" for r in population.regions for k in range(1, population.branches_per_region + 1))
