"""Every configuration file of a `configs/` folder, read once into one frozen `Settings`.

The CLI calls `load_settings(config_dir)` once per command and passes the parts down; no
library function takes a folder or reads YAML. Each file is parsed by `config.load_config`
(one-line errors naming the file and key); the checks that involve two files run here, at
load time, and fail in one line naming both:

- a task config (`models/<task>.yaml`) names its own task, one the features config labels,
  and only features the features config builds (`features`, `exclude`, `monotone`), after its
  window placeholders (`days_past_due_max_{long}m`) are resolved against the windows, and
  the reason catalogues' `{w}` entries are written out for them;
- time is set once, in `features.yaml` (`history_months`, `windows`, the labels'
  `horizon_months`): the policy's churn and default horizons (the policy turns a 6-month churn
  probability and a 12-month PD into its own horizon) and the synthetic bank's label horizons
  in `data.yaml` follow the labels when their files leave them out, and must equal them when
  given;
- `drivers.yaml` names only reason families that the features config and the reason
  catalogues produce (the families of `features.feature_catalog` after the catalogues' `merge`);
- the bank has one currency: policy.yaml's `reasons.<lang>.currency`, the reason catalogues'
  `currency` and (when given) monitor.yaml's `report.currency` are the same symbol; the
  pages take it from the policy when monitor.yaml leaves it out.

A file that is absent is `None` (or empty) here; `Settings.require` turns that into the
one-line "config file not found" for the commands that need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tierwise.config import load_config
from tierwise.features import (
    TASKS,
    ConfigError,
    FeatureConfig,
    feature_catalog,
    moved_features,
    resolve_feature_names,
    window_neutral,
)
from tierwise.models import (
    DEFAULT_CURRENCY,
    LANGUAGES,
    DriverMap,
    NextTierConfig,
    PolicyConfig,
    ProductFamilyConfig,
    ReasonCatalogue,
    TaskConfig,
    merged_families,
)
from tierwise.reports import MonitorConfig
from tierwise.synthetic import DataConfig

FLAT_TEMPLATE = "flat"

FILES = {
    "data": "data.yaml",
    "features": "features.yaml",
    "policy": "policy.yaml",
    "monitor": "monitor.yaml",
    "drivers": "drivers.yaml",
    "products": "products.yaml",
    "next_tier": "next_tier.yaml",
}


class RecommenderSettings(BaseModel):
    """The settings a recommender is built with, logged with it (`settings.json`) so that
    scoring, reports, governance and fairness use exactly these, not today's files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: FeatureConfig
    policy: PolicyConfig
    reasons: dict[str, ReasonCatalogue] = {}  # empty: the generic family reason writer
    products: ProductFamilyConfig | None = None  # the product menu of the bundled propensity models (offers)


class Settings(BaseModel):
    """The parsed configuration folder. `source` is the folder, for messages."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    source: Path
    data: DataConfig | None = None
    features: FeatureConfig | None = None
    tasks: dict[str, TaskConfig] = {}
    flat: TaskConfig | None = None  # `models/flat.yaml`: the template of flat-table tasks
    policy: PolicyConfig | None = None
    reasons: dict[str, ReasonCatalogue] = {}
    monitor: MonitorConfig | None = None
    drivers: DriverMap | None = None
    products: ProductFamilyConfig | None = None  # `products.yaml`: the product propensity family
    next_tier: NextTierConfig | None = None  # `next_tier.yaml`: levers and fixed features of the next-tier search

    def path(self, part: str) -> Path:
        """The file a part is read from (`reasons`: the English catalogue)."""
        if part == "reasons":
            return self.source / "reasons" / f"{LANGUAGES[0]}.yaml"
        if part in FILES:
            return self.source / FILES[part]
        return self.source / "models" / f"{part}.yaml"

    def require(self, part: str) -> Any:
        """The part, or a one-line `ConfigError` naming the file that is missing."""
        if part == "reasons":
            missing = [lang for lang in LANGUAGES if lang not in self.reasons]
            if missing:
                raise ConfigError(f"{self.source / 'reasons' / f'{missing[0]}.yaml'}: config file not found")
            return self.reasons
        value = getattr(self, part)
        if value is None:
            raise ConfigError(f"{self.path(part)}: config file not found")
        return value

    def task(self, task: str) -> TaskConfig:
        if task not in self.tasks:
            raise ConfigError(f"{self.path(task)}: no task config for '{task}' (tasks: {', '.join(TASKS)})")
        return self.tasks[task]

    def for_recommender(self) -> RecommenderSettings:
        """Features and policy (required), and the reason catalogues when there are any."""
        reasons = self.require("reasons") if self.reasons else {}
        return RecommenderSettings(features=self.require("features"), policy=self.require("policy"),
                                   reasons=reasons, products=self.products)

    @property
    def monitor_or_default(self) -> MonitorConfig:
        return self.monitor if self.monitor is not None else MonitorConfig()

    @property
    def currency(self) -> str:
        """The bank's one currency symbol (policy.yaml, else the reason catalogues; checked equal)."""
        symbols = currency_sources(self)
        return next(iter(symbols.values())) if symbols else DEFAULT_CURRENCY


def currency_sources(settings: Settings) -> dict[str, str]:
    """Where the configuration names the currency: file and key -> symbol."""
    out: dict[str, str] = {}
    if settings.policy is not None:
        for lang, templates in settings.policy.reasons.items():
            out[f"{settings.path('policy')} reasons.{lang}.currency"] = templates.currency
    for lang, catalogue in settings.reasons.items():
        out[f"{settings.source / 'reasons' / f'{lang}.yaml'} currency"] = catalogue.currency
    if settings.monitor is not None and "currency" in settings.monitor.report.model_fields_set:
        out[f"{settings.path('monitor')} report.currency"] = settings.monitor.report.currency
    return out


def _pages_currency(settings: Settings) -> Settings:
    """The monitor's page currency, when monitor.yaml leaves it out, is the bank's one currency."""
    monitor = settings.monitor
    if monitor is None or "currency" in monitor.report.model_fields_set:
        return settings
    report = monitor.report.model_copy(update={"currency": settings.currency})
    return settings.model_copy(update={"monitor": monitor.model_copy(update={"report": report})})


def _optional(path: Path, model: type[BaseModel]) -> Any:
    return load_config(path, model) if path.is_file() else None


def load_settings(config_dir: Path) -> Settings:
    """Read every configuration file of `config_dir` once and check them against each other."""
    folder = Path(config_dir)
    models = folder / "models"
    tasks = {path.stem: load_config(path, TaskConfig)
             for path in sorted(models.glob("*.yaml")) if path.stem != FLAT_TEMPLATE} if models.is_dir() else {}
    reasons = {lang: load_config(folder / "reasons" / f"{lang}.yaml", ReasonCatalogue)
               for lang in LANGUAGES if (folder / "reasons" / f"{lang}.yaml").is_file()}
    features = _optional(folder / FILES["features"], FeatureConfig)
    fitted = features if features is not None else FeatureConfig()
    built = set(feature_catalog(fitted))
    reasons = {lang: catalogue.for_windows(fitted.windows, built) for lang, catalogue in reasons.items()}
    tasks = {stem: _resolved(task, fitted, models / f"{stem}.yaml") for stem, task in tasks.items()}
    settings = Settings(
        source=folder,
        data=_data_follows_labels(_optional(folder / FILES["data"], DataConfig), fitted),
        features=features,
        tasks=tasks,
        flat=_optional(models / f"{FLAT_TEMPLATE}.yaml", TaskConfig),
        policy=_policy_follows_labels(_optional(folder / FILES["policy"], PolicyConfig), fitted),
        reasons=reasons,
        monitor=_optional(folder / FILES["monitor"], MonitorConfig),
        drivers=_optional(folder / FILES["drivers"], DriverMap),
        products=_optional(folder / FILES["products"], ProductFamilyConfig),
        next_tier=_optional(folder / FILES["next_tier"], NextTierConfig),
    )
    check_settings(settings)
    return _pages_currency(settings)


def _resolved(task: TaskConfig, features: FeatureConfig, file: Path) -> TaskConfig:
    try:
        return task.resolved(features)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None


def _policy_follows_labels(policy: PolicyConfig | None, features: FeatureConfig) -> PolicyConfig | None:
    """The policy's churn and default horizons, when policy.yaml leaves them out, are the labels'."""
    if policy is None:
        return None
    update = {f"{task}_horizon_months": getattr(features.labels, task).horizon_months
              for task in ("churn", "default") if f"{task}_horizon_months" not in policy.model_fields_set}
    return policy.model_copy(update=update) if update else policy


def _data_follows_labels(data: DataConfig | None, features: FeatureConfig) -> DataConfig | None:
    """The synthetic bank's label horizons, when data.yaml leaves them out, are the labels'."""
    if data is None:
        return None
    given = data.labels.model_fields_set if "labels" in data.model_fields_set else set()
    update = {f"{task}_horizon_months": getattr(features.labels, task).horizon_months
              for task in TASKS if f"{task}_horizon_months" not in given}
    return data.model_copy(update={"labels": data.labels.model_copy(update=update)}) if update else data


def _time_note(features: FeatureConfig) -> str:
    fitted = f", fitted to history_months {features.history_months}" if features.history_months else ""
    return f"windows {list(features.windows)}{fitted}"


def _unknown_feature(file: Path, name: str, more: int, features: FeatureConfig, features_file: Path) -> str:
    """One line: the unknown name, the windows, and how to write a window feature instead."""
    message = f"{file}: feature '{name}' is not built by {features_file} ({_time_note(features)})"
    neutral = window_neutral(name)
    if neutral is not None and any(v.startswith(neutral.split("{", 1)[0]) for v in feature_catalog(features)):
        message += f"; write '{neutral}' (the longest window) or '{neutral.replace('{long}', '{w}')}' (every window)"
    return message + (f" (and {more} more)" if more else "")


def check_settings(settings: Settings) -> None:
    """The cross-file checks (see the module docstring); one-line `ConfigError`s."""
    features = settings.features if settings.features is not None else FeatureConfig()
    features_file = settings.path("features")
    for stem, task in settings.tasks.items():
        file = settings.path(stem)
        if task.task != stem:
            raise ConfigError(f"{file}: task '{task.task}' does not match the file name '{stem}'")
        if stem not in TASKS:
            raise ConfigError(f"{file}: task '{stem}' has no label in {features_file} "
                              f"(labels: {', '.join(TASKS)})")
        known = set(feature_catalog(features))
        named = [*(task.features or []), *task.exclude, *task.monotone]
        unknown = [name for name in named if name not in known]
        if unknown:
            raise ConfigError(_unknown_feature(file, unknown[0], len(unknown) - 1, features, features_file))
    if settings.drivers is not None:
        catalog = feature_catalog(features)
        known = set(merged_families({k: v.family for k, v in catalog.items()}, list(catalog), settings.reasons).values())
        try:
            settings.drivers.check_families(sorted(known))
        except ConfigError as exc:
            raise ConfigError(f"{settings.path('drivers')}: {str(exc).removeprefix('drivers: ')} "
                              f"(not a reason family of {features_file} and the reason catalogues)") from None
    policy = settings.policy
    if policy is not None:
        labels = features.labels
        for task, policy_months, label_months in (
                ("churn", policy.churn_horizon_months, labels.churn.horizon_months),
                ("default", policy.default_horizon_months, labels.default.horizon_months)):
            if policy_months != label_months:
                raise ConfigError(f"{settings.path('policy')}: {task}_horizon_months is {policy_months} but the "
                                  f"{task} label in {features_file} has horizon_months {label_months} "
                                  f"({_time_note(features)}); remove it from {settings.path('policy').name} to follow the label")
        if policy.risk.in_default_dpd != labels.default.dpd_threshold:
            raise ConfigError(f"{settings.path('policy')}: risk.in_default_dpd is {policy.risk.in_default_dpd} but the "
                              f"default label in {features_file} counts a default at dpd_threshold "
                              f"{labels.default.dpd_threshold} days past due; set both to the bank's definition")
    if settings.next_tier is not None:
        check_next_tier(settings, features)
    symbols = currency_sources(settings)
    if len(set(symbols.values())) > 1:
        (first, one), (where, other) = next(iter(symbols.items())), next((k, v) for k, v in symbols.items()
                                                                       if v != next(iter(symbols.values())))
        raise ConfigError(f"{where} is '{other}' but {first} is '{one}': the bank has one currency; "
                          "set the same symbol everywhere")
    data = settings.data
    if data is not None:
        for task in TASKS:
            data_months = getattr(data.labels, f"{task}_horizon_months")
            label_months = getattr(features.labels, task).horizon_months
            if data_months != label_months:
                raise ConfigError(f"{settings.path('data')}: labels.{task}_horizon_months is {data_months} but the "
                                  f"{task} label in {features_file} has horizon_months {label_months} "
                                  f"({_time_note(features)}); remove it from {settings.path('data').name} to follow the label")


def check_next_tier(settings: Settings, features: FeatureConfig) -> None:
    """next_tier.yaml against features.yaml and the reason catalogues: every lever's column is
    a feature the features config builds, every fixed name too (after its `{w}` windows), no
    lever moves a fixed feature, and each catalogue has a step text for every lever."""
    config, file, features_file = settings.next_tier, settings.path("next_tier"), settings.path("features")
    assert config is not None
    built = set(feature_catalog(features))
    for name, lever in config.levers.items():
        if lever.column not in built:
            raise ConfigError(f"{file}: levers.{name}.column '{lever.column}' is not a feature built by "
                              f"{features_file} ({_time_note(features)})")
    fixed = resolve_feature_names(list(config.fixed), features)
    unknown = [n for n in fixed if n not in built]
    if unknown:
        raise ConfigError(_unknown_feature(file, unknown[0], len(unknown) - 1, features, features_file)
                          .replace(f"{file}: feature", f"{file}: fixed feature", 1))
    for name, lever in config.levers.items():
        moved = sorted(moved_features(lever.column, features) & set(fixed))
        if moved:
            raise ConfigError(f"{file}: levers.{name} ({lever.column}) moves fixed feature '{moved[0]}'; "
                              "remove the lever or the fixed name")
    for lang, catalogue in settings.reasons.items():
        where = settings.source / "reasons" / f"{lang}.yaml"
        if catalogue.next_tier is None:
            raise ConfigError(f"{where}: no next_tier texts ({file} is there); add the next_tier section")
        lacking = [lv.column for lv in config.levers.values() if lv.column not in catalogue.next_tier.steps]
        if lacking:
            raise ConfigError(f"{where}: next_tier.steps has no text for '{lacking[0]}' (a lever of {file})")


__all__ = ["RecommenderSettings", "check_next_tier", "Settings", "check_settings", "load_settings"]
