from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.models import (
    binary_metrics,
    expected_calibration_error,
    oracle_ratio,
    primary_score,
    regression_metrics,
)


def test_perfect_ranking_gives_auc_one_and_full_ks():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    m = binary_metrics(y, p)
    assert m["roc_auc"] == 1.0
    assert m["ks"] == 1.0
    assert m["gini"] == 1.0


def test_top_decile_capture_and_lift():
    rng = np.random.default_rng(0)
    y = np.zeros(1000)
    y[:50] = 1
    p = rng.uniform(0, 0.5, 1000)
    p[:50] += 0.5  # every positive ranks in the top decile
    m = binary_metrics(y, p)
    assert m["capture_top_decile"] == pytest.approx(1.0)
    assert m["lift_top_decile"] == pytest.approx(10.0)


def test_ece_of_calibrated_scores_is_small_and_of_shifted_scores_is_large():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 50_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(float)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=200))
def test_ece_is_between_zero_and_one(rows):
    y = np.array([float(a) for a, _ in rows])
    p = np.array([b for _, b in rows])
    assert 0.0 <= expected_calibration_error(y, p) <= 1.0


def test_regression_metrics_rank_perfectly_on_a_monotone_prediction():
    y = np.arange(100, dtype=float)
    m = regression_metrics(y, np.log1p(y))
    assert m["spearman"] == pytest.approx(1.0)
    assert m["capture_top_decile"] == 1.0
    assert m["neg_rmse"] == -m["rmse"]


def test_oracle_ratio():
    assert oracle_ratio(0.8, 0.9) == pytest.approx(0.75)
    assert np.isnan(oracle_ratio(0.8, 0.5))


def test_primary_score_rejects_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        primary_score("accuracy", np.array([0, 1]), np.array([0.1, 0.9]))
