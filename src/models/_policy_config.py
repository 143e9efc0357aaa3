"""The tier policy's configuration (`configs/policy.yaml`), parsed into frozen pydantic models.

Amounts are in the bank's currency; expected values are over `horizon_months`. The policy is
documented where it is applied, in `models._policy`.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from tierwise.features import FrozenConfig
from tierwise.models._policy_text import template_fields

Tier = Literal["Premier", "Excellence", "Potential", "General"]

TIERS: tuple[str, ...] = get_args(Tier)
"""The four tiers, highest first: the order in which they are shown."""

TIERS_BY_RANK: tuple[str, ...] = tuple(reversed(TIERS))
"""The four tiers, lowest first: a tier's position is its rank (0 General ... 3 Premier),
the code the policy computes with."""

TIER_ZH: dict[str, str] = {
    "Premier": "尊享",
    "Excellence": "卓越",
    "Potential": "潜力",
    "General": "一般",
}

CHANNELS: tuple[str, ...] = ("relationship_manager", "branch", "teller_digital")

CHANNEL_EN: dict[str, str] = {
    "relationship_manager": "relationship manager",
    "branch": "branch",
    "teller_digital": "teller or digital channel",
}

CHANNEL_ZH: dict[str, str] = {
    "relationship_manager": "客户经理",
    "branch": "网点",
    "teller_digital": "柜面/线上",
}

REASON_FIELDS = frozenset(
    {
        "tier",
        "band",
        "candidate",
        "ev",
        "top",
        "cut",
        "assets",
        "floor",
        "growth",
        "horizon",
        "pd",
        "pd_prev",
        "limit",
        "watch_share",
        "dpd",
        "contribution",
        "cost",
    }
)
"""Fields a tier-reason template may use (see `models._policy` for their meaning)."""

OVERFLOW_FIELDS = frozenset({"tier", "channel"})

ASSUMPTION_FIELDS = frozenset({"rate", "horizon"})
"""Fields an assumption template may use: the assumed value (a probability as a percentage,
growth as a percentage change) and the horizon it covers in months."""

ASSUMPTION_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "risk_not_assessed": "default risk not assessed (no default model)",
        "assumed_churn": "no churn model: value assumes a churn rate of {rate} over {horizon} months",
        "assumed_default": "no default model: expected credit loss assumes a PD of {rate} over {horizon} months",
        "assumed_growth": "no growth model: value assumes asset growth of {rate}",
        "in_default": "in default ({dpd} days past due): no PD, no upgrade",
        "related_default": "related firm in default",
        "related_exit_review": "related firm in exit review",
    },
    "zh": {
        "risk_not_assessed": "未评估违约风险（无违约模型）",
        "assumed_churn": "无流失模型：价值按{horizon}个月流失率{rate}的假设计算",
        "assumed_default": "无违约模型：预期信用损失按{horizon}个月违约概率{rate}的假设计算",
        "assumed_growth": "无增长模型：价值按资产增长{rate}的假设计算",
        "in_default": "已违约（逾期{dpd}天）：不计违约概率，不予升级",
        "related_default": "关联企业已违约",
        "related_exit_review": "关联企业处于退出审查",
    },
}
"""Built-in sentences for a task without a model, for a client already in default and for a
related firm in default or exit review (`models._group_risk`), used when `ReasonTemplates`
leaves one out."""

Channel = Literal["relationship_manager", "branch", "teller_digital"]


class ThresholdsConfig(FrozenConfig):
    """Expected-value cut points for the three upper tiers.

    `mode: quantile`: each value is a quantile of expected value in a reference population
    (0.99 = the top 1%), resolved into amounts by `resolve_thresholds`.
    `mode: absolute`: each value is an expected value amount over the horizon.
    """

    mode: Literal["quantile", "absolute"] = "quantile"
    premier: float
    excellence: float
    potential: float

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsConfig:
        if self.mode == "quantile":
            for name in ("premier", "excellence", "potential"):
                value = getattr(self, name)
                if not 0.0 < value < 1.0:
                    raise ValueError(f"quantile for {name} must be between 0 and 1, got {value}")
        if not self.premier >= self.excellence >= self.potential:
            raise ValueError(
                "thresholds must satisfy premier >= excellence >= potential, got "
                f"{self.premier}, {self.excellence}, {self.potential}"
            )
        return self


class AssetFloorConfig(FrozenConfig):
    """Minimum assets (`assets_total`) to be placed in a top tier, whatever the expected value."""

    premier: float = Field(ge=0)
    excellence: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AssetFloorConfig:
        if self.premier < self.excellence:
            raise ValueError(
                f"asset floor for premier ({self.premier}) is below excellence ({self.excellence})"
            )
        return self


class GrowthLiftConfig(FrozenConfig):
    """A General client with predicted log growth >= `min_growth` and expected value >=
    `min_expected_value` is lifted to Potential."""

    min_growth: float
    min_expected_value: float = 0.0


class RiskConfig(FrozenConfig):
    """Default-risk gate: PD above the limit, or rising fast, blocks upgrades.

    The limit is `pd_limit`, or, with `watch_share`, the PD of the riskiest `watch_share` of
    borrowers in the reference population when that is higher (resolved once with the EV cuts,
    by `resolve_thresholds`): a PD scale where half the borrowers sit above a fixed 2% would
    put a third of the bank on risk watch, a flag nobody can act on.

    A client whose days past due reach `in_default_dpd` (the default label's threshold) is in
    default: `flag_in_default`, no upgrade, an expected credit loss of LGD x exposure, no risk
    watch (a PD is a probability of what has not happened yet) and left out of the share.

    Rising fast: `p_default >= rising_factor * p_default_prev` and `p_default >= rising_min_pd`
    (the floor keeps 0.1% -> 0.3% from counting). Without a previous tier, a gated client is
    placed no higher than `cap_without_history`. In batch scoring `p_default_prev` is the
    lowest PD of the client's last `trend_months` archived months, so a PD that climbs step by
    step (3% -> 4.5% -> 6.5% -> 9%) counts as rising, not only one that doubles in a month.
    """

    pd_limit: float = Field(gt=0, lt=1)
    rising_factor: float = Field(gt=1)
    rising_min_pd: float = Field(ge=0, lt=1)
    cap_without_history: Tier = "Potential"
    trend_months: int = Field(default=3, ge=1, le=24)
    watch_share: float | None = Field(default=None, gt=0, lt=1)
    in_default_dpd: int = Field(default=90, ge=1)


REVIEW_FIELDS = frozenset({"since", "months", "pd", "pd_prev", "limit", "tier", "tier_prev", "risk"})
"""Fields an exit-review template may use: the month the review opened (YYYY-MM), months
under review, PD now and at the start of the trend window, the PD limit, tier now and before,
and `risk`: "default risk 2.1%" / "违约风险2.1%", or "in default" / "已违约" for a client already
in default (who has no PD)."""


def check_template(name: str, template: str, allowed: set[str] | frozenset[str]) -> None:
    """Raise ValueError (naming the key) when `template` uses a field outside `allowed` or a
    format spec."""
    try:
        used = template_fields(template)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    unknown = sorted(set(used) - set(allowed))
    if unknown:
        raise ValueError(f"{name}: unknown field {{{unknown[0]}}}; allowed: {', '.join(sorted(allowed))}")


class ReviewTemplates(FrozenConfig):
    """Exit-review sentences in one language (see `ExitReviewConfig`)."""

    opened_above: str
    opened_rising: str
    open: str
    closed: str
    downgraded: str
    opened_in_default: str | None = None
    """A review opened on a client already in default; None: the built-in sentence."""

    @model_validator(mode="after")
    def _known_fields(self) -> ReviewTemplates:
        for name in type(self).model_fields:
            if getattr(self, name) is not None:
                check_template(name, getattr(self, name), REVIEW_FIELDS)
        return self


class ExitReviewConfig(FrozenConfig):
    """The exit mechanism for clients the relationship managers maintain, month after month.

    A review opens on a client whose previous tier is served by relationship managers, who is
    still in such a tier, and whose risk gate is on (PD above the limit or rising fast). It
    stays open while the gate stays on and closes in the month the risk falls back. In its
    `downgrade_after_months`-th month under review it becomes a recommended downgrade: the
    client is placed one tier below the previous tier (lower if the value rules say so), with
    the reason, and the review ends.
    """

    downgrade_after_months: int = Field(default=3, ge=1, le=24)
    reasons: dict[Literal["en", "zh"], ReviewTemplates]

    @model_validator(mode="after")
    def _both_languages(self) -> ExitReviewConfig:
        for lang in ("en", "zh"):
            if lang not in self.reasons:
                raise ValueError(f"exit_review.reasons: templates for '{lang}' are missing")
        return self


class RetentionConfig(FrozenConfig):
    """Retention priority: churn likelihood >= `min_p_churn` and a risk-adjusted value if
    retained that reaches the cut of `min_value_tier`.

    With `share`: churn likelihood >= `min_p_churn` and the value at risk (P(leave over the
    horizon) x risk-adjusted value if retained) among the `share` of clients with the most
    value at risk in the reference population (`min_value_tier` is then not used), so the
    list has the size the relationship managers can call."""

    min_p_churn: float = Field(gt=0, lt=1)
    min_value_tier: Literal["Potential", "Excellence", "Premier"] = "Excellence"
    share: float | None = Field(default=None, gt=0, lt=1)


class GrowthLeadConfig(FrozenConfig):
    """Growth leads by rank: with `share`, a Potential or General client without risk watch
    whose predicted growth adds value (12-month value gained from growth) among the `share` of
    clients with the most such gain in the reference population. None: the fixed rule (a
    Potential client whose grown value and assets reach Excellence)."""

    share: float | None = Field(default=None, gt=0, lt=1)


class CostReviewConfig(FrozenConfig):
    """Cost review when `contribution_monthly < ratio * cost_to_serve_monthly`."""

    ratio: float = Field(default=1.0, gt=0)


class RMCapacityConfig(FrozenConfig):
    """Relationship-manager capacity, applied as a batch step after per-client decisions.

    Capacity = `clients_per_rm * n_rms`; `n_rms: null` takes the number of distinct
    relationship managers in the data (`rm_id`), and no limit at all when none is given.
    Clients beyond capacity (lowest expected value first, Excellence before Premier) are
    served by `overflow_channel` with `flag_rm_overflow`; their tier does not change.
    """

    clients_per_rm: int = Field(gt=0)
    n_rms: int | None = Field(default=None, ge=0)
    overflow_channel: Channel = "branch"


class ReasonTemplates(FrozenConfig):
    """Sentence parts for the tier reasons in one language; `{name}` fields are filled with
    numbers already formatted. Every template is a plain string (no format specs)."""

    separator: str
    band_quantile: str
    band_absolute: str
    below_quantile: str
    below_absolute: str
    asset_floor: str
    growth_lift: str
    risk_capped_previous: str
    risk_capped_new: str
    no_credit: str
    risk_ok: str
    risk_above: str
    risk_rising: str
    risk_above_rising: str
    rm_overflow: str
    cost_below: str
    cost_none: str
    risk_not_assessed: str | None = None
    assumed_churn: str | None = None
    assumed_default: str | None = None
    assumed_growth: str | None = None
    in_default: str | None = None
    related_default: str | None = None
    related_exit_review: str | None = None
    """Sentences for a task without a model (see `AssumptionsConfig`); None: the built-in
    `ASSUMPTION_TEMPLATES` of the language."""
    currency: str
    """The bank's currency symbol; the same in every language and in the reason catalogues
    (checked when the settings are loaded). Amounts are scaled by `models.format_money`
    (million / 万, 亿 by language)."""

    @model_validator(mode="after")
    def _known_fields(self) -> ReasonTemplates:
        for name in type(self).model_fields:
            if name in ("separator", "currency") or getattr(self, name) is None:
                continue
            allowed = (OVERFLOW_FIELDS if name == "rm_overflow"
                       else ASSUMPTION_FIELDS if name.startswith("assumed_") else REASON_FIELDS)
            check_template(name, getattr(self, name), allowed)
        return self


class AssumptionsConfig(FrozenConfig):
    """What the policy assumes for a task the bank has no model for (a bank may train any
    subset of churn, default and growth). Every assumption in use is said in the tier reasons
    and on the recommender's card; the missing task's score stays empty (NaN) in the output.

    `p_churn`: churn probability over `churn_horizon_months` assumed for every client (the
    bank's base rate): P(stay) = (1 - p_churn) ^ (H / churn_horizon_months); no client gets
    the retention-priority flag.
    `p_default`: PD over `default_horizon_months` assumed for clients with credit exposure,
    for the expected credit loss only; None (the default): default risk not assessed, no
    expected credit loss. Either way the risk gate, risk watch and exit review stay off (they
    need a default model).
    `growth`: predicted log asset growth assumed (0: neutral); no growth lift, no growth lead.
    """

    p_churn: float = Field(default=0.05, ge=0, lt=1)
    p_default: float | None = Field(default=None, ge=0, lt=1)
    growth: float = 0.0


class PolicyConfig(FrozenConfig):
    """Everything the tier policy needs; see `configs/policy.yaml` for the defaults."""

    horizon_months: int = Field(default=12, gt=0)
    churn_horizon_months: int = Field(default=6, gt=0, description=(
        "p_churn's horizon: set from features.yaml labels.churn (fitted to history_months); leave it out"))
    default_horizon_months: int = Field(default=12, gt=0, description=(
        "p_default's horizon (a PD over these months): set from features.yaml labels.default; leave it out"))
    lgd: float = Field(default=0.45, ge=0, le=1)
    lgd_by_segment: dict[str, float] = Field(default_factory=dict)
    growth_clip: float = Field(default=3.0, gt=0)
    thresholds: ThresholdsConfig
    asset_floor: AssetFloorConfig
    growth_lift: GrowthLiftConfig
    risk: RiskConfig
    retention: RetentionConfig
    growth_lead: GrowthLeadConfig = GrowthLeadConfig()
    cost_review: CostReviewConfig = CostReviewConfig()
    channels: dict[Tier, Channel] = Field(
        default_factory=lambda: {
            "Premier": "relationship_manager",
            "Excellence": "relationship_manager",
            "Potential": "branch",
            "General": "teller_digital",
        }
    )
    rm_capacity: RMCapacityConfig
    reasons: dict[Literal["en", "zh"], ReasonTemplates]
    exit_review: ExitReviewConfig | None = None
    """None (a policy written before the archive): reviews are this month's flag only."""
    assumptions: AssumptionsConfig = AssumptionsConfig()
    """Used only for a task without a model."""

    def reason_template(self, lang: str, name: str) -> str:
        """The reason template `name` of `lang`, the built-in one when the config has none."""
        given = getattr(self.reasons[lang], name)  # type: ignore[index]
        return given if given is not None else ASSUMPTION_TEMPLATES[lang][name]

    @property
    def currency(self) -> str:
        """The bank's currency symbol (the reasons' `currency`, the same in every language)."""
        return next(iter(self.reasons.values())).currency

    @property
    def rm_tiers(self) -> tuple[str, ...]:
        """Tiers whose clients relationship managers maintain, highest first."""
        return tuple(t for t in TIERS if self.channels[t] == "relationship_manager")  # type: ignore[index]

    @model_validator(mode="after")
    def _one_currency(self) -> PolicyConfig:
        symbols = {lang: templates.currency for lang, templates in self.reasons.items()}
        if len(set(symbols.values())) > 1:
            raise ValueError("reasons: one currency for every language, got "
                             + ", ".join(f"{lang} '{c}'" for lang, c in symbols.items()))
        return self

    @model_validator(mode="after")
    def _complete(self) -> PolicyConfig:
        missing = [t for t in TIERS_BY_RANK if t not in self.channels]
        if missing:
            raise ValueError(f"channels: no channel for tier(s) {', '.join(missing)}")
        for segment, lgd in self.lgd_by_segment.items():
            if not 0.0 <= lgd <= 1.0:
                raise ValueError(f"lgd_by_segment.{segment} must be in [0, 1], got {lgd}")
        for lang in ("en", "zh"):
            if lang not in self.reasons:
                raise ValueError(f"reasons: templates for '{lang}' are missing")
        if self.risk.watch_share is None:
            for lang, words in self.reasons.items():
                for name in type(words).model_fields:
                    value = getattr(words, name)
                    if isinstance(value, str) and "{watch_share}" in value:
                        raise ValueError(f"reasons.{lang}.{name} uses {{watch_share}} but risk.watch_share is "
                                         "null; set the share or drop the field from the template")
        return self
