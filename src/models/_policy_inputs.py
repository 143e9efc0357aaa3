"""The tier policy's input contract: one row per client, scores and value features.

Every violation is one `DataError` line naming the column, the first offending row (position
and client id), the value and what was expected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.features import DataError
from tierwise.models._policy_config import TIERS, TIERS_BY_RANK
from tierwise.models._policy_text import codes_of

REQUIRED_COLUMNS: tuple[str, ...] = (
    "client_id",
    "segment",
    "p_churn",
    "p_default",
    "growth",
    "assets_total",
    "credit_exposure",
    "contribution_monthly",
    "cost_to_serve_monthly",
)
"""Columns `recommend` needs: ids, the three model outputs and the value features."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("p_default_prev", "tier_prev", "days_past_due")
"""Used when present: the earlier PD (for "rising fast"), the previous tier (gates) and the
days past due at the snapshot month (a client at `risk.in_default_dpd` or more is in default;
missing: not known to be)."""



class PolicyRows:
    """Policy inputs as plain numpy columns, read by the policy as it reads a frame (`columns`,
    `len`, `rows[name]`, `copy`, item assignment): a few served rows decided by the same rules
    as a batch, without building a DataFrame (issue 19). Numbers float64, text object arrays
    (None where missing)."""

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.data = dict(data)
        self._n = len(next(iter(self.data.values()))) if self.data else 0

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.data)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.data[name] = values

    def copy(self, deep: bool = False) -> PolicyRows:
        return PolicyRows({k: v.copy() for k, v in self.data.items()} if deep else self.data)


Table = pd.DataFrame | PolicyRows
"""What the policy reads: a frame (batch) or `PolicyRows` (a few served rows)."""


def numbers_of(frame: Table, column: str) -> np.ndarray:
    """A column as float64, NaN where missing."""
    values = frame[column]
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False) if values.dtype.kind in "biuf" else pd.to_numeric(
            pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values.to_numpy(dtype=float, na_value=np.nan)


def value_at(frame: Table, column: str, row: int) -> object:
    """The value of `column` in row position `row`."""
    values = frame[column]
    return values[row] if isinstance(values, np.ndarray) else values.iloc[row]


_NUMERIC = tuple(c for c in REQUIRED_COLUMNS if c not in ("client_id", "segment"))
_NO_MISSING = tuple(c for c in _NUMERIC if c != "p_default")  # no PD without credit exposure
_NON_NEGATIVE = ("assets_total", "credit_exposure", "cost_to_serve_monthly")
_PROBABILITIES = ("p_churn", "p_default", "p_default_prev")


def validate_policy_inputs(frame: Table, source: str = "policy input") -> None:
    """Raise `DataError` for the first problem found; return None when `frame` is usable."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column '{missing[0]}' "
            f"(the policy needs {', '.join(REQUIRED_COLUMNS)})"
        )
    numbers: dict[str, np.ndarray] = {}  # each column read once (a served client: most of the cost)
    for column in (*_NUMERIC, "p_default_prev", "days_past_due"):
        if column not in frame.columns:
            continue
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            raise DataError(f"{source}: column '{column}' must be numeric, got {series.dtype}")
        numbers[column] = numbers_of(frame, column)
    for column in _NO_MISSING:
        _fail_first(frame, column, ~np.isfinite(numbers[column]), "a finite number", source)
    for column in (*_NON_NEGATIVE, "days_past_due"):
        if column not in numbers:
            continue
        _fail_first(frame, column, numbers[column] < 0, "a non-negative amount", source)
    for column in _PROBABILITIES:
        if column not in numbers:
            continue
        values = numbers[column]
        bad = ~np.isnan(values) & ~((values >= 0) & (values <= 1))
        _fail_first(frame, column, bad, "a probability in [0, 1]", source)
    pd_values = numbers["p_default"]
    exposure = numbers["credit_exposure"]
    _fail_first(
        frame,
        "p_default",
        np.isnan(pd_values) & (exposure > 0),
        "a probability for a client with credit exposure (missing only without exposure)",
        source,
    )
    if "tier_prev" in frame.columns:
        previous = frame["tier_prev"]
        codes = codes_of(previous, TIERS_BY_RANK)
        bad = ~np.asarray(pd.isna(previous), dtype=bool) & (codes < 0)
        _fail_first(
            frame, "tier_prev", bad, f"one of {', '.join(TIERS)} or empty", source
        )


def _fail_first(
    frame: Table, column: str, bad: np.ndarray, expected: str, source: str
) -> None:
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    value = value_at(frame, column, row)
    value = value.item() if isinstance(value, np.generic) else value
    client = value_at(frame, "client_id", row)
    raise DataError(
        f"{source}: column '{column}' row {row} (client_id {client}) is {value!r}; "
        f"expected {expected}"
    )
