"""Fairness across gender and age bands: breaches are reported, small groups set aside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.features import AGE_BANDS, age_band
from tierwise.reports import (
    FairnessConfig,
    age_groups,
    compare_groups,
    fairness_report,
    ratio_interval,
    support_note,
    wilson_interval,
)

MONTH = pd.Timestamp("2024-03-01")


def test_age_groups_are_the_features_age_bands():
    birth_year = pd.Series([2001, 1990, 1980, 1970, 1960, 1950, None], dtype="Int64")
    groups = age_groups(birth_year, MONTH)
    assert list(groups) == ["<25", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"]
    assert list(groups[:-1]) == list(age_band(birth_year, MONTH)[:-1]) == [b[2] for b in AGE_BANDS]


def _population(rate_f: float, rate_m: float, n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n clients per gender; the first rate*n of each group are top tier."""
    rows, clients = [], []
    for gender, rate in (("F", rate_f), ("M", rate_m)):
        for i in range(n):
            cid = f"{gender}{i:04d}"
            rows.append({"client_id": cid, "month": MONTH, "tier": "Premier" if i < rate * n else "General",
                         "p_churn": 0.5 if i < rate * n else 0.1, "p_default": np.nan, "flag_growth_lead": False})
            clients.append({"client_id": cid, "gender": gender, "birth_year": 1960 + i % 40})
    return pd.DataFrame(rows), pd.DataFrame(clients)


def test_age_bands_are_listed_in_age_order():
    groups = pd.Series(["65+", "unknown", "35-44", "<25", "45-54", "25-34", "55-64"] * 10)
    out = compare_groups(pd.Series([1.0, 0.0] * 35), groups, FairnessConfig(min_group_size=1))
    assert [g["group"] for g in out["groups"]] == [b[2] for b in AGE_BANDS]
    assert out["unknown"]["group"] == "unknown" and out["unknown"]["clients"] == 10  # reported apart


def test_a_biased_tier_assignment_is_reported_as_a_breach():
    recs, clients = _population(0.10, 0.30)
    report = fairness_report(recs, recs.iloc[0:0], clients, None, FairnessConfig())
    row = next(c for c in report["comparisons"] if c["decision"] == "top_tier" and c["attribute"] == "gender")
    assert row["selection_rate_ratio"] == pytest.approx(0.10 / 0.30)
    breaches = [b for b in report["breaches"] if b["segment"] == "top_tier" and b["dimension"] == "gender"]
    assert len(breaches) == 1 and "below the limit 0.8" in breaches[0]["message"]


def test_equal_rates_give_no_breach():
    recs, clients = _population(0.2, 0.2)
    report = fairness_report(recs, recs.iloc[0:0], clients, None, FairnessConfig())
    gender = [c for c in report["comparisons"] if c["attribute"] == "gender"]
    assert all(c["selection_rate_ratio"] in (None, pytest.approx(1.0)) for c in gender)
    assert not [b for b in report["breaches"] if b["dimension"] == "gender"]


def test_tpr_difference_on_matured_labels():
    cfg = FairnessConfig(min_group_size=10, min_positives=5, max_tpr_difference=0.1)
    groups = pd.Series(["F"] * 40 + ["M"] * 40)
    labels = pd.Series([1] * 20 + [0] * 20 + [1] * 20 + [0] * 20)
    # F: 18 of 20 positives caught (0.9); M: 10 of 20 (0.5)
    decision = pd.Series([1] * 18 + [0] * 22 + [1] * 10 + [0] * 30, dtype="float64")
    out = compare_groups(decision, groups, cfg, labels=labels)
    assert out["tpr_difference"] == pytest.approx(0.4)
    tprs = {g["group"]: g["tpr"] for g in out["groups"]}
    assert tprs == {"F": pytest.approx(0.9), "M": pytest.approx(0.5)}


def test_small_groups_are_listed_not_compared():
    cfg = FairnessConfig(min_group_size=30)
    groups = pd.Series(["F"] * 100 + ["M"] * 100 + ["X"] * 3)
    decision = pd.Series([1.0] * 20 + [0.0] * 80 + [1.0] * 20 + [0.0] * 80 + [0.0] * 3)
    out = compare_groups(decision, groups, cfg)
    assert [g["group"] for g in out["groups"]] == ["F", "M", "X"]
    assert out["selection_rate_ratio"] == pytest.approx(1.0)
    assert out["excluded"] == ["X (3 clients < 30)"]


def test_missing_clients_table_is_said_not_hidden():
    recs, _ = _population(0.1, 0.1, n=10)
    report = fairness_report(recs, recs, None, None, FairnessConfig())
    assert report["comparisons"] == []
    assert report["breaches"][0]["level"] == "warn"
    assert "could not be computed" in report["note"]


def _groups(rates: dict[str, tuple[int, int]]) -> tuple[pd.Series, pd.Series]:
    """decision and group series: group -> (selected, clients)."""
    decision, groups = [], []
    for group, (selected, n) in rates.items():
        decision += [1.0] * selected + [0.0] * (n - selected)
        groups += [group] * n
    return pd.Series(decision), pd.Series(groups)


def test_unknown_group_is_reported_apart_and_kept_out_of_the_ratio():
    # the demo's symptom: F against M alone is 0.85; the 'unknown' group alone drags the ratio to 0.5
    decision, groups = _groups({"F": (85, 1000), "M": (100, 1000), "unknown": (50, 1000)})
    out = compare_groups(decision, groups, FairnessConfig())
    assert [g["group"] for g in out["groups"]] == ["F", "M"]
    assert out["unknown"]["clients"] == 1000 and out["unknown"]["selection_rate"] == pytest.approx(0.05)
    assert out["selection_rate_ratio"] == pytest.approx(0.85) and out["ratio_groups"] == ["F", "M"]
    assert not out["ratio_alerts"]
    assert any(e.startswith("unknown (1000 clients)") for e in out["excluded"])


def test_unknown_gender_never_makes_a_breach_in_the_report():
    recs, clients = _population(0.27, 0.30)
    extra = recs.iloc[:200].assign(client_id=[f"U{i:04d}" for i in range(200)], tier="General")
    recs = pd.concat([recs, extra], ignore_index=True)
    clients = pd.concat([clients, pd.DataFrame({"client_id": extra["client_id"], "gender": None,
                                                "birth_year": 1970})], ignore_index=True)
    report = fairness_report(recs, recs.iloc[0:0], clients, None, FairnessConfig())
    row = next(c for c in report["comparisons"] if c["decision"] == "top_tier" and c["attribute"] == "gender")
    assert row["unknown"]["clients"] == 200 and row["unknown"]["selection_rate"] == 0.0
    assert row["selection_rate_ratio"] == pytest.approx(0.9)
    assert not [b for b in report["breaches"] if b["dimension"] == "gender"]


def test_a_ratio_on_too_few_events_is_shown_but_never_alerts():
    # growth leads at 0.1-0.3%: 1 against 3 selected of 1000 each is a ratio of 0.33 and pure noise
    decision, groups = _groups({"F": (1, 1000), "M": (3, 1000)})
    cfg = FairnessConfig(min_group_size=30, min_events=5)
    out = compare_groups(decision, groups, cfg)
    assert out["selection_rate_ratio"] == pytest.approx(1 / 3)
    assert not out["ratio_supported"] and not out["ratio_alerts"]
    low, high = out["selection_rate_ratio_ci"]
    assert low < 1 / 3 < high and high > 1  # the interval says it: cannot tell from equal rates
    # the same ratio on enough events alerts
    decision, groups = _groups({"F": (10, 1000), "M": (30, 1000)})
    out = compare_groups(decision, groups, cfg)
    assert out["ratio_supported"] and out["ratio_alerts"]
    assert out["selection_rate_ratio_ci"][1] < 0.8


def test_report_breach_names_the_groups_and_the_interval():
    recs, clients = _population(0.10, 0.30)
    report = fairness_report(recs, recs.iloc[0:0], clients, None, FairnessConfig())
    breach = next(b for b in report["breaches"] if b["segment"] == "top_tier" and b["dimension"] == "gender")
    assert "(F against M)" in breach["message"] and "interval [" in breach["message"]
    low, high = breach["ci"]
    assert low < breach["value"] < high
    few = fairness_report(recs, recs.iloc[0:0], clients, None, FairnessConfig(min_events=200))
    assert not [b for b in few["breaches"] if b["dimension"] == "gender"]
    row = next(c for c in few["comparisons"] if c["decision"] == "top_tier" and c["attribute"] == "gender")
    assert "not an alert" in row["note"]


def test_wilson_interval_known_values():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (None, None)
    narrow = wilson_interval(500, 1000)
    assert narrow[1] - narrow[0] < 0.07  # more clients, a tighter interval


def test_ratio_interval_on_the_log_scale():
    low, high = ratio_interval((20, 100), (40, 100))  # ratio 0.5, se sqrt(0.055)
    assert (low, high) == pytest.approx((0.5 * np.exp(-1.959964 * np.sqrt(0.055)),
                                         0.5 * np.exp(1.959964 * np.sqrt(0.055))), rel=1e-4)
    zero = ratio_interval((0, 100), (10, 100))
    assert zero[0] == 0.0 and 0 < zero[1] < 1  # a ratio of 0: from 0, finite above


def test_tpr_difference_has_an_interval():
    cfg = FairnessConfig(min_group_size=10, min_positives=5)
    groups = pd.Series(["F"] * 40 + ["M"] * 40)
    labels = pd.Series([1] * 20 + [0] * 20 + [1] * 20 + [0] * 20)
    decision = pd.Series([1] * 18 + [0] * 22 + [1] * 10 + [0] * 30, dtype="float64")
    out = compare_groups(decision, groups, cfg, labels=labels)
    low, high = out["tpr_difference_ci"]
    assert low < 0.4 < high and low > 0  # 0.9 against 0.5 on 20 positives each: beyond noise
    assert out["tpr_alerts"]


def test_a_ratio_within_noise_does_not_alert_unless_configured():
    # 0.75 on 40 against 30 selected of 200: below the four-fifths limit, but the interval reaches 1
    decision, groups = _groups({"F": (30, 200), "M": (40, 200)})
    out = compare_groups(decision, groups, FairnessConfig())
    assert out["selection_rate_ratio"] == pytest.approx(0.75) and out["ratio_supported"]
    assert out["selection_rate_ratio_ci"][1] > 1 and not out["ratio_significant"] and not out["ratio_alerts"]
    assert "reaches 1" in support_note(out, FairnessConfig())
    assert compare_groups(decision, groups, FairnessConfig(require_significance=False))["ratio_alerts"]
