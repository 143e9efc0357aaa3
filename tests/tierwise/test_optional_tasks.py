"""A bank with only some task champions (growth alone; growth and churn), end to end against a
real MLflow registry in tmp_path: `recommend` bundles what exists, `score` (pandas) fills the
archive, `explain`, `report rm` and `monitor` run, and everything says what was assumed."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import recommender_factory as factory

from tierwise import tracking
from tierwise.archive import read_archive
from tierwise.features import add_months


def _register(bank: Path, tasks: tuple[str, ...]) -> None:
    models = factory.tiny_models(factory.bank_features(bank))
    client = tracking.connect()
    for task in tasks:
        with mlflow.start_run(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(models[task], name="model", registered_model_name=f"tierwise-{task}",
                                            serialization_format="cloudpickle")
        client.set_registered_model_alias(f"tierwise-{task}", "champion", str(info.registered_model_version))


@pytest.mark.parametrize("tasks", [("growth",), ("churn", "growth")], ids=["growth", "churn+growth"])
def test_the_monthly_path_runs_with_the_champions_that_exist(run_cli, tasks, tmp_path, monkeypatch, capsys):
    from tierwise.registry import load_recommender

    bank = factory.make_bank(tmp_path / "bank", clients=160, months=14)
    month = factory.latest_month(bank)
    before = add_months(month, -1)
    _register(bank, tasks)
    missing = [t for t in ("churn", "default", "growth") if t not in tasks]

    code, out, err = run_cli("recommend", "--data", str(bank))
    assert code == 0, err
    assert "Traceback" not in err
    assert f"from {', '.join(f'{t} v1' for t in tasks)};" in out
    assert "  assumed: default risk not assessed (no default model)" in out
    recommender, _, _ = load_recommender("models:/tierwise-recommender@champion")
    assert recommender.tasks == tasks
    run_ = mlflow.get_run(mlflow.MlflowClient().get_model_version_by_alias("tierwise-recommender", "champion").run_id)
    assert run_.data.params["tasks_assessed"] == ",".join(tasks)
    assert "default risk not assessed" in run_.data.tags["assumptions"]

    archive = tmp_path / "archive"
    for when in (before, month):
        code, _, err = run_cli("score", "--data", str(bank), "--month", f"{when:%Y-%m}",
                           "--archive", str(archive))
        assert code == 0, err
    recs = read_archive(archive)
    latest = recs[recs["month"] == pd.Timestamp(month)]
    assert len(latest) > 100 and latest["tier"].notna().all()
    assert latest["p_default"].isna().all() and latest["reason_default_1_en"].isna().all()
    assert ("churn" in tasks) == latest["p_churn"].notna().all()
    assert latest["growth"].notna().all() and latest["reason_growth_1_en"].notna().any()
    if "churn" in missing:
        assert latest["tier_reason_en"].str.contains("no churn model: value assumes a churn rate of 5.0%").all()
        assert latest["tier_reason_zh"].str.contains("无流失模型").all()
    credit = latest["credit_exposure"] > 0
    in_default = latest["flag_in_default"].astype(bool)  # a fact, not a score: shown without a default model
    assert latest.loc[credit & ~in_default, "tier_reason_en"].str.contains("default risk not assessed").all()
    assert latest.loc[in_default, "tier_reason_en"].str.contains("days past due").all()
    assert not latest["flag_risk_watch"].any()

    client = str(latest.loc[credit & ~in_default, "client_id"].iloc[0])
    code, out, err = run_cli("explain", "--client", client, "--month", f"{month:%Y-%m}",
                         "--data", str(bank))
    assert code == 0, err
    flat = " ".join(out.split())
    assert "Default risk: not assessed (no model trained)" in flat and "Growth potential" in flat
    code, _, err = run_cli("explain", "--client", client, "--month", f"{month:%Y-%m}",
                       "--data", str(bank), "--task", "default")
    assert code == 1 and "Traceback" not in err
    names = ", ".join(f"tierwise-{t}" for t in tasks)
    assert f"tierwise-default: no registered model (task models: {names})" in " ".join(err.split())

    rm = str(latest["rm_id"].dropna().min())
    page = tmp_path / "rm.html"
    code, _, err = run_cli("report", "rm", "--rm-id", rm, "--month", f"{month:%Y-%m}",
                       "--archive", str(archive), "--data", str(bank), "--out", str(page))
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert "nan%" not in html
    if "churn" in missing:
        assert "no churn model" in html and "not assessed (no model)" in html
    code, _, err = run_cli("monitor", "--month", f"{month:%Y-%m}", "--baseline",
                       f"{before:%Y-%m}", "--archive", str(archive), "--data", str(bank), "--out",
                       str(tmp_path / "monitor"))
    assert code == 0, err
    result = json.loads((tmp_path / "monitor" / "monitor.json").read_text(encoding="utf-8"))
    assert result["month"] == f"{month:%Y-%m}"
    assert "nan%" not in (tmp_path / "monitor" / "monitor.html").read_text(encoding="utf-8")
    code, out, err = run_cli("history", "--client", client, "--archive", str(archive))
    assert code == 0, err
    assert not re.search(r"\bnan\b", out.lower())
    if tasks == ("growth",):  # the monthly job, in one command, on a fresh archive
        code, _, err = run_cli("run-month", "--data", str(bank), "--month", f"{month:%Y-%m}",
                           "--archive", str(tmp_path / "archive2"), "--outputs", str(tmp_path / "outputs"))
        assert code == 0, err
        assert "Traceback" not in err
    top = result["pd_distribution"]["top_tiers"]  # clients with credit, though no PD is assessed
    assert top["mean"] is None
    assert top["with_exposure"] == int((latest["tier"].isin(["Premier", "Excellence"]) & credit).sum())
