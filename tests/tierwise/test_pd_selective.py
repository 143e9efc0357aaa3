"""Build 1 of issue 17 on a generated bank with models trained the real way (real labels,
out-of-time split, calibration on valid): PDs with resolution, clients in default flagged and
never graded, risk watch selective and telling, retention and growth lists of the configured size.

The bank: 8,000 clients over 30 months (a smaller one gives a default model with a few hundred
distinct scores, which no calibration can spread); LightGBM only, no tuning, and isotonic
calibration from 1,000 validation rows, as the demo bank's 20,000 clients get it. Limits are
resolved on its last month (as the demo does) and checked there, there with the memory batch
scoring reads from the archive (the lowest PD of the last 3 months, for "rising fast"), and a
year earlier, the last snapshot month whose 12-month default outcome the data shows (the
models' out-of-time test month)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.features import build_labels, label_column, snapshot_features
from tierwise.models import grade_table, recommend, resolve_thresholds
from tierwise.models._recommender import _predict, policy_inputs
from tierwise.models._train import train_split
from tierwise.settings import load_settings
from tierwise.synthetic import generate_bank, write_bank
from tierwise.training import read_raw_tables, snapshot_months, synthetic_frames

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CLIENTS, MONTHS = 8000, 30


def _top_share(values: np.ndarray) -> float:
    """Share of rows on the most common value as a page shows it (0.01 percentage points)."""
    _, counts = np.unique(np.round(values * 1e4), return_counts=True)
    return float(counts.max() / len(values))


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    settings = load_settings(CONFIGS)
    folder = tmp_path_factory.mktemp("pd_bank")
    write_bank(generate_bank(settings.data, clients=CLIENTS, months=MONTHS, seed=11,
                             start=dt.date(2023, 1, 1)), folder, seed=11)
    fc = settings.features
    frames = synthetic_frames(folder, ["churn", "default", "growth"], fc, n_snapshots=8)
    models = {}
    for task, frame in frames.items():
        config = settings.tasks[task]
        quick = {"tuning": config.tuning.model_copy(update={"max_trials": 0}), "candidates": ["lightgbm"],
                 "calibration": config.calibration.model_copy(update={"min_isotonic_rows": 1000})}
        config = config.model_copy(update=quick)
        models[task] = train_split(frame, config).model
    clients, monthly = read_raw_tables(folder)

    def scored(month: dt.date) -> pd.DataFrame:
        features = snapshot_features(clients, monthly, month, fc)
        scores = {task: _predict(model, model.model_inputs(features)) for task, model in models.items()}
        return policy_inputs(features, scores)

    last = pd.Timestamp(monthly["month"].max()).date()
    outcome_month = snapshot_months(monthly, fc, 1)[-1]
    reference = scored(last)
    trend = [scored((pd.Timestamp(last) - pd.DateOffset(months=k)).date()).set_index("client_id")["p_default"]
             for k in (1, 2, 3)]  # as batch scoring reads the archive: the lowest PD of the last 3 months
    lowest = pd.concat(trend, axis=1).min(axis=1)
    remembered = reference.assign(p_default_prev=reference["client_id"].map(lowest).to_numpy(dtype=float))
    resolved = resolve_thresholds(settings.policy, reference)
    earlier = scored(outcome_month)
    labels = build_labels(monthly, outcome_month, fc).set_index("client_id")[label_column("default", fc)]
    return {"settings": settings, "default_frame": frames["default"], "resolved": resolved, "reference": reference,
            "remembered": remembered,
            "earlier": earlier, "defaulted": labels.reindex(earlier["client_id"]).to_numpy(dtype=float)}


def _graded(inputs: pd.DataFrame, recs: pd.DataFrame) -> np.ndarray:
    """Borrowers with a PD grade: credit exposure and not in default."""
    return (inputs["credit_exposure"].to_numpy() > 0) & ~recs["flag_in_default"].to_numpy()


@pytest.mark.parametrize("month", ["reference", "earlier"])
def test_no_pd_value_is_shared_by_more_than_5_percent_of_borrowers(bank, month):
    inputs = bank[month]
    recs = recommend(inputs, bank["resolved"])
    pds = inputs["p_default"].to_numpy()[_graded(inputs, recs)]
    assert len(pds) > 1000
    assert _top_share(pds) <= 0.05


def test_every_pd_grade_row_holds_borrowers_and_every_grade_is_shown(bank):
    inputs = bank["reference"]
    recs = recommend(inputs, bank["resolved"])
    grades = bank["settings"].tasks["default"].grades
    graded = _graded(inputs, recs)
    table = grade_table(np.zeros(int(graded.sum())), inputs["p_default"].to_numpy()[graded],
                        [g.max_pd for g in grades], [g.name for g in grades])
    assert (table["n"] > 0).all() and table["n"].sum() == graded.sum()
    shown = {name for row in table["grade"] for name in row.split("-")}
    assert shown == {g.name for g in grades}  # an empty grade is merged, not dropped


def test_calibration_and_grade_tests_leave_clients_in_default_out(bank):
    """The default model is trained, calibrated and graded on these rows only."""
    data = bank["default_frame"].data
    assert len(data) > 5000 and data[bank["default_frame"].target].notna().all()
    assert (data["days_past_due"] < 90).all()
    assert bank["reference"]["days_past_due"].ge(90).any()  # while the scored month has some


def test_clients_90_days_past_due_are_in_default_and_not_ranked(bank):
    inputs = bank["reference"]
    recs = recommend(inputs, bank["resolved"])
    dpd = inputs["days_past_due"].to_numpy(dtype=float)
    in_default = recs["flag_in_default"].to_numpy()
    exposure = inputs["credit_exposure"].to_numpy()
    assert in_default.any()
    assert np.array_equal(in_default, (dpd >= 90) & (exposure > 0))
    assert not (in_default & recs["flag_risk_watch"].to_numpy()).any()
    assert not (in_default & recs["flag_retention_priority"].to_numpy()).any()
    assert not (in_default & recs["flag_growth_lead"].to_numpy()).any()
    reasons = recs.loc[in_default, "tier_reason_en"]
    assert reasons.str.contains("in default").all()
    assert not reasons.str.contains("default risk").any()  # no PD for a client in default


@pytest.mark.parametrize("month", ["reference", "remembered", "earlier"])
def test_risk_watch_holds_at_most_10_percent_of_clients(bank, month):
    recs = recommend(bank[month], bank["resolved"])
    assert 0.02 <= recs["flag_risk_watch"].mean() <= 0.10


def test_risk_watch_defaults_at_three_times_the_portfolio_rate(bank):
    inputs, defaulted = bank["earlier"], bank["defaulted"]
    recs = recommend(inputs, bank["resolved"])
    known = np.isfinite(defaulted) & _graded(inputs, recs)
    watched = known & recs["flag_risk_watch"].to_numpy()
    assert watched.sum() >= 50
    portfolio, watch = defaulted[known].mean(), defaulted[watched].mean()
    assert watch >= 3 * portfolio, (watch, portfolio)


def test_retention_and_growth_lists_have_the_configured_share(bank):
    policy = bank["settings"].policy
    recs = recommend(bank["reference"], bank["resolved"])
    assert recs["flag_retention_priority"].mean() == pytest.approx(policy.retention.share, abs=0.002)
    assert recs["flag_growth_lead"].mean() == pytest.approx(policy.growth_lead.share, abs=0.002)
