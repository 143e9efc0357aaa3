"""The task configuration: one YAML per model task (`configs/models/<task>.yaml`).

One generic trainer reads this; churn, default and growth differ only in their YAML. Flat
tables (`tierwise train --dataset`) use the task config named by `kind` (binary tasks take
`churn.yaml` as their template) with the dataset's own `lightgbm:` block on top.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from tierwise.features import ConfigError, FeatureConfig, FrozenConfig, resolve_feature_names

CandidateName = Literal["lightgbm", "lightgbm_monotone", "scorecard"]
MetricName = Literal["roc_auc", "pr_auc", "ks", "spearman", "neg_rmse"]


class TuningConfig(FrozenConfig):
    """Optuna on the validation data only. `max_trials` caps the work so that a run is
    reproducible when it finishes within `budget_minutes`; the budget is a wall-clock guard."""

    budget_minutes: float = Field(0.25, ge=0)
    max_trials: int = Field(8, ge=0)
    max_rows: int = Field(50_000, ge=100)  # trials fit on a seeded sample of at most this many train rows


class CalibrationConfig(FrozenConfig):
    """Isotonic when the held-out set has at least `min_isotonic_rows` rows (and
    `min_isotonic_positives` positives), Platt scaling otherwise."""

    method: Literal["auto", "isotonic", "platt", "none"] = "auto"
    min_isotonic_rows: int = Field(1000, ge=10)
    min_isotonic_positives: int = Field(50, ge=1)
    ece_bins: int = Field(10, ge=2)
    holdout_share: float = Field(0.25, gt=0, lt=1)  # flat tables: share of a training fold held out
    probability_floor: float = Field(0.0, ge=0, lt=0.01)  # lowest probability given out (a PD floor)


class Grade(FrozenConfig):
    name: str
    max_pd: float = Field(gt=0, le=1)


class ScorecardConfig(FrozenConfig):
    """Points scaling: `base_points` at odds (good:bad) of `base_odds`; `pdo` points double them.
    `max_features`: the scorecard bins the features LightGBM found most important (by gain),
    at most this many (a readable card, and binning stays fast)."""

    base_points: float = 600.0
    base_odds: float = Field(50.0, gt=0)
    pdo: float = Field(20.0, gt=0)
    max_features: int = Field(20, ge=1)


class TaskConfig(FrozenConfig):
    task: str
    kind: Literal["binary", "regression"]
    primary_metric: MetricName = "roc_auc"
    description: str = ""
    features: list[str] | None = None  # None: every feature of the frame
    exclude: list[str] = Field(default_factory=list)
    candidates: list[CandidateName] = Field(default_factory=lambda: ["lightgbm", "lightgbm_monotone", "scorecard"])
    monotone: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    lightgbm: dict[str, Any] = Field(default_factory=dict)
    n_estimators: int = Field(2000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    tuning: TuningConfig = TuningConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    grades: list[Grade] = Field(default_factory=list)
    scorecard: ScorecardConfig = ScorecardConfig()
    cv_folds: int = Field(5, ge=2)
    seed: int = 0
    num_threads: int = Field(2, ge=1)
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> TaskConfig:
        if not self.candidates:
            raise ValueError("candidates must name at least one model")
        if self.kind == "regression" and self.primary_metric not in ("spearman", "neg_rmse"):
            raise ValueError(f"primary_metric {self.primary_metric} does not apply to a regression task")
        if self.kind == "binary" and self.primary_metric in ("spearman", "neg_rmse"):
            raise ValueError(f"primary_metric {self.primary_metric} does not apply to a binary task")
        bounds = [g.max_pd for g in self.grades]
        if bounds and (bounds != sorted(bounds) or len(set(bounds)) != len(bounds) or bounds[-1] != 1.0):
            raise ValueError("grades must have strictly increasing max_pd ending at 1.0")
        return self

    def resolved(self, features: FeatureConfig) -> TaskConfig:
        """A copy whose `features`, `exclude` and `monotone` name the built features: window
        placeholders (`days_past_due_max_{w}m`, `_{long}m`) expanded against `features`'
        windows (`features.resolve_feature_names`), and `{horizon}` (the task's label horizon)
        and `{long}` (the longest window) written out in `description`, `intended_use` and
        `limitations`. A name given twice with opposite signs in `monotone` is a `ConfigError`."""
        monotone: dict[str, Literal[-1, 1]] = {}
        for name, sign in self.monotone.items():
            for built in resolve_feature_names([name], features):
                if monotone.get(built, sign) != sign:
                    raise ConfigError(f"monotone: '{built}' is given both +1 and -1")
                monotone[built] = sign
        chosen = resolve_feature_names(self.features, features) if self.features is not None else None
        label = getattr(features.labels, self.task, None)
        words = {"{horizon}": str(label.horizon_months) if label is not None else "{horizon}",
                 "{long}": str(max(features.windows))}

        def fill(text: str) -> str:
            for token, value in words.items():
                text = text.replace(token, value)
            return text

        return self.model_copy(update={
            "features": chosen, "exclude": resolve_feature_names(self.exclude, features), "monotone": monotone,
            "description": fill(self.description), "intended_use": fill(self.intended_use),
            "limitations": [fill(line) for line in self.limitations]})

    def with_lightgbm(self, params: dict[str, Any]) -> TaskConfig:
        """A copy whose LightGBM starting parameters are updated by `params`."""
        return self.model_copy(update={"lightgbm": {**self.lightgbm, **params}})
