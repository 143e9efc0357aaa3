"""Build, log and register the recommender (`tierwise-recommender`, alias champion), and load it.

Wiring only: the task models come from the registry (`models:/tierwise-<task>@champion`; a
bank may have any non-empty subset of churn, default and growth, and the policy assumes the
rest, see `models.AssumptionsConfig`),
the policy, feature config and reason catalogues from the settings the CLI loaded; quantile
thresholds are resolved on the snapshot features of a reference month (the latest month of
the data by default). The pyfunc is logged with the whole `tierwise` package as `code_paths`
(its `features` and `models` subpackages included), so it runs from the registry alone; the
settings it was built with are logged beside it (`settings.json`: features, policy, reasons)
and `registry.load_recommender` hands them back to scoring, reports and governance.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tierwise import registry, tracking
from tierwise.features import (
    TASKS,
    DataError,
    FeatureConfig,
    feature_catalog,
    reference_rules,
    snapshot_features,
    validate_tables,
)
from tierwise.features import read_raw_tables as read_tables
from tierwise.models import (
    CatalogueReasons,
    FamilyReasons,
    PolicyConfig,
    ProductFamilyConfig,
    Recommender,
    TierwiseModel,
    resolve_policy,
)
from tierwise.settings import RecommenderSettings

logger = logging.getLogger(__name__)

NAME = registry.RECOMMENDER
EXPERIMENT = "tierwise-recommender"


def stage_package(folder: Path) -> Path:
    """A copy of the installed `tierwise` package (with `tierwise.features` and
    `tierwise.models`, wherever they live on disk) under `folder/tierwise`, for `code_paths`."""
    import shutil

    import tierwise
    import tierwise.features
    import tierwise.models

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target = Path(folder) / "tierwise"
    shutil.copytree(Path(tierwise.__file__).parent, target, ignore=ignore, dirs_exist_ok=True)
    for sub in (tierwise.features, tierwise.models):
        dest = target / sub.__name__.rsplit(".", 1)[-1]
        if not dest.is_dir():
            shutil.copytree(Path(sub.__file__).parent, dest, ignore=ignore)
    return target


@dataclass(frozen=True)
class RecommenderInfo:
    name: str
    run_id: str
    version: str
    source_versions: dict[str, str]
    cuts: dict[str, float]
    assumptions: tuple[str, ...] = ()
    """What the policy assumes for the tasks without a model (empty: none)."""


def feature_families(config: FeatureConfig) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Feature -> family, and feature -> (English, Chinese) description for the reasons."""
    catalog = feature_catalog(config)
    families = {name: info.family for name, info in catalog.items()}
    descriptions = {name: (info.description, info.description) for name, info in catalog.items()}
    return families, descriptions


def build_recommender(models: Mapping[str, TierwiseModel], policy: PolicyConfig, reference: pd.DataFrame,
                      feature_config: FeatureConfig, *, n_threads: int | None = None,
                      catalogues: Mapping[str, Any] | None = None,
                      products: Mapping[str, TierwiseModel] | None = None,
                      family: ProductFamilyConfig | None = None,
                      ) -> tuple[Recommender, dict[str, tuple[str, str]]]:
    """A `Recommender` with the policy resolved on `reference` (snapshot features). Reasons come
    from the reason catalogues (`configs/reasons/<lang>.yaml`) when given, else from the
    generic family writer (feature descriptions). `models`: any non-empty subset of the tasks;
    the policy assumes the others. `products` (product family -> propensity model, any subset)
    with `family` (products.yaml) add the offers; without them the output is unchanged."""
    unknown = [t for t in models if t not in TASKS]
    if unknown:
        raise DataError(f"recommender: unknown task(s) {', '.join(unknown)} (tasks: {', '.join(TASKS)})")
    if not models:
        raise DataError(f"recommender: no task model; train at least one of {', '.join(TASKS)}")
    models = {t: models[t] for t in TASKS if t in models}
    resolved = resolve_policy(models, policy, reference)
    families, descriptions = feature_families(feature_config)
    reasons: Any = (CatalogueReasons(families, catalogues) if catalogues
                    else FamilyReasons(families=families, descriptions=descriptions))
    rec = Recommender(**models, policy=resolved, reasons=reasons, n_threads=n_threads,
                      products=dict(products or {}), family=family if products else None)
    for note in rec.assumptions("en"):
        logger.warning("recommender: %s", note)
    return rec, descriptions


def signature_for(recommender: Recommender, example: pd.DataFrame, output: pd.DataFrame) -> Any:
    """Input schema: the required feature columns (strings for categories and ids, doubles for
    the rest) and the optional carried columns; output schema inferred from `output`."""
    from mlflow.models import ModelSignature
    from mlflow.models.signature import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    text = {"client_id", "segment", "region", "industry", "branch", "rm_id", "tier_prev"}
    for model in recommender.models.values():
        text |= set(model.categories_)
    cols = [ColSpec("string" if c in text else "double", c) for c in recommender.required_inputs]
    for c in recommender.optional_inputs:
        if c == "snapshot_month":
            continue
        cols.append(ColSpec("string" if c in text else "double", c, required=False))
    outputs = infer_signature(example.head(1), output).outputs
    return ModelSignature(inputs=Schema(cols), outputs=outputs)


def request_frame(features: pd.DataFrame, recommender: Recommender) -> pd.DataFrame:
    """Feature rows as a served request carries them: text for categories, floats for numbers."""
    wanted = [c for c in (*recommender.required_inputs, *recommender.optional_inputs)
              if c in features.columns and c != "snapshot_month"]
    out = features.loc[:, wanted].reset_index(drop=True).copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            out[col] = values.astype("str")
        else:
            out[col] = values.astype("float64")
    return out


def log_recommender(recommender: Recommender, descriptions: dict[str, tuple[str, str]],
                    reference: pd.DataFrame, *, settings: RecommenderSettings, source_versions: Mapping[str, str],
                    name: str = NAME, champion: bool = True) -> RecommenderInfo:
    """Log the pyfunc (self-contained) with the `settings` it was built with, register it as
    `name` and point `champion` at it."""
    import warnings

    import mlflow

    from tierwise.models.pyfunc import (
        SETTINGS_ARTIFACT_KEY,
        RecommenderPyfunc,
        write_artifacts,
    )

    client = tracking.connect()
    exp_id = tracking.experiment_id(client, EXPERIMENT)
    example = request_frame(reference.head(3), recommender)
    output = recommender.recommend(example).loc[:, list(recommender.pyfunc_columns)]
    signature = signature_for(recommender, example, output)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
        mlflow.log_params({f"{k}_version": v for k, v in source_versions.items()})
        mlflow.log_params({f"cut_{k}": f"{v:.6g}" for k, v in recommender.policy.cuts.items()})
        mlflow.log_param("reference_clients", recommender.policy.reference_size)
        mlflow.log_param(registry.RISK_LIMIT_PARAM, f"{recommender.policy.risk_limit:.6g}")
        mlflow.log_param("tasks_assessed", ",".join(recommender.tasks))
        mlflow.log_param("products_offered", ",".join(recommender.products) or "none")
        assumed = recommender.assumptions("en")
        if assumed:
            mlflow.set_tag("assumptions", "; ".join(assumed))
        artifacts = write_artifacts(Path(tmp) / "parts", recommender, descriptions)
        settings_file = Path(tmp) / registry.SETTINGS_ARTIFACT
        settings_file.write_text(settings.model_dump_json(indent=1), encoding="utf-8")
        artifacts[SETTINGS_ARTIFACT_KEY] = str(settings_file)
        mlflow.log_artifact(str(settings_file))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=RecommenderPyfunc(), artifacts=artifacts,
                code_paths=[str(stage_package(Path(tmp) / "code"))],
                signature=signature, input_example=example.head(1), registered_model_name=name,
                pip_requirements=_pip_requirements(), metadata=registry.RECOMMENDER_MARKER,
            )
    version = str(info.registered_model_version)
    registry.mark_new_version(client, name, version, champion=champion)
    logger.info("registered %s version %s (%s)", name, version, "champion" if champion else "challenger")
    return RecommenderInfo(name=name, run_id=run.info.run_id, version=version,
                           source_versions=dict(source_versions), cuts=dict(recommender.policy.cuts),
                           assumptions=tuple(assumed))


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "pyarrow", "numba", "pydantic",
                "pandera", "optbinning", "scipy"):
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            out.append(pkg)
    return out


def reference_features(data_dir: Path, feature_config: FeatureConfig, month: dt.date | None = None
                       ) -> pd.DataFrame:
    """Snapshot features of the validated raw tables at `month` (default: the latest month)."""
    clients, monthly = read_tables(data_dir)
    report = validate_tables(clients, monthly, rules=reference_rules(data_dir))
    if month is None:
        month = pd.Timestamp(report.monthly["month"].max()).date()
    return snapshot_features(report.clients, report.monthly, month, feature_config)


def build_and_register(data_dir: Path, settings: RecommenderSettings, *, month: dt.date | None = None,
                       alias: str = registry.CHAMPION) -> RecommenderInfo:
    """`tierwise recommend`: the `alias` task models that exist (at least one) + the settings'
    policy -> registered recommender (reasons from the settings' catalogues when it has them).
    A task without such a model is left out, logged, and assumed by the policy."""
    client = tracking.connect()
    versions = registry.alias_versions(client, alias)
    if not versions:
        raise DataError(f"no task model has the alias '{alias}' (tierwise-{{{','.join(TASKS)}}}); run "
                        "`tierwise train --task <task>` (and `tierwise promote`) for at least one task first")
    for task in TASKS:
        if task not in versions:
            logger.warning("%s: no model has the alias '%s'; the recommender goes without it (the policy "
                           "assumes it)", registry.registered_name(task), alias)
    models: dict[str, TierwiseModel] = {task: registry.load_model(registry.version_uri(registry.registered_name(task), v))
                                        for task, v in versions.items()}
    products, product_versions = _product_models(client, settings, alias)
    reference = reference_features(Path(data_dir), settings.features, month)
    recommender, descriptions = build_recommender(models, settings.policy, reference, settings.features,
                                                  catalogues=settings.reasons or None, products=products,
                                                  family=settings.products)
    if not products:  # no offers: the settings it carries are what they were without a product menu
        settings = settings.model_copy(update={"products": None})
    return log_recommender(recommender, descriptions, reference, settings=settings,
                           source_versions={**versions, **product_versions})


def _product_models(client: Any, settings: RecommenderSettings, alias: str
                    ) -> tuple[dict[str, TierwiseModel], dict[str, str]]:
    """The `alias` propensity models of the products in the settings' product menu that have
    one (product -> model, and `adopt_<product>` -> version); none without a menu. A bank with
    no product model gets no offers, one with some gets offers among those."""
    from tierwise.features import product_task

    if settings.products is None:
        return {}, {}
    found = {p: v for p, v in registry.product_versions(client, alias).items() if p in settings.products.products}
    if not found:
        logger.info("no product propensity model has the alias '%s'; the recommender makes no offers", alias)
        return {}, {}
    missing = [p for p in settings.products.products if p not in found]
    if missing:
        logger.warning("no '%s' propensity model for %s; offers are made among %s", alias, ", ".join(missing),
                       ", ".join(found))
    models = {p: registry.load_model(registry.version_uri(registry.registered_name(product_task(p)), v))
              for p, v in found.items()}
    return models, {product_task(p): v for p, v in found.items()}


__all__ = ["NAME", "RecommenderInfo", "build_and_register", "build_recommender",
           "log_recommender", "reference_features", "request_frame", "signature_for"]
