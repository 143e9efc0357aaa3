"""Portfolio-monitor metrics: hand-computed small cases, invariants, and the injected shift."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reports_factory import make_bank
from sklearn.metrics import roc_auc_score

from tierwise.archive import archived_months, write_month
from tierwise.features import BALANCE_COLUMNS, DataError, FeatureConfig, add_months, build_labels
from tierwise.reports import (
    ConcentrationConfig,
    HistoryConfig,
    MonitorConfig,
    PsiConfig,
    ReportConfig,
    build_monitor,
    check_recommendations,
    expected_auc,
    fund_flows,
    hhi,
    matured_labels,
    migration_matrix,
    monitor_metrics,
    pd_distribution,
    psi,
    psi_by_group,
    read_archive_months,
    render_monitor_html,
    resolve_months,
    tier_counts,
    top_n_share,
)
from tierwise.reports._catalogue import INDUSTRIES, REGIONS  # noqa: E402

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


# ---------------------------------------------------------------- the history: expected AUC
def _brute_force_expected_auc(p: np.ndarray) -> float:
    numerator = 0.0
    for i in range(len(p)):
        for j in range(len(p)):
            if i != j:
                right = 1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0
                numerator += p[i] * (1 - p[j]) * right
    return numerator / (p.sum() * (1 - p).sum() - np.sum(p * (1 - p)))


def test_expected_auc_matches_the_brute_force_formula():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 4, 200)
    assert expected_auc(p) == pytest.approx(_brute_force_expected_auc(p), rel=1e-12)
    tied = rng.choice([0.05, 0.2, 0.2, 0.6], 200)  # many ties count half
    assert expected_auc(tied) == pytest.approx(_brute_force_expected_auc(tied), rel=1e-12)


def test_expected_auc_of_perfectly_separated_scores_is_one_and_of_equal_scores_a_half():
    assert expected_auc(np.array([0.0, 1.0, 0.0, 1.0, 1.0])) == 1.0
    assert expected_auc(np.full(10, 0.3)) == pytest.approx(0.5)
    assert math.isnan(expected_auc(np.array([0.4])))
    assert math.isnan(expected_auc(np.ones(5)))  # no negative can occur: nothing to rank


# ---------------------------------------------------------------- the history: months
def _months(*labels: str) -> list[dt.date]:
    return [dt.date(int(s[:4]), int(s[5:]), 1) for s in labels]


def test_baseline_defaults_to_the_latest_month_before_and_the_window_is_a_year():
    present = [add_months(dt.date(2023, 1, 1), k) for k in range(15)]  # 2023-01 .. 2024-03
    chosen = resolve_months(present, None, None, length=12, archived=True)
    assert (chosen.month, chosen.baseline) == (dt.date(2024, 3, 1), dt.date(2024, 2, 1))
    # the window, and the same month a year earlier (the seasonal PSI baseline) since it is archived
    assert chosen.window == tuple(present[3:]) and chosen.read == (dt.date(2023, 3, 1), *chosen.window)
    older = resolve_months(present, dt.date(2024, 3, 1), dt.date(2023, 1, 1), length=12, archived=True)
    assert older.read == (dt.date(2023, 1, 1), dt.date(2023, 3, 1), *present[3:])  # window, baseline, year ago
    short = resolve_months(present[4:], None, None, length=12, archived=True)
    assert short.read == short.window  # no month a year earlier archived: nothing more read
    gap = resolve_months(_months("2024-01", "2024-04"), None, None, length=12, archived=True)
    assert gap.baseline == dt.date(2024, 1, 1)  # the latest archived month before, not the month before


def test_months_not_archived_or_without_an_earlier_month_are_one_line_errors():
    present = _months("2024-01", "2024-02")
    with pytest.raises(DataError, match=r"^--month 2030-01 is not archived; archived months: 2024-01, 2024-02$"):
        resolve_months(present, dt.date(2030, 1, 1), None, length=12, archived=True)
    with pytest.raises(DataError, match=r"^--baseline: no archived month before 2024-01 to compare with "
                                        r"\(archived months: 2024-01, 2024-02\)"):
        resolve_months(present, dt.date(2024, 1, 1), None, length=12, archived=True)
    with pytest.raises(DataError, match=r"^--baseline 2023-05 is not in the recommendations; scored months: 2024-01"):
        resolve_months(present, None, dt.date(2023, 5, 1), length=12, archived=False)


# ---------------------------------------------------------------- the history: a hand-made archive
HISTORY = ("2024-01", "2024-02", "2024-03", "2024-04")


def _hand_made_months() -> dict[str, pd.DataFrame]:
    """30 clients: C00000-02 Premier, 03-05 Excellence, 06-14 Potential, the rest General, 100 of
    assets each; then by hand: in 02 C0 falls to Excellence and C6 rises to Premier; in 03 C3
    leaves and N1 joins (General); in 04 C1 falls to General and C2's assets reach 300.
    Exit reviews: C0 opened in 02 and closed in 03; C4 opened in 02, open in 03, downgraded in
    04; C5 opened in 03, open in 04; C2 opened in 04."""
    recs, *_ = make_bank(n_clients=30, scored=HISTORY, history=1, seed=1)
    tiers = np.select([np.arange(30) < 3, np.arange(30) < 6, np.arange(30) < 15],
                      ["Premier", "Excellence", "Potential"], "General")
    reviews = {  # month -> client -> (status, since, months)
        "2024-02": {"C00000": ("opened", "2024-02", 1), "C00004": ("opened", "2024-02", 1)},
        "2024-03": {"C00000": ("closed", None, 0), "C00004": ("open", "2024-02", 2),
                    "C00005": ("opened", "2024-03", 1)},
        "2024-04": {"C00004": ("downgraded", None, 0), "C00005": ("open", "2024-03", 2),
                    "C00002": ("opened", "2024-04", 1)},
    }
    months = {}
    for label in HISTORY:
        frame = recs[recs["month"] == pd.Timestamp(label + "-01")].sort_values("client_id").reset_index(drop=True)
        frame["tier"], frame["assets_total"] = tiers, 100.0
        frame["exit_review_status"], frame["exit_review_since"], frame["exit_review_months"] = None, pd.NaT, 0
        by_id = frame.set_index("client_id").index
        if label >= "2024-02":
            frame.loc[by_id == "C00000", "tier"] = "Excellence"
            frame.loc[by_id == "C00006", "tier"] = "Premier"
        if label >= "2024-03":
            joined = frame[by_id == "C00029"].assign(client_id="N00001", tier="General")
            frame = pd.concat([frame[by_id != "C00003"], joined], ignore_index=True)
        if label == "2024-04":
            frame.loc[frame["client_id"] == "C00001", "tier"] = "General"
            frame.loc[frame["client_id"] == "C00002", "assets_total"] = 300.0
        for client, (status, since, n) in reviews.get(label, {}).items():
            row = frame["client_id"] == client
            frame.loc[row, "exit_review_status"] = status
            frame.loc[row, "exit_review_since"] = pd.Timestamp(since + "-01") if since else pd.NaT
            frame.loc[row, "exit_review_months"] = n
        if frame["exit_review_since"].isna().all():
            # absent: null in the archive (an all-NaT column is archived as 0001-01-01 today, which
            # read_archive cannot read back -- reported to the archive's owner)
            frame = frame.drop(columns="exit_review_since")
        months[label] = frame
    return months


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    for label, frame in _hand_made_months().items():
        write_month(folder, pd.Timestamp(label + "-01").date(), frame)
    return folder


def _archived_monitor(archive, month="2024-04", baseline=None, cfg=None):
    cfg = MonitorConfig() if cfg is None else cfg
    when = pd.Timestamp(month + "-01").date()
    chosen = resolve_months(archived_months(archive), when, None if baseline is None else
                            pd.Timestamp(baseline + "-01").date(), length=cfg.history.months, archived=True)
    recs = read_archive_months(archive, (chosen.month, chosen.baseline), chosen.read)
    return build_monitor(recs, pd.Timestamp(chosen.month), pd.Timestamp(chosen.baseline), cfg)


def test_the_archive_reads_full_rows_of_the_compared_months_only(archive):
    recs = read_archive_months(archive, _months("2024-04", "2024-03"), _months(*HISTORY))
    assert sorted(recs["month"].dt.strftime("%Y-%m").unique()) == list(HISTORY)
    followed = recs[recs["month"] < pd.Timestamp("2024-03-01")]
    compared = recs[recs["month"] >= pd.Timestamp("2024-03-01")]
    assert followed["segment"].isna().all() and compared["segment"].notna().all()
    assert followed["tier"].notna().all() and not followed["flag_exit_review"].any()


def test_history_defaults_to_the_previous_archived_month_and_covers_the_window(archive):
    result = _archived_monitor(archive)
    assert (result["month"], result["baseline"]) == ("2024-04", "2024-03")
    history = result["history"]
    assert history["months"] == list(HISTORY)
    assert [row["tiers"] for row in history["tiers"]][0] == {"Premier": 3, "Excellence": 3, "Potential": 9,
                                                             "General": 15}
    assert [row["top_tier_share"] for row in history["tiers"]] == pytest.approx([6 / 30, 7 / 30, 6 / 30, 5 / 30])
    json.dumps(result, allow_nan=False)


def _matrix(record) -> pd.DataFrame:
    return pd.DataFrame(record["counts"], index=record["rows"], columns=record["columns"])


def test_migration_month_by_month_counts_moves_new_and_lost_clients(archive):
    steps = _archived_monitor(archive)["history"]["migration"]["steps"]
    assert [(s["from"], s["to"]) for s in steps] == [("2024-01", "2024-02"), ("2024-02", "2024-03"),
                                                    ("2024-03", "2024-04")]
    first = _matrix(steps[0])
    assert first.loc["Premier", "Excellence"] == 1 and first.loc["Potential", "Premier"] == 1
    assert first.loc["Premier", "Premier"] == 2 and first.loc["General", "General"] == 15
    assert (steps[0]["stayed"], steps[0]["up"], steps[0]["down"], steps[0]["new"], steps[0]["lost"]) == (28, 1, 1, 0, 0)
    second = _matrix(steps[1])
    assert second.loc["Excellence", "left"] == 1 and second.loc["new", "General"] == 1
    assert (steps[1]["new"], steps[1]["lost"]) == (1, 1)
    assert _matrix(steps[2]).loc["Premier", "General"] == 1


def test_migration_over_the_window_goes_from_its_first_month_to_the_month(archive):
    window = _archived_monitor(archive)["history"]["migration"]["window"]
    m = _matrix(window)
    assert (window["from"], window["to"]) == ("2024-01", "2024-04")
    assert m.loc["Premier", "Excellence"] == 1 and m.loc["Premier", "General"] == 1
    assert m.loc["Premier", "Premier"] == 1 and m.loc["Potential", "Premier"] == 1
    assert m.loc["Excellence", "left"] == 1 and m.loc["Excellence", "Excellence"] == 2
    assert m.loc["new", "General"] == 1 and m.to_numpy().sum() == 31


def test_fund_movements_follow_the_top_tier_clients_of_the_month_before(archive):
    flows = {f["month"]: {r["tier"]: r for r in f["rows"]} for f in _archived_monitor(archive)["history"]["top_tier_flows"]}
    assert set(flows) == {"2024-02", "2024-03", "2024-04"}
    march = flows["2024-03"]  # Excellence of 02: C0, C3 (left), C4, C5
    assert (march["Excellence"]["clients"], march["Excellence"]["left"]) == (4, 1)
    assert march["Excellence"]["net_flow"] == pytest.approx(-100.0)
    assert march["Excellence"]["net_flow_pct"] == pytest.approx(-0.25)
    april = flows["2024-04"]  # Premier of 03: C1 (now General, still followed), C2 (300), C6
    assert (april["Premier"]["assets_previous"], april["Premier"]["assets_month"]) == (300.0, 500.0)
    total = april["total"]
    assert total["assets_previous"] == pytest.approx(april["Premier"]["assets_previous"]
                                                     + april["Excellence"]["assets_previous"])
    assert (total["clients"], total["net_flow"], total["net_flow_pct"]) == (6, 200.0, pytest.approx(200 / 600))


def test_exit_reviews_are_counted_by_status_and_the_open_ones_listed(archive):
    reviews = _archived_monitor(archive)["history"]["exit_reviews"]
    counts = {row["month"]: row for row in reviews["counts"]}
    assert counts["2024-01"] == {"month": "2024-01", "opened": 0, "open": 0, "closed": 0, "downgraded": 0}
    assert counts["2024-02"]["opened"] == 2
    assert (counts["2024-03"]["opened"], counts["2024-03"]["open"], counts["2024-03"]["closed"]) == (1, 1, 1)
    assert counts["2024-04"] == {"month": "2024-04", "opened": 1, "open": 1, "closed": 0, "downgraded": 1}
    listed = reviews["open_at_month"]
    assert [r["client_id"] for r in listed] == ["C00005", "C00002"]  # the longest under review first
    assert (listed[0]["since"], listed[0]["months"], listed[0]["status"]) == ("2024-03", 2, "open")


def test_the_page_names_codes_and_writes_money_in_the_banks_currency(archive):
    cfg = MonitorConfig(report=ReportConfig(currency="HK$"))
    result = _archived_monitor(archive, cfg=cfg)
    html = render_monitor_html(result)
    assert '<td class="num" data-field="net_flow">HK$200</td>' in html and "¥" not in html
    concentration = html.split('<section id="concentration">')[1].split("</section>")[0]
    cells = re.findall(r'<td title="([^"]+)">([^<]+)</td>', concentration)
    assert cells, "the concentration tables list their groups"
    for code, shown in cells:
        kind = "industry" if code in INDUSTRIES["en"] else "region" if code in REGIONS["en"] else None
        if kind is not None:
            assert shown == {"industry": INDUSTRIES, "region": REGIONS}[kind]["en"][code] != code


def test_the_page_shows_the_history_and_caps_the_open_reviews(archive):
    cfg = MonitorConfig(history=HistoryConfig(open_reviews_shown=1))
    result = _archived_monitor(archive, cfg=cfg)
    html = render_monitor_html(result)
    for section in ("tier-history", "migration-history", "top-tier-flows", "exit-reviews", "performance"):
        assert f'<section id="{section}">' in html
    assert 'data-client="C00005"' in html and 'data-client="C00002"' not in html
    assert "the 1 longest under review shown" in html
    assert '<td class="num" data-field="net_flow">¥200</td>' in html  # money as everywhere (format_money)
    assert '<td class="num" data-field="top_tier_share">16.7%</td>' in html
    metrics = monitor_metrics(result)
    assert metrics["top_tier_share"] == pytest.approx(5 / 30)
    assert (metrics["exit_reviews.opened"], metrics["exit_reviews.downgraded"]) == (1.0, 1.0)
    assert metrics["expected_auc.churn"] == pytest.approx(result["history"]["performance"][-1]["churn"]["expected_auc"])


def test_the_history_window_is_the_configured_number_of_months(archive):
    result = _archived_monitor(archive, cfg=MonitorConfig(history=HistoryConfig(months=2)))
    assert result["history"]["months"] == ["2024-03", "2024-04"]
    assert len(result["history"]["migration"]["steps"]) == 1


# ---------------------------------------------------------------- the history: performance
def test_expected_performance_now_and_realised_once_labels_mature():
    recs, clients, monthly = make_bank(n_clients=300, seed=4, scored=("2023-02", "2023-03", "2023-04"), after=3)
    recs = check_recommendations(recs, source="fixture")
    april = pd.Timestamp("2023-04-01")
    young = build_monitor(recs, april, pd.Timestamp("2023-03-01"), MonitorConfig(), monthly=monthly)
    rows = young["history"]["performance"]
    assert [r["month"] for r in rows] == ["2023-02", "2023-03", "2023-04"]
    month_rows = recs[recs["month"] == april]
    with_pd = month_rows["p_default"].notna() & (month_rows["credit_exposure"] > 0)
    assert rows[-1]["churn"]["expected_rate"] == pytest.approx(month_rows["p_churn"].mean())
    assert rows[-1]["default"]["expected_rate"] == pytest.approx(month_rows.loc[with_pd, "p_default"].mean())
    assert rows[-1]["churn"]["expected_auc"] == pytest.approx(expected_auc(month_rows["p_churn"].to_numpy()))
    assert not any(r[t]["matured"] for r in rows for t in ("churn", "default"))
    assert "not matured" in render_monitor_html(young)

    recs, clients, monthly = make_bank(n_clients=300, seed=4, scored=("2023-02", "2023-03", "2023-04"), after=12)
    recs = check_recommendations(recs, source="fixture")
    old = build_monitor(recs, april, pd.Timestamp("2023-03-01"), MonitorConfig(), monthly=monthly)
    first = old["history"]["performance"][0]
    labels = matured_labels(monthly, pd.Timestamp("2023-02-01"), recs["client_id"], FeatureConfig())
    scored = recs[recs["month"] == pd.Timestamp("2023-02-01")].merge(labels, on="client_id").dropna(subset="churn")
    assert first["churn"]["matured"] and first["default"]["matured"]
    assert first["churn"]["realised_rate"] == pytest.approx(scored["churn"].mean())
    assert first["churn"]["realised_auc"] == pytest.approx(roc_auc_score(scored["churn"], scored["p_churn"]))
    assert 0 <= first["default"]["realised_auc"] <= 1


def test_realised_labels_follow_the_banks_recorded_events():
    # the monitor's realised outcomes use the labels training used: recorded events where present
    import datetime as dt

    from tierwise.features import FeatureConfig
    from tierwise.reports import matured_labels
    from tierwise.synthetic import DataConfig, generate_bank

    bank = generate_bank(DataConfig(), clients=300, months=30, seed=4, start=dt.date(2023, 1, 1))
    monthly = bank.monthly
    baseline = pd.Timestamp("2023-12-01")
    config = FeatureConfig()
    without = matured_labels(monthly, baseline, monthly["client_id"], config).set_index("client_id")
    borrower = without.index[(without["default"] == 0)][0]
    events = pd.DataFrame({"client_id": [borrower], "month": [pd.Timestamp("2024-03-01")], "kind": ["default"]})
    with_events = matured_labels(monthly, baseline, monthly["client_id"], config, events).set_index("client_id")
    assert with_events.loc[borrower, "default"] == 1
