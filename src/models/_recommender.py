"""The recommender: the fitted task models the bank has (any non-empty subset of churn,
default and growth), the resolved tier policy and the reason writer composed into one step,
snapshot features in -> one recommendation row per client out.

`Recommender.recommend(features)` is row-wise: row i of the output depends only on row i of
the input (the policy's quantile cuts are resolved beforehand into a `ResolvedPolicy`), so
scoring a chunk of clients, a Spark partition or a single served client gives exactly the
rows that scoring everyone at once gives. The relationship-manager capacity is a batch step
(`models.apply_rm_capacity`) applied by the batch job after all chunks.

Output columns (`RECOMMENDATION_COLUMNS`, the recommendations table contract): ids and
carried attributes, the three scores (`p_default` is NaN for clients without credit
exposure; a task without a model has NaN scores and no reasons, and the policy says in the
tier reasons what it assumed instead), value figures, tier / channel / flags with their reasons, and for each model m in
churn, default, growth and rank k in 1..3 `reason_{m}_{k}_family`, `_en`, `_zh`, `_shap`
(null where a client has fewer than k reasons).

With product propensity models (`products`, any subset of `features.PRODUCTS`, and the
product family config) the output also has the offers, `models.offer_columns` (the top
products by propensity x margin behind the policy's gates, each with its reason); without
them the output is exactly the table above.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tierwise.features import TASKS, DataError, first_names, missing_columns
from tierwise.models._fast_frame import frame_of_columns
from tierwise.models._policy import (
    OUTPUT_COLUMNS,
    ResolvedPolicy,
    assumption_notes,
    recommendation_columns,
    resolve_thresholds,
)
from tierwise.models._policy_config import PolicyConfig
from tierwise.models._policy_inputs import OPTIONAL_COLUMNS as POLICY_OPTIONAL
from tierwise.models._policy_inputs import REQUIRED_COLUMNS as POLICY_REQUIRED
from tierwise.models._policy_text import STR_DTYPE
from tierwise.models._product_family import ProductFamilyConfig
from tierwise.models._recommender_offers import (
    held_columns,
    is_number_column,
    offer_arrays,
    offer_columns,
)
from tierwise.models._train import FEW_ROWS, MatrixColumns, TierwiseModel
from tierwise.models._treeshap import tree_shap

logger = logging.getLogger(__name__)

SCORE_COLUMNS: dict[str, str] = {"churn": "p_churn", "default": "p_default", "growth": "growth"}
TOP_K = 3
SMALL_BATCH = 1024
"""Batches smaller than this (a served request) run LightGBM and TreeSHAP on one thread: waking
a thread pool costs more than explaining a few rows. The numbers do not depend on it."""
REASON_PARTS: tuple[str, ...] = ("family", "en", "zh", "shap")

CARRIED_INPUTS: tuple[str, ...] = ("snapshot_month", "region", "industry", "branch", "rm_id")
"""Optional inputs copied to the output when present (`snapshot_month` becomes `month`)."""


def reason_columns(k: int = TOP_K) -> list[str]:
    return [col for m in TASKS for col in reason_columns_of(m, k)]


def reason_columns_of(task: str, k: int = TOP_K) -> list[str]:
    """The `reason_{task}_{i}_{part}` columns of one task."""
    return [f"reason_{task}_{i}_{part}" for i in range(1, k + 1) for part in REASON_PARTS]


RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "client_id", "month", "segment", "region", "industry", "branch", "rm_id",
    "p_churn", "p_default", "growth",
    "expected_value_12m", "value_if_retained_12m", "expected_credit_loss_12m",
    "assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly",
    *[c for c in OUTPUT_COLUMNS if c not in ("client_id", "expected_value_12m", "value_if_retained_12m",
                                             "expected_credit_loss_12m")],
    *reason_columns(),
)
"""The recommendations table, in order (see the contract in the module docstring)."""
PYFUNC_OUTPUT_COLUMNS: tuple[str, ...] = tuple(c for c in RECOMMENDATION_COLUMNS if c != "month")
"""What the served recommender answers per client: the recommendations table without the month."""

ReasonWriter = Callable[[str, np.ndarray, pd.DataFrame], pd.DataFrame]
"""(model key, SHAP contributions (n, features + 1), model inputs) -> the `reason_{m}_{k}_*`
columns of that model, same index as the inputs. A writer may also offer `arrays(key, contrib, X)`
giving those columns as numpy arrays (text: object, None where missing), which the
recommender then uses instead, with a `models._train.MatrixColumns` for the inputs: no frame
per model for a served client."""


# --------------------------------------------------------------------------- reasons


_EFFECT = {
    "churn": ("raises churn likelihood", "推高流失可能性"),
    "default": ("raises default risk", "推高违约风险"),
    "growth": ("supports asset growth", "有利于资产增长"),
}


@dataclass(frozen=True)
class FamilyReasons:
    """Top-k reasons by feature family: SHAP contributions summed per family, the k families
    pushing the score up the most (positive sum only), phrased as
    "<description>: <value> (raises churn likelihood)" / "<描述>：<值>（推高流失可能性）".

    A generic writer for any feature set; `descriptions` maps feature -> (English, Chinese)
    text (the feature name stands in when missing). The family's representative value is that
    of its feature with the largest contribution for the client.
    """

    families: Mapping[str, str]
    descriptions: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    k: int = TOP_K

    def __call__(self, key: str, contrib: np.ndarray, X: pd.DataFrame) -> pd.DataFrame:
        names = list(X.columns)
        n, width = len(X), len(names)
        if contrib.shape != (n, width + 1):
            raise DataError(f"{key}: SHAP matrix of shape {contrib.shape} for {n} rows x {width} features")
        fam_of = [self.families.get(c, c) for c in names]
        fam_names = list(dict.fromkeys(fam_of))
        fam_idx = np.array([fam_names.index(f) for f in fam_of], dtype=np.int64)
        member = np.zeros((width, len(fam_names)))
        member[np.arange(width), fam_idx] = 1.0
        phi = contrib[:, :width]
        agg = phi @ member  # (n, families)
        k = min(self.k, len(fam_names))
        order = np.argsort(-agg, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(agg, order, axis=1)
        # representative feature of each family per row: largest contribution within the family
        rep = np.zeros((n, k), dtype=np.int64)
        for g in range(len(fam_names)):
            members = np.flatnonzero(fam_idx == g)
            for r in range(k):
                rows = np.flatnonzero(order[:, r] == g)
                if len(rows):
                    rep[rows, r] = members[np.argmax(phi[np.ix_(rows, members)], axis=1)]
        effect_en, effect_zh = _EFFECT.get(key, ("raises the score", "推高评分"))
        out: dict[str, object] = {}
        for r in range(self.k):
            col = f"reason_{key}_{r + 1}"
            if r >= k:
                for part, dtype in (("family", "str"), ("en", "str"), ("zh", "str"), ("shap", "float64")):
                    out[f"{col}_{part}"] = pd.Series(pd.NA if dtype == "str" else np.nan, index=X.index, dtype=dtype)
                continue
            valid = top[:, r] > 0
            fam = pa.array(fam_names, pa.string()).take(pa.array(order[:, r]))
            en, zh = self._texts(X, names, rep[:, r], effect_en, effect_zh)
            mask = pa.array(valid)
            out[f"{col}_family"] = _str_series(fam, mask, X.index)
            out[f"{col}_en"] = _str_series(en, mask, X.index)
            out[f"{col}_zh"] = _str_series(zh, mask, X.index)
            out[f"{col}_shap"] = pd.Series(np.where(valid, top[:, r], np.nan), index=X.index)
        return pd.DataFrame(out, index=X.index)

    def _texts(self, X: pd.DataFrame, names: Sequence[str], feat: np.ndarray,
               effect_en: str, effect_zh: str) -> tuple[pa.Array, pa.Array]:
        """Per row, the sentence for its feature `feat[i]` (Arrow kernels, one pass per feature)."""
        groups = np.unique(feat)
        parts_en, parts_zh, rows_all = [], [], []
        for j in groups:
            rows = np.flatnonzero(feat == j)
            name = names[j]
            d_en, d_zh = self.descriptions.get(name, (name, name))
            values = _format_values(X[name].iloc[rows])
            parts_en.append(pc.binary_join_element_wise(f"{d_en}: ", values, f" ({effect_en})", ""))
            parts_zh.append(pc.binary_join_element_wise(f"{d_zh}：", values, f"（{effect_zh}）", ""))
            rows_all.append(rows)
        if not rows_all:
            empty = pa.array([], pa.string())
            return empty, empty
        where = np.empty(len(feat), dtype=np.int64)
        where[np.concatenate(rows_all)] = np.arange(len(feat))
        take = pa.array(where)
        return (pa.concat_arrays([p.cast(pa.string()) for p in parts_en]).take(take),
                pa.concat_arrays([p.cast(pa.string()) for p in parts_zh]).take(take))


def _format_values(values: pd.Series) -> pa.Array:
    """Values as short text: numbers rounded to 2 decimals ("missing" for NaN), others as is."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        arr = pa.array(values.to_numpy(dtype=float, na_value=np.nan), from_pandas=True)
        text = pc.cast(pc.round(arr, 2), pa.string())
    else:
        text = pa.array(values.astype("str").to_numpy(dtype=object, na_value=None), type=pa.string())
    return pc.fill_null(text, "missing")


def _str_series(values: pa.Array, valid: pa.Array, index: pd.Index) -> pd.Series:
    """`str` Series from an Arrow array; null where `valid` is False."""
    masked = pc.if_else(valid, values, pa.scalar(None, pa.string()))
    series = pa.chunked_array([masked], pa.string()).to_pandas()
    return series.set_axis(index)


# --------------------------------------------------------------------------- the recommender


@dataclass(frozen=True, kw_only=True)
class Recommender:
    """The fitted `TierwiseModel`s the bank has (at least one of churn, default, growth), a
    `ResolvedPolicy` resolved for those tasks and a reason writer.

    `n_threads` bounds the TreeSHAP threads (None: numba's default, all cores).
    `products`: the product propensity models the bank has (product family -> model; empty:
    no offers, the output unchanged), with `family` (`configs/products.yaml`).
    """

    churn: TierwiseModel | None = None
    default: TierwiseModel | None = None
    growth: TierwiseModel | None = None
    policy: ResolvedPolicy
    reasons: ReasonWriter
    n_threads: int | None = None
    products: Mapping[str, TierwiseModel] = field(default_factory=dict)
    family: ProductFamilyConfig | None = None

    def __post_init__(self) -> None:
        if self.products:
            if self.family is None:
                raise DataError("recommender: product models without the product family config (products.yaml)")
            unknown = sorted(set(self.products) - set(self.family.products))
            if unknown:
                raise DataError(f"recommender: product model(s) {', '.join(unknown)} not in the product family "
                                f"config ({', '.join(self.family.products)})")
        if not self.models:
            raise DataError(f"recommender: no task model; train at least one of {', '.join(TASKS)}")
        if set(self.policy.tasks) != set(self.models):
            raise DataError(f"recommender: the policy was resolved for {', '.join(self.policy.tasks)} "
                            f"but the models are {', '.join(self.models)}")

    @property
    def models(self) -> dict[str, TierwiseModel]:
        """The task models it has, in `TASKS` order."""
        return {t: m for t, m in (("churn", self.churn), ("default", self.default), ("growth", self.growth))
                if m is not None}

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks it has a model for (the policy assumes the others)."""
        return tuple(self.models)

    @property
    def offer_columns(self) -> list[str]:
        """The offer columns of the output (empty without product models)."""
        return offer_columns(self.family.offers) if self.products and self.family is not None else []

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The recommendations table this recommender writes: `RECOMMENDATION_COLUMNS`, then the offers."""
        return (*RECOMMENDATION_COLUMNS, *self.offer_columns)

    @property
    def pyfunc_columns(self) -> tuple[str, ...]:
        """What it answers per served client: `output_columns` without the month."""
        return tuple(c for c in self.output_columns if c != "month")

    @functools.cached_property
    def offer_reasons(self) -> ReasonWriter:
        """The writer of the offers' reasons: the task reasons' families and texts, the one
        strongest family that raises the product's propensity."""
        from tierwise.models._reasons import CatalogueReasons

        if isinstance(self.reasons, CatalogueReasons):
            return CatalogueReasons(self.reasons.families, self.reasons.catalogues, k=1, direction="up")
        families = getattr(self.reasons, "families", {})
        return FamilyReasons(families=families, descriptions=getattr(self.reasons, "descriptions", {}), k=1)

    def assumptions(self, lang: str = "en") -> list[str]:
        """What the policy assumes for each task without a model, in `lang` (empty: none)."""
        return assumption_notes(self.policy, lang)

    @functools.cached_property
    def required_inputs(self) -> tuple[str, ...]:
        """Columns every input row must have: the models' inputs and the policy's value inputs."""
        cols: list[str] = ["client_id"]
        for model in self.models.values():
            cols += model.input_columns_
        cols += [c for c in POLICY_REQUIRED if c not in SCORE_COLUMNS.values()]
        for model in self.products.values():
            cols += model.input_columns_
        cols += held_columns(list(self.products))
        return tuple(dict.fromkeys(cols))

    @functools.cached_property
    def text_inputs(self) -> frozenset[str]:
        """Required inputs that are text: the ids, the segment and the models' categories."""
        text = {"client_id", "segment"}
        for model in (*self.models.values(), *self.products.values()):
            text |= set(model.categories_)
        return frozenset(text)

    @property
    def optional_inputs(self) -> list[str]:
        required = set(self.required_inputs)
        return [c for c in (*CARRIED_INPUTS, *POLICY_OPTIONAL) if c not in required]

    def check_inputs(self, features: pd.DataFrame) -> None:
        missing = missing_columns(features.columns, self.required_inputs)
        if missing:
            raise DataError(f"recommender input: missing column(s) {first_names(missing)}")

    def scores(self, features: pd.DataFrame, prepared: dict | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """Per model: the score and the reason columns (as numpy arrays, see `_reason_columns`).
        Models with the same inputs share one input matrix. Whatever the batch size, the numbers
        are the same (each row is computed alone); a small batch (a served request) runs on one
        thread. `prepared` (input key -> (matrix, its columns)) may hold matrices already built
        (the served rows' path builds them from the request without a frame)."""
        prepared = {} if prepared is None else prepared  # input key -> (matrix, its columns)
        return self.scores_of(lambda model: model_matrix_of(model, features, prepared), len(features),
                              features=features)

    def scores_of(self, matrix_of: Callable[[TierwiseModel], tuple[np.ndarray, MatrixColumns]], n: int,
                  features: pd.DataFrame | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """`scores` given each model's (input matrix, its columns) from `matrix_of`; `features`
        only for a model without a LightGBM booster (None: there is none)."""
        threads = 1 if n < SMALL_BATCH else None
        scores: dict[str, np.ndarray] = {}
        reasons: dict[str, dict[str, np.ndarray]] = {}
        for key, model in self.models.items():
            if model.booster_ is None:
                logger.warning("%s: the model has no LightGBM booster; no reasons", key)
                X = model.model_inputs(features).set_axis(features.index)
                scores[key] = _predict(model, X)
                reasons[key] = _reason_columns(self.reasons, key, np.zeros((len(X), X.shape[1] + 1)), X)
                continue
            matrix, X = matrix_of(model)
            scores[key] = model.predict_matrix(matrix, num_threads=threads)
            contrib = tree_shap(model.booster_, matrix, n_threads=threads or self.n_threads)
            reasons[key] = _reason_columns(self.reasons, key, contrib, X)
        return scores, reasons

    def recommend(self, features: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One recommendation row per input row (same order); see the module docstring.
        `columns`: the output columns, in order (default: `output_columns`, the whole contract)."""
        self.check_inputs(features)
        features = renumbered(features)
        n = len(features)
        columns = self.output_columns if columns is None else columns
        matrices: dict[tuple, tuple[np.ndarray, MatrixColumns]] = {}
        scores, reasons = self.scores(features, prepared=matrices)
        policy_in = policy_inputs(features, scores)
        decided = recommendation_columns(policy_in, self.policy)
        no_credit = ~(policy_in["credit_exposure"].to_numpy() > 0)
        cols: dict[str, object] = {"client_id": policy_in["client_id"].astype(STR_DTYPE).array}
        if "snapshot_month" in features.columns:
            cols["month"] = pd.to_datetime(features["snapshot_month"]).astype("datetime64[ns]").to_numpy()
        else:
            cols["month"] = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        for col in ("segment", "region", "industry", "branch", "rm_id"):
            cols[col] = (as_str(features[col]).array if col in features.columns
                         else pd.array([None] * n, dtype=STR_DTYPE))
        cols["p_churn"] = policy_in["p_churn"].to_numpy()
        cols["p_default"] = policy_in["p_default"].to_numpy()
        cols["growth"] = policy_in["growth"].to_numpy()
        for col in ("expected_value_12m", "value_if_retained_12m", "expected_credit_loss_12m"):
            cols[col] = decided[col]
        for col in ("assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly"):
            cols[col] = policy_in[col].to_numpy()
        for col in OUTPUT_COLUMNS:
            if col not in cols:
                cols[col] = decided[col]
        texts = reason_outputs(reasons, no_credit, cols)
        if self.products and any(c in self.offer_columns for c in columns):
            texts.update(self._offers(features, decided, cols, matrices))
        cols.update(str_columns(texts, n))
        return frame_of_columns({c: cols[c] for c in columns}, features.index)


    def _offers(self, features: pd.DataFrame, decided: Mapping[str, np.ndarray], cols: dict[str, object],
                matrices: dict[tuple, tuple[np.ndarray, MatrixColumns]]) -> dict[str, np.ndarray]:
        """The offer columns: numbers into `cols`, texts returned (object arrays)."""
        threads = 1 if len(features) < SMALL_BATCH else None
        shared = {key: matrix for key, (matrix, _) in matrices.items()}
        arrays = offer_arrays(self.products, self.family, features,
                              functools.partial(_reason_columns, self.offer_reasons),
                              risk_watch=np.asarray(decided["flag_risk_watch"], bool),
                              exit_review=np.asarray(decided["flag_exit_review"], bool),
                              in_default=np.asarray(decided["flag_in_default"], bool),
                              threads=threads, shap_threads=threads or self.n_threads,
                              matrices=shared, key_of=_input_key)
        texts = {}
        for col, values in arrays.items():
            if is_number_column(col):
                cols[col] = values
            else:
                texts[col] = values
        return texts


def renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the index 0..n-1 (itself when it has it: a served request does)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def str_columns(texts: Mapping[str, np.ndarray], n: int) -> dict[str, pd.api.extensions.ExtensionArray]:
    """Object text columns of `n` rows (None where missing) as `str` arrays. A few rows (a
    served client's 36 reason texts) become slices of one array: one conversion, not one per
    column."""
    if n > FEW_ROWS or not texts:
        return {col: pd.array(values, dtype=STR_DTYPE) for col, values in texts.items()}
    whole = pd.array(np.concatenate(list(texts.values())), dtype=STR_DTYPE)
    return {col: whole[i * n:(i + 1) * n] for i, col in enumerate(texts)}


def _input_key(model: TierwiseModel) -> tuple:
    """Models with equal keys read the same input matrix (a model with its own preprocessor
    never shares one)."""
    if model.preprocessor_ is not None:
        return ("own", id(model))
    return (tuple(model.feature_names_), tuple((k, tuple(v)) for k, v in model.categories_.items()))


def _reason_columns(writer: ReasonWriter, key: str, contrib: np.ndarray, X: pd.DataFrame | MatrixColumns
                    ) -> dict[str, np.ndarray]:
    """The writer's reason columns as numpy arrays: text as object arrays (None where missing),
    SHAP as float. Writers with an `arrays` method (`models.CatalogueReasons`) skip the frame."""
    arrays = getattr(writer, "arrays", None)
    if arrays is not None:
        return arrays(key, contrib, X)
    frame = writer(key, contrib, X.frame() if isinstance(X, MatrixColumns) else X)
    return {c: (frame[c].to_numpy(dtype=np.float64, na_value=np.nan) if c.endswith("_shap")
                else as_str(frame[c]).to_numpy(dtype=object, na_value=None)) for c in frame.columns}


def _blanked(values: np.ndarray, rows: np.ndarray | None, missing: object) -> np.ndarray:
    """`values`, `missing` where `rows` (boolean) is True (a copy then)."""
    if rows is None:
        return values
    out = values.copy()
    out[rows] = missing
    return out


def as_str(values: pd.Series) -> pd.Series:
    """Text (`str` dtype) with missing values kept missing (never the text "nan" or "None")."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return values
    if values.dtype == object and values.isna().all():  # e.g. a served client without an RM
        return pd.Series(pd.array(np.full(len(values), None, dtype=object), dtype=STR_DTYPE), index=values.index)
    return values.astype(STR_DTYPE).mask(values.isna())


def _predict(model: TierwiseModel, X: pd.DataFrame) -> np.ndarray:
    """Calibrated score from already-prepared model inputs (no second `model_inputs` pass)."""
    return np.asarray(model.calibrated(model.estimator_.predict_raw(X)), dtype=float)


def policy_inputs(features: pd.DataFrame, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The policy's input frame: ids, segment, the three scores and the value features
    (`p_default` NaN without credit exposure; a task missing from `scores` is NaN, for the
    policy to assume)."""
    return pd.DataFrame(policy_data(
        lambda c: features[c].to_numpy(dtype=float, na_value=np.nan), lambda c: as_str(features[c]).to_numpy(),
        {c: features[c].to_numpy() for c in POLICY_OPTIONAL if c in features.columns}, len(features), scores))


def policy_data(numbers: Callable[[str], np.ndarray], texts: Callable[[str], np.ndarray],
                optional: Mapping[str, np.ndarray], n: int, scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The policy's input columns (see `policy_inputs`) from accessors of the number and text
    inputs and the optional policy inputs present: one definition for a frame and served rows."""
    exposure = numbers("credit_exposure")

    def score(task: str) -> np.ndarray:
        return scores[task] if task in scores else np.full(n, np.nan)

    return {
        "client_id": texts("client_id"),
        "segment": texts("segment"),
        "p_churn": score("churn"),
        "p_default": np.where(exposure > 0, score("default"), np.nan),
        "growth": score("growth"),
        "assets_total": numbers("assets_total"),
        "credit_exposure": exposure,
        **{c: numbers(c) for c in ("contribution_monthly", "cost_to_serve_monthly")},
        **optional,
    }


def reason_outputs(reasons: Mapping[str, Mapping[str, np.ndarray]], no_credit: np.ndarray,
                   numbers: dict[str, object]) -> dict[str, np.ndarray]:
    """The `reason_{task}_{k}_*` outputs of every task: SHAP sums into `numbers`, texts returned
    (object arrays, None where missing); a task without a model has none, and a client without
    credit exposure has no default reasons (no PD)."""
    n = len(no_credit)
    texts: dict[str, np.ndarray] = {}
    for key in TASKS:
        if key not in reasons:  # no model: no reasons
            for col in reason_columns_of(key):
                if col.endswith("_shap"):
                    numbers[col] = np.full(n, np.nan)
                else:
                    texts[col] = np.full(n, None, dtype=object)
            continue
        blank = no_credit if key == "default" and no_credit.any() else None  # no PD, no default reasons
        for col, values in reasons[key].items():
            if values.dtype == object:
                texts[col] = _blanked(values, blank, None)
            else:
                numbers[col] = _blanked(np.asarray(values, dtype=np.float64), blank, np.nan)
    return texts


def model_matrix_of(model: TierwiseModel, features: pd.DataFrame, prepared: dict
                    ) -> tuple[np.ndarray, MatrixColumns]:
    """(input matrix, its columns) of `model` on `features`, shared through `prepared` by the
    models with the same inputs."""
    same = _input_key(model)
    if same not in prepared:
        matrix = model.model_matrix(features)
        prepared[same] = matrix, MatrixColumns(matrix, model.feature_names_, model.categories_, features.index)
    return prepared[same]


def resolve_policy(models: Mapping[str, TierwiseModel], policy: PolicyConfig,
                   reference: pd.DataFrame) -> ResolvedPolicy:
    """Quantile cuts of `policy` resolved on the scored `reference` features (absolute mode:
    the configured amounts), for the tasks in `models` (the policy assumes the others)."""
    reference = reference.reset_index(drop=True)
    scores = {key: _predict(model, model.model_inputs(reference)) for key, model in models.items()}
    return resolve_thresholds(policy, policy_inputs(reference, scores), tasks=tuple(models))
