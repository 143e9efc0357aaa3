"""Fairness across gender and age bands: breaches are reported, small groups set aside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tierwise.features import AGE_BANDS, age_band
from tierwise.reports import FairnessConfig, age_groups, compare_groups, fairness_report

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
    assert [g["group"] for g in out["groups"]] == [*(b[2] for b in AGE_BANDS), "unknown"]


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
