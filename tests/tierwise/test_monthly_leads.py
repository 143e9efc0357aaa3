"""The monthly job with related firms: `run-month` writes the month's supply-chain leads (Parquet and
CSV), puts each RM's core clients' leads on the RM page and the connected groups in the monitor;
a bank without relations gets none of it and runs as before."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import recommender_factory as factory
from typer.testing import CliRunner

from tierwise.archive import read_archive
from tierwise.cli import app
from tierwise.features import add_months, month_label
from tierwise.reports._rm_pages import page_name

runner = CliRunner()


def _run_months(world, tmp_path, *, relations: bool):
    bank = tmp_path / "bank"
    shutil.copytree(world["bank"], bank)
    if not relations:
        for path in bank.glob("relations.*"):
            path.unlink()
    last = world["month"]
    args = ["run-month", "--from", month_label(add_months(last, -1)), "--to", month_label(last), "--data", str(bank),
            "--model", world["model"], "--archive", str(tmp_path / "archive"), "--outputs", str(tmp_path / "out"),
            "--chunk-clients", "150"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return tmp_path / "out", result.output


@pytest.fixture(scope="module")
def with_relations(scoring_world, tmp_path_factory):
    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        root = tmp_path_factory.mktemp("monthly-leads")
        out, output = _run_months(scoring_world, root, relations=True)
        yield {"root": root, "out": out, "output": output, "month": scoring_world["month"]}


def test_run_month_writes_the_leads_file_and_each_rms_section(with_relations):
    month = month_label(with_relations["month"])
    folder = with_relations["out"] / "leads" / month
    leads = pd.read_parquet(folder / "leads.parquet")
    assert len(pd.read_csv(folder / "leads.csv")) == len(leads) > 0
    assert f"{len(leads):,} supply-chain leads" in with_relations["output"]
    owned = leads[leads["rm_id"].notna()]
    rm = owned["rm_id"].value_counts().index[0]
    html = (with_relations["out"] / "rm_pages" / month / page_name(rm)).read_text()
    assert 'id="supply-chain-leads"' in html
    shown = owned[(owned["rm_id"] == rm) & (owned["rank"] <= 5)]  # monitor.yaml groups.leads_shown
    for row in shown.itertuples():
        assert f'data-client="{row.client_id}" data-counterparty="{row.counterparty_id}"' in html
    assert html.count(' data-lead="') == len(shown)  # the RM's own leads, the first five of each core client
    archived = read_archive(with_relations["root"] / "archive", months=[with_relations["month"]])
    assert archived["group_id"].notna().all()
    monitor = json.loads((with_relations["out"] / "monitor" / month / "monitor.json").read_text())
    assert monitor["groups"]["available"] and monitor["groups"]["changes"] is not None


def test_a_bank_without_relations_runs_as_before(world, tmp_path):
    out, output = _run_months(world, tmp_path, relations=False)
    month = month_label(world["month"])
    assert not (out / "leads").exists() and "supply-chain leads;" not in output  # no count in the month's line
    assert f"no supply-chain leads for {month}" in output  # the log line says why
    pages = list((out / "rm_pages" / month).glob("rm-*.html"))
    assert pages and not any("supply-chain-leads" in p.read_text() for p in pages)
    assert read_archive(tmp_path / "archive", months=[world["month"]])["group_id"].isna().all()
    monitor = json.loads((out / "monitor" / month / "monitor.json").read_text())
    assert monitor["groups"]["available"] is False
    assert not any(a["kind"] == "groups" for a in monitor["alerts"])
