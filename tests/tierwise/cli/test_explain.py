"""`tierwise explain` against a real MLflow store in tmp_path with models registered here."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise import training
from tierwise.cli import app
from tierwise.config import load_config
from tierwise.features import TASKS, TierwiseError
from tierwise.settings import load_settings
from tierwise.synthetic import DataConfig, generate_bank, write_bank

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs"
runner = CliRunner()


def _flat(output: str) -> str:
    return re.sub(r"[\s│╭╮╰╯─•]+", " ", output)


@pytest.fixture
def registered_bank(tmp_path) -> tuple[Path, str, str]:
    """A small synthetic bank and three small models registered as tierwise-churn/-default/-growth."""
    cfg = load_config(CONFIG_DIR / "data.yaml", DataConfig)
    bank = generate_bank(cfg, clients=1500, months=30, seed=3)
    folder = tmp_path / "bank"
    write_bank(bank, folder)
    settings = load_settings(CONFIG_DIR)
    frames = training.synthetic_frames(folder, TASKS, settings.features, n_snapshots=5)
    for task, frame in frames.items():
        config = settings.task(task).model_copy(update={
            "candidates": ["lightgbm"], "n_estimators": 40, "early_stopping_rounds": 10,
            "tuning": {"budget_minutes": 0, "max_trials": 0}, "num_threads": 1})
        config = type(config).model_validate(config.model_dump())
        result = training.train_split(frame, config)
        training.log_and_register(result, frame, name=f"tierwise-{task}", experiment=f"tierwise-{task}",
                                  config_dump=config.model_dump(mode="json"))
    test = frames["default"].part("test")
    row = test[test["credit_exposure"] > 0].iloc[0]
    return folder, str(row["client_id"]), pd.Timestamp(row["snapshot_month"]).strftime("%Y-%m")


@pytest.mark.slow
def test_explain_prints_three_scores_and_reasons_in_both_languages(registered_bank):
    folder, client, month = registered_bank
    en = runner.invoke(app, ["explain", "--client", client, "--month", month, "--data", str(folder)])
    assert en.exit_code == 0, en.output
    text = _flat(en.output)
    assert client in text and month in text
    for label in ("Churn likelihood", "Default risk", "Growth potential"):
        assert re.search(label + r" [+-]?\d+(\.\d+)?% — (low|medium|high)", text), label
    assert "chance of leaving within 6 months" in text
    zh = runner.invoke(app, ["explain", "--client", client, "--month", month, "--data", str(folder), "--lang", "zh"])
    assert zh.exit_code == 0, zh.output
    ztext = _flat(zh.output)
    for label in ("流失可能性", "违约风险", "增长潜力"):
        assert re.search(label + r" [+-]?\d+(\.\d+)?% — [低中高]", ztext), label
    assert len(re.findall(r"[\u4e00-\u9fff]", ztext)) > 40  # the reasons are in Chinese too
    assert "gender" not in text.lower() and "age_band" not in text

    unknown = runner.invoke(app, ["explain", "--client", "NOPE", "--month", month, "--data", str(folder)])
    assert unknown.exit_code != 0
    assert isinstance(unknown.exception, TierwiseError)
    assert str(unknown.exception).startswith(f"client 'NOPE' is not in {folder}/clients")
    outside = runner.invoke(app, ["explain", "--client", client, "--month", "1999-01", "--data", str(folder)])
    assert isinstance(outside.exception, TierwiseError) and "outside the data" in str(outside.exception)
    # a client whose relationship ended before the month: named, with the months they have
    monthly = pd.read_parquet(folder / "monthly.parquet")
    last = monthly.groupby("client_id")["month"].max()
    gone = str(last[pd.to_datetime(last) < pd.to_datetime(monthly["month"]).max()].index[0])
    closed = runner.invoke(app, ["explain", "--client", gone, "--month",
                                 pd.to_datetime(monthly["month"]).max().strftime("%Y-%m"), "--data", str(folder)])
    assert isinstance(closed.exception, TierwiseError)
    assert f"client '{gone}' has no relationship in" in str(closed.exception)
    assert "their rows cover" in str(closed.exception)
    # a client 90+ days past due is in default: no PD is shown for them, in either language
    late = monthly[(monthly["days_past_due"] >= 90) & (monthly["loan_balance"] + monthly["card_balance"] > 0)].iloc[-1]
    args = ["explain", "--client", str(late["client_id"]), "--month", pd.Timestamp(late["month"]).strftime("%Y-%m"),
            "--data", str(folder)]
    in_default = runner.invoke(app, args)
    assert in_default.exit_code == 0, in_default.output
    assert f"Default risk: in default ({int(late['days_past_due'])} days past due): no PD applies" in _flat(
        in_default.output)
    assert "已违约（逾期" in _flat(runner.invoke(app, [*args, "--lang", "zh"]).output)


def test_explain_without_registered_models_is_one_line(tmp_path):
    folder = tmp_path / "bank"
    folder.mkdir()
    result = runner.invoke(app, ["explain", "--client", "C1", "--month", "2024-01", "--data", str(folder)])
    assert isinstance(result.exception, TierwiseError)
    assert str(result.exception).startswith("no task model is registered in ")
    assert "tierwise train --task" in str(result.exception)


def test_explain_rejects_a_bad_month_and_language(tmp_path):
    bad_month = runner.invoke(app, ["explain", "--client", "C1", "--month", "2024/01", "--data", str(tmp_path)])
    assert bad_month.exit_code != 0 and "YYYY-MM" in _flat(bad_month.output)
    bad_lang = runner.invoke(app, ["explain", "--client", "C1", "--month", "2024-01", "--data", str(tmp_path),
                                  "--lang", "fr"])
    assert bad_lang.exit_code != 0 and "not a language" in _flat(bad_lang.output)
