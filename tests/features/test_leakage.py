"""The leakage screen: single-column AUC against the label, name patterns, keep list."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from tierwise.features import DataError, LeakReport, screen_leaks
from tierwise.features._leakage import (
    _binary_score,
    _fold_of_rows,
    _missing_both_ends,
    _small_integer_codes,
    _u_missing_lowest,
    _u_statistic,
)


def _table(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.integers(0, 2, n), name="target")
    noise = rng.random(n) < 0.01
    X = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n) + 3 * y,  # honest signal
            "segment": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
            "account_status_flag": np.where(noise, 1 - y, y),  # the target with 1% noise
            "client_ref": pd.Series([f"C{i:06d}" for i in range(n)], dtype="str"),
        }
    )
    return X, y


def test_injected_copy_of_the_target_is_caught_by_name_and_auc(caplog):
    X, y = _table()
    with caplog.at_level(logging.WARNING, logger="tierwise.features._leakage"):
        report = screen_leaks(X, y)
    assert [s.column for s in report.suspects] == ["account_status_flag"]
    suspect = report.suspects[0]
    assert suspect.auc > 0.98
    assert report.dropped == ("account_status_flag",)
    assert "account_status_flag" in caplog.text
    assert f"{suspect.auc:.4f}" in caplog.text
    text = str(report)
    assert "account_status_flag" in text and f"{suspect.auc:.4f}" in text


def test_honest_columns_and_identifiers_are_not_flagged():
    X, y = _table()
    report = screen_leaks(X, y)
    # a unique id would score 1.0 by in-sample target encoding; out of fold it is ~0.5
    assert report.scores["client_ref"] < 0.6
    assert 0.55 < report.scores["income"] < 0.98
    assert report.scores["segment"] < 0.6


def test_reversed_and_categorical_copies_are_caught():
    X, y = _table()
    X = X.assign(
        reversed_flag=1 - y,
        status_text=pd.Series(np.where(y == 1, "closed", "open"), dtype="str"),
    )
    report = screen_leaks(X, y)
    flagged = {s.column for s in report.suspects}
    assert {"reversed_flag", "status_text", "account_status_flag"} <= flagged


def test_a_leak_hidden_in_missing_values_is_caught():
    rng = np.random.default_rng(1)
    n = 3000
    y = pd.Series(rng.integers(0, 2, n))
    # filled in only for the negatives (e.g. a field completed after a default was known)
    value = np.where(y == 1, np.nan, rng.normal(size=n))
    report = screen_leaks(pd.DataFrame({"closing_balance": value}), y)
    assert report.dropped == ("closing_balance",)
    assert report.suspects[0].auc > 0.98


def test_name_patterns_flag_and_keep_retains():
    X, y = _table()
    report = screen_leaks(
        X, y, name_patterns=[r"(?i)income"], keep=["account_status_flag", "income"]
    )
    flagged = {s.column: s for s in report.suspects}
    assert "name matches pattern" in flagged["income"].reason
    assert report.dropped == ()
    assert set(report.kept) == {"income", "account_status_flag"}
    assert "kept (config)" in str(report)


def test_regression_target_uses_spearman_on_the_auc_scale():
    rng = np.random.default_rng(2)
    n = 2000
    y = pd.Series(rng.lognormal(size=n))
    X = pd.DataFrame(
        {
            "future_value": np.log(y) + rng.normal(scale=0.01, size=n),  # monotone copy
            "honest": np.log(y) + rng.normal(scale=2.0, size=n),
        }
    )
    report = screen_leaks(X, y)
    assert report.kind == "regression"
    assert report.dropped == ("future_value",)
    assert report.scores["honest"] < 0.9


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(-5, 5) | st.floats(-3, 3) | st.none(), min_size=6, max_size=60),
    seed=st.integers(0, 10_000),
)
def test_numeric_score_is_the_best_of_auc_with_missing_at_either_end(values, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, len(values))
    if y.min() == y.max():
        y[0] = 1 - y[0]
    x = np.array([np.nan if v is None else float(v) for v in values])
    # reference: sklearn's AUC with the missing values sent below, then above everything
    expected = max(
        max(a, 1 - a)
        for a in (
            roc_auc_score(y, np.where(np.isnan(x), -1e9, x)),
            roc_auc_score(y, np.where(np.isnan(x), 1e9, x)),
        )
    )
    missing = np.isnan(x)
    target = y.astype(np.int8)
    # the sorting path (any numbers)
    u_bottom, _ = _u_missing_lowest(x, missing, target)
    assert _missing_both_ends(u_bottom, missing, target) == pytest.approx(expected)
    # the counting path (integers over a small range)
    binned = _small_integer_codes(x, missing)
    if binned is not None:
        codes, n_codes = binned
        pos = np.bincount(codes, weights=target, minlength=n_codes)
        neg = np.bincount(codes, minlength=n_codes) - pos
        assert _missing_both_ends(_u_statistic(pos, neg), missing, target) == pytest.approx(expected)
    # the full score may add the out-of-fold rate's evidence, never less
    assert _binary_score(pd.Series(x), target, _fold_of_rows(len(x))) >= expected - 1e-12


def test_rank_auc_matches_sklearn_on_continuous_data():
    rng = np.random.default_rng(3)
    n = 5000
    y = rng.integers(0, 2, n)
    x = rng.normal(size=n) + 0.5 * y
    report = screen_leaks(pd.DataFrame({"x": x}), pd.Series(y))
    assert report.scores["x"] == pytest.approx(roc_auc_score(y, x))


def test_rows_without_a_label_are_ignored():
    X, y = _table(500)
    y = y.astype("float")
    y.iloc[:50] = np.nan
    report = screen_leaks(X, y)
    assert isinstance(report, LeakReport)
    assert "account_status_flag" in report.dropped


def test_a_single_class_label_is_a_clear_error():
    X, _ = _table(100)
    with pytest.raises(DataError, match=r"leakage screen: the label has 1 distinct value"):
        screen_leaks(X, pd.Series(np.ones(100)))


def test_mismatched_lengths_are_a_clear_error():
    X, y = _table(100)
    with pytest.raises(DataError, match=r"X has 100 rows but the label has 99"):
        screen_leaks(X, y.iloc[:99])


def test_threshold_must_be_above_one_half():
    X, y = _table(100)
    with pytest.raises(ValueError, match=r"max_auc must be in \(0.5, 1\]"):
        screen_leaks(X, y, max_auc=0.4)
