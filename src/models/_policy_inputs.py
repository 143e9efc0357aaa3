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

_NUMERIC = tuple(c for c in REQUIRED_COLUMNS if c not in ("client_id", "segment"))
_NO_MISSING = tuple(c for c in _NUMERIC if c != "p_default")  # no PD without credit exposure
_NON_NEGATIVE = ("assets_total", "credit_exposure", "cost_to_serve_monthly")
_PROBABILITIES = ("p_churn", "p_default", "p_default_prev")


def validate_policy_inputs(frame: pd.DataFrame, source: str = "policy input") -> None:
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
        numbers[column] = series.to_numpy(dtype=float, na_value=np.nan)
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
        bad = previous.notna().to_numpy() & (codes < 0)
        _fail_first(
            frame, "tier_prev", bad, f"one of {', '.join(TIERS)} or empty", source
        )


def _fail_first(
    frame: pd.DataFrame, column: str, bad: np.ndarray, expected: str, source: str
) -> None:
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    value = frame[column].iloc[row]
    value = value.item() if isinstance(value, np.generic) else value
    client = frame["client_id"].iloc[row]
    raise DataError(
        f"{source}: column '{column}' row {row} (client_id {client}) is {value!r}; "
        f"expected {expected}"
    )
