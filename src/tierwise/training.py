"""Training orchestration: load data and configs, build the frame, train, log to MLflow,
register, promote, predict. Wiring only; the logic lives in `features` and `models`.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tierwise import registry, tracking
from tierwise.features import (
    DataError,
    DatasetConfig,
    FeatureConfig,
    ModelFrame,
    atomic_path,
    load_flat_table,
    month_date,
    month_index,
    month_label,
    task_product,
)
from tierwise.governance import (
    Promotion,
    paired_bootstrap,
    promotion_message,
    record_review,
    write_training_record,
)
from tierwise.models import (
    ReasonCatalogue,
    TaskConfig,
    TierwiseModel,
    TrainResult,
    log_global_explanations,
    model_card,
    oracle_ratio,
    plot_calibration,
    plot_importance,
    plot_lift_gain,
    plot_regression,
    plot_roc,
    primary_score,
    train_flat,
    train_split,
)
from tierwise.reports import PromotionConfig

logger = logging.getLogger(__name__)

ORACLE_COLUMNS = {"churn": "p_churn_6m", "default": "p_default_12m", "growth": "expected_growth_12m"}
Progress = Callable[[int], None]


@dataclass(frozen=True)
class RunInfo:
    name: str
    run_id: str
    version: str
    champion: bool
    metrics: dict[str, float]


# -- configuration -----------------------------------------------------------------------


def flat_task_config(dataset: Any, template: TaskConfig | None = None) -> TaskConfig:
    """The task config of a flat table: the template `models/flat.yaml` (if given) with the
    dataset's name, kind, monotone hints and LightGBM starting parameters."""
    base: dict[str, Any] = template.model_dump() if template is not None else {}
    base.update(task=dataset.name, kind=dataset.kind, features=None, exclude=[],
                monotone=dict(dataset.monotone),
                lightgbm={**base.get("lightgbm", {}), **dict(dataset.lightgbm)})
    if dataset.kind == "regression" and base.get("primary_metric") not in ("spearman", "neg_rmse"):
        base["primary_metric"] = "spearman"
    base.setdefault("primary_metric", "roc_auc")
    return TaskConfig.model_validate(base)


# -- data --------------------------------------------------------------------------------


def read_raw_tables(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`clients` and `monthly` of a bank extract folder (the feature layer's readers)."""
    import tierwise.features as features
    reader = getattr(features, "read_raw_tables", None) or getattr(features, "read_tables", None)
    if reader is not None:
        out = reader(data_dir)
        return out[0], out[1]
    tables = []
    for name in ("clients", "monthly"):
        path = next((p for p in (data_dir / f"{name}.parquet", data_dir / f"{name}.csv") if p.is_file()), None)
        if path is None:
            raise DataError(f"{data_dir}: no {name}.parquet (or .csv); generate a bank with `tierwise generate`")
        tables.append(pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path))
    return tables[0], tables[1]


def snapshot_months(monthly: pd.DataFrame, feature_config: Any, n_snapshots: int) -> list[dt.date]:
    """The latest `n_snapshots` months with full history behind them and every label horizon
    inside the data."""
    months = pd.to_datetime(monthly["month"]).dropna()
    first, last = month_index(months.min()), month_index(months.max())
    start = first + feature_config.lookback_months - 1
    end = last - feature_config.max_horizon
    if end < start:
        raise DataError(f"the data spans {month_label(first)} to {month_label(last)}: too short for "
                        f"{feature_config.lookback_months} months of history plus a "
                        f"{feature_config.max_horizon}-month label horizon; set history_months: "
                        f"{last - first + 1} in features.yaml to fit the windows and horizons to it")
    return [month_date(i) for i in range(max(start, end - n_snapshots + 1), end + 1)]


def synthetic_frames(data_dir: Path, tasks: Sequence[str], feature_config: FeatureConfig, *, n_snapshots: int,
                     progress: Progress | None = None,
                     untrainable: dict[str, str] | None = None) -> dict[str, ModelFrame]:
    """The model frame of each task from one training table. With `untrainable` (a dict to
    fill), a task with no eligible row -- a product family whose column the extract leaves
    empty, or that nobody adopts -- is left out with its one-line reason there."""
    from tierwise.features import (
        build_training_table,
        product_families_present,
        read_events,
        task_frame,
    )

    clients, monthly = read_raw_tables(Path(data_dir))
    events = read_events(Path(data_dir))  # the bank's recorded defaults and closures, when it has them
    months = snapshot_months(monthly, feature_config, n_snapshots)
    logger.info("training table: %d snapshots %s to %s%s", len(months), months[0], months[-1],
                "" if events is None else f"; labels from {len(events):,} recorded event(s) where they apply")
    table = build_training_table(clients, monthly, months, feature_config, progress=progress, events=events)
    absent = product_families_present(monthly) if any(task_product(t) for t in tasks) else {}
    frames = {}
    for task in tasks:
        reason = absent.get(task_product(task) or "")
        try:
            if reason is not None:
                raise DataError(f"{task}: no adoption can be read: {reason}")
            frames[task] = task_frame(table, task, feature_config)
        except DataError as exc:
            if untrainable is None:
                raise
            untrainable[task] = str(exc)
            logger.warning("%s not trained: %s", task, exc)
    return frames


def check_reason_coverage(feature_config: FeatureConfig, catalogues: Mapping[str, ReasonCatalogue]) -> None:
    """Every engineered feature must have a reason text in every language before training:
    a gap fails here, naming the missing entries, rather than when scoring."""
    from tierwise.features import feature_catalog
    from tierwise.models import check_catalogue_coverage

    catalog = feature_catalog(feature_config)
    check_catalogue_coverage(list(catalog), {name: info.family for name, info in catalog.items()}, catalogues)


def read_oracle(data_dir: Path) -> pd.DataFrame | None:
    path = Path(data_dir) / "oracle.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def add_oracle_metrics(result: TrainResult, task: str, oracle: pd.DataFrame | None) -> None:
    """Oracle AUC on the same test rows (joined by client and snapshot month) and the ratio
    (model AUC - 0.5) / (oracle AUC - 0.5)."""
    column = ORACLE_COLUMNS.get(task) or (f"p_{result.model.target_}" if task_product(task) else None)
    if oracle is None or column not in oracle.columns or "snapshot_month" not in result.predictions.columns:
        return
    pred = result.predictions.assign(month=pd.to_datetime(result.predictions["snapshot_month"]))
    month_col = "snapshot_month" if "snapshot_month" in oracle.columns else "month"
    orc = oracle.loc[:, ["client_id", month_col, column]].rename(columns={month_col: "month"})
    orc["month"] = pd.to_datetime(orc["month"])
    joined = pred.merge(orc, on=["client_id", "month"], how="inner").dropna(subset=[column])
    target = result.model.target_
    if len(joined) < 50 or (result.model.kind == "binary" and joined[target].nunique() < 2):
        logger.warning("%s: only %d test rows in the oracle sample; no oracle ratio", task, len(joined))
        return
    metric = "roc_auc" if result.model.kind == "binary" else "spearman"
    model_value = primary_score(metric, joined[target], joined["score"])
    oracle_value = primary_score(metric, joined[target], joined[column])
    result.metrics["oracle_rows"] = float(len(joined))
    result.metrics[f"model_{metric}_oracle_rows"] = model_value
    result.metrics[f"oracle_{metric}"] = oracle_value
    if metric == "roc_auc":
        result.metrics["oracle_ratio"] = oracle_ratio(model_value, oracle_value)
    else:
        result.metrics["oracle_ratio"] = model_value / oracle_value if oracle_value > 0 else float("nan")


# -- MLflow ------------------------------------------------------------------------------

_REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "optbinning", "scipy", "pyarrow")


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in _REQUIREMENTS:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def input_example(model: TierwiseModel, data: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """A few raw input rows; integer columns as floats so that missing values stay valid."""
    example = data.loc[:, model.input_columns_].head(rows).copy()
    for col in example.columns:
        values = example[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            example[col] = values.astype("str")
        elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
            example[col] = values.astype("float64")
    return example


def _write_artifacts(folder: Path, result: TrainResult, frame: ModelFrame, title: str,
                     config_dump: dict[str, Any]) -> None:
    cfg = result.config
    (folder / "config.yaml").write_text(yaml.safe_dump(config_dump, sort_keys=False, allow_unicode=True),
                                        encoding="utf-8")
    pred = result.predictions
    y, score = pred[frame.target].to_numpy(float), pred["score"].to_numpy(float)
    if frame.kind == "binary":
        plot_roc(y, score, folder / "roc.png", title=f"{title}: ROC")
        plot_calibration(y, score, folder / "calibration.png", bins=cfg.calibration.ece_bins,
                         title=f"{title}: calibration")
        plot_lift_gain(y, score, folder / "lift_gain.png", title=f"{title}: gain and lift")
    else:
        plot_regression(y, score, folder / "predicted_vs_actual.png", title=f"{title}: predicted vs actual")
        plot_lift_gain(y - y.min(), score, folder / "lift_gain.png", title=f"{title}: gain (shifted target)")
    if result.importance is not None:
        plot_importance(result.importance, folder / "importance.png", title=f"{title}: importance (gain)")
        result.importance.rename_axis("feature").reset_index().to_csv(folder / "importance.csv", index=False)
    if result.grades is not None:
        result.grades.to_csv(folder / "grades.csv", index=False)
    if result.scorecard_table is not None:
        result.scorecard_table.to_csv(folder / "scorecard.csv", index=False)
        sc = cfg.scorecard
        (folder / "scorecard_scaling.yaml").write_text(yaml.safe_dump(
            {"base_points": sc.base_points, "base_odds": sc.base_odds, "points_to_double_odds": sc.pdo}))
    if result.folds is not None:
        result.folds.to_csv(folder / "cv_folds.csv", index=False)
    scope = "out-of-time test set" if frame.split_column else f"{cfg.cv_folds}-fold cross-validation"
    calibrator = result.model.calibrator_
    card = model_card(
        title=title, task=cfg.task, kind=frame.kind, target=frame.target, candidate=result.model.candidate_,
        primary_metric=cfg.primary_metric, valid_scores=result.valid_scores,
        n_features=len(result.model.feature_names_),
        calibration=(f"{calibrator.method_} on {calibrator.n_fit_} held-out rows" if calibrator else "none"),
        tuning_trials=result.tuning_trials, data_window=result.data_window, fingerprint=result.fingerprint,
        metrics=result.metrics, metrics_scope=scope, intended_use=cfg.intended_use,
        limitations=cfg.limitations, grades=result.grades)
    (folder / "model_card.md").write_text(card, encoding="utf-8")
    write_training_record(folder, result, frame)  # scored rows + data window for the governance pack


def log_and_register(result: TrainResult, frame: ModelFrame, *, name: str, experiment: str,
                     config_dump: dict[str, Any], extra_params: dict[str, Any] | None = None) -> RunInfo:
    """One MLflow run: params, resolved config, fingerprint, metrics, plots, card, model;
    register the model as `name` with alias `challenger` (and `champion` if there is none)."""
    import mlflow
    from mlflow.models import infer_signature

    client = tracking.connect()
    exp_id = tracking.experiment_id(client, experiment)
    model = result.model
    example = input_example(model, frame.data)
    signature = infer_signature(example, _pyfunc_output(model, example))
    params = {"candidate": model.candidate_, "n_features": len(model.feature_names_),
              "tuning_trials": result.tuning_trials, "data_fingerprint": result.fingerprint,
              **{f"lgb_{k}": v for k, v in result.tuned_params.items()}, **(extra_params or {})}
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{name}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.set_tags({"tierwise.task": result.config.task, "tierwise.fingerprint": result.fingerprint})
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if np.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            _write_artifacts(Path(tmp), result, frame, name, config_dump)
            explained = frame.part("test") if frame.split_column else frame.data
            log_global_explanations(model, explained, Path(tmp), seed=result.config.seed)
            mlflow.log_artifacts(tmp)
        info = _log_model(model, signature, example, name)
    version = str(info.registered_model_version)
    champion = registry.mark_new_version(client, name, version)
    if champion:
        logger.info("%s: first model, version %s is champion", name, version)
    return RunInfo(name=name, run_id=run.info.run_id, version=version, champion=champion, metrics=result.metrics)


def _log_model(model: TierwiseModel, signature: Any, example: pd.DataFrame, name: str) -> Any:
    import warnings

    import mlflow.sklearn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow.sklearn.log_model(
            sk_model=model, name="model", signature=signature, input_example=example,
            registered_model_name=name, pip_requirements=_pip_requirements(),
            serialization_format="cloudpickle", pyfunc_predict_fn=_pyfunc_predict_fn(model),
        )


def _pyfunc_predict_fn(model: TierwiseModel) -> str:
    """The method MLflow's pyfunc calls: `predict_proba` for a classifier (the (rows, 2)
    calibrated probabilities, not the labels), `predict` for a regressor (the values). The
    model is pickled by reference to `tierwise.models`: it loads wherever tierwise is
    installed (no `code_paths`, nothing from the source tree)."""
    return "predict_proba" if model.kind == "binary" else "predict"


def _pyfunc_output(model: TierwiseModel, example: pd.DataFrame) -> np.ndarray:
    """What the pyfunc answers for `example` (the output half of the signature)."""
    return getattr(model, _pyfunc_predict_fn(model))(example)


# -- the commands' library functions -----------------------------------------------------


def train_tasks(tasks: Sequence[str], *, data_dir: Path, configs: Mapping[str, TaskConfig],
                feature_config: FeatureConfig, catalogues: Mapping[str, ReasonCatalogue],
                budget_minutes: float | None, n_snapshots: int = 8,
                progress: Progress | None = None,
                untrainable: dict[str, str] | None = None) -> list[tuple[RunInfo, TrainResult]]:
    """Train, log and register each synthetic-bank task (the training table is built once).
    `configs`: the task configs by task; `catalogues`: the reason catalogues by language.

    With `untrainable` (a dict to fill), a task the data cannot train (too few events in a
    split, a single class: a `DataError` before anything is logged) is left out and its
    one-line reason recorded there, so the other tasks still train; without it the first
    such task stops the run."""
    check_reason_coverage(feature_config, catalogues)  # fail early, before the slow part
    tracking.connect()
    frames = synthetic_frames(data_dir, tasks, feature_config, n_snapshots=n_snapshots, progress=progress,
                              untrainable=untrainable)
    oracle = read_oracle(data_dir)
    out = []
    for task in tasks:
        if task not in frames:
            continue  # named in `untrainable`
        try:
            result = train_split(frames[task], configs[task], budget_minutes=budget_minutes, progress=progress)
        except DataError as exc:
            if untrainable is None:
                raise
            untrainable[task] = str(exc)
            logger.warning("%s not trained: %s", task, exc)
            continue
        add_oracle_metrics(result, task, oracle)
        dump = result.config.model_dump(mode="json")
        info = log_and_register(result, frames[task], name=registry.registered_name(task), experiment=f"tierwise-{task}",
                                config_dump=dump, extra_params={"data_dir": str(data_dir), "snapshots": n_snapshots})
        out.append((info, result))
    return out


def train_frame_and_register(frame: ModelFrame, config: TaskConfig, *, name: str, budget_minutes: float | None = None,
                             preprocessor_factory: Callable[[], Any] | None = None,
                             config_dump: dict[str, Any] | None = None,
                             progress: Progress | None = None) -> tuple[RunInfo, TrainResult]:
    """Train any `ModelFrame` (split or flat), log and register it as `name`."""
    tracking.connect()
    if frame.split_column is None:
        result = train_flat(frame, config, preprocessor_factory=preprocessor_factory,
                            budget_minutes=budget_minutes, progress=progress)
    else:
        result = train_split(frame, config, budget_minutes=budget_minutes, progress=progress)
    dump = config_dump if config_dump is not None else result.config.model_dump(mode="json")
    info = log_and_register(result, frame, name=name, experiment=name, config_dump=dump)
    return info, result


def train_dataset(dataset: DatasetConfig, *, data_path: Path | None, template: TaskConfig | None,
                  budget_minutes: float | None, progress: Progress | None = None) -> tuple[RunInfo, TrainResult, Any]:
    """Train a flat table; `dataset`: its parsed YAML (located at its file), `template`: `models/flat.yaml`."""
    config = flat_task_config(dataset, template)
    tracking.connect()
    frame, report = load_flat_table(dataset, data_path)
    dump = {"dataset": dataset.model_dump(mode="json"), "task": config.model_dump(mode="json")}
    info, result = train_frame_and_register(frame, config, name=registry.registered_name(dataset.name),
                                            budget_minutes=budget_minutes, preprocessor_factory=dataset.preprocessor,
                                            config_dump=dump, progress=progress)
    return info, result, report


def evaluate(model: TierwiseModel, data: pd.DataFrame, target: str, metric: str) -> float:
    labelled = labelled_rows(data, target)
    return primary_score(metric, labelled[target].to_numpy(float), model.predict_score(labelled))


def labelled_rows(data: pd.DataFrame, target: str) -> pd.DataFrame:
    if target not in data.columns:
        raise DataError(f"evaluation data has no target column '{target}'")
    labelled = data[data[target].notna()]
    if labelled.empty:
        raise DataError("evaluation data has no labelled rows")
    return labelled


def promote(name: str, data: pd.DataFrame, *, metric: str | None = None,
            comparison: PromotionConfig | None = None) -> Promotion:
    """Score challenger and champion on the same data; move `champion` only if the challenger
    is better beyond noise: the lower end of the paired-bootstrap interval of the difference
    (`comparison`: resamples, confidence, seed, minimum difference) is above the minimum. The
    first model is champion from its registration and is confirmed."""
    comparison = comparison or PromotionConfig()
    client = tracking.connect()
    chal_v = registry.alias_version(client, name, registry.CHALLENGER)
    if chal_v is None:
        raise DataError(f"{name}: no model has the alias '{registry.CHALLENGER}'; train one first")
    challenger = registry.load_model(registry.model_uri(name, registry.CHALLENGER))
    metric = metric or ("roc_auc" if challenger.kind == "binary" else "spearman")
    target = challenger.target_
    labelled = labelled_rows(data, target)
    y = labelled[target].to_numpy(float)
    chal_scores = np.asarray(challenger.predict_score(labelled), dtype=float)
    chal_value = primary_score(metric, y, chal_scores)
    champ_v = registry.alias_version(client, name, registry.CHAMPION)
    champ_value, test = None, None
    if champ_v is not None and champ_v != chal_v:
        champion = registry.load_model(registry.model_uri(name, registry.CHAMPION))
        champ_scores = np.asarray(champion.predict_score(labelled), dtype=float)
        champ_value = primary_score(metric, y, champ_scores)
        test = paired_bootstrap(y, chal_scores, champ_scores, metric, resamples=comparison.resamples,
                                confidence=comparison.confidence, seed=comparison.seed)
    elif champ_v == chal_v:
        champ_value = chal_value
    promoted = champ_v is None or (test is not None and bool(test["low"] > comparison.min_difference))
    if promoted:
        registry.set_alias(client, name, registry.CHAMPION, chal_v)
    first = champ_v is None or (champ_v == chal_v and registry.all_versions(client, name) == [chal_v])
    outcome = Promotion(name, metric, chal_v, chal_value, champ_v, champ_value, promoted, len(labelled),
                        difference=None if test is None else test["difference"],
                        difference_low=None if test is None else test["low"],
                        difference_high=None if test is None else test["high"],
                        confidence=comparison.confidence, resamples=0 if test is None else test["resamples"],
                        first=first)
    logger.info("%s: %s", name, promotion_message(outcome))
    record_review(client, outcome, data=data)  # who reviewed it, when, the figures: model-version tags
    return outcome


def promotion_data_task(task: str, *, data_dir: Path, feature_config: FeatureConfig,
                        n_snapshots: int = 8) -> pd.DataFrame:
    """The latest out-of-time data of a synthetic task: its test split."""
    frame = synthetic_frames(data_dir, [task], feature_config, n_snapshots=n_snapshots)[task]
    return frame.part("test")


def promotion_data_dataset(dataset: DatasetConfig, data_path: Path | None) -> tuple[str, pd.DataFrame]:
    frame, _ = load_flat_table(dataset, data_path)
    return registry.registered_name(dataset.name), frame.data


def read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt") or path.name.endswith(".csv.gz"):
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the table: {str(exc).splitlines()[0]}") from None
    raise DataError(f"{path}: expected a .csv or .parquet file")


def write_scores(frame: pd.DataFrame, path: Path) -> None:
    """A scored table as CSV or Parquet by the suffix of `path`, written atomically."""
    path = Path(path)
    if not path.parent.is_dir():
        raise DataError(f"{path}: folder {path.parent} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise DataError(f"{path}: the output must end in .csv or .parquet")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def predict_file(model_uri: str, data_path: Path, out_path: Path) -> pd.DataFrame:
    """Id columns + calibrated `score` for every row of a CSV/Parquet table with the model's columns."""
    model = registry.load_model(model_uri)
    data = read_table(Path(data_path))
    if data.empty:
        raise DataError(f"{data_path}: the table has no rows")
    score = model.predict_score(data)
    ids = [c for c in model.id_columns_ if c in data.columns]
    out = data.loc[:, ids].copy() if ids else pd.DataFrame(index=data.index)
    out["score"] = score
    write_scores(out.reset_index(drop=True), out_path)
    return out
