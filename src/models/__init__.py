"""Model-ready frames to predictions and reasons: training, calibration, TreeSHAP, policy."""

from tierwise.models._calibration import Calibrator, assign_grades, grade_table
from tierwise.models._card import model_card
from tierwise.models._explain_plots import log_global_explanations
from tierwise.models._group_risk import (
    GroupsConfig,
    apply_contagion,
    contagion_templates,
    group_table,
)
from tierwise.models._leads import LEAD_COLUMNS, LEAD_KINDS, supply_chain_leads
from tierwise.models._metrics import (
    binary_metrics,
    expected_calibration_error,
    oracle_ratio,
    primary_score,
    regression_metrics,
)
from tierwise.models._next_tier import (
    HELD_COLUMNS,
    OPEN_REVIEW,
    Alternative,
    Change,
    NextTier,
    NextTierSearch,
    plausible_ranges,
    with_memory,
)
from tierwise.models._next_tier_config import LeverConfig, NextTierConfig
from tierwise.models._next_tier_record import next_tier_record
from tierwise.models._next_tier_text import alternative_text, next_tier_texts, step_text, tier_name
from tierwise.models._numbers import (
    DEFAULT_CURRENCY,
    format_change,
    format_count,
    format_money,
    format_pd,
    format_probability,
    format_share,
)
from tierwise.models._offers import (
    average_precision_at_k,
    choose_offers,
    map_at_k,
    offer_mask,
    top_k,
)
from tierwise.models._plots import (
    plot_calibration,
    plot_importance,
    plot_lift_gain,
    plot_regression,
    plot_roc,
)
from tierwise.models._policy import (
    FLAG_COLUMNS,
    OUTPUT_COLUMNS,
    ResolvedPolicy,
    apply_rm_capacity,
    assumption_notes,
    expected_value,
    recommend,
    resolve_shares,
    resolve_thresholds,
    rm_capacity,
    summarise_tiers,
)
from tierwise.models._policy_config import (
    CHANNELS,
    TIERS,
    TIERS_BY_RANK,
    AssumptionsConfig,
    GrowthLeadConfig,
    PolicyConfig,
    RiskConfig,
)
from tierwise.models._policy_inputs import REQUIRED_COLUMNS as POLICY_INPUT_COLUMNS
from tierwise.models._policy_inputs import validate_policy_inputs
from tierwise.models._product_family import ProductFamilyConfig, ProductSpec
from tierwise.models._reason_catalogue import (
    LANGUAGES,
    NextTierTexts,
    ReasonCatalogue,
    Template,
    check_catalogue_coverage,
    flat_catalogues,
    merged_families,
)
from tierwise.models._reasons import CatalogueReasons, reason_codes, shap_values
from tierwise.models._recommender import (
    PYFUNC_OUTPUT_COLUMNS,
    RECOMMENDATION_COLUMNS,
    FamilyReasons,
    Recommender,
    as_str,
    resolve_policy,
)
from tierwise.models._recommender_offers import (
    OFFER_PARTS,
    gate_offers,
    is_number_column,
    offer_columns,
)
from tierwise.models._recommender_rows import NotFast, recommend_rows
from tierwise.models._reviews import PRIOR_COLUMNS, REVIEW_COLUMNS, REVIEW_STATUSES, advance_reviews
from tierwise.models._task import TaskConfig
from tierwise.models._train import (
    TierwiseModel,
    TrainResult,
    frame_fingerprint,
    train_flat,
    train_split,
)
from tierwise.models._treeshap import tree_shap
from tierwise.models._truthfulness import DriverMap, measure_truthfulness

__all__: list[str] = [
    "Alternative",
    "Change",
    "LeverConfig",
    "NextTier",
    "NextTierConfig",
    "NextTierSearch",
    "plausible_ranges",
    "with_memory",
    "HELD_COLUMNS",
    "OPEN_REVIEW",
    "tier_name",
    "next_tier_record",
    "next_tier_texts",
    "alternative_text",
    "step_text",
    "NextTierTexts",
    "GroupsConfig",
    "apply_contagion",
    "contagion_templates",
    "group_table",
    "LEAD_COLUMNS",
    "LEAD_KINDS",
    "supply_chain_leads",
    "DEFAULT_CURRENCY",
    "format_change",
    "format_count",
    "format_money",
    "format_pd",
    "format_probability",
    "format_share",
    "CHANNELS",
    "FLAG_COLUMNS",
    "OUTPUT_COLUMNS",
    "POLICY_INPUT_COLUMNS",
    "AssumptionsConfig",
    "GrowthLeadConfig",
    "RiskConfig",
    "PolicyConfig",
    "ResolvedPolicy",
    "TIERS",
    "TIERS_BY_RANK",
    "apply_rm_capacity",
    "assumption_notes",
    "PRIOR_COLUMNS",
    "REVIEW_COLUMNS",
    "REVIEW_STATUSES",
    "advance_reviews",
    "expected_value",
    "recommend",
    "resolve_shares",
    "resolve_thresholds",
    "rm_capacity",
    "summarise_tiers",
    "validate_policy_inputs",
    "Calibrator",
    "TaskConfig",
    "ProductFamilyConfig",
    "ProductSpec",
    "average_precision_at_k",
    "OFFER_PARTS",
    "choose_offers",
    "gate_offers",
    "offer_columns",
    "is_number_column",
    "map_at_k",
    "offer_mask",
    "top_k",
    "TierwiseModel",
    "TrainResult",
    "assign_grades",
    "binary_metrics",
    "expected_calibration_error",
    "frame_fingerprint",
    "grade_table",
    "model_card",
    "oracle_ratio",
    "plot_calibration",
    "plot_importance",
    "plot_lift_gain",
    "plot_regression",
    "plot_roc",
    "primary_score",
    "regression_metrics",
    "train_flat",
    "train_split",
    "tree_shap",
    "CatalogueReasons",
    "LANGUAGES",
    "shap_values",
    "DriverMap",
    "ReasonCatalogue",
    "Template",
    "check_catalogue_coverage",
    "flat_catalogues",
    "log_global_explanations",
    "measure_truthfulness",
    "merged_families",
    "reason_codes",
    "PYFUNC_OUTPUT_COLUMNS",
    "RECOMMENDATION_COLUMNS",
    "FamilyReasons",
    "as_str",
    "Recommender",
    "NotFast",
    "recommend_rows",
    "resolve_policy",
]
