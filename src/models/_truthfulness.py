"""Truthfulness of the reason codes on the synthetic bank.

The generator records, for a sample of (client, snapshot) pairs, the dominant true mechanism
behind an elevated churn or default probability (`oracle.parquet`: `churn_driver`,
`default_driver`). `configs/drivers.yaml` maps each driver to the reason families whose
features reveal it. An explanation is truthful for a client when one of those families is
among the model's top-k reason families (k = 3). `measure_truthfulness` gives the share, per
task and per driver.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import Field

from tierwise.features import ConfigError, DataError, FrozenConfig

logger = logging.getLogger(__name__)


class DriverMap(FrozenConfig):
    """`configs/drivers.yaml`: task -> driver -> reason families that reveal it."""

    churn: dict[str, list[str]] = Field(default_factory=dict)
    default: dict[str, list[str]] = Field(default_factory=dict)
    products: dict[str, list[str]] = Field(default_factory=dict)  # adoption drivers, every adopt_<product> task

    def families(self, task: str) -> dict[str, list[str]]:
        if task.startswith("adopt_"):
            return self.products
        if task not in ("churn", "default"):
            raise ConfigError(f"drivers: no driver mapping for task '{task}' (tasks: churn, default, adopt_<product>)")
        return getattr(self, task)

    def check_families(self, known: Sequence[str]) -> None:
        """Raise `ConfigError` naming any family that is not a known reason family."""
        known_set = set(known)
        unknown = sorted({f for task in ("churn", "default", "adopt_") for fams in self.families(task).values()
                          for f in fams if f not in known_set})
        if unknown:
            raise ConfigError(f"drivers: unknown reason famil{'y' if len(unknown) == 1 else 'ies'}: "
                              f"{', '.join(unknown)}")


def reason_families(reasons: pd.DataFrame, model: str, k: int = 3) -> np.ndarray:
    """(rows x k) object array of the top-k reason families of `model` (None where absent)."""
    cols = [f"reason_{model}_{r}_family" for r in range(1, k + 1)]
    missing = [c for c in cols if c not in reasons.columns]
    if missing:
        raise DataError(f"truthfulness: reason table has no column(s) {', '.join(missing)}")
    return reasons.loc[:, cols].astype(object).where(reasons.loc[:, cols].notna(), None).to_numpy()


def truthful_hits(top: np.ndarray, drivers: Sequence[str | None], mapping: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Per row: True when a family revealing the row's driver is in `top` (NaN: no driver)."""
    hits = np.full(len(drivers), np.nan)
    for i, driver in enumerate(drivers):
        if driver is None or (isinstance(driver, float) and np.isnan(driver)) or driver in ("", "None", "nan"):
            continue
        if driver not in mapping:
            raise ConfigError(f"drivers: the oracle names driver '{driver}', which drivers.yaml does not map")
        hits[i] = float(bool(set(mapping[driver]) & {f for f in top[i] if f is not None}))
    return hits


def measure_truthfulness(reasons: pd.DataFrame, oracle: pd.DataFrame, drivers: DriverMap, *, task: str,
                         k: int = 3, keys: Sequence[str] = ("client_id", "snapshot_month")) -> dict:
    """Share of oracle clients with a recorded `{task}_driver` whose driver's family is in the
    model's top-k reasons. `reasons` has the key columns and `reason_{task}_{r}_family`.

    Returns {"task", "clients", "share", "by_driver": {driver: {"clients", "share"}}}.
    """
    column = f"{task}_driver"
    for name, frame, need in (("oracle", oracle, [*keys, column]), ("reasons", reasons, list(keys))):
        absent = [c for c in need if c not in frame.columns]
        if absent:
            raise DataError(f"truthfulness: {name} table has no column(s) {', '.join(absent)}")
    orc = oracle.loc[:, [*keys, column]].copy()
    orc = orc[orc[column].notna() & ~orc[column].astype(str).isin(["", "None", "nan"])]
    left = reasons.copy()
    for key in keys:
        if pd.api.types.is_datetime64_any_dtype(orc[key]) or pd.api.types.is_datetime64_any_dtype(left[key]):
            orc[key] = pd.to_datetime(orc[key]).astype("datetime64[ns]")
            left[key] = pd.to_datetime(left[key]).astype("datetime64[ns]")
        else:
            orc[key] = orc[key].astype(str)
            left[key] = left[key].astype(str)
    joined = orc.merge(left, on=list(keys), how="inner")
    if len(joined) < len(orc):
        logger.info("truthfulness (%s): %d of %d oracle clients with a driver have reasons",
                    task, len(joined), len(orc))
    hits = truthful_hits(reason_families(joined, task, k), joined[column].astype(str).tolist(), drivers.families(task))
    by_driver = {}
    for driver, part in pd.Series(hits).groupby(joined[column].astype(str).to_numpy()):
        by_driver[str(driver)] = {"clients": int(part.notna().sum()), "share": float(part.mean())}
    valid = ~np.isnan(hits)
    return {"task": task, "clients": int(valid.sum()),
            "share": float(hits[valid].mean()) if valid.any() else float("nan"), "by_driver": by_driver}
