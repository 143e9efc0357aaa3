"""The one generic trainer: a task config and a `ModelFrame` in, a fitted model and its
evaluation out. Churn, default and growth differ only in their task config.

Two modes:
- split frames (synthetic bank, out-of-time `split` column): candidates are fitted on
  `train`, early-stopped, tuned and compared on `valid`; the chosen one is calibrated on
  `valid` (held out from its training; early stopping only picked the number of trees) and
  evaluated once on the out-of-time `test` rows.
- flat tables (`split_column=None`): stratified k-fold cross-validation of the WHOLE procedure.
  Inside each training fold a stratified `holdout_share` part is held out: it early-stops,
  tunes, selects and calibrates; the model then predicts the untouched test fold. ROC AUC is
  reported per fold (mean and spread); ECE and Brier on the pooled out-of-fold calibrated
  probabilities. The registered model is the same procedure on all rows.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils import ClassifierTags, RegressorTags, Tags
from sklearn.utils.metaestimators import available_if

from tierwise.features import ConfigError, DataError, ModelFrame, missing_columns
from tierwise.models._calibration import Calibrator, grade_table
from tierwise.models._candidates import (
    LightGBMCandidate,
    ScorecardCandidate,
    fit_lightgbm,
    fit_scorecard,
    refit_lightgbm,
)
from tierwise.models._metrics import binary_metrics, primary_score, regression_metrics
from tierwise.models._task import TaskConfig
from tierwise.models._tuning import tune_lightgbm

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


class TierwiseModel(BaseEstimator):
    """The fitted artifact, a scikit-learn estimator: raw input frame -> calibrated prediction.

    A binary task is a classifier (`is_classifier` holds; `classes_` is `[0, 1]`; `predict`
    gives labels, 1 where the calibrated probability is above 0.5, the class `predict_proba`'s
    argmax picks; `predict_proba` the (rows, 2) calibrated probabilities); a regression task is
    a regressor (`predict` gives the values). `predict_score(X)` is the one number per row the
    package works with: the calibrated probability of label 1, or the regression's value.

    The parts are fitted by the trainer (`train_split`, `train_flat`: tuning, candidate choice,
    calibration on held-out rows) and passed in already fitted, as scikit-learn's
    `FrozenEstimator` wraps a fitted estimator. `__init__` stores them untouched under their
    own names and `get_params` returns them; `fit` does not refit (it returns `self`), and
    `clone` gives the same frozen model back (cloning the parts would unfit the preprocessor
    and keep the booster: a model that is neither). To train again, call the trainer.

    - `preprocessor` (flat tables): the fitted feature pipeline from raw columns to model inputs;
    - `estimator`: the chosen candidate; `booster_` its LightGBM booster (None for the scorecard);
    - `calibrator`: maps raw probabilities to calibrated ones (binary tasks);
    - `feature_names`: the model inputs, in order; `categories`: fixed category lists;
    - `input_columns`: the raw columns read; `id_columns`, `target`: the frame's names.
    The same parts are readable as `estimator_`, `calibrator_`, `feature_names_`, ... (the
    fitted-state names the rest of the package reads).
    """

    def __init__(self, *, task: str, kind: str, estimator: Any, calibrator: Calibrator | None,
                 feature_names: Sequence[str], categories: Mapping[str, list],
                 id_columns: Sequence[str], input_columns: Sequence[str],
                 preprocessor: Any = None, target: str = "") -> None:
        self.task = task
        self.kind = kind
        self.estimator = estimator
        self.calibrator = calibrator
        self.feature_names = feature_names
        self.categories = categories
        self.id_columns = id_columns
        self.input_columns = input_columns
        self.preprocessor = preprocessor
        self.target = target

    # -- scikit-learn's protocol --------------------------------------------------------

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        if self.kind == "binary":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=False)
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags._skip_test = True  # the common checks fit on their own data: a frozen model does not
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_clone__(self) -> TierwiseModel:
        return self  # frozen (see the class docstring), as `sklearn.frozen.FrozenEstimator`

    def __setstate__(self, state: dict[str, Any]) -> None:
        # models pickled before the parts were constructor parameters stored them as `estimator_`, ...
        super().__setstate__({_FORMER_NAMES.get(k, k): v for k, v in state.items()})

    def fit(self, X: Any = None, y: Any = None, **fit_params: Any) -> TierwiseModel:
        """No refit: the parts were fitted by the trainer (see the class docstring)."""
        return self

    @property
    def classes_(self) -> np.ndarray:
        if self.kind != "binary":
            raise AttributeError("a regression model has no classes_")
        return np.array([0, 1])

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self.input_columns, dtype=object)

    @property
    def n_features_in_(self) -> int:
        return len(self.input_columns)

    # -- the fitted parts under their fitted-state names ------------------------------------

    @property
    def estimator_(self) -> Any:
        return self.estimator

    @property
    def calibrator_(self) -> Calibrator | None:
        return self.calibrator

    @property
    def feature_names_(self) -> list[str]:
        return self.feature_names

    @property
    def categories_(self) -> Mapping[str, list]:
        return self.categories

    @property
    def id_columns_(self) -> list[str]:
        return self.id_columns

    @property
    def input_columns_(self) -> list[str]:
        return self.input_columns

    @property
    def preprocessor_(self) -> Any:
        return self.preprocessor

    @property
    def target_(self) -> str:
        return self.target

    @property
    def booster_(self):  # noqa: ANN201 - lightgbm.Booster or None
        return getattr(self.estimator, "booster_", None)

    @property
    def candidate_(self) -> str:
        return self.estimator.name

    # -- inputs ------------------------------------------------------------------------------

    def model_inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        """The frame the estimator (and TreeSHAP on `booster_`) sees."""
        self._check_inputs(X)
        data = X.loc[:, self.input_columns]
        if self.preprocessor is not None:
            data = self.preprocessor.transform(data)
        return coerce_categories(data.loc[:, self.feature_names], self.categories)

    def model_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The model inputs as LightGBM and TreeSHAP read `model_inputs(X)`, without building
        that frame: a C-contiguous float64 (rows, features) matrix, a category as its code in
        the fixed list (unseen or missing: NaN), a number as float64."""
        if self.preprocessor is not None:
            X = self.model_inputs(X)
        else:
            self._check_inputs(X)
        return input_matrix(X, self.feature_names, self.categories)

    def _check_inputs(self, X: pd.DataFrame) -> None:
        missing = missing_columns(X.columns, self.input_columns)
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(f"input is missing {len(missing)} column(s) the model needs: {shown}")

    # -- predictions -------------------------------------------------------------------------

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """The chosen candidate's output before calibration."""
        return self.estimator.predict_raw(self.model_inputs(X))

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of label 1 (binary) or the prediction (regression)."""
        return self.calibrated(self.predict_raw(X))

    def predict_matrix(self, matrix: np.ndarray, *, num_threads: int | None = None) -> np.ndarray:
        """`predict_score` on `model_matrix` rows (LightGBM models only); `num_threads` defaults
        to the training setting (a few rows are fastest on one thread)."""
        if num_threads is None:
            num_threads = self.estimator.params_["num_threads"]
        return self.calibrated(np.asarray(self.booster_.predict(matrix, num_threads=num_threads)))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """Raw estimator output -> calibrated probability (binary) or unchanged (regression)."""
        return self.calibrator.transform(raw) if self.calibrator is not None else raw

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Labels (binary: 1 where the calibrated probability is above 0.5) or values (regression)."""
        score = self.predict_score(X)
        if self.kind != "binary":
            return score
        return self.classes_[(score > 0.5).astype(np.intp)]

    @available_if(lambda self: self.kind == "binary")
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(rows, 2) calibrated probabilities of labels 0 and 1 (binary tasks only)."""
        p = self.predict_score(X)
        return np.column_stack([1 - p, p])

    def score(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (binary) or R² (regression), as scikit-learn's classifiers and regressors."""
        if self.kind == "binary":
            return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))
        return float(r2_score(y, self.predict(X), sample_weight=sample_weight))


_FORMER_NAMES = {f"{name}_": name for name in (
    "estimator", "calibrator", "feature_names", "categories", "id_columns", "input_columns",
    "preprocessor", "target")}


def coerce_categories(X: pd.DataFrame, categories: Mapping[str, list]) -> pd.DataFrame:
    """Categorical inputs as `category` with the FIXED list learned in training (unseen -> NaN)."""
    if not categories:
        return X
    X = X.copy()
    for col, cats in categories.items():
        values = X[col]
        if isinstance(values.dtype, pd.CategoricalDtype) and list(values.cat.categories) == cats:
            continue
        X[col] = pd.Categorical(values.astype(object).where(values.notna(), None), categories=cats)
    return X


@functools.lru_cache(maxsize=256)
def _category_index(categories: tuple) -> pd.Index:
    return pd.Index(list(categories))


@functools.lru_cache(maxsize=256)
def _category_codes(categories: tuple) -> dict[Any, float]:
    """Label -> code of a fixed category list, for a few values (a lookup per value, no Index)."""
    return {label: float(code) for code, label in enumerate(categories)}


@functools.lru_cache(maxsize=256)
def _category_dtype(categories: tuple) -> pd.CategoricalDtype:
    """The (validated once) dtype of a fixed category list."""
    return pd.CategoricalDtype(list(categories))


def category_codes(values: pd.Series, categories: Sequence) -> np.ndarray:
    """Position of each value in `categories`, -1 when missing or unseen: the codes of
    `coerce_categories` (a `pd.Categorical` with that fixed list)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    return _category_index(tuple(categories)).get_indexer(values.to_numpy(dtype=object, na_value=None))


def input_matrix(X: pd.DataFrame, columns: Sequence[str], categories: Mapping[str, list]) -> np.ndarray:
    """`X[columns]` as LightGBM reads the frame `coerce_categories` makes of it: float64,
    categories as codes with NaN for missing or unseen (see `TierwiseModel.model_matrix`)."""
    if len(X) <= FEW_ROWS:
        few = _few_rows_matrix(X, columns, categories)
        if few is not None:
            return few
    out = np.empty((len(X), len(columns)), dtype=np.float64)
    numeric = [j for j, col in enumerate(columns) if col not in categories]
    if numeric:  # one conversion for all numbers (a served row has a hundred columns)
        out[:, numeric] = X[[columns[j] for j in numeric]].to_numpy(dtype=np.float64, na_value=np.nan)
    for j, col in enumerate(columns):
        if col in categories:
            codes = category_codes(X[col], categories[col])
            out[:, j] = np.where(codes < 0, np.nan, codes)
    return out


FEW_ROWS = 64
"""Up to this many rows (a served request), `input_matrix` reads the frame in one object pass."""


def _few_rows_matrix(X: pd.DataFrame, columns: Sequence[str], categories: Mapping[str, list]) -> np.ndarray | None:
    """`input_matrix` of a few rows: one `to_numpy` over all of the frame's blocks (a request
    parsed by MLflow holds a block per column, and taking a hundred of them costs more than the
    model). The values are the same: a number goes to float64 through a Python float or int.
    None (use the general path) when a column is missing, or a number column is not a plain
    numpy number (a nullable or text column, which the general path converts or rejects)."""
    where = {name: j for j, name in enumerate(X.columns)}  # a dict: no hash table per request Index
    if len(where) != X.shape[1] or not all(col in where for col in columns):
        return None  # a missing or repeated column: the general path names it
    pos = np.array([where[col] for col in columns], dtype=np.intp)
    numeric = np.array([col not in categories for col in columns], dtype=bool)
    dtypes = X.dtypes.to_numpy()[pos[numeric]]
    if not all(isinstance(d, np.dtype) and d.kind in "biuf" for d in dtypes):
        return None
    values = X.to_numpy(dtype=object)[:, pos]
    out = np.empty(values.shape, dtype=np.float64)
    out[:, numeric] = values[:, numeric].astype(np.float64)
    for j in np.flatnonzero(~numeric):
        cats = categories[columns[j]]
        code_of = _category_codes(tuple(cats))
        out[:, j] = [np.nan if pd.isna(v) else code_of.get(v, np.nan) for v in values[:, j]]
    return out


def matrix_frame(matrix: np.ndarray, columns: Sequence[str], categories: Mapping[str, list],
                 index: pd.Index | None = None) -> pd.DataFrame:
    """The frame `coerce_categories` gives, rebuilt from an `input_matrix`: numbers as float64,
    categories decoded with their fixed lists."""
    data: dict[str, Any] = {}
    for j, col in enumerate(columns):
        if col in categories:
            codes = np.nan_to_num(matrix[:, j], nan=-1.0).astype(np.int64)
            data[col] = pd.Categorical.from_codes(codes, dtype=_category_dtype(tuple(categories[col])))
        else:
            data[col] = matrix[:, j]
    return pd.DataFrame(data, index=index)


class MatrixColumns:
    """The columns of an `input_matrix` by feature name, as `matrix_frame` would hold them
    (numbers as float64; a category as its label, NaN when missing), decoded only when read: a
    reason writer reads a few features of a hundred, and building the whole frame for one served
    client costs more than explaining it. Has a frame's `columns` and `shape`; `frame()` builds
    the frame itself."""

    def __init__(self, matrix: np.ndarray, columns: Sequence[str], categories: Mapping[str, list],
                 index: pd.Index | None = None) -> None:
        self.matrix = matrix
        self.columns = list(columns)
        self.categories = categories
        self.index = index
        self.shape = (matrix.shape[0], len(self.columns))
        self._position = {col: j for j, col in enumerate(self.columns)}

    def __getitem__(self, col: str) -> np.ndarray:
        values = self.matrix[:, self._position[col]]
        if col not in self.categories:
            return values
        labels = np.asarray(_category_dtype(tuple(self.categories[col])).categories, dtype=object)
        out = np.full(len(values), np.nan, dtype=object)  # np.asarray of the Categorical, without it
        given = ~np.isnan(values)
        out[given] = labels[values[given].astype(np.int64)]
        return out

    def frame(self) -> pd.DataFrame:
        return matrix_frame(self.matrix, self.columns, self.categories, self.index)


def learn_categories(X: pd.DataFrame) -> dict[str, list]:
    """Category lists of the non-numeric inputs (a `category` column keeps its own list)."""
    cats: dict[str, list] = {}
    for col in X.columns:
        values = X[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats[col] = list(values.cat.categories)
        elif not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            cats[col] = sorted(str(v) for v in values.dropna().unique())
    return cats


@dataclass
class FitOutcome:
    """One fit of the whole procedure (candidates, selection, calibration) on fit/holdout data."""

    model: TierwiseModel
    valid_scores: dict[str, float]
    tuned_params: dict[str, Any]
    tuning_trials: int
    scorecard: ScorecardCandidate | None


@dataclass
class TrainResult:
    model: TierwiseModel
    config: TaskConfig
    metrics: dict[str, float]
    valid_scores: dict[str, float]
    tuned_params: dict[str, Any]
    tuning_trials: int
    predictions: pd.DataFrame  # test (or out-of-fold) rows: ids, time, target, raw, score
    data_window: dict[str, str]
    fingerprint: str
    grades: pd.DataFrame | None = None
    scorecard_table: pd.DataFrame | None = None
    importance: pd.Series | None = None
    folds: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def frame_fingerprint(data: pd.DataFrame) -> str:
    """SHA-256 of the frame's values, index-free and column-order aware."""
    digest = hashlib.sha256()
    digest.update("|".join(map(str, data.columns)).encode())
    digest.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def resolve_features(frame: ModelFrame, config: TaskConfig, *, source: str = "task config") -> list[str]:
    """The model inputs: the config's `features` (or the frame's), minus `exclude`.
    Unknown names in `features`, `exclude` or `monotone` are a one-line ConfigError."""
    available = list(frame.features)
    screened = set(frame.screened_out)
    for key, names in (("features", config.features or []), ("exclude", config.exclude),
                       ("monotone", list(config.monotone))):
        dropped = [n for n in names if n in screened]
        if dropped:
            logger.warning("%s (%s): '%s' names %s, dropped by the leakage screen on this data", source,
                           config.task, key, ", ".join(dropped))
        unknown = [n for n in names if n not in available and n not in screened]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise ConfigError(f"{source} ({config.task}): '{key}' names {len(unknown)} unknown "
                              f"feature(s): {shown}")
    chosen = [c for c in config.features if c not in screened] if config.features is not None else available
    chosen = [c for c in chosen if c not in set(config.exclude)]
    if not chosen:
        raise ConfigError(f"{source} ({config.task}): no features left after 'exclude'")
    return chosen


def check_labels(y: pd.Series, kind: str, where: str) -> None:
    if len(y) == 0:
        raise DataError(f"{where}: the training set is empty (0 rows)")
    if y.isna().any():
        raise DataError(f"{where}: {int(y.isna().sum())} rows have no label in '{y.name}'")
    if kind == "binary":
        values = set(pd.unique(y.astype(float)))
        if not values <= {0.0, 1.0}:
            raise DataError(f"{where}: label '{y.name}' must be 0/1, found {sorted(values)[:5]}")
        if len(values) < 2:
            raise DataError(f"{where}: label '{y.name}' has a single class ({int(next(iter(values)))}) "
                            "; a binary model needs both")
    elif y.nunique() < 2:
        raise DataError(f"{where}: target '{y.name}' is constant; nothing to learn")


def check_split_events(frame: ModelFrame, parts: Mapping[str, pd.DataFrame]) -> None:
    """Each split of a binary frame must hold at least `frame.min_events` events (label 1),
    and a non-event; one `DataError` otherwise, with the counts of every split and what to
    change. Nothing to check for a regression frame or when `min_events` is 0."""
    if frame.kind != "binary" or frame.min_events <= 0:
        return
    name = frame.name or frame.target
    events = {s: int((part[frame.target].to_numpy(dtype=float) == 1).sum()) for s, part in parts.items()}
    rows = {s: len(part) for s, part in parts.items()}
    short = [s for s in parts if events[s] < frame.min_events or events[s] == rows[s]]
    if not short:
        return
    first, *rest = parts
    counts = ", ".join([f"{events[first]:,} events in {first}", *(f"{events[s]:,} in {s}" for s in rest)])
    sizes = " / ".join(f"{rows[s]:,}" for s in parts)
    only_events = [s for s in short if rows[s] and events[s] == rows[s]]
    need = f"need {frame.min_events} per split" + (f" and a non-event ({', '.join(only_events)} has none)"
                                                   if only_events else "")
    raise DataError(f"{name}: {counts} (of {sizes} rows, label '{frame.target}'); {need} "
                    f"(split.min_events.{name} in features.yaml); add snapshot months (--snapshots), "
                    f"use the small-bank split (split.method: small; split.small.test_snapshots widens its test), "
                    f"or leave the {name} task out")


def _fit_procedure(
    X_fit: pd.DataFrame, y_fit: np.ndarray, X_hold: pd.DataFrame, y_hold: np.ndarray, *,
    config: TaskConfig, kind: str, categories: Mapping[str, list], budget_minutes: float,
    progress: Progress | None,
) -> tuple[Any, Calibrator | None, dict[str, float], dict[str, Any], int, ScorecardCandidate | None]:
    """Tune, fit every candidate, pick the best on the holdout, calibrate it on the holdout."""
    tick = progress or (lambda n=1: None)
    X_fit = coerce_categories(X_fit, categories)
    X_hold = coerce_categories(X_hold, categories)
    common = dict(kind=kind, n_estimators=config.n_estimators,
                  early_stopping_rounds=config.early_stopping_rounds, seed=config.seed,
                  num_threads=config.num_threads)
    params = dict(config.lightgbm)
    trials = 0
    if "lightgbm" in config.candidates or "lightgbm_monotone" in config.candidates:
        sample = _sample_rows(len(X_fit), config.tuning.max_rows, config.seed)
        params, _, trials = tune_lightgbm(
            X_fit.iloc[sample], y_fit[sample], X_hold, y_hold, metric=config.primary_metric, base_params=params,
            budget_minutes=budget_minutes, max_trials=config.tuning.max_trials, progress=progress,
            **common)
    fitted: list[Any] = []
    scorecard = None
    monotone = {k: v for k, v in config.monotone.items() if k in X_fit.columns and k not in categories}
    for name in config.candidates:
        if name == "lightgbm":
            fitted.append(fit_lightgbm(X_fit, y_fit, X_hold, y_hold, params=params, **common))
        elif name == "lightgbm_monotone":
            if not monotone:
                logger.info("lightgbm_monotone skipped: no numeric monotone features configured")
                continue
            fitted.append(fit_lightgbm(X_fit, y_fit, X_hold, y_hold, params=params, monotone=monotone,
                                       **common))
        elif name == "scorecard":
            if kind != "binary":
                continue
            sc = config.scorecard
            chosen = _scorecard_features(fitted, list(X_fit.columns), sc.max_features)
            scorecard = fit_scorecard(X_fit[chosen], y_fit, categorical=[c for c in categories if c in chosen],
                                      base_points=sc.base_points, base_odds=sc.base_odds, pdo=sc.pdo,
                                      seed=config.seed)
            fitted.append(scorecard)
        tick(1)
    if not fitted:
        raise ConfigError(f"task '{config.task}': none of the candidates {list(config.candidates)} could be "
                          f"fitted for a {kind} target (lightgbm_monotone needs numeric monotone features)")
    scores = {c.name: primary_score(config.primary_metric, y_hold, c.predict_raw(X_hold)) for c in fitted}
    best = max(fitted, key=lambda c: scores[c.name])  # first wins ties: config order
    logger.info("candidates on holdout (%s): %s -> %s", config.primary_metric,
                ", ".join(f"{k}={v:.4f}" for k, v in scores.items()), best.name)
    calibrator = None
    if kind == "binary":
        cal = config.calibration
        calibrator = Calibrator(cal.method if cal.method != "none" else "none",
                                min_isotonic_rows=cal.min_isotonic_rows,
                                min_isotonic_positives=cal.min_isotonic_positives,
                                floor=cal.probability_floor)
        calibrator.fit(best.predict_raw(X_hold), y_hold)
    return best, calibrator, scores, params, trials, scorecard


def _sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded random sample of at most `limit` of `n` rows."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _scorecard_features(fitted: Sequence[Any], columns: list[str], limit: int) -> list[str]:
    """The most important features of the first LightGBM candidate (by gain), at most `limit`;
    all columns (up to `limit`) when no LightGBM candidate was fitted."""
    for cand in fitted:
        if isinstance(cand, LightGBMCandidate):
            gain = cand.importance()
            return [c for c in gain.index[gain.to_numpy() > 0][:limit]] or columns[:limit]
    return columns[:limit]


def _model(config: TaskConfig, frame: ModelFrame, estimator: Any, calibrator: Calibrator | None,
           features: Sequence[str], categories: Mapping[str, list], input_columns: Sequence[str],
           preprocessor: Any = None) -> TierwiseModel:
    return TierwiseModel(task=config.task, kind=frame.kind, estimator=estimator, calibrator=calibrator,
                         feature_names=list(features), categories={k: list(v) for k, v in categories.items()},
                         id_columns=list(frame.id_columns), input_columns=list(input_columns),
                         preprocessor=preprocessor, target=frame.target)


def _evaluate(kind: str, y: np.ndarray, score: np.ndarray, config: TaskConfig) -> dict[str, float]:
    if kind == "binary":
        return binary_metrics(y, score, ece_bins=config.calibration.ece_bins)
    return regression_metrics(y, score)


def _importance(estimator: Any) -> pd.Series | None:
    return estimator.importance() if isinstance(estimator, LightGBMCandidate) else None


def train_split(frame: ModelFrame, config: TaskConfig, *, budget_minutes: float | None = None,
                progress: Progress | None = None) -> TrainResult:
    """Train on `train`, select and calibrate on `valid`, evaluate on the out-of-time `test`."""
    if frame.split_column is None:
        raise ValueError("train_split needs a frame with a split column; use train_flat")
    if frame.kind != config.kind:
        raise ConfigError(f"task config {config.task} is {config.kind} but the frame is {frame.kind}")
    features = resolve_features(frame, config)
    parts = {s: frame.part(s) for s in ("train", "valid", "test")}
    name = frame.name or config.task
    check_split_events(frame, parts)
    check_labels(parts["train"][frame.target], frame.kind, f"{name} train split")
    for split in ("valid", "test"):
        if len(parts[split]) == 0:
            raise DataError(f"{name}: the {split} split is empty (column '{frame.split_column}')")
        check_labels(parts[split][frame.target], frame.kind, f"{name} {split} split")
    categories = learn_categories(parts["train"][features])
    budget = config.tuning.budget_minutes if budget_minutes is None else budget_minutes
    y = {s: parts[s][frame.target].to_numpy(dtype=float) for s in parts}
    best, calibrator, scores, params, trials, scorecard = _fit_procedure(
        parts["train"][features], y["train"], parts["valid"][features], y["valid"], config=config,
        kind=frame.kind, categories=categories, budget_minutes=budget, progress=progress)
    model = _model(config, frame, best, calibrator, features, categories, features)
    test = parts["test"]
    raw = model.predict_raw(test)
    score = model.predict_score(test)
    metrics = _evaluate(frame.kind, y["test"], score, config)
    if frame.kind == "binary":
        metrics["roc_auc_uncalibrated"] = primary_score("roc_auc", y["test"], raw)
        metrics["ece_uncalibrated"] = binary_metrics(y["test"], raw, ece_bins=config.calibration.ece_bins)["ece"]
    for cand, value in scores.items():
        metrics[f"valid_{config.primary_metric}_{cand}"] = value
    keep = [c for c in (*frame.id_columns, frame.time_column) if c and c in test.columns]
    predictions = test.loc[:, keep].copy()
    predictions[frame.target] = y["test"]
    predictions["raw"] = raw
    predictions["score"] = score
    grades = None
    if config.grades and frame.kind == "binary":
        grades = grade_table(y["test"], score, [g.max_pd for g in config.grades],
                             [g.name for g in config.grades])
        metrics["grades_failing_jeffreys"] = float((~grades["passed"].astype(bool)).sum())
    for split, part in parts.items():
        metrics[f"rows_{split}"] = float(len(part))
    return TrainResult(
        model=model, config=config.with_lightgbm(params), metrics=metrics, valid_scores=scores,
        tuned_params=params, tuning_trials=trials, predictions=predictions.reset_index(drop=True),
        data_window=_window(frame, parts), fingerprint=frame_fingerprint(frame.data), grades=grades,
        scorecard_table=scorecard.table() if scorecard is not None else None,
        importance=_importance(best))


def _window(frame: ModelFrame, parts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    out = {}
    for split, part in parts.items():
        if frame.time_column and frame.time_column in part.columns and len(part):
            t = pd.to_datetime(part[frame.time_column])
            out[split] = f"{t.min():%Y-%m} to {t.max():%Y-%m} ({len(part)} rows)"
        else:
            out[split] = f"{len(part)} rows"
    return out


def train_flat(frame: ModelFrame, config: TaskConfig, *,
               preprocessor_factory: Callable[[], Any] | None = None,
               budget_minutes: float | None = None, progress: Progress | None = None,
               refit: bool = True) -> TrainResult:
    """Stratified k-fold CV of the whole procedure, then the final model on all rows."""
    if frame.kind != config.kind:
        raise ConfigError(f"task config {config.task} is {config.kind} but the frame is {frame.kind}")
    name = frame.name or config.task
    check_labels(frame.y, frame.kind, name)
    raw_columns = resolve_features(frame, config, source=f"dataset {name}")
    y_all = frame.y.to_numpy(dtype=float)
    if frame.kind == "binary":
        minority = int(min(y_all.sum(), len(y_all) - y_all.sum()))
        if minority < config.cv_folds * 2:
            raise DataError(f"{name}: only {minority} rows of the minority class; "
                            f"{config.cv_folds}-fold cross-validation needs more")
    budget = config.tuning.budget_minutes if budget_minutes is None else budget_minutes
    per_fit_budget = budget / (config.cv_folds + 1)
    X_all = frame.data.loc[:, raw_columns]

    def one_fit(idx: np.ndarray):
        stratify = y_all[idx] if frame.kind == "binary" else None
        fit_idx, hold_idx = train_test_split(idx, test_size=config.calibration.holdout_share,
                                             random_state=config.seed, stratify=stratify)
        pre = None
        X_fit, X_hold = X_all.iloc[fit_idx], X_all.iloc[hold_idx]
        if preprocessor_factory is not None:
            pre = preprocessor_factory().fit(X_fit, y_all[fit_idx])
            X_fit, X_hold = pre.transform(X_fit), pre.transform(X_hold)
        features = list(X_fit.columns)
        categories = learn_categories(X_fit)
        best, calibrator, scores, params, trials, scorecard = _fit_procedure(
            X_fit, y_all[fit_idx], X_hold, y_all[hold_idx], config=config, kind=frame.kind,
            categories=categories, budget_minutes=per_fit_budget, progress=progress)
        if refit and isinstance(best, LightGBMCandidate):
            both = coerce_categories(pd.concat([X_fit, X_hold]), categories)
            best = refit_lightgbm(best, both, np.concatenate([y_all[fit_idx], y_all[hold_idx]]),
                                  scale=len(idx) / len(fit_idx))
        model = _model(config, frame, best, calibrator, features, categories, raw_columns, pre)
        return model, scores, params, trials, scorecard

    if frame.kind == "binary":
        splitter = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed)
        folds_iter = splitter.split(np.zeros(len(y_all)), y_all.astype(int))
    else:
        from sklearn.model_selection import KFold

        folds_iter = KFold(config.cv_folds, shuffle=True, random_state=config.seed).split(y_all)
    oof = np.full(len(y_all), np.nan)
    oof_raw = np.full(len(y_all), np.nan)
    fold_rows = []
    for k, (train_idx, test_idx) in enumerate(folds_iter):
        model, scores, _, _, _ = one_fit(train_idx)
        X_test = frame.data.iloc[test_idx]
        oof_raw[test_idx] = model.predict_raw(X_test)
        oof[test_idx] = model.predict_score(X_test)
        fold_metrics = _evaluate(frame.kind, y_all[test_idx], oof[test_idx], config)
        fold_rows.append({"fold": k, "candidate": model.candidate_, **fold_metrics})
        logger.info("fold %d: %s = %.4f (%s)", k, config.primary_metric,
                    primary_score(config.primary_metric, y_all[test_idx], oof[test_idx]), model.candidate_)
    folds = pd.DataFrame(fold_rows)
    metrics: dict[str, float] = {}
    for col in folds.columns:
        if col in ("fold", "candidate"):
            continue
        metrics[f"cv_{col}_mean"] = float(folds[col].mean())
        metrics[f"cv_{col}_std"] = float(folds[col].std(ddof=1))
    pooled = _evaluate(frame.kind, y_all, oof, config)
    for key, value in pooled.items():
        metrics[f"oof_{key}"] = value
    if frame.kind == "binary":
        metrics["oof_ece_uncalibrated"] = binary_metrics(y_all, oof_raw, ece_bins=config.calibration.ece_bins)["ece"]
    final, scores, params, trials, scorecard = one_fit(np.arange(len(y_all)))
    for cand, value in scores.items():
        metrics[f"valid_{config.primary_metric}_{cand}"] = value
    metrics["rows"] = float(len(y_all))
    keep = [c for c in frame.id_columns if c in frame.data.columns]
    predictions = frame.data.loc[:, keep].copy().reset_index(drop=True)
    predictions[frame.target] = y_all
    predictions["raw"] = oof_raw
    predictions["score"] = oof
    grades = None
    if config.grades and frame.kind == "binary":
        grades = grade_table(y_all, oof, [g.max_pd for g in config.grades], [g.name for g in config.grades])
    return TrainResult(
        model=final, config=config.with_lightgbm(params), metrics=metrics, valid_scores=scores,
        tuned_params=params, tuning_trials=trials, predictions=predictions,
        data_window={"all": f"{len(y_all)} rows, {config.cv_folds}-fold cross-validation"},
        fingerprint=frame_fingerprint(frame.data), grades=grades,
        scorecard_table=scorecard.table() if scorecard is not None else None,
        importance=_importance(final.estimator_), folds=folds)
