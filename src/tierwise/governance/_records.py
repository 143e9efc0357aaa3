"""What training and promotion record for the governance pack.

- **training** (`write_training_record`, called from `training._write_artifacts`) logs the
  scored validation and test rows (ids, month, split, label, score and the carried protected
  attributes, never model inputs) and the data window, so that fairness and stability can be
  recomputed for any version later without the raw data;
- **promotion** (`record_review`, called from `training.promote`) tags the reviewed model
  version: who reviewed it and when (`TIERWISE_APPROVER`, else the OS user; UTC time), the
  decision and the figures compared; only a promoted (or confirmed) version gets `approved_*`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tierwise import registry
from tierwise.features import PROTECTED_FEATURES

if TYPE_CHECKING:
    from tierwise.features import ModelFrame
    from tierwise.models import TrainResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Promotion:
    """One promotion decision (`training.promote`): both models' value of `metric` on the same
    `rows`, and whether the challenger became champion. Recorded as the review."""

    name: str
    metric: str
    challenger_version: str
    challenger_value: float
    champion_version: str | None
    champion_value: float | None
    promoted: bool
    rows: int
    difference: float | None = None       # challenger minus champion, on the same rows
    difference_low: float | None = None   # its paired-bootstrap interval
    difference_high: float | None = None
    confidence: float = 0.95
    resamples: int = 0
    first: bool = False                   # the model's only version: nothing to compare with

APPROVER_ENV = "TIERWISE_APPROVER"
SCORED_ROWS = "scored_rows.parquet"
TRAINING_RECORD = "training_record.json"
PROTECTED = PROTECTED_FEATURES  # the carried columns a fairness review looks at


def scored_rows(result: TrainResult, frame: ModelFrame) -> pd.DataFrame | None:
    """The rows a reviewer needs to recompute fairness and stability: for a split frame the
    `valid` and out-of-time `test` rows, for a flat table the out-of-fold rows; columns: the
    time column, `split`, `label`, `score`, and the protected attributes the frame carries. No
    client ids and no model inputs (the artifact is not a copy of client data). None when the
    scores do not line up with the frame's rows."""
    ids = [c for c in (frame.time_column,) if c and c in frame.data.columns]
    protected = [c for c in PROTECTED if c in frame.data.columns]
    if frame.split_column is None:
        parts = [("oof", frame.data, result.predictions["score"].to_numpy(float))]
    else:
        valid, test = frame.part("valid"), frame.part("test")
        parts = [("valid", valid, np.asarray(result.model.predict_score(valid), dtype=float)),
                 ("test", test, result.predictions["score"].to_numpy(float))]
    out = []
    for split, part, score in parts:
        if len(part) != len(score):
            logger.warning("%s: %d %s rows but %d scores; no scored rows for the governance pack",
                           frame.name, len(part), split, len(score))
            return None
        rows = part.loc[:, ids].reset_index(drop=True)
        rows["split"] = split
        rows["label"] = part[frame.target].to_numpy(dtype=float)
        rows["score"] = score
        for col in protected:
            values = part[col].reset_index(drop=True)
            rows[col] = values.astype("str").where(values.notna(), "unknown")
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def write_training_record(folder: Path, result: TrainResult, frame: ModelFrame) -> None:
    """`scored_rows.parquet` and `training_record.json` (data window, fingerprint, scope) in `folder`."""
    rows = scored_rows(result, frame)
    if rows is not None:
        rows.to_parquet(Path(folder) / SCORED_ROWS, index=False)
    record = {
        "data_window": dict(result.data_window), "fingerprint": result.fingerprint, "kind": frame.kind,
        "target": frame.target, "time_column": frame.time_column, "split_column": frame.split_column,
        "scope": ("out-of-time test set" if frame.split_column else f"{result.config.cv_folds}-fold cross-validation"),
        "protected": [c for c in PROTECTED if rows is not None and c in rows.columns],
    }
    (Path(folder) / TRAINING_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")


def approver() -> str:
    """`$TIERWISE_APPROVER`, else the operating-system user."""
    env = os.environ.get(APPROVER_ENV, "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def review_decision(outcome: Promotion) -> str:
    """'promoted' (champion moved), 'confirmed' (the challenger already is the champion, e.g. the
    first version, and was reviewed on the out-of-time data) or 'refused'."""
    if outcome.promoted:
        return "promoted"
    return "confirmed" if outcome.champion_version == outcome.challenger_version else "refused"


def promotion_message(outcome: Promotion) -> str:
    """The one-line verdict of a promotion, e.g. 'v1 is the first version: confirmed as champion'
    or 'kept champion v1: challenger v2 is not better beyond noise (difference -0.0011, 95%
    interval -0.0040 to +0.0019)'."""
    chal, champ = f"v{outcome.challenger_version}", f"v{outcome.champion_version}"
    if outcome.champion_version is None:
        return f"{chal} is the first version: promoted to champion"
    if outcome.champion_version == outcome.challenger_version:
        if outcome.first:
            return f"{chal} is the first version: confirmed as champion (nothing to compare with)"
        return f"{chal} is already champion: confirmed on the out-of-time rows"
    figures = ""
    if outcome.difference is not None:
        figures = (f" ({outcome.metric} difference {outcome.difference:+.4f}, {outcome.confidence:.0%} interval "
                   f"{_signed(outcome.difference_low)} to {_signed(outcome.difference_high)}, paired bootstrap of "
                   f"{outcome.resamples} resamples)")
    if outcome.promoted:
        return f"promoted {chal} to champion: better than {champ} beyond noise{figures}"
    return f"kept champion {champ}: challenger {chal} is not better beyond noise{figures}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.4f}"


def review_tags(outcome: Promotion, *, user: str, when: str, data_fingerprint: str = "") -> dict[str, str]:
    """The model-version tags of one review: `last_review_*` always, `approved_*` / `approval_*`
    only when the version is (or stays) champion. `data_fingerprint`: of the comparison data."""
    decision = review_decision(outcome)
    figures = {
        "metric": outcome.metric, "rows": str(outcome.rows), "data_fingerprint": data_fingerprint or "not recorded",
        "challenger_version": outcome.challenger_version, "challenger_value": f"{outcome.challenger_value:.6f}",
        "champion_version": outcome.champion_version or "none",
        "champion_value": "none" if outcome.champion_value is None else f"{outcome.champion_value:.6f}",
    }
    if outcome.difference is not None:
        figures.update({"difference": f"{outcome.difference:.6f}", "difference_low": _tag(outcome.difference_low),
                        "difference_high": _tag(outcome.difference_high),
                        "confidence": f"{outcome.confidence:.0%}",
                        "test": f"paired bootstrap, {outcome.resamples} resamples"})
    tags = {"last_review_by": user, "last_review_at": when, "last_review_decision": decision,
            **{f"last_review_{k}": v for k, v in figures.items()}}
    if decision != "refused":
        tags.update({"approved_by": user, "approved_at": when, "approval_decision": decision,
                     **{f"approval_{k}": v for k, v in figures.items()}})
    return tags


def _tag(value: float | None) -> str:
    return "none" if value is None or not np.isfinite(value) else f"{value:.6f}"


def record_review(client: Any, outcome: Promotion, *, data: pd.DataFrame | None = None, user: str | None = None,
                  when: str | None = None) -> dict[str, str]:
    """Tag the challenger version with the review (see `review_tags`); returns the tags. `data`:
    the rows both models were scored on (its fingerprint is recorded)."""
    from tierwise.models import frame_fingerprint

    fingerprint = frame_fingerprint(data) if data is not None else ""
    tags = review_tags(outcome, user=user or approver(), when=when or utc_now(), data_fingerprint=fingerprint)
    registry.set_version_tags(client, outcome.name, outcome.challenger_version, tags)
    logger.info("%s v%s: review by %s recorded (%s)", outcome.name, outcome.challenger_version,
                tags["last_review_by"], tags["last_review_decision"])
    return tags
