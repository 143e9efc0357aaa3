"""The MLflow face of the recommender: a thin `PythonModel` adapter.

`load_context` reads the artifacts (a pickled `TierwiseModel` per task the bank has, the resolved policy as
JSON, the reason writer's feature families and descriptions as JSON) and builds a
`Recommender`; `predict` checks the request and hands off to `Recommender.recommend`. Bad
requests (no rows, a missing column, a value of the wrong type) raise `MlflowException` with
`INVALID_PARAMETER_VALUE`, which MLflow's scoring server answers with HTTP 400 and the
message; the server keeps serving.

The output is the recommendations table without `month` (a served request has no month;
batch engines add it): see `models.RECOMMENDATION_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import pickle
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from tierwise.features import (
    CLIENT_COLUMNS,
    MONTHLY_COLUMNS,
    TASKS,
    ContractRules,
    TierwiseError,
    first_names,
    missing_columns,
)
from tierwise.models._fast_frame import Recommendations, plain_records
from tierwise.models._policy import ResolvedPolicy
from tierwise.models._product_family import ProductFamilyConfig
from tierwise.models._reason_catalogue import ReasonCatalogue
from tierwise.models._reasons import CatalogueReasons
from tierwise.models._recommender import (  # noqa: F401 - PYFUNC_OUTPUT_COLUMNS re-exported by models.pyfunc
    PYFUNC_OUTPUT_COLUMNS,
    FamilyReasons,
    Recommender,
    renumbered,
)

logger = logging.getLogger(__name__)

POLICY_ARTIFACT = "policy"
PRODUCTS_ARTIFACT = "products"  # the product menu (JSON) when product propensity models are bundled
PRODUCT_PREFIX = "product_"  # artifact key of a bundled propensity model: product_<family>
REASONS_ARTIFACT = "reasons"
SETTINGS_ARTIFACT_KEY = "settings"  # the settings it was built with (JSON), read by tierwise.registry

_CONTRACT = {c.name: c for c in (*CLIENT_COLUMNS, *MONTHLY_COLUMNS)}
"""Served fields named like a raw column follow that column's contract (kind, nullable)."""


def allowed_values(rules: ContractRules | None = None) -> dict[str, frozenset[str]]:
    """The codes the batch validation accepts per field (`features.ContractRules`: segment and
    gender always; branch, region and industry only where the bank supplied a list)."""
    rules = rules or ContractRules()
    fields = {"segment": rules.segments, "gender": rules.genders, "branch": rules.branches,
              "region": rules.regions, "industry": rules.industries}
    return {name: codes for name, codes in fields.items() if codes is not None}


def _bad_request(message: str) -> Exception:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def write_artifacts(folder: Path, recommender: Recommender, descriptions: dict[str, tuple[str, str]]
                    ) -> dict[str, str]:
    """Write the recommender's parts to `folder`; returns the `artifacts` mapping for
    `mlflow.pyfunc.log_model`."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    for key, model in recommender.models.items():
        path = folder / f"{key}.pkl"
        path.write_bytes(pickle.dumps(model, protocol=5))
        out[key] = str(path)
    for product, model in recommender.products.items():
        path = folder / f"{PRODUCT_PREFIX}{product}.pkl"
        path.write_bytes(pickle.dumps(model, protocol=5))
        out[f"{PRODUCT_PREFIX}{product}"] = str(path)
    if recommender.products and recommender.family is not None:
        path = folder / "products.json"
        path.write_text(recommender.family.model_dump_json(indent=1), encoding="utf-8")
        out[PRODUCTS_ARTIFACT] = str(path)
    path = folder / "policy.json"
    path.write_text(recommender.policy.model_dump_json(indent=1), encoding="utf-8")
    out[POLICY_ARTIFACT] = str(path)
    reasons = recommender.reasons
    families = dict(getattr(reasons, "families", {}))
    spec: dict[str, Any] = {"writer": "family", "families": families,
                            "descriptions": {k: list(v) for k, v in descriptions.items()}}
    if isinstance(reasons, CatalogueReasons):
        spec["writer"] = "catalogue"
        spec["catalogues"] = {lang: cat.model_dump(mode="json") for lang, cat in reasons.catalogues.items()}
    path = folder / "reasons.json"
    path.write_text(json.dumps(spec, ensure_ascii=False, indent=1), encoding="utf-8")
    out[REASONS_ARTIFACT] = str(path)
    return out


def load_recommender(artifacts: dict[str, str], n_threads: int | None = None) -> Recommender:
    """The `Recommender` from the artifact files written by `write_artifacts`."""
    models = {k: pickle.loads(Path(artifacts[k]).read_bytes()) for k in TASKS if k in artifacts}
    policy = ResolvedPolicy.model_validate_json(Path(artifacts[POLICY_ARTIFACT]).read_text(encoding="utf-8"))
    spec = json.loads(Path(artifacts[REASONS_ARTIFACT]).read_text(encoding="utf-8"))
    if spec.get("writer") == "catalogue":
        catalogues = {lang: ReasonCatalogue.model_validate(body) for lang, body in spec["catalogues"].items()}
        reasons: Any = CatalogueReasons(spec["families"], catalogues)
    else:
        reasons = FamilyReasons(families=spec["families"],
                                descriptions={k: tuple(v) for k, v in spec["descriptions"].items()})
    products = {k.removeprefix(PRODUCT_PREFIX): pickle.loads(Path(v).read_bytes()) for k, v in artifacts.items()
                if k.startswith(PRODUCT_PREFIX)}
    family = (ProductFamilyConfig.model_validate_json(Path(artifacts[PRODUCTS_ARTIFACT]).read_text(encoding="utf-8"))
              if products else None)
    return Recommender(**models, policy=policy, reasons=reasons, n_threads=n_threads, products=products, family=family)


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    """Feature rows in, recommendation rows out (see the module docstring)."""

    def __init__(self, n_threads: int | None = None) -> None:
        self.n_threads = n_threads
        self.recommender: Recommender | None = None
        self.settings_file: Path | None = None

    def load_context(self, context: Any) -> None:
        self.recommender = load_recommender(context.artifacts, n_threads=self.n_threads)
        settings = context.artifacts.get(SETTINGS_ARTIFACT_KEY)
        self.settings_file = Path(settings) if settings else None

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        if self.recommender is None:
            self.load_context(context)
        frame = check_request(model_input, self.recommender)
        try:
            answer = self.recommender.recommend(frame, columns=self.recommender.pyfunc_columns)
            return Recommendations(answer, copy=False)
        except TierwiseError as exc:
            raise _bad_request(str(exc)) from None


def answer_records(model_input: Any, recommender: Recommender) -> list[dict[str, Any]]:
    """What the pyfunc answers for `model_input`, as records (one dict per client, the
    recommender's `pyfunc_columns` in order; missing values NaN or None): the lean server's path,
    without MLflow's parsing and schema enforcement. Bad requests raise as `predict` does.

    A list of feature objects (what the lean server parses) that passes `plain_rows` goes
    through `models._recommender_rows.recommend_rows` (no pandas); anything else, including
    every request with a problem, through the frame (`check_request`, `Recommender.recommend`),
    which names the problem. Both give the same answer."""
    if isinstance(model_input, list) and model_input:
        from tierwise.models._recommender_rows import NotFast, recommend_rows

        try:
            return recommend_rows(recommender, plain_rows(model_input, recommender))
        except (NotFast, TierwiseError):
            pass  # the frame path answers, or names the problem
        model_input = pd.DataFrame.from_records(model_input)
    frame = check_request(model_input, recommender)
    try:
        answer = recommender.recommend(frame, columns=recommender.pyfunc_columns)
    except TierwiseError as exc:
        raise _bad_request(str(exc)) from None
    records = plain_records(answer)
    return records if records is not None else answer.to_dict(orient="records")


_BIG_INT = 2**53  # integers beyond this take the frame path (pandas reads them its own way)


@functools.lru_cache(maxsize=8)
def _text_names(text_inputs: frozenset[str], coded: frozenset[str]) -> frozenset[str]:
    return text_inputs | coded | {c for c, rule in _CONTRACT.items() if rule.kind == "str"}


def plain_rows(rows: list[Any], recommender: Recommender, rules: ContractRules | None = None
               ) -> list[dict[str, Any]]:
    """`rows` when each is a feature object the frame path would accept as it is (`check_request`
    without a frame): the same fields in every row, every required field present, text fields
    text (or None where the contract allows), codes the batch accepts, number fields int or
    float (not bool) and finite (None or NaN where allowed), the optional policy numbers numbers,
    `tier_prev` text or None, `snapshot_month` a date or None. Anything else raises
    `models._recommender_rows.NotFast` (the frame path then names the problem)."""
    from tierwise.models._recommender_rows import NotFast

    if not all(isinstance(row, dict) for row in rows):
        raise NotFast("not feature objects")
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows[1:]):
        raise NotFast("rows with different fields")
    required = recommender.required_inputs
    if any(col not in keys for col in required):
        raise NotFast("a missing field")
    codes = allowed_values(rules)
    text_names = _text_names(recommender.text_inputs, frozenset(codes))
    required_set = frozenset(required)
    for col in keys:
        contract = _CONTRACT.get(col)
        not_null = contract is not None and not contract.nullable
        values = [row[col] for row in rows]
        if col in text_names:
            allowed = codes.get(col)
            not_null = not_null or col in ("client_id", "segment")
            for v in values:
                if v is None or (type(v) is float and math.isnan(v)):
                    if not_null:
                        raise NotFast(col)
                elif type(v) is not str or (allowed is not None and v not in allowed):
                    raise NotFast(col)
        elif col in required_set:
            for v in values:
                if v is None:
                    if not_null:
                        raise NotFast(col)
                elif type(v) is float:
                    if math.isinf(v) or (not_null and math.isnan(v)):
                        raise NotFast(col)
                elif type(v) is not int or abs(v) > _BIG_INT:
                    raise NotFast(col)
        elif col in ("p_default_prev", "days_past_due"):
            if not all(type(v) is float or (type(v) is int and abs(v) <= _BIG_INT) for v in values):
                raise NotFast(col)
        elif ((col == "tier_prev" and not all(v is None or type(v) is str for v in values))
              or (col == "snapshot_month" and not all(v is None or isinstance(v, dt.date) for v in values))):
            raise NotFast(col)
    return rows


def check_request(model_input: Any, recommender: Recommender, rules: ContractRules | None = None
                  ) -> pd.DataFrame:
    """The request as a frame, or an `INVALID_PARAMETER_VALUE` error naming the problem.

    The served contract is the batch contract: text fields must be text (or null where the raw
    contract allows it), codes must be ones the batch validation accepts (`allowed_values`),
    numbers must be numbers and finite (null is a missing value, except for a raw column the
    contract says may not be null)."""
    if not isinstance(model_input, pd.DataFrame):
        try:
            model_input = pd.DataFrame(model_input)
        except (TypeError, ValueError):
            raise _bad_request(f"input must be a table of feature rows, got {type(model_input).__name__}") from None
    if len(model_input) == 0:
        raise _bad_request("the request has no rows; send at least one client's feature row")
    missing = missing_columns(model_input.columns, recommender.required_inputs)
    if missing:
        raise _bad_request(f"missing field(s): {first_names(missing)}")
    frame = renumbered(model_input)
    ids = frame["client_id"]
    if ids.isna().any():
        raise _bad_request(f"field 'client_id' is empty in row {int(np.flatnonzero(ids.isna())[0])}")
    codes = allowed_values(rules)
    dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
    text_fields = [c for c in frame.columns if c in recommender.text_inputs or c in codes
                   or (c in _CONTRACT and _CONTRACT[c].kind == "str")]
    for col in text_fields:
        _check_text(col, frame[col], codes.get(col))
    for col in recommender.required_inputs:
        if col in text_fields:
            continue
        dtype = dtypes[col]
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numbers = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
            _check_finite(col, numbers, frame[col])
            continue
        values = frame[col].to_numpy(dtype=object)
        given = ~pd.isna(values)
        numbers = np.full(len(values), np.nan)
        if given.any():  # a field left empty (JSON null) needs no parsing
            numbers[given] = [_number(v) for v in values[given]]
        bad = given & np.isnan(numbers)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _bad_request(f"field '{col}' must be a number, got {values[row]!r} in row {row}")
        _check_finite(col, numbers, pd.Series(values))
        if frame is model_input:  # the caller's frame stays as it was sent
            frame = frame.copy(deep=False)
        frame[col] = numbers
    return frame


def _number(value: Any) -> float:
    """A JSON number, or a number written as text ("4.0", as batch reads text files), as a
    float; NaN for anything else (other text, true/false, lists)."""
    if isinstance(value, str):
        try:
            return float(pd.to_numeric(value.strip()))
        except (ValueError, TypeError):
            return np.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return np.nan
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range
        return np.inf


def _check_finite(col: str, numbers: np.ndarray, values: pd.Series) -> None:
    bad = np.isinf(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad_request(f"field '{col}' must be a finite number, got {values.iat[row]!r} in row {row}")
    contract = _CONTRACT.get(col)
    if contract is not None and not contract.nullable and np.isnan(numbers).any():
        row = int(np.flatnonzero(np.isnan(numbers))[0])
        raise _bad_request(f"field '{col}' may not be empty (null or NaN) in row {row}")


def _check_text(col: str, series: pd.Series, allowed: frozenset[str] | None) -> None:
    values = series.to_numpy(dtype=object)
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            contract = _CONTRACT.get(col)
            if col in ("client_id", "segment") or (contract is not None and not contract.nullable):
                raise _bad_request(f"field '{col}' may not be empty in row {row}")
            continue
        if not isinstance(value, str):
            raise _bad_request(f"field '{col}' must be text, got {value!r} in row {row}")
        if allowed is not None and value not in allowed:
            raise _bad_request(f"field '{col}': {value!r} in row {row} is not one of {', '.join(sorted(allowed))}")
