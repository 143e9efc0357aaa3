"""Issue 7 acceptance: on a synthetic bank generated with an injected shift (technology clients
move 60% of their deposits and wealth out from 2024-09), `tierwise monitor` raises the PSI and
concentration alerts for technology and not for the other industries.

Everything on the path is the real code: the generator with `shift:`, snapshot features and
labels, a `Recommender` (three models, TreeSHAP reasons, the policy of `configs/policy.yaml`
with thresholds resolved on the baseline month), the pandas scoring engine that `tierwise
score` runs (called directly with the recommender instead of loading it from the MLflow
registry), and the `tierwise monitor` command. Only the three models are small: LightGBM with
20 rounds on a dozen features (`recommender_factory._fit`), trained on the bank's real labels
at 2023-08, whose 12-month horizon ends before the shift.

A bank of 4,000 clients has about 150 top-tier clients, so some concentration limits trip
without any shift (a large client churning in one industry). Each scenario is therefore run
twice with the same seed -- with the shift and without it (the control) -- and the alerts
"raised by the shift" are those of the shifted run that the control does not have. Data of the
other industries are identical in both runs (the generator guarantees it), so their alerts can
only differ through portfolio-wide totals.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tierwise: recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.cli import app  # noqa: E402
from tierwise.features import build_labels, label_column, read_raw_tables  # noqa: E402

pytestmark = pytest.mark.slow

SHIFTED = "technology"
START = dt.date(2023, 1, 1)
TRAIN, BASELINE, MONTH = dt.date(2023, 8, 1), dt.date(2024, 8, 1), dt.date(2024, 11, 1)
CLIENTS, MONTHS, SEED, SHIFT_FROM = 4000, 24, 7, 20  # month index 20 = 2024-09


def _world(root: Path, shift) -> dict:
    """Generate, train, score the baseline and the month, run `tierwise monitor`."""
    from tierwise.recommender import build_recommender
    from tierwise.scoring import score_pandas
    from tierwise.synthetic import DataConfig, OracleConfig, generate_bank, write_bank

    bank_dir = root / "bank"
    cfg = DataConfig(shift=shift, oracle=OracleConfig(pairs=0))
    write_bank(generate_bank(cfg, clients=CLIENTS, months=MONTHS, seed=SEED, start=START), bank_dir, seed=SEED)

    fcfg = factory.feature_config()
    _, monthly = read_raw_tables(bank_dir)
    train = factory.bank_features(bank_dir, TRAIN).merge(build_labels(monthly, TRAIN, fcfg), on="client_id")
    models = {}
    for task, kind in (("churn", "binary"), ("default", "binary"), ("growth", "regression")):
        y = train[label_column(task, fcfg)]
        known = y.notna().to_numpy()
        X = train.loc[known, factory.FEATURES].reset_index(drop=True)
        models[task] = factory._fit(task, kind, X, y[known].to_numpy(dtype=float), SEED)
    reference = factory.bank_features(bank_dir, BASELINE)
    recommender, _ = build_recommender(models, factory.policy_config(), reference, fcfg, n_threads=1)

    parts = []
    for month in (BASELINE, MONTH):
        out = root / f"recs_{month:%Y%m}.parquet"
        score_pandas(bank_dir, month, out, recommender=recommender, feature_config=fcfg,
                     model_uri="test:shift-acceptance", model_version="0")
        parts.append(pd.read_parquet(out))
    recs = root / "recommendations.parquet"
    pd.concat(parts, ignore_index=True).to_parquet(recs)

    result = CliRunner().invoke(app, [
        "monitor", "--month", f"{MONTH:%Y-%m}", "--baseline", f"{BASELINE:%Y-%m}",
        "--recommendations", str(recs), "--data", str(bank_dir), "--out", str(root / "monitor"),
        "--config-dir", str(factory.CONFIG_DIR),
    ])
    assert result.exit_code == 0, result.output
    return {"json": json.loads((root / "monitor" / "monitor.json").read_text(encoding="utf-8")),
            "html": (root / "monitor" / "monitor.html").read_text(encoding="utf-8"),
            "recs": pd.concat(parts, ignore_index=True)}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """{'shifted': ..., 'control': ...}, each in its own folder and MLflow store."""
    from tierwise.synthetic import ShiftConfig

    mp = pytest.MonkeyPatch()
    out = {}
    try:
        for name, shift in (("shifted", ShiftConfig(industry=SHIFTED, from_month=SHIFT_FROM,
                                                     deposit_outflow=0.6, ramp_months=3)),
                            ("control", None)):
            root = tmp_path_factory.mktemp(name)
            mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
            mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(root / "mlartifacts"))
            mp.setenv("TIERWISE_CONFIG_DIR", str(factory.CONFIG_DIR))
            out[name] = _world(root, shift)
    finally:
        mp.undo()
    return out


def _industry_alerts(result: dict, kind: str, *, level: str | None = None) -> set[tuple[str, str]]:
    """(metric, industry) of the alerts of `kind` that name an industry."""
    return {(a["metric"], a["segment"]) for a in result["alerts"]
            if a["kind"] == kind and a["dimension"] == "industry" and (level is None or a["level"] == level)}


def test_the_shift_is_in_the_scored_tables(worlds):
    """Sanity: technology's assets fell by about the outflow, the other industries' did not."""
    changes = {}
    for name, world in worlds.items():
        recs = world["recs"]
        by = recs.groupby([recs["month"], recs["industry"]])["assets_total"].sum().unstack(0)
        changes[name] = by.iloc[:, 1] / by.iloc[:, 0] - 1
    tech = changes["shifted"][SHIFTED] - changes["control"][SHIFTED]
    assert -0.7 < tech < -0.4
    others = changes["shifted"].drop(SHIFTED)
    pd.testing.assert_series_equal(others, changes["control"].drop(SHIFTED))


def test_psi_alerts_name_the_shifted_industry_and_no_other(worlds):
    shifted = _industry_alerts(worlds["shifted"]["json"], "psi", level="alert")
    control = _industry_alerts(worlds["control"]["json"], "psi", level="alert")
    assert {industry for _, industry in shifted} == {SHIFTED}, shifted
    assert {"assets_total", "deposit_total"} <= {metric for metric, _ in shifted}
    assert control == set(), control
    # warnings (PSI 0.1-0.25) of other industries, if any, are there without the shift too
    warned = _industry_alerts(worlds["shifted"]["json"], "psi", level="warn")
    baseline_noise = _industry_alerts(worlds["control"]["json"], "psi", level="warn")
    assert {a for a in warned if a[1] != SHIFTED} <= baseline_noise


def test_concentration_alerts_raised_by_the_shift_name_the_shifted_industry_and_no_other(worlds):
    shifted = _industry_alerts(worlds["shifted"]["json"], "concentration")
    control = _industry_alerts(worlds["control"]["json"], "concentration")
    raised = shifted - control
    assert {industry for _, industry in raised} == {SHIFTED}, (shifted, control)
    assert {("outflow", SHIFTED), ("share_change", SHIFTED)} <= raised
    assert not any(industry == SHIFTED for _, industry in control)
    cohort = worlds["shifted"]["json"]["concentration"]["cohort"]["by"]["industry"]
    assert cohort[SHIFTED]["assets_change"] < -0.4


def test_the_monitor_page_shows_the_shifted_industry_alerts(worlds):
    page = worlds["shifted"]["html"]
    for alert in worlds["shifted"]["json"]["alerts"]:
        if alert["segment"] == SHIFTED and alert["kind"] in ("psi", "concentration"):
            assert f"'{SHIFTED}'" in alert["message"]
    assert SHIFTED in page and "PSI of assets_total in industry" in page
