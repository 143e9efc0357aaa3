"""The leakage screen: single columns that predict the label too well to be honest.

A feature that, on its own, separates the label almost perfectly is nearly always a leak (a
copy of the outcome, a field filled in after the event, a status code that encodes it). The
screen scores every column against the label alone and flags:

- binary label: the column's ROC AUC, taken as max(AUC, 1 - AUC) so that a reversed copy is
  caught as well. Numeric columns are ranked (ties averaged); missing values count as one
  value of their own, placed below and above all others in turn, and the larger AUC is kept
  (a leak hiding in *which* rows are missing is caught too). Low-cardinality numeric columns
  and every non-numeric column are also scored by their out-of-fold target rate (5 folds,
  seeded): a category's rate is learned on the other folds only, so an identifier column,
  whose every value is unseen out of fold, scores 0.5 instead of a spurious 1.0.
- regression target: |Spearman rho| between column and target on the rows where both are
  present, expressed on the AUC scale as (1 + |rho|) / 2 (the rank-biserial identity
  AUC = (1 + r) / 2), so the one threshold `max_auc` serves both: 0.98 means |rho| > 0.96.
- any column whose name matches one of `name_patterns` (regular expressions, searched).

Suspects are dropped unless listed in `keep` (they are still reported). Each suspect is
logged as a warning with its name and score.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tierwise.features._errors import DataError

logger = logging.getLogger(__name__)

_OOF_FOLDS = 5
_OOF_SEED = 0
_OOF_MAX_UNIQUE_NUMERIC = 1000  # numeric columns with more distinct values: rank AUC only
_SMOOTHING = 1.0  # pseudo-count pulling each out-of-fold rate toward the overall rate


@dataclass(frozen=True)
class LeakSuspect:
    """A probable leak: the column, its score on the AUC scale and why it was flagged."""

    column: str
    auc: float
    reason: str


@dataclass(frozen=True)
class LeakReport:
    """What the screen found. `scores` holds every column's score (AUC scale)."""

    suspects: tuple[LeakSuspect, ...]
    dropped: tuple[str, ...]
    kept: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    max_auc: float = 0.98
    kind: str = "binary"

    def table(self) -> pd.DataFrame:
        """One row per suspect: column, AUC, reason, action."""
        rows = [
            {
                "column": s.column,
                "auc": round(s.auc, 4),
                "reason": s.reason,
                "action": "kept (config)" if s.column in self.kept else "dropped",
            }
            for s in self.suspects
        ]
        return pd.DataFrame(rows, columns=["column", "auc", "reason", "action"])

    def __str__(self) -> str:
        scale = "AUC" if self.kind == "binary" else "AUC-equivalent (1+|Spearman|)/2"
        head = (
            f"leakage screen: {len(self.scores)} columns, {scale} threshold {self.max_auc}: "
            f"{len(self.suspects)} suspect(s), {len(self.dropped)} dropped"
        )
        if not self.suspects:
            return head
        return head + "\n" + self.table().to_string(index=False)


def screen_leaks(
    X: pd.DataFrame,  # noqa: N803 - scikit-learn's name
    y: pd.Series,
    *,
    max_auc: float = 0.98,
    name_patterns: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> LeakReport:
    """Score every column of `X` against `y` alone; flag and drop the probable leaks.

    `y` is binary (exactly two distinct values; the larger is the positive class) or numeric
    (regression). Rows with a missing `y` are ignored.
    """
    if not 0.5 < max_auc <= 1.0:
        raise ValueError(f"max_auc must be in (0.5, 1], got {max_auc}")
    if len(X) != len(y):
        raise DataError(f"leakage screen: X has {len(X)} rows but the label has {len(y)}")
    patterns = [re.compile(p) for p in name_patterns]
    present = y.notna().to_numpy()
    X = X.loc[present]
    y_values = y.to_numpy()[present]
    kind, target = _label(y_values)

    folds = _fold_of_rows(len(y_values))
    scores: dict[str, float] = {}
    suspects: list[LeakSuspect] = []
    for column in X.columns:
        name = str(column)
        series = X[column]
        if kind == "binary":
            score = _binary_score(series, target, folds)
        else:
            score = _regression_score(series, target, folds)
        scores[name] = score
        reasons = []
        if score > max_auc:
            reasons.append(
                f"{'AUC' if kind == 'binary' else 'AUC-equivalent'} {score:.4f} > {max_auc} on its own"
            )
        matched = [p.pattern for p in patterns if p.search(name)]
        if matched:
            reasons.append(f"name matches pattern {matched[0]!r}")
        if reasons:
            suspects.append(LeakSuspect(name, score, "; ".join(reasons)))

    keep_set = {str(k) for k in keep}
    dropped = tuple(s.column for s in suspects if s.column not in keep_set)
    kept = tuple(s.column for s in suspects if s.column in keep_set)
    for s in suspects:
        action = "kept by config" if s.column in keep_set else "excluded"
        logger.warning("probable leak: column %r, AUC %.4f (%s): %s", s.column, s.auc, s.reason, action)
    return LeakReport(tuple(suspects), dropped, kept, scores, max_auc, kind)


def _label(values: np.ndarray) -> tuple[str, np.ndarray]:
    """('binary', 0/1 array) for two distinct values, else ('regression', float array)."""
    uniques = pd.unique(values)
    if len(uniques) < 2:
        raise DataError(f"leakage screen: the label has {len(uniques)} distinct value(s); need at least 2")
    if len(uniques) == 2:
        positive = max(uniques)
        return "binary", (values == positive).astype(np.int8)
    if not pd.api.types.is_numeric_dtype(pd.Series(values)):
        raise DataError(
            f"leakage screen: the label has {len(uniques)} distinct non-numeric values; "
            "expected two (binary) or numbers (regression)"
        )
    return "regression", values.astype(np.float64)


def _numeric_values(series: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        values[series.isna().to_numpy()] = np.nan
        return values
    return None


def _u_statistic(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney U of groups already sorted by score: positives above negatives, ties 1/2."""
    neg_below = np.cumsum(neg) - neg
    return float(np.sum(pos * (neg_below + 0.5 * neg)))


def _binary_score(series: pd.Series, target: np.ndarray, folds: np.ndarray) -> float:
    values = _numeric_values(series)
    if values is None:
        codes, n_codes = _oof_codes(series)
        return _oof_target_rate_auc(codes, n_codes, target, folds)
    missing = np.isnan(values)
    binned = _small_integer_codes(values, missing)
    if binned is not None:  # counting, no sort: value order is code order, missing first
        codes, n_codes = binned
        pos = np.bincount(codes, weights=target, minlength=n_codes)
        neg = np.bincount(codes, minlength=n_codes) - pos
        best = _missing_both_ends(_u_statistic(pos, neg), missing, target)
        if int(np.count_nonzero(pos + neg)) <= _OOF_MAX_UNIQUE_NUMERIC:
            best = max(best, _oof_target_rate_auc(codes, n_codes, target, folds))
        return best
    u_bottom, distinct_at_most = _u_missing_lowest(values, missing, target)
    best = _missing_both_ends(u_bottom, missing, target)
    if distinct_at_most <= _OOF_MAX_UNIQUE_NUMERIC:
        codes, n_codes = _oof_codes(series)
        best = max(best, _oof_target_rate_auc(codes, n_codes, target, folds))
    return best


_MAX_CODE_RANGE = 100_000


def _small_integer_codes(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Integer values spanning a small range as codes 1.. in value order (0 = missing)."""
    present = values[~missing]
    if present.size == 0:
        return np.zeros(len(values), dtype=np.int64), 1
    lo, hi = present.min(), present.max()
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo >= _MAX_CODE_RANGE:
        return None
    if not np.array_equal(present, np.floor(present)):
        return None
    codes = np.zeros(len(values), dtype=np.int64)
    codes[~missing] = (present - lo).astype(np.int64) + 1
    return codes, int(hi - lo) + 2


def _u_missing_lowest(
    values: np.ndarray, missing: np.ndarray, target: np.ndarray
) -> tuple[float, int]:
    """U with missing values ranked below all others (sort each class, count by binary search),
    and an upper bound of the number of distinct values."""
    is_pos = target == 1
    positives = np.sort(values[~missing & is_pos])
    negatives = np.sort(values[~missing & ~is_pos])
    below = np.searchsorted(negatives, positives, side="left")
    up_to = np.searchsorted(negatives, positives, side="right")
    u_present = float(below.sum()) + 0.5 * float((up_to - below).sum())
    pos_missing = int((missing & is_pos).sum())
    neg_missing = int((missing & ~is_pos).sum())
    u = u_present + positives.size * neg_missing + 0.5 * pos_missing * neg_missing
    distinct = _n_distinct_sorted(positives) + _n_distinct_sorted(negatives) + 1
    return u, distinct


def _n_distinct_sorted(values: np.ndarray) -> int:
    return int(np.count_nonzero(values[1:] != values[:-1])) + 1 if values.size else 0


def _missing_both_ends(u_bottom: float, missing: np.ndarray, target: np.ndarray) -> float:
    """max(AUC, 1-AUC) with the missing values as one value, below and then above the rest.

    `u_bottom` is the U statistic with missing ranked lowest; moving the missing block to the
    top flips the (missing, present) pairs across classes.
    """
    n_pos = int(target.sum())
    n_neg = len(target) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    pos_missing = int((missing & (target == 1)).sum())
    neg_missing = int(missing.sum()) - pos_missing
    u_top = u_bottom + pos_missing * (n_neg - neg_missing) - (n_pos - pos_missing) * neg_missing
    aucs = np.array([u_bottom, u_top]) / (n_pos * n_neg)
    return float(np.max(np.maximum(aucs, 1.0 - aucs)))


def _oof_codes(series: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _fold_of_rows(n: int) -> np.ndarray:
    rng = np.random.default_rng(_OOF_SEED)
    return rng.permutation(n) % _OOF_FOLDS


def _oof_cells(
    codes: np.ndarray, n_codes: int, target: np.ndarray, folds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (fold, category) cell: its category mean of `target` learned on the other folds
    (smoothed toward the overall mean), and the cell's row count and target sum."""
    flat = folds * n_codes + codes
    size = _OOF_FOLDS * n_codes
    sums = np.bincount(flat, weights=target, minlength=size).reshape(_OOF_FOLDS, n_codes)
    counts = np.bincount(flat, minlength=size).reshape(_OOF_FOLDS, n_codes).astype(np.float64)
    other_sums = sums.sum(axis=0) - sums
    other_counts = counts.sum(axis=0) - counts
    prior = float(target.mean())
    rates = (other_sums + _SMOOTHING * prior) / (other_counts + _SMOOTHING)
    return rates.ravel(), counts.ravel(), sums.ravel()


def _oof_means(codes: np.ndarray, n_codes: int, target: np.ndarray, folds: np.ndarray) -> np.ndarray:
    rates, _, _ = _oof_cells(codes, n_codes, target, folds)
    return rates[folds * n_codes + codes]


def _oof_target_rate_auc(codes: np.ndarray, n_codes: int, target: np.ndarray, folds: np.ndarray) -> float:
    """max(AUC, 1-AUC) of the out-of-fold target rate, computed per cell (no row sort)."""
    if n_codes < 2:
        return 0.5
    n_pos = float(target.sum())
    n_neg = len(target) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    rates, counts, sums = _oof_cells(codes, n_codes, target.astype(np.float64), folds)
    values, inverse = np.unique(rates, return_inverse=True)
    pos = np.bincount(inverse, weights=sums, minlength=len(values))
    neg = np.bincount(inverse, weights=counts, minlength=len(values)) - pos
    auc = _u_statistic(pos, neg) / (n_pos * n_neg)
    return max(auc, 1.0 - auc)


def _spearman_as_auc(x: np.ndarray, y: np.ndarray) -> float:
    both = ~(np.isnan(x) | np.isnan(y))
    if both.sum() < 3:
        return 0.5
    rx = rankdata(x[both])
    ry = rankdata(y[both])
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return 0.5
    rho = float(np.mean((rx - rx.mean()) * (ry - ry.mean())) / (sx * sy))
    return (1.0 + abs(rho)) / 2.0


def _regression_score(series: pd.Series, target: np.ndarray, folds: np.ndarray) -> float:
    values = _numeric_values(series)
    best = 0.5
    if values is not None:
        best = max(best, _spearman_as_auc(values, target))
        if series.nunique(dropna=False) <= _OOF_MAX_UNIQUE_NUMERIC:
            codes, n_codes = _oof_codes(series)
            if n_codes >= 2:
                best = max(best, _spearman_as_auc(_oof_means(codes, n_codes, target, folds), target))
    else:
        codes, n_codes = _oof_codes(series)
        if n_codes >= 2:
            best = max(best, _spearman_as_auc(_oof_means(codes, n_codes, target, folds), target))
    return best
