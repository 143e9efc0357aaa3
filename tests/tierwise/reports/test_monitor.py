"""Portfolio-monitor metrics: hand-computed small cases, invariants, and the injected shift."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reports_factory import make_bank

from tierwise.features import BALANCE_COLUMNS, DataError, FeatureConfig, build_labels
from tierwise.reports import (
    ConcentrationConfig,
    MonitorConfig,
    PsiConfig,
    build_monitor,
    check_recommendations,
    fund_flows,
    hhi,
    matured_labels,
    migration_matrix,
    monitor_metrics,
    pd_distribution,
    psi,
    psi_by_group,
    tier_counts,
    top_n_share,
)

MONTH, BASE = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-02-01")
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


# ---------------------------------------------------------------- PSI
@given(st.lists(finite, min_size=1, max_size=200))
@settings(max_examples=50, deadline=None)
def test_psi_of_identical_distributions_is_zero(values):
    assert psi(np.array(values), np.array(values)) == 0.0


def test_psi_matches_a_hand_computed_case():
    baseline = np.arange(1.0, 11.0)  # 2 quantile bins: <=5.5 and >5.5, half each
    actual = np.array([1.0, 2.0, 3.0, 4.0])  # all in the low bin
    eps = 1e-4
    expected = (1.0 - 0.5) * math.log(1.0 / 0.5) + (eps - 0.5) * math.log(eps / 0.5)
    assert psi(baseline, actual, bins=2, epsilon=eps) == pytest.approx(expected)


def test_psi_counts_missing_values_as_their_own_bin():
    baseline = np.arange(100.0)
    actual = np.where(np.arange(100) % 2 == 0, np.nan, np.arange(100.0))
    assert psi(baseline, actual) > 0.25
    with_nan = np.append(np.arange(100.0), [np.nan] * 10)
    assert psi(with_nan, with_nan.copy()) == 0.0


def test_psi_grows_with_the_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(size=5000)
    values = [psi(base, base + shift) for shift in (0.0, 0.2, 0.5, 1.0)]
    assert values == sorted(values) and values[-1] > 0.25 and values[0] < 0.01


def test_psi_by_group_names_the_shifted_group_and_marks_small_ones():
    rng = np.random.default_rng(2)
    base = pd.DataFrame({"industry": np.repeat(["a", "b", "tiny"], [400, 400, 5]), "x": rng.normal(size=805)})
    cur = base.copy()
    cur.loc[cur["industry"] == "b", "x"] += 2.0
    cur.loc[cur["industry"] == "tiny", "x"] += 5.0
    rows = {r["segment"]: r for r in psi_by_group(base, cur, "industry", ("x",), PsiConfig())}
    assert rows["a"]["status"] == "ok" and rows["a"]["psi"] == 0.0
    assert rows["b"]["status"] == "alert"
    assert rows["tiny"]["status"] == "small"


# ---------------------------------------------------------------- concentration
def test_hhi_known_cases():
    assert hhi(pd.Series([42.0])) == 1.0
    assert hhi(pd.Series([5.0, 5.0])) == pytest.approx(0.5)
    assert hhi(pd.Series([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.25)
    assert math.isnan(hhi(pd.Series([0.0, 0.0])))


@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=50))
@settings(max_examples=50, deadline=None)
def test_hhi_lies_between_one_over_n_and_one(values):
    value = hhi(pd.Series(values))
    assert 1 / len(values) - 1e-12 <= value <= 1 + 1e-12


def test_top_n_share_known_cases():
    assert top_n_share(pd.Series([10.0, 5.0, 5.0]), 1) == pytest.approx(0.5)
    assert top_n_share(pd.Series([10.0, 5.0, 5.0]), 10) == pytest.approx(1.0)
    assert top_n_share(pd.Series([10.0, -5.0]), 1) == pytest.approx(1.0)  # negatives count as 0


# ---------------------------------------------------------------- tiers, migration, flows
def _tiny(month: str, rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"client_id": [r[0] for r in rows], "month": pd.Timestamp(month),
                         "tier": [r[1] for r in rows], "assets_total": [r[2] for r in rows]})


def test_tier_counts_keeps_empty_tiers_and_shares_sum_to_one():
    counts = tier_counts(_tiny("2024-01-01", [("a", "General", 1), ("b", "General", 1), ("c", "Premier", 1)]))
    assert list(counts["tier"]) == ["Premier", "Excellence", "Potential", "General"]
    assert list(counts["clients"]) == [1, 0, 0, 2]
    assert counts["share"].sum() == pytest.approx(1.0)


def test_migration_matrix_counts_moves_new_and_left_clients():
    base = _tiny("2024-01-01", [("a", "Premier", 1), ("b", "General", 1), ("c", "Potential", 1)])
    cur = _tiny("2024-02-01", [("a", "Excellence", 1), ("b", "General", 1), ("d", "General", 1)])
    m = migration_matrix(base, cur)
    assert m.loc["Premier", "Excellence"] == 1
    assert m.loc["General", "General"] == 1
    assert m.loc["Potential", "left"] == 1
    assert m.loc["new", "General"] == 1
    assert m.to_numpy().sum() == 4


def test_fund_flows_by_baseline_tier():
    base = _tiny("2024-01-01", [("a", "Premier", 100.0), ("b", "Premier", 50.0), ("c", "General", 10.0)])
    cur = _tiny("2024-02-01", [("a", "Premier", 80.0), ("c", "Potential", 15.0), ("d", "General", 7.0)])
    flows = fund_flows(base, cur).set_index("tier")
    assert flows.loc["Premier", "net_flow"] == pytest.approx(80.0 - 150.0)  # b left with 50
    assert flows.loc["General", "net_flow"] == pytest.approx(5.0)
    assert flows.loc["new", "net_flow"] == pytest.approx(7.0)
    assert flows.loc["Premier", "net_flow_pct"] == pytest.approx(-70.0 / 150.0)


def test_pd_distribution_ignores_clients_without_exposure():
    dist = pd_distribution(pd.Series([0.001, 0.03, np.nan, 0.5]), limit=0.02)
    assert dist["clients"] == 4 and dist["with_exposure"] == 3
    assert dist["share_above_limit"] == pytest.approx(2 / 3)
    assert sum(dist["histogram"]["counts"]) == 3


# ---------------------------------------------------------------- the whole monitor
@pytest.fixture(scope="module")
def shifted():
    recs, clients, monthly = make_bank(n_clients=600, seed=3, shift_industry="technology")
    return check_recommendations(recs, source="fixture"), clients, monthly


def _industry_alerts(result, kind):
    return {a["segment"] for a in result["alerts"] if a["kind"] == kind and a["dimension"] == "industry"}


def test_an_outflow_in_one_industry_alerts_for_that_industry_only(shifted):
    recs, clients, monthly = shifted
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly)
    assert _industry_alerts(result, "psi") == {"technology"}
    assert _industry_alerts(result, "concentration") == {"technology"}
    calm = build_monitor(recs, BASE, pd.Timestamp("2024-01-01"), MonitorConfig(), clients=clients, monthly=monthly)
    assert _industry_alerts(calm, "psi") == set() and _industry_alerts(calm, "concentration") == set()


def test_monitor_result_is_json_and_numbers_match_the_table(shifted):
    recs, clients, monthly = shifted
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly)
    json.dumps(result, allow_nan=False)
    month_rows = recs[recs["month"] == MONTH]
    premier = next(r for r in result["tiers"]["month"] if r["tier"] == "Premier")
    assert premier["clients"] == int((month_rows["tier"] == "Premier").sum())
    assert result["migration"]["counts"][0][0] == int(
        recs[recs["month"] == BASE].merge(month_rows, on="client_id")
        .pipe(lambda m: ((m["tier_x"] == "Premier") & (m["tier_y"] == "Premier")).sum()))
    assert not result["realised_vs_predicted"]["matured"]


def test_metric_names_are_valid_for_mlflow(shifted):
    recs, clients, monthly = shifted
    metrics = monitor_metrics(build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly))
    assert metrics["alerts"] >= 2
    assert all(re.fullmatch(r"[A-Za-z0-9_\-./ ]+", name) for name in metrics)
    assert all(math.isfinite(v) for v in metrics.values())


def test_monitor_rejects_unknown_months_naming_the_scored_ones(shifted):
    recs, *_ = shifted
    with pytest.raises(DataError, match=r"--month 2030-01 is not in the recommendations; scored months: .*2024-03"):
        build_monitor(recs, pd.Timestamp("2030-01-01"), BASE, MonitorConfig())
    with pytest.raises(DataError, match="same month"):
        build_monitor(recs, MONTH, MONTH, MonitorConfig())


def test_concentration_limit_breach_names_the_segment():
    recs, *_ = make_bank(n_clients=200, seed=5)
    recs = check_recommendations(recs, source="fixture")
    cfg = MonitorConfig(concentration=ConcentrationConfig(max_segment_share=0.05, hhi_limit=0.99))
    result = build_monitor(recs, MONTH, BASE, cfg)
    named = {a["segment"] for a in result["alerts"] if a["metric"] == "segment_share"}
    shares = result["concentration"]["month"]["by"]["industry"]["shares"]
    assert {s for s, v in shares.items() if v > 0.05} <= named


# ---------------------------------------------------------------- realised outcomes
def test_realised_labels_are_the_features_labels():
    _, _, monthly = make_bank(n_clients=60, scored=("2023-02",), history=2, after=12, seed=3)
    base = pd.Timestamp("2023-02-01")
    ids = sorted(monthly["client_id"].unique())
    later = monthly["month"] > base
    for client in ids[:2]:  # assets fall to 1% of their level: drained
        rows = (monthly["client_id"] == client) & later
        monthly.loc[rows, list(BALANCE_COLUMNS)] *= 0.01
        monthly.loc[monthly["client_id"] == client, "relationship_closed"] = False
    quiet = (monthly["client_id"] == ids[1]) & later  # ... and no activity at all: churn
    monthly.loc[quiet, ["branch_txn_count", "mobile_txn_count", "atm_txn_count", "mobile_logins"]] = 0
    monthly.loc[(monthly["client_id"] == ids[0]) & later, "mobile_logins"] = 5  # still logs in: not churn

    realised = matured_labels(monthly, base, pd.Series(ids), FeatureConfig()).set_index("client_id")
    expected = build_labels(monthly, base.date(), FeatureConfig()).set_index("client_id").reindex(realised.index)
    assert realised["churn"].tolist() == expected["churn_6m"].tolist()
    np.testing.assert_array_equal(realised["default"].to_numpy(), expected["default_12m"].to_numpy())
    assert realised.loc[ids[0], "churn"] == 0.0
    assert realised.loc[ids[1], "churn"] == 1.0
    assert 0 < realised["churn"].sum() < len(realised)
    assert matured_labels(monthly, pd.Timestamp("2024-01-01"), pd.Series(ids), FeatureConfig()) is None


def test_realised_rates_appear_once_labels_mature():
    recs, clients, monthly = make_bank(n_clients=300, seed=4, scored=("2023-02", "2023-03"), after=12)
    recs = check_recommendations(recs, source="fixture")
    result = build_monitor(recs, pd.Timestamp("2023-03-01"), pd.Timestamp("2023-02-01"), MonitorConfig(),
                           clients=clients, monthly=monthly)
    rows = result["realised_vs_predicted"]["rows"]
    assert result["realised_vs_predicted"]["matured"]
    assert {r["model"] for r in rows if r["tier"] == "all"} == {"churn", "default"}
    assert all(0 <= r["realised"] <= 1 for r in rows)
