"""The documented path on a bank that looks like a real warehouse extract (`generate --profile
warehouse --events`: 1,500 clients, 21 months, no closure records, the bank's own branch codes,
empty product columns, few loans), with the one configuration change such a bank makes
(`history_months: 21` in features.yaml): validate, profile, train, recommend, score, explain,
report rm, monitor and run-month all exit 0; the task the data cannot train is named with
its reason and the policy says what it assumed instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.cli import app

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("warehouse")
    configs = root / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    with (configs / "features.yaml").open("a") as f:
        f.write("\nhistory_months: 21\n")  # the one change
    for task in ("churn", "default", "growth"):  # keep the test quick: no tuning trials
        path = configs / "models" / f"{task}.yaml"
        path.write_text(path.read_text().replace("max_trials: 2", "max_trials: 0"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(root / "mlartifacts"))
        mp.setenv("TIERWISE_CONFIG_DIR", str(configs))
        mp.chdir(root)
        outputs = {}
        for name, args in {
            "generate": ["generate", "--profile", "warehouse", "--events", "--out", "bank"],
            "validate": ["validate", "--data", "bank"],
            "profile": ["profile", "--data", "bank", "--out", "profile.json"],
            "train": ["train", "--task", "all", "--data", "bank", "--budget-minutes", "0"],
            "recommend": ["recommend", "--data", "bank"],
        }.items():
            outputs[name] = _ok(args)
        profile = json.loads((root / "profile.json").read_text())
        last = pd.Period(profile["last_month"][:7], "M")
        for month in (last - 1, last):
            outputs[f"score {month}"] = _ok(["score", "--data", "bank", "--month", str(month)])
        client = pd.read_parquet(root / "outputs" / "archive" / f"month={last}-01" / "part-0.parquet",
                                 columns=["client_id"])["client_id"].iloc[0]
        outputs["explain"] = _ok(["explain", "--data", "bank", "--client", client, "--month", str(last)])
        outputs["report"] = _ok(["report", "rm", "--all", "--month", str(last), "--data", "bank",
                                 "--out", "outputs/rm_pages"])
        outputs["monitor"] = _ok(["monitor", "--month", str(last), "--data", "bank", "--out", "outputs/monitor"])
        outputs["run-month"] = _ok(["run-month", "--month", str(last), "--data", "bank"])
        yield {"root": root, "outputs": outputs, "profile": profile, "last": last}


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, (args, result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def test_validate_keeps_every_row_of_a_bank_without_a_branch_list(warehouse):
    assert "rejected 0" in warehouse["outputs"]["validate"]


def test_profile_fits_the_history_and_names_what_cannot_be_trained(warehouse):
    profile = warehouse["profile"]
    assert profile["history_months"] == 21
    tasks = {t["task"]: t for t in profile["tasks"]}
    assert tasks["churn"]["trainable"] and tasks["growth"]["trainable"]
    assert not tasks["default"]["trainable"] and "default" in tasks["default"]["reason"]


def test_train_all_trains_what_it_can_and_names_the_rest(warehouse):
    out = warehouse["outputs"]["train"]
    assert "not trained: default:" in " ".join(out.split())
    assert "tierwise-churn" in out and "tierwise-growth" in out


def test_the_policy_says_what_it_assumed_for_the_missing_task(warehouse):
    assert "assumed: default risk not assessed" in warehouse["outputs"]["recommend"]
    recs = pd.read_parquet(warehouse["root"] / "outputs" / "archive" / f"month={warehouse['last']}-01")
    assert recs["p_default"].isna().all() and recs["p_churn"].notna().all()
    borrowers = recs[(recs["credit_exposure"] > 0) & ~recs["flag_in_default"].astype(bool)]  # in default: a fact
    assert len(borrowers) and borrowers["tier_reason_en"].str.contains("default risk not assessed").all()


def test_the_second_month_remembers_the_first(warehouse):
    recs = pd.read_parquet(warehouse["root"] / "outputs" / "archive" / f"month={warehouse['last']}-01")
    assert recs["tier_prev"].notna().mean() > 0.9
    remembered = recs[recs["tier_prev"].notna()]
    assert not remembered["tier_reason_en"].str.contains("no tier history").any()


def test_pages_and_monitor_are_written(warehouse):
    root = warehouse["root"] / "outputs"
    assert (root / "rm_pages" / "index.html").is_file() and list((root / "rm_pages").glob("rm-*.html"))
    assert json.loads((root / "monitor" / "monitor.json").read_text())["month"] == str(warehouse["last"])
