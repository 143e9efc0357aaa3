"""Configuration of the reports: portfolio-monitor limits, fairness thresholds, score bands.

Parsed from `configs/monitor.yaml` by the CLI and passed down; nothing here reads files.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from tierwise.features import FrozenConfig
from tierwise.models import DEFAULT_CURRENCY, GroupsConfig, PolicyConfig


class PsiConfig(FrozenConfig):
    """Population stability index: quantile bins on the baseline month."""

    bins: int = Field(10, ge=2, le=100)
    epsilon: float = Field(1e-4, gt=0, lt=0.01)
    warn: float = Field(0.1, gt=0)
    alert: float = Field(0.25, gt=0)
    scores: tuple[str, ...] = ("p_churn", "p_default", "growth", "expected_value_12m")
    features: tuple[str, ...] = (
        "assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly",
    )
    raw_features: tuple[str, ...] = (
        "deposit_current", "deposit_time", "wealth_balance", "fund_balance", "loan_balance",
        "salary_inflow", "mobile_logins",
    )
    by: tuple[str, ...] = ("industry", "region")
    by_columns: tuple[str, ...] = ("p_churn", "p_default", "assets_total", "deposit_total")
    min_group_size: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _warn_below_alert(self) -> PsiConfig:
        if self.warn >= self.alert:
            raise ValueError(f"warn ({self.warn}) must be below alert ({self.alert})")
        return self


class ConcentrationConfig(FrozenConfig):
    """Concentration of the top tiers by industry and by region."""

    top_tiers: tuple[str, ...] = ("Premier", "Excellence")
    value_column: str = "expected_value_12m"
    dimensions: tuple[str, ...] = ("industry", "region")
    hhi_limit: float = Field(0.25, gt=0, le=1)
    top_n: int = Field(10, ge=1)
    top_n_share_limit: float = Field(0.2, gt=0, le=1)
    max_segment_share: float = Field(0.4, gt=0, le=1)
    max_share_change: float = Field(0.03, gt=0, le=1)
    max_segment_outflow: float = Field(0.1, gt=0, le=1)


class FairnessConfig(FrozenConfig):
    """Group comparisons across protected attributes (never model inputs)."""

    attributes: tuple[str, ...] = ("gender", "age_band")
    min_selection_rate_ratio: float = Field(0.8, gt=0, le=1)
    max_tpr_difference: float = Field(0.1, ge=0, le=1)
    min_group_size: int = Field(30, ge=1)
    min_events: int = Field(5, ge=1)
    min_positives: int = Field(10, ge=1)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    require_significance: bool = True
    churn_threshold: float = Field(0.3, gt=0, lt=1)
    default_threshold: float = Field(0.02, gt=0, lt=1)


class PromotionConfig(FrozenConfig):
    """`tierwise promote`: the challenger must beat the champion beyond noise on the same
    out-of-time rows -- the lower end of the paired-bootstrap interval of the metric's
    difference (challenger minus champion) must be above `min_difference`."""

    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0
    min_difference: float = Field(0.0, ge=0)


class HistoryConfig(FrozenConfig):
    """The monitor over time: the months up to --month that tier counts, migration, fund
    movements, exit reviews and performance are shown for."""

    months: int = Field(12, ge=2, le=60)
    open_reviews_shown: int = Field(50, ge=1)


class ScoreBands(FrozenConfig):
    """Cut-offs that turn a score into a plain word: below `low` is low, at or above `high` is high."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> ScoreBands:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class CodeName(FrozenConfig):
    """A bank's name for one of its codes, in each language of the pages."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


BANK_CODE_KINDS: tuple[str, ...] = ("segment", "industry", "region")
"""The codes a bank brings with its data, which `ReportConfig.code_names` may name."""


class ReportConfig(FrozenConfig):
    """The relationship-manager report. `code_names`: the bank's own names of its segment,
    industry and region codes (`{region: {"0101": {en: Shanghai, zh: 上海}}}`), over the built-in
    catalogue; a code named nowhere reads "other (code)" / "其他（code）"."""

    churn_bands: ScoreBands = ScoreBands(low=0.1, high=0.3)
    default_bands: ScoreBands = ScoreBands(low=0.01, high=0.05)
    growth_bands: ScoreBands = ScoreBands(low=0.0, high=0.15)
    balance_months: int = Field(12, ge=2, le=60)
    reasons_per_model: int = Field(3, ge=1, le=3)
    code_names: dict[str, dict[str, CodeName]] = Field(default_factory=dict)
    currency: str = DEFAULT_CURRENCY
    """The bank's currency symbol for amounts on the pages. Leave it out: the settings fill it
    from policy.yaml (`reasons.<lang>.currency`); set here, it must be the same."""

    @model_validator(mode="after")
    def _known_kinds(self) -> ReportConfig:
        unknown = sorted(set(self.code_names) - set(BANK_CODE_KINDS))
        if unknown:
            raise ValueError(f"code_names: unknown kind(s) {', '.join(unknown)}; use {', '.join(BANK_CODE_KINDS)}")
        return self

    def names(self, lang: str) -> dict[str, dict[str, str]]:
        """`code_names` in `lang`: kind -> code -> name."""
        return {kind: {code: getattr(name, lang) for code, name in codes.items()}
                for kind, codes in self.code_names.items()}


class MonitorConfig(FrozenConfig):
    """Everything in `configs/monitor.yaml`."""

    psi: PsiConfig = PsiConfig()
    concentration: ConcentrationConfig = ConcentrationConfig()
    fairness: FairnessConfig = FairnessConfig()
    history: HistoryConfig = HistoryConfig()
    report: ReportConfig = ReportConfig()
    promotion: PromotionConfig = PromotionConfig()
    groups: GroupsConfig = GroupsConfig()
    experiment: str = "tierwise-monitor"

    def with_policy(self, policy: PolicyConfig | None, risk_limit: float | None = None) -> MonitorConfig:
        """Fairness decision thresholds from the policy the recommender was registered with (one
        source of truth: retention's churn likelihood, the PD limit); the values of this file
        are the fallback when there is no such policy. `risk_limit`: the PD limit the
        recommender's policy was resolved to (`ResolvedPolicy.risk_limit`: with
        `risk.watch_share`, the PD of the riskiest share when above `risk.pd_limit`), which is
        the limit the risk watch used; `risk.pd_limit` when not known."""
        if policy is None:
            return self
        limit = policy.risk.pd_limit if risk_limit is None else risk_limit
        fairness = self.fairness.model_copy(update={"churn_threshold": policy.retention.min_p_churn,
                                                    "default_threshold": limit})
        return self.model_copy(update={"fairness": fairness})
