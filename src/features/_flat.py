"""Flat-table mode: one row per client, a target column, described by a small YAML file.

`DatasetConfig` is the parsed `configs/datasets/<name>.yaml`; `load_flat_table` reads the
table, checks it against the config, maps the target, quarantines rows without a target,
drops what must not be a feature (configured drops, identifiers, free text, constants,
protected attributes not configured as features, probable leaks) and returns a `ModelFrame`
of RAW candidate feature columns plus a `FlatReport` saying what was dropped and why. The
`FlatTablePreprocessor` built by `DatasetConfig.preprocessor()` then makes the columns
LightGBM-ready inside the model pipeline, so the same raw columns work at prediction time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, PrivateAttr, field_validator, model_validator

from tierwise.features._config import FrozenConfig
from tierwise.features._errors import DataError
from tierwise.features._flat_preprocess import FlatTablePreprocessor, _labels
from tierwise.features._frame import ModelFrame
from tierwise.features._leakage import LeakReport, screen_leaks

logger = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]
SHARED_DATASETS = Path("..") / "shared" / "datasets"
TypeOverride = Literal["numeric", "categorical", "drop"]


class LeakageConfig(FrozenConfig):
    """The leakage screen's settings (see `screen_leaks`)."""

    max_auc: float = Field(0.98, gt=0.5, le=1.0)
    name_patterns: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    @field_validator("name_patterns")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return value


class DatasetConfig(FrozenConfig):
    """A flat table: where it is, which columns are ids, target, drops and carried attributes.

    `path` is resolved against the YAML's folder (or the working directory when the config
    was not read from a file), then looked up as `../shared/datasets/<file name>` beside the
    repository and beside the working directory. `protected` columns are carried in the
    frame for fairness checks but are not features unless also listed in
    `protected_features`. `lightgbm` holds starting parameters for the trainer.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    path: str
    target: str
    kind: Literal["binary", "regression"] = "binary"
    positive_label: str | int | float | bool | None = None
    id_columns: tuple[str, ...] = ()
    drop_columns: tuple[str, ...] = ()
    type_overrides: dict[str, TypeOverride] = Field(default_factory=dict)
    categorical_codes: dict[str, dict[str | int, str]] = Field(default_factory=dict)
    descriptions: dict[str, str] = Field(default_factory=dict)
    monotone: dict[str, Literal[-1, 1]] = Field(default_factory=dict)
    protected: tuple[str, ...] = ()
    protected_features: tuple[str, ...] = ()
    min_frequency: int | float = Field(10, ge=0)
    max_unique_ratio: float = Field(0.1, gt=0, le=1)
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    lightgbm: dict[str, Any] = Field(default_factory=dict)

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetConfig:
        if self.kind == "binary" and self.positive_label is None:
            raise ValueError("a binary dataset needs positive_label (the target value meaning 'yes')")
        if self.kind == "regression" and self.positive_label is not None:
            raise ValueError("positive_label is only for kind: binary")
        extra = set(self.protected_features) - set(self.protected)
        if extra:
            raise ValueError(f"protected_features {sorted(extra)} are not listed in protected")
        if self.target in (*self.id_columns, *self.drop_columns, *self.protected):
            raise ValueError(f"target {self.target!r} is also listed as an id, drop or protected column")
        return self

    # -- where it came from ---------------------------------------------------------------

    def located_at(self, yaml_path: str | Path) -> DatasetConfig:
        """This config, remembering the YAML file it was read from (errors name it)."""
        copy = self.model_copy()
        copy._source = Path(yaml_path)
        return copy

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def source_label(self) -> str:
        return str(self._source) if self._source is not None else f"dataset config '{self.name}'"

    def resolve_path(self, override: str | Path | None = None) -> Path:
        """The data file: `override` if given, else `path` looked up as documented above."""
        if override is not None:
            path = Path(override).expanduser()
            if not path.is_file():
                raise DataError(f"{path}: data file not found")
            return path
        candidates = self._candidates()
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        looked = ", ".join(str(c) for c in candidates)
        raise DataError(f"{self.source_label}: path '{self.path}' not found (looked in {looked}); pass --data FILE")

    def _candidates(self) -> list[Path]:
        path = Path(self.path).expanduser()
        if path.is_absolute():
            first = [path]
        else:
            base = self._source.parent if self._source is not None else Path.cwd()
            first = [base / path]
        shared = [_REPO / SHARED_DATASETS / path.name, Path.cwd() / SHARED_DATASETS / path.name]
        out: list[Path] = []
        for candidate in (*first, *shared):
            if candidate not in out:
                out.append(candidate)
        return out

    # -- builders -------------------------------------------------------------------------

    def preprocessor(self) -> FlatTablePreprocessor:
        """The scikit-learn preprocessor configured for this table."""
        return FlatTablePreprocessor(
            min_frequency=self.min_frequency,
            max_unique_ratio=self.max_unique_ratio,
            type_overrides=dict(self.type_overrides) or None,
            categorical_codes={k: dict(v) for k, v in self.categorical_codes.items()} or None,
        )

    def describe(self, column: str) -> str:
        """The column's one-line description, or its name when none is configured."""
        return self.descriptions.get(column, column)

    def monotone_constraints(self, features: tuple[str, ...] | list[str]) -> list[int]:
        """LightGBM's `monotone_constraints`, aligned with `features` (0 = unconstrained)."""
        return [int(self.monotone.get(f, 0)) for f in features]

    def named_columns(self) -> dict[str, tuple[str, ...]]:
        """Every column the YAML names, by key."""
        return {
            "target": (self.target,),
            "id_columns": self.id_columns,
            "drop_columns": self.drop_columns,
            "type_overrides": tuple(self.type_overrides),
            "categorical_codes": tuple(self.categorical_codes),
            "descriptions": tuple(self.descriptions),
            "monotone": tuple(self.monotone),
            "protected": self.protected,
            "leakage.keep": self.leakage.keep,
        }


@dataclass(frozen=True)
class DroppedColumn:
    column: str
    reason: str


@dataclass(frozen=True, eq=False)
class FlatReport:
    """What `load_flat_table` did: rows read and quarantined, columns kept, dropped and why."""

    dataset: str
    source: str
    n_rows: int
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    id_columns: tuple[str, ...]
    target: str
    carried: tuple[str, ...]
    dropped: tuple[DroppedColumn, ...]
    quarantine: pd.DataFrame
    leakage: LeakReport
    positive_rate: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dropped_columns(self) -> tuple[str, ...]:
        return tuple(d.column for d in self.dropped)

    def reason(self, column: str) -> str | None:
        return next((d.reason for d in self.dropped if d.column == column), None)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for an MLflow artifact or a model card)."""
        return {
            "dataset": self.dataset,
            "source": self.source,
            "rows_read": self.n_rows,
            "rows_quarantined": len(self.quarantine),
            "positive_rate": self.positive_rate,
            "features": list(self.features),
            "categorical": list(self.categorical),
            "id_columns": list(self.id_columns),
            "target": self.target,
            "carried": list(self.carried),
            "dropped": {d.column: d.reason for d in self.dropped},
            "leak_scores": {k: round(v, 6) for k, v in self.leakage.scores.items()},
            "notes": list(self.notes),
        }

    def table(self) -> pd.DataFrame:
        """Every column that is not a plain feature: its role and the reason."""
        rows = [{"column": c, "role": "id", "reason": "id column (not a feature)"} for c in self.id_columns]
        rows.append({"column": self.target, "role": "target", "reason": ""})
        rows += [
            {"column": c, "role": "carried", "reason": "protected: kept for fairness checks, not a feature"}
            for c in self.carried
        ]
        rows += [{"column": d.column, "role": "dropped", "reason": d.reason} for d in self.dropped]
        return pd.DataFrame(rows, columns=["column", "role", "reason"])

    def __str__(self) -> str:
        rate = f", positive rate {self.positive_rate:.1%}" if self.positive_rate is not None else ""
        lines = [
            f"{self.dataset}: {self.n_rows} rows from {self.source}, {len(self.quarantine)} quarantined{rate}",
            f"{len(self.features)} features ({len(self.categorical)} categorical): {', '.join(self.features)}",
            self.table().to_string(index=False),
            *self.notes,
        ]
        if self.leakage.suspects:
            lines.append(str(self.leakage))
        return "\n".join(lines)


def read_flat_file(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; one-line errors for anything else."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif suffix.endswith((".csv", ".csv.gz", ".txt")):
            frame = pd.read_csv(path)
        else:
            raise DataError(f"{path}: expected a .csv or .parquet file")
    except (OSError, ValueError, pd.errors.ParserError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot read the table: {first}") from None
    if frame.empty:
        raise DataError(f"{path}: the table has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def load_flat_table(
    config: DatasetConfig, path: str | Path | None = None
) -> tuple[ModelFrame, FlatReport]:
    """Read the table `config` describes (or `path`), check it, and hand over its features."""
    data_path = config.resolve_path(path)
    raw = read_flat_file(data_path)
    _check_named_columns(config, raw, data_path)
    target, quarantine = _target(config, raw, data_path)
    raw = raw.loc[target.index]

    dropped: list[DroppedColumn] = []
    carried = tuple(c for c in config.protected if c not in config.protected_features)
    reserved = {*config.id_columns, config.target, *carried}
    candidates: list[str] = []
    for column in raw.columns:
        if column in reserved:
            continue
        if column in config.drop_columns:
            dropped.append(DroppedColumn(column, "configured: drop_columns"))
        else:
            candidates.append(column)

    pre = config.preprocessor().fit(raw[candidates]) if candidates else None
    if pre is not None:
        dropped += [DroppedColumn(c, r) for c, r in pre.dropped_.items()]
        for column, reason in pre.dropped_.items():
            logger.warning("%s: dropping column %r: %s", config.name, column, reason)
    kept = list(pre.feature_names_out_) if pre is not None else []

    leaks = screen_leaks(
        raw[kept],
        target,
        max_auc=config.leakage.max_auc,
        name_patterns=config.leakage.name_patterns,
        keep=config.leakage.keep,
    )
    for suspect in leaks.suspects:
        if suspect.column in leaks.dropped:
            dropped.append(DroppedColumn(suspect.column, f"leak suspect: {suspect.reason}"))
    features = tuple(c for c in kept if c not in set(leaks.dropped))
    categorical = tuple(c for c in features if pre is not None and c in pre.categorical_features_)
    if not features:
        raise DataError(f"{config.source_label}: no usable feature columns left in {data_path}")

    notes = _duplicate_id_note(config, raw)
    data = raw[[*config.id_columns, *features, *carried]].copy()
    data.insert(len(config.id_columns), config.target, target.to_numpy())
    data = data.reset_index(drop=True)
    frame = ModelFrame(
        data=data,
        features=features,
        target=config.target,
        kind=config.kind,
        id_columns=tuple(config.id_columns),
        categorical=categorical,
        split_column=None,
        time_column=None,
        name=config.name,
    )
    positive_rate = float(target.mean()) if config.kind == "binary" else None
    report = FlatReport(
        dataset=config.name,
        source=str(data_path),
        n_rows=len(raw) + len(quarantine),
        features=features,
        categorical=categorical,
        id_columns=tuple(config.id_columns),
        target=config.target,
        carried=carried,
        dropped=tuple(dropped),
        quarantine=quarantine,
        leakage=leaks,
        positive_rate=positive_rate,
        notes=notes,
    )
    logger.info(
        "%s: %d rows, %d quarantined, %d features, dropped %s",
        config.name, len(data), len(quarantine), len(features),
        ", ".join(report.dropped_columns) or "nothing",
    )
    return frame, report


def _check_named_columns(config: DatasetConfig, raw: pd.DataFrame, data_path: Path) -> None:
    present = set(raw.columns)
    for key, columns in config.named_columns().items():
        for column in columns:
            if column not in present:
                raise DataError(
                    f"{config.source_label}: {key} names column '{column}', which is not in "
                    f"{data_path} (columns: {', '.join(raw.columns[:30])}"
                    f"{', ...' if len(raw.columns) > 30 else ''})"
                )


def _target(config: DatasetConfig, raw: pd.DataFrame, data_path: Path) -> tuple[pd.Series, pd.DataFrame]:
    """The target as 0/1 (binary) or float (regression) for the rows that have one, and the
    quarantined rows (no target) with a `reason` column."""
    column = raw[config.target]
    missing = column.isna().to_numpy()
    quarantine = raw.loc[missing].assign(reason=f"missing target '{config.target}'")
    if missing.any():
        logger.warning("%s: %d row(s) without a target quarantined", config.name, int(missing.sum()))
    present = column.loc[~missing]
    if present.empty:
        raise DataError(f"{data_path}: target '{config.target}' has no values")
    if config.kind == "regression":
        values = pd.to_numeric(present, errors="coerce")
        bad = present[values.isna()]
        if len(bad):
            raise DataError(
                f"{data_path}: target '{config.target}' must be numeric for kind: regression; "
                f"row {bad.index[0]} has {bad.iloc[0]!r}"
            )
        return values.astype(np.float64).rename(config.target), quarantine
    labels = _labels(present)
    positive = _labels(pd.Series([config.positive_label])).iloc[0]
    distinct = sorted(labels.unique().tolist())
    if positive not in distinct:
        raise DataError(
            f"{config.source_label}: positive_label {config.positive_label!r} is not a value of target "
            f"'{config.target}' in {data_path} (values: {', '.join(distinct[:10])})"
            + ("; note that YAML reads unquoted yes/no/true/false as booleans: quote the label"
               if isinstance(config.positive_label, bool) else "")
        )
    if len(distinct) != 2:
        others = [v for v in distinct if v != positive]
        if len(distinct) == 1:
            raise DataError(f"{data_path}: target '{config.target}' has one class only ({positive})")
        raise DataError(
            f"{data_path}: target '{config.target}' has unknown values {', '.join(others[:10])}: "
            f"a binary target needs exactly two values, the positive_label {positive} and one other"
        )
    y = (labels == positive).astype(np.int8).rename(config.target)
    return y, quarantine


def _duplicate_id_note(config: DatasetConfig, raw: pd.DataFrame) -> tuple[str, ...]:
    if not config.id_columns:
        return ()
    duplicated = int(raw.duplicated(subset=list(config.id_columns)).sum())
    if not duplicated:
        return ()
    note = f"warning: {duplicated} row(s) repeat an id ({', '.join(config.id_columns)})"
    logger.warning("%s: %s", config.name, note)
    return (note,)
