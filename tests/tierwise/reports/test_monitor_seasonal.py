"""Seasonal drift: PSI against the same month a year earlier, and seasonal columns named as such."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from reports_factory import make_bank

from tierwise.reports import (
    MonitorConfig,
    build_monitor,
    check_recommendations,
    monitor_metrics,
    render_monitor_html,
)

MONTH, BASE, YEAR_AGO = pd.Timestamp("2024-12-01"), pd.Timestamp("2024-11-01"), pd.Timestamp("2023-12-01")


def _bonus_bank(scored: tuple[str, ...], history: int):
    """Half the clients get a year-end bonus (salary inflow x6) every December; in 2024-12 fund
    balances of half the clients fall by 80% (real drift, not seasonal)."""
    recs, clients, monthly = make_bank(n_clients=800, scored=scored, history=history, seed=5)
    rng = np.random.default_rng(11)
    bonus = set(clients["client_id"][rng.random(len(clients)) < 0.5])
    december = (monthly["month"].dt.month == 12) & monthly["client_id"].isin(bonus)
    monthly.loc[december, "salary_inflow"] *= 6
    sold = set(clients["client_id"][rng.random(len(clients)) < 0.5])
    monthly.loc[(monthly["month"] == MONTH) & monthly["client_id"].isin(sold), "fund_balance"] *= 0.2
    return check_recommendations(recs, source="fixture"), clients, monthly


@pytest.fixture(scope="module")
def from_data():
    return _bonus_bank(("2024-11", "2024-12"), history=14)  # monthly data from 2023-10: holds 2023-12


@pytest.fixture(scope="module")
def from_archive():
    return _bonus_bank(("2023-12", "2024-11", "2024-12"), history=1)  # 2023-12 scored (archived) too


def _row(result, column):
    return next(r for r in result["psi"]["scores"] + result["psi"]["features"] if r["column"] == column)


def test_a_year_end_pattern_is_seasonal_and_only_warns(from_data):
    recs, clients, monthly = from_data
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly)
    json.dumps(result, allow_nan=False)
    salary = _row(result, "salary_inflow")
    assert salary["status"] == "alert" and salary["psi"] > 0.25  # against November: the bonus
    assert salary["psi_year_ago"] < 0.1 and salary["year_ago"] == "2023-12"
    assert salary["seasonal"]
    assert result["psi"]["year_ago"]["month"] == "2023-12" and result["psi"]["year_ago"]["source"] == "data"
    assert "salary_inflow" in result["psi"]["year_ago"]["seasonal"]
    alert = next(a for a in result["alerts"] if a["kind"] == "psi" and a["metric"] == "salary_inflow"
                 and a["dimension"] is None)
    assert alert["level"] == "warn" and alert["seasonal"]
    assert "the same month a year earlier: seasonal, not drift" in alert["message"]
    assert monitor_metrics(result)["psi_year_ago.salary_inflow"] == pytest.approx(salary["psi_year_ago"])


def test_real_drift_is_not_called_seasonal(from_data):
    recs, clients, monthly = from_data
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly)
    funds = _row(result, "fund_balance")
    assert funds["status"] in ("warn", "alert") and funds["psi_year_ago"] >= 0.1
    assert not funds["seasonal"] and "fund_balance" not in result["psi"]["year_ago"]["seasonal"]
    alert = next(a for a in result["alerts"] if a["kind"] == "psi" and a["metric"] == "fund_balance"
                 and a["dimension"] is None)
    assert alert["level"] == funds["status"] and "seasonal" not in alert["message"]
    # a column stable against the baseline is never seasonal, whatever a year earlier says
    assert not [r for r in result["psi"]["scores"] + result["psi"]["features"]
                if r["seasonal"] and r["status"] not in ("warn", "alert")]


def test_scores_are_compared_with_the_archived_month_a_year_earlier(from_archive):
    recs, clients, monthly = from_archive
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly)
    assert result["psi"]["year_ago"]["source"] == "archive and data"
    assert _row(result, "p_churn")["psi_year_ago"] is not None  # a score: only the archive has it
    assert _row(result, "salary_inflow")["seasonal"]
    no_data = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=None)
    assert no_data["psi"]["year_ago"]["source"] == "archive"
    assert no_data["history"] is not None and no_data["month"] == "2024-12"
    assert {r["month"] for r in no_data["history"]["tiers"]} == {"2024-11", "2024-12"}  # 2023-12 is not history


def test_without_the_month_a_year_earlier_it_says_so(from_data):
    recs, clients, monthly = from_data
    short = monthly[monthly["month"] >= pd.Timestamp("2024-01-01")]
    result = build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=short)
    assert result["psi"]["year_ago"]["month"] is None
    assert "no seasonal comparison" in result["psi"]["year_ago"]["note"]
    assert "psi_year_ago" not in _row(result, "salary_inflow")
    alert = next(a for a in result["alerts"] if a["kind"] == "psi" and a["metric"] == "salary_inflow"
                 and a["dimension"] is None)
    assert alert["level"] == "alert"  # nothing to tell it from drift
    assert "no seasonal comparison" in render_monitor_html(result)


def test_the_page_names_seasonal_columns(from_data):
    recs, clients, monthly = from_data
    html = render_monitor_html(build_monitor(recs, MONTH, BASE, MonitorConfig(), clients=clients, monthly=monthly))
    assert 'data-column="salary_inflow" data-seasonal="true"' in html
    assert "alert · seasonal" in html and "PSI vs 2023-12" in html
    assert "Seasonal this month: " in html and 'data-column="fund_balance" data-seasonal' not in html
