from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from tierwise.models import Calibrator, assign_grades, expected_calibration_error, grade_table


def _miscalibrated(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.01, 0.6, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    return truth ** 2, y, rng  # scores far too low


def test_auto_picks_isotonic_with_enough_data_and_platt_otherwise():
    raw, y, _ = _miscalibrated(5000)
    assert Calibrator("auto", min_isotonic_rows=1000).fit(raw, y).method_ == "isotonic"
    assert Calibrator("auto", min_isotonic_rows=1000).fit(raw[:300], y[:300]).method_ == "platt"


def test_calibration_reduces_ece_on_fresh_data():
    raw, y, _ = _miscalibrated(20_000)
    for method in ("isotonic", "platt"):
        cal = Calibrator(method).fit(raw[:10_000], y[:10_000])
        before = expected_calibration_error(y[10_000:], raw[10_000:])
        after = expected_calibration_error(y[10_000:], cal.transform(raw[10_000:]))
        assert after < before / 3, (method, before, after)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_calibration_never_changes_the_ranking(seed):
    raw, y, rng = _miscalibrated(2000, seed)
    fresh = rng.uniform(0, 1, 500)
    for method in ("isotonic", "platt"):
        out = Calibrator(method).fit(raw, y).transform(fresh)
        assert np.all((out > 0) & (out < 1))
        assert np.array_equal(rankdata(out), rankdata(fresh))


def test_grades_and_jeffreys_test_flag_an_underestimated_grade():
    rng = np.random.default_rng(3)
    pd_values = rng.uniform(0.0, 0.2, 20_000)
    truth = np.where(pd_values > 0.1, pd_values * 2, pd_values)  # the upper grade's PD is too low
    y = (rng.uniform(size=pd_values.size) < truth).astype(float)
    table = grade_table(y, pd_values, [0.1, 1.0], ["A", "B"])
    assert table["n"].sum() == len(y)
    assert table["defaults"].sum() == y.sum()
    assert bool(table.set_index("grade").loc["A", "passed"])
    assert not bool(table.set_index("grade").loc["B", "passed"])


def test_assign_grades_uses_upper_bounds():
    grades = assign_grades(np.array([0.0, 0.01, 0.010001, 0.5, 1.0]), [0.01, 0.1, 1.0], ["A", "B", "C"])
    assert list(grades) == ["A", "A", "B", "C", "C"]


def test_probability_floor_keeps_every_pd_above_it_and_the_ranking():
    raw, y, rng = _miscalibrated(5000, 3)
    fresh = np.concatenate([np.zeros(10), rng.uniform(0, 1, 500)])
    plain = Calibrator("isotonic").fit(raw, y)
    floored = Calibrator("isotonic", floor=0.0003).fit(raw, y)
    assert plain.transform(fresh).min() < 0.001  # the lowest scores get PDs near the floor
    out = floored.transform(fresh)
    assert out.min() >= 0.0003 and out.max() <= 1 - 0.0003
    assert np.array_equal(rankdata(out), rankdata(fresh))
    assert np.max(np.abs(out - plain.transform(fresh))) <= 0.0003 * 2  # a shift, not a recalibration


def _top_share(values: np.ndarray) -> float:
    """Share of rows on the most common value, as shown (to 0.01 percentage points)."""
    _, counts = np.unique(np.round(values * 1e4), return_counts=True)
    return counts.max() / len(values)


def test_isotonic_keeps_resolution_where_its_steps_would_not():
    raw, y, rng = _miscalibrated(20_000, 4)
    fresh = rng.uniform(0.01, 0.6, 20_000) ** 2
    cal = Calibrator("isotonic").fit(raw, y)
    assert _top_share(cal.model_.predict(fresh)) > 0.05  # the PAV steps alone pile clients up
    assert _top_share(cal.transform(fresh)) <= 0.05


def test_isotonic_curve_is_as_well_calibrated_as_its_steps_on_fresh_data():
    raw, y, _ = _miscalibrated(40_000, 5)
    cal = Calibrator("isotonic").fit(raw[:20_000], y[:20_000])
    y_new, raw_new = y[20_000:], raw[20_000:]
    curve, steps = cal.transform(raw_new), cal.model_.predict(raw_new)
    assert expected_calibration_error(y_new, curve) <= expected_calibration_error(y_new, steps) + 0.005
    brier = [float(np.mean((p - y_new) ** 2)) for p in (curve, steps)]
    assert brier[0] <= brier[1] * 1.005, brier


def test_grade_table_merges_empty_grades_into_their_neighbour():
    pd_values = np.array([0.004, 0.006, 0.03, 0.05, 0.2])  # nothing at or below 0.0025, nothing above 0.3
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    bounds, names = [0.0025, 0.005, 0.04, 0.3, 1.0], ["R1", "R2", "R3", "R4", "R5"]
    table = grade_table(y, pd_values, bounds, names)
    assert list(table["grade"]) == ["R1-R2", "R3", "R4-R5"]
    assert (table["n"] > 0).all() and table["n"].sum() == len(y)
    assert list(table["pd_from"]) == [0.0, 0.005, 0.04] and list(table["pd_to"]) == [0.005, 0.04, 1.0]
    kept = grade_table(y, pd_values, bounds, names, merge_empty=False)
    assert list(kept["grade"]) == names and int((kept["n"] == 0).sum()) == 2
