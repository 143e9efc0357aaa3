"""`tierwise demo`: generate (once), validate, summarise; and the whole monthly job end to end."""

from __future__ import annotations

import pandas as pd
import pytest
from demo_factory import small_configs
from mlflow import MlflowClient
from typer.testing import CliRunner

from tierwise.archive import read_archive
from tierwise.cli import app

runner = CliRunner()


def test_demo_generates_validates_and_summarises(tmp_path, config_dir):
    configs, text = small_configs(tmp_path, config_dir, 600, 26, 400)
    out = tmp_path / "bank"
    args = ["demo", "--out", str(out), "--config-dir", str(configs), "--summary-only"]
    first = runner.invoke(app, args, terminal_width=200)
    assert first.exit_code == 0, first.output
    assert "generated 600 clients x 26 months" in first.output
    for expected in ("clients by segment", "retail", "sme", "churn within 6 months", "oracle ROC AUC"):
        assert expected in first.output
    second = runner.invoke(app, args, terminal_width=200)
    assert second.exit_code == 0
    assert "already generated" in second.output
    (configs / "data.yaml").write_text(text.replace("seed: 42", "seed: 43"))
    third = runner.invoke(app, args, terminal_width=200)
    assert "generated 600 clients" in third.output


@pytest.mark.slow
def test_demo_runs_the_monthly_job_end_to_end(demo_run):
    # the run itself (a session fixture, tests/tierwise/conftest.py) is shared with the checks of
    # its RM report and monitor against the recommendations (reports/test_demo_reports.py)
    output = demo_run.output
    outputs = demo_run.outputs
    recs = read_archive(outputs / "archive")
    months = sorted(recs["month"].dt.strftime("%Y-%m").unique())
    assert len(months) == 12  # the monthly job over the last twelve months
    assert set(recs["tier"]) <= {"Premier", "Excellence", "Potential", "General"}
    assert recs["reason_churn_1_en"].notna().mean() > 0.9
    latest = recs[pd.to_datetime(recs["month"]).dt.strftime("%Y-%m") == months[-1]]
    assert f"{len(latest)}" in output.replace(",", "")  # the tier table counts the latest month
    for word in ("尊享", "流失可能", "churn likelihood"):  # cards in both languages
        assert word in output
    pages = outputs / "rm_pages" / months[-1]
    assert 'lang="zh-CN"' in (pages / "index.html").read_text(encoding="utf-8")
    assert len(list(pages.glob("rm-*.html"))) == latest["rm_id"].nunique()
    assert (outputs / "monitor" / months[-1] / "monitor.json").is_file()
    assert not (outputs / "monitor" / months[0] / "monitor.json").exists()  # the first month has no baseline
    remembered = recs[recs["month"].dt.strftime("%Y-%m") != months[0]]
    assert remembered["tier_prev"].notna().mean() > 0.95  # tier memory from the month before
    client = MlflowClient(tracking_uri=demo_run.tracking_uri, registry_uri=demo_run.tracking_uri)
    for name in ("tierwise-churn", "tierwise-default", "tierwise-growth", "tierwise-recommender"):
        assert client.get_model_version_by_alias(name, "champion") is not None
        assert (outputs / "governance" / name / "v1" / "card.html").is_file(), name  # the governance pack
