"""Probability calibration on held-out data, and PD rating grades with a test per grade."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class Calibrator:
    """Maps raw scores (probabilities) to calibrated probabilities.

    `method`: "isotonic", "platt" or "none"; `fit` stores `method_` (the one actually used).
    "isotonic" keeps resolution: the isotonic (PAV) fit's steps become nodes (a step's mean
    logit score, the logit of its default rate with a Jeffreys half-count, so no step says 0),
    joined by straight lines in logit space and extended beyond the end nodes with the slope of
    a Platt fit. A step function would give every client of a step the same PD (thousands of
    borrowers at one value); the curve keeps the steps' calibration and orders their clients.
    `floor`: the lowest probability given out (e.g. a regulatory PD floor); the calibrated scale
    is mapped affinely onto [floor, 1 - floor], so the ranking (and the AUC) never changes."""

    def __init__(self, method: str = "auto", *, min_isotonic_rows: int = 1000,
                 min_isotonic_positives: int = 50, floor: float = 0.0) -> None:
        self.method = method
        self.min_isotonic_rows = min_isotonic_rows
        self.min_isotonic_positives = min_isotonic_positives
        self.floor = floor

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        p = np.asarray(p, dtype=float)
        y = np.asarray(y, dtype=float)
        method = self.method
        if method == "auto":
            positives = min(y.sum(), len(y) - y.sum())
            enough = len(y) >= self.min_isotonic_rows and positives >= self.min_isotonic_positives
            method = "isotonic" if enough else "platt"
        self.method_ = method
        self.n_fit_ = len(y)
        if method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
            self.nodes_ = _isotonic_nodes(self.model_, p, y)
            slope = float(LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y).coef_[0, 0])
            self.end_slope_ = max(slope, 0.0)
        elif method == "platt":
            self.model_ = LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y)
        elif method == "none":
            self.model_ = None
        else:
            raise ValueError(f"unknown calibration method {method}")
        logger.info("calibration: %s on %d held-out rows", method, len(y))
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        out = self._calibrated(np.asarray(p, dtype=float))
        floor = getattr(self, "floor", 0.0)  # models pickled before the floor existed have none
        return floor + (1 - 2 * floor) * out if floor > 0 else out

    def _calibrated(self, p: np.ndarray) -> np.ndarray:
        if self.method_ == "isotonic" and hasattr(self, "nodes_"):
            node_x, node_z = self.nodes_
            x = _logit(p)
            z = np.interp(x, node_x, node_z)
            slope = self.end_slope_
            z = np.where(x < node_x[0], node_z[0] + slope * (x - node_x[0]), z)
            z = np.where(x > node_x[-1], node_z[-1] + slope * (x - node_x[-1]), z)
            # flat stretches (two steps with the same smoothed rate) are ordered by the raw score
            # (a shift of at most 1e-6), so calibration never changes the ranking, hence the AUC
            out = expit(z) * (1 - 4e-6) + 2e-6 + 1e-6 * (np.clip(p, 0, 1) - 0.5)
            return np.clip(out, _EPS, 1 - _EPS)
        if self.method_ == "isotonic":  # a model pickled before the nodes existed: the steps
            # isotonic regression is a step function: break its ties by the raw score (a shift
            # of at most 1e-6) so that calibration never changes the ranking, hence the AUC
            iso = self.model_.predict(p) * (1 - 4e-6) + 2e-6  # inside [2e-6, 1 - 2e-6]
            return iso + 1e-6 * (np.clip(p, 0, 1) - 0.5)
        elif self.method_ == "platt":
            out = platt_probability(self.model_, _logit(p))
        else:
            out = p
        # keep probabilities strictly inside (0, 1): a PD of exactly 0 is not credible
        return np.clip(out, _EPS, 1 - _EPS)


def platt_probability(model: LogisticRegression, x: np.ndarray) -> np.ndarray:
    """`model.predict_proba(x[:, None])[:, 1]` of a fitted one-feature binary logistic regression,
    by the same arithmetic (`expit(x @ coef.T + intercept)`, sklearn's `_predict_proba_lr`)
    without its per-call input validation, which costs a served client more than the rest of
    the calibration (about 0.2 ms per model)."""
    if model.coef_.shape != (1, 1) or len(model.classes_) != 2:
        return model.predict_proba(x.reshape(-1, 1))[:, 1]
    scores = np.asarray(x, dtype=np.float64).reshape(-1, 1) @ model.coef_.T + model.intercept_
    return expit(scores.reshape(-1))


def _isotonic_nodes(iso: IsotonicRegression, p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean logit score, logit of the Jeffreys-smoothed default rate) of each isotonic step,
    lowest first; the rates made non-decreasing again after smoothing."""
    order = np.argsort(p, kind="stable")
    fitted, x, ys = iso.predict(p)[order], _logit(p)[order], y[order]
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    counts = np.diff(np.r_[starts, len(fitted)]).astype(float)
    node_x = np.add.reduceat(x, starts) / counts
    rate = np.maximum.accumulate((np.add.reduceat(ys, starts) + 0.5) / (counts + 1.0))
    node_z = _logit(rate)
    keep = np.r_[True, np.diff(node_x) > 0]  # steps whose scores all clip to one logit merge
    return node_x[keep], node_z[keep]


def assign_grades(pd_values: np.ndarray, bounds: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """Grade of each PD: the first grade whose `max_pd` is >= the PD."""
    idx = np.searchsorted(np.asarray(bounds, dtype=float), np.asarray(pd_values, dtype=float), side="left")
    idx = np.minimum(idx, len(names) - 1)
    return np.asarray(names, dtype=object)[idx]


def _grade_groups(grades: np.ndarray, names: Sequence[str]) -> list[list[int]]:
    """Grade positions grouped so that each group holds clients: an empty grade joins the next
    populated grade up, empty grades at the top join the highest populated one; one group per
    grade when none holds clients."""
    held = [bool((grades == name).any()) for name in names]
    if not any(held):
        return [[i] for i in range(len(names))]
    groups: list[list[int]] = []
    pending: list[int] = []
    for i, filled in enumerate(held):
        pending.append(i)
        if filled:
            groups.append(pending)
            pending = []
    groups[-1].extend(pending)
    return groups


def grade_table(y: np.ndarray, pd_values: np.ndarray, bounds: Sequence[float], names: Sequence[str],
                *, alpha: float = 0.05, merge_empty: bool = True) -> pd.DataFrame:
    """Per grade: clients, defaults, mean PD, observed rate, Jeffreys interval and test, binomial test.

    Jeffreys test (as in the ECB's PD back-testing): with the Beta(d + 1/2, n - d + 1/2) posterior
    of the default rate, p-value = P(rate <= mean PD); a small p-value means the grade's PD is
    too low. The two-sided exact binomial test is reported beside it.

    `merge_empty`: a grade no client falls in is merged with its neighbour (the next grade up,
    or the highest populated one), the row named after both ("R1-R2"), so that every row of
    the table holds clients and is tested; False keeps the empty rows.
    """
    y = np.asarray(y, dtype=float)
    pd_values = np.asarray(pd_values, dtype=float)
    grades = assign_grades(pd_values, bounds, names)
    groups = _grade_groups(grades, names) if merge_empty else [[i] for i in range(len(names))]
    rows = []
    for group in groups:
        first, last = group[0], group[-1]
        name = names[first] if first == last else f"{names[first]}-{names[last]}"
        mask = np.isin(grades, [names[i] for i in group])
        n = int(mask.sum())
        d = int(y[mask].sum())
        row = {"grade": name, "pd_from": float(bounds[first - 1]) if first else 0.0,
               "pd_to": float(bounds[last]), "n": n, "defaults": d}
        if n == 0:
            row.update(mean_pd=np.nan, observed_rate=np.nan, jeffreys_low=np.nan, jeffreys_high=np.nan,
                       jeffreys_p=np.nan, binomial_p=np.nan, passed=True)
        else:
            mean_pd = float(pd_values[mask].mean())
            post = stats.beta(d + 0.5, n - d + 0.5)
            jeffreys_p = float(post.cdf(mean_pd))
            binomial_p = float(stats.binomtest(d, n, mean_pd).pvalue)
            row.update(mean_pd=mean_pd, observed_rate=d / n, jeffreys_low=float(post.ppf(alpha / 2)),
                       jeffreys_high=float(post.ppf(1 - alpha / 2)), jeffreys_p=jeffreys_p,
                       binomial_p=binomial_p, passed=bool(jeffreys_p >= alpha))
        rows.append(row)
    return pd.DataFrame(rows)
