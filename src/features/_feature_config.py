"""`FeatureConfig`: the schema of `configs/features.yaml` (snapshot features, labels, splits).

The defaults here are the shipped defaults; `configs/features.yaml` spells them out so a bank
can see and change them. Loaded by the CLI and passed down; never read at import time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tierwise.features._config import FrozenConfig
from tierwise.features._contract import MONTHLY_COLUMNS, PROTECTED_ATTRIBUTES

_NUMERIC_MONTHLY = tuple(c.name for c in MONTHLY_COLUMNS if c.kind in ("int", "float"))


class FeatureGroups(FrozenConfig):
    """Feature groups switched on or off (see `feature_catalog` for what each contains)."""

    levels: bool = True
    changes: bool = True
    trends: bool = True
    activity: bool = True
    recency: bool = True
    products: bool = True
    channels: bool = True
    arrears: bool = True
    card: bool = True
    service: bool = True
    tenure: bool = True
    value: bool = True
    static: bool = True


class ValueConfig(FrozenConfig):
    """Contribution (what the bank earns) and cost to serve, per month.

    `margins_annual`: annual margin earned on each month-end balance (deposits: funding spread;
    loans and card: net interest margin). `fee_share`: share of `fee_income` counted.
    `cost_per_unit`: cost of one transaction/contact in each channel. Both are averaged over
    the last `average_months` months.
    """

    margins_annual: dict[str, float] = Field(default_factory=lambda: {
        "deposit_current": 0.020,
        "deposit_time": 0.008,
        "wealth_balance": 0.006,
        "fund_balance": 0.008,
        "insurance_balance": 0.010,
        "loan_balance": 0.025,
        "card_balance": 0.100,
    })
    fee_share: float = Field(1.0, ge=0)
    cost_per_unit: dict[str, float] = Field(default_factory=lambda: {
        "branch_txn_count": 12.0,
        "mobile_txn_count": 0.3,
        "atm_txn_count": 2.0,
        "rm_contacts": 40.0,
    })
    average_months: int = Field(3, ge=1, le=12)

    @field_validator("margins_annual", "cost_per_unit")
    @classmethod
    def _known_columns(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(_NUMERIC_MONTHLY))
        if unknown:
            raise ValueError(f"unknown monthly column(s) {unknown}; allowed: {sorted(_NUMERIC_MONTHLY)}")
        return value


class ChurnLabelConfig(FrozenConfig):
    """Churn within `horizon_months`: the relationship closes, the client disappears from the
    extract, or assets fall below `asset_floor_share` of their level at t in a month with no
    activity (no transactions in any channel and no mobile login)."""

    horizon_months: int = Field(6, ge=1, le=24)
    asset_floor_share: float = Field(0.10, ge=0, lt=1)


class DefaultLabelConfig(FrozenConfig):
    """Default within `horizon_months`: days past due >= `dpd_threshold` in any month after t,
    among clients with credit exposure (loan + card balance) > 0 at t. Clients already at or
    above the threshold at t are not eligible when `exclude_defaulted_at_t`."""

    horizon_months: int = Field(12, ge=1, le=36)
    dpd_threshold: int = Field(90, ge=1)
    exclude_defaulted_at_t: bool = True


class GrowthLabelConfig(FrozenConfig):
    """Growth: log((assets_total at t+h + offset) / (assets_total at t + offset)) for clients
    still in the relationship at t+h."""

    horizon_months: int = Field(12, ge=1, le=36)
    offset: float = Field(1000.0, gt=0)


class ProductLabelConfig(FrozenConfig):
    """Product adoption: `adopt_<product>_<h>m` is 1 when a client who does not hold product
    family p at t holds it in some month of t+1 .. t+h (`features._products`); NaN for clients
    who hold it at t."""

    horizon_months: int = Field(3, ge=1, le=12)


class LabelConfig(FrozenConfig):
    churn: ChurnLabelConfig = ChurnLabelConfig()
    default: DefaultLabelConfig = DefaultLabelConfig()
    growth: GrowthLabelConfig = GrowthLabelConfig()
    products: ProductLabelConfig = ProductLabelConfig()


class ClientGroups(FrozenConfig):
    """Shares of clients in the train / valid / test groups (all three given, each > 0,
    summing to 1)."""

    train: float = Field(gt=0, lt=1)
    valid: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> ClientGroups:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"client_groups shares must sum to 1, got {total:g}")
        return self


class SmallSplitConfig(FrozenConfig):
    """The small-bank split (`split.method: small`, or `auto` when the periods split has too
    few snapshot months or events): see `tierwise.features._trainset` for why it keeps most
    rows and leaks no event.

    The latest `test_snapshots` snapshot months (null: a quarter of them, at least 1) are the
    test period. Clients are drawn into train / valid / test groups (`client_groups`, the
    same seeded hash of `client_id` as the periods split, `split.client_seed`). Before the
    test period, train- and valid-group
    clients' rows are train and valid (client-grouped: no client in both); test-group
    clients' rows are test in the test period, and train when they are at least
    `purge_months` before it (null: the longest label horizon), so their label windows end
    before the test period begins. Every other row is "unused".
    """

    test_snapshots: int | None = Field(None, ge=1)
    client_groups: ClientGroups = ClientGroups(train=0.5, valid=0.25, test=0.25)
    purge_months: int | None = Field(None, ge=1, le=36)


class SplitConfig(FrozenConfig):
    """Split of stacked snapshots: out of time by snapshot month AND disjoint by client.

    Periods: with `valid_from` / `test_from` (YYYY-MM-01) the split is by date; otherwise the
    latest `test_snapshots` snapshot months are the test period, the `valid_snapshots` before
    them the valid period, and all earlier ones the train period.

    Clients: each client is in one group (train, valid or test) with the shares of
    `client_groups`, drawn from a seeded hash of its `client_id` (`client_seed`), so a
    client's group never depends on the other clients. A row is in a split only when its
    client's group and its snapshot month's period agree; every other row is "unused" (kept
    in the table, never trained or evaluated on). `client_groups: null` turns this off: every
    row of a period is in that period's split, which is leaky when label horizons overlap
    across periods (one default event is then a positive in train, valid and test).

    `method`: "periods" is the split above; "small" the small-bank split (`small`, which keeps
    most rows of a bank with few clients or months); "auto" takes "small" when there are
    fewer snapshot months than the periods need (`valid_snapshots` + `test_snapshots` + 1) or
    the periods split would leave a task fewer than `min_events` events in a split, and
    "periods" otherwise or when the periods are given by date. `min_events` (per binary
    task): before training it, each split must hold at least this many events (label 1);
    fewer is one error naming the counts and what to change (a task not listed, or 0: only
    the check that both classes are present).
    """

    method: Literal["auto", "periods", "small"] = "auto"
    valid_snapshots: int = Field(2, ge=0)
    test_snapshots: int = Field(2, ge=0)
    valid_from: dt.date | None = None
    test_from: dt.date | None = None
    client_groups: ClientGroups | None = ClientGroups(train=0.5, valid=0.25, test=0.25)
    client_seed: int = 0
    small: SmallSplitConfig = SmallSplitConfig()
    min_events: dict[Literal["churn", "default"], int] = Field(
        default_factory=lambda: {"churn": 10, "default": 10})

    @field_validator("min_events")
    @classmethod
    def _min_events(cls, value: dict[str, int]) -> dict[str, int]:
        negative = sorted(task for task, n in value.items() if n < 0)
        if negative:
            raise ValueError(f"min_events must be 0 or more, got {', '.join(f'{t}: {value[t]}' for t in negative)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SplitConfig:
        if (self.valid_from is None) != (self.test_from is None):
            raise ValueError("give both valid_from and test_from, or neither")
        if self.valid_from is not None and self.test_from is not None and self.valid_from > self.test_from:
            raise ValueError("valid_from must not be after test_from")
        return self


class ProtectedConfig(FrozenConfig):
    """Protected attributes are carried for fairness checks; model features only if
    `use_as_features` (then `gender` and the derived `age_band` become categorical features)."""

    attributes: tuple[str, ...] = PROTECTED_ATTRIBUTES
    use_as_features: bool = False


class LeakScreenConfig(FrozenConfig):
    """A single feature whose AUC against the label alone exceeds `max_auc`, or whose name
    matches one of `name_patterns`, is a probable leak and is dropped unless listed in `keep`."""

    max_auc: float = Field(0.98, gt=0.5, le=1.0)
    name_patterns: tuple[str, ...] = ("target", "label", "future", "_next_", "churned", "defaulted")
    keep: tuple[str, ...] = ()
    sample_rows: int = Field(200_000, ge=1000)  # screen a seeded sample of this many train rows at most
    seed: int = 0


HISTORY_SHARE = 3
"""With `history_months` set, a window may read at most a third of the history."""


def fit_to_history(windows: tuple[int, ...], horizons: dict[str, int], history_months: int,
                   ) -> tuple[tuple[int, ...], dict[str, int]]:
    """The windows and label horizons that fit `history_months` months of data.

    Windows longer than a third of the history are dropped (at least the shortest window is
    kept), and every label horizon is capped at the longest window left: 36 months keeps
    windows 1, 3, 6, 12 and horizons 6, 12, 12; 21 months gives windows 1, 3, 6 and 6-month
    horizons, leaving 21 - 7 - 6 + 1 = 9 snapshot months to train on.
    """
    longest = max(history_months // HISTORY_SHARE, min(windows))
    kept = tuple(w for w in windows if w <= longest)
    cap = max(kept)
    return kept, {task: min(months, cap) for task, months in horizons.items()}


class FeatureConfig(FrozenConfig):
    """Everything `configs/features.yaml` controls.

    Time is set in one place. `windows` and the labels' `horizon_months` are the longest a
    bank wants; `history_months` (the months of monthly data the bank has, `None`: enough for
    all of them) fits both to the history (`fit_to_history`), so a bank with a short history
    changes that one key. Feature names (`_12m`), label names (`default_12m`) and the names
    the task configs and reason catalogues use follow from the fitted values: the task configs
    name window features as `days_past_due_max_{long}m` / `_{w}m` (`resolve_feature_names`).
    """

    history_months: int | None = Field(None, ge=4, le=600)
    groups: FeatureGroups = FeatureGroups()
    windows: tuple[int, ...] = (1, 3, 6, 12)
    value: ValueConfig = ValueConfig()
    labels: LabelConfig = LabelConfig()
    split: SplitConfig = SplitConfig()
    protected: ProtectedConfig = ProtectedConfig()
    leak_screen: LeakScreenConfig = LeakScreenConfig()

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one window is needed")
        if any(w < 1 or w > 36 for w in value):
            raise ValueError("windows are months between 1 and 36")
        return tuple(sorted(set(value)))

    @model_validator(mode="before")
    @classmethod
    def _fit_history(cls, raw: Any) -> Any:
        """With `history_months`, replace the windows and horizons by those that fit it."""
        if not isinstance(raw, dict) or raw.get("history_months") is None:
            return raw
        history = raw["history_months"]
        if isinstance(history, str) and history.strip().isdigit():
            history = int(history)
        windows = raw.get("windows", cls.model_fields["windows"].default)
        labels = raw.get("labels", {})
        if not isinstance(history, int) or isinstance(history, bool) or history < 4 \
                or not isinstance(labels, dict | LabelConfig) or not _ints(windows):
            return raw  # the field validators name the problem
        if isinstance(labels, LabelConfig):
            labels = labels.model_dump()
        horizons = {}
        for task, model in (("churn", ChurnLabelConfig), ("default", DefaultLabelConfig),
                            ("growth", GrowthLabelConfig), ("products", ProductLabelConfig)):
            given = labels.get(task, {})
            if isinstance(given, FrozenConfig):
                given = given.model_dump()
            if not isinstance(given, dict):
                return raw
            months = given.get("horizon_months", model.model_fields["horizon_months"].default)
            if not _ints([months]):
                return raw
            horizons[task] = months
        fitted, capped = fit_to_history(tuple(sorted(set(windows))), horizons, history)
        out_labels = {task: {**(labels.get(task) if isinstance(labels.get(task), dict) else {}),
                             "horizon_months": capped[task]} for task in horizons}
        return {**raw, "windows": list(fitted), "labels": {**labels, **out_labels}}

    @model_validator(mode="after")
    def _snapshots_fit(self) -> FeatureConfig:
        if self.history_months is None:
            return self
        horizons = {task: getattr(self.labels, task).horizon_months for task in ("churn", "default", "growth")}
        if fit_to_history(self.windows, horizons, self.history_months) != (self.windows, horizons):
            raise ValueError(f"windows {list(self.windows)} and horizons {horizons} do not fit history_months "
                             f"{self.history_months} (fit them with fit_to_history)")
        if self.snapshot_months < 1:
            raise ValueError(f"history_months {self.history_months} leaves no snapshot month: features read "
                             f"{self.lookback_months} months and labels look {self.max_horizon} months ahead; "
                             "shorten value.average_months or give more history")
        return self

    @property
    def snapshot_months(self) -> int | None:
        """Snapshot months with a full lookback and every label horizon inside `history_months`."""
        if self.history_months is None:
            return None
        return self.history_months - self.lookback_months - self.max_horizon + 1

    @property
    def trend_windows(self) -> tuple[int, ...]:
        """Windows long enough for slopes, volatility, maxima and sums (3 months or more)."""
        return tuple(w for w in self.windows if w >= 3)

    @property
    def lookback_months(self) -> int:
        """Months of history (t included) the windowed features read."""
        return max(max(self.windows) + 1, self.value.average_months, 3)  # 3: channel mix

    @property
    def max_horizon(self) -> int:
        lab = self.labels
        return max(lab.churn.horizon_months, lab.default.horizon_months, lab.growth.horizon_months,
                   lab.products.horizon_months)


def _ints(values: Any) -> bool:
    try:
        items = list(values)
    except TypeError:
        return False
    return bool(items) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items)
