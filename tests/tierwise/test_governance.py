"""The governance pack against a real MLflow store in tmp (see tests/conftest.py): train a tiny
default model on an out-of-time split, promote it, write the card, read it back."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from tierwise import governance, registry, tracking, training
from tierwise.cli import app
from tierwise.features import DataError, ModelFrame
from tierwise.models import TaskConfig
from tierwise.settings import load_settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

NAME = "tierwise-default"
slow = pytest.mark.slow  # the module's store trains two small models (about 20 s on a busy machine)
FEATURES = ("days_past_due", "card_utilisation", "noise")
MONTHS = pd.date_range("2024-01-01", periods=6, freq="MS")
SPLITS = ("train", "train", "train", "valid", "test", "test")
CONFIG = TaskConfig(
    task="default", kind="binary", candidates=["lightgbm"], n_estimators=60, early_stopping_rounds=10,
    num_threads=1, tuning={"budget_minutes": 0, "max_trials": 0},
    calibration={"method": "platt"}, monotone={"days_past_due": 1},
    grades=[{"name": "R1", "max_pd": 0.05}, {"name": "R2", "max_pd": 0.2}, {"name": "R3", "max_pd": 1.0}],
    intended_use="PD for the risk watch in the governance test.",
    limitations=["Tiny synthetic test data."], description="Test PD model.")


def split_frame(rows_per_month: int = 500, seed: int = 0) -> ModelFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for month, split in zip(MONTHS, SPLITS, strict=True):
        n = rows_per_month
        dpd = rng.poisson(3, n).astype(float)
        util = rng.uniform(0, 1, n)
        logit = -3.5 + 0.35 * dpd + 1.5 * util
        parts.append(pd.DataFrame({
            "client_id": pd.array([f"c{i:05d}" for i in range(n)], dtype="str"), "snapshot_month": month,
            "split": pd.array([split] * n, dtype="str"), "days_past_due": dpd, "card_utilisation": util,
            "noise": rng.normal(size=n), "default_12m": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int),
            "gender": pd.array(rng.choice(["F", "M"], n), dtype="str"),
            "age_band": pd.array(rng.choice(["<30", "30-44", "45-59", "60+"], n), dtype="str"),
        }))
    data = pd.concat(parts, ignore_index=True)
    return ModelFrame(data, FEATURES, "default_12m", "binary", id_columns=("client_id",), split_column="split",
                      time_column="snapshot_month", name="default")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One registry for the module: v1 (confirmed champion), v2 (refused challenger)."""
    root = tmp_path_factory.mktemp("gov")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(root / "mlartifacts"))
    mp.setenv(governance.APPROVER_ENV, "risk.officer")
    frame = split_frame()
    info, result = training.train_frame_and_register(frame, CONFIG, name=NAME)
    outcome = training.promote(NAME, frame.part("test"))
    weak = frame.data.assign(default_12m=np.random.default_rng(1).permutation(frame.data["default_12m"].to_numpy()))
    weak_frame = ModelFrame(weak, FEATURES, "default_12m", "binary", split_column="split",
                            time_column="snapshot_month", name="default")
    weak_info, _ = training.train_frame_and_register(weak_frame, CONFIG, name=NAME)
    refused = training.promote(NAME, frame.part("test"))
    yield {"root": root, "info": info, "result": result, "outcome": outcome, "weak": weak_info, "refused": refused}
    mp.undo()


@pytest.fixture(autouse=True)
def _mlflow_in_tmp(store, monkeypatch):
    """Override the repository-wide fixture: every test here reads the module's store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store['root'] / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(store["root"] / "mlartifacts"))
    monkeypatch.setenv(governance.APPROVER_ENV, "risk.officer")


@pytest.fixture(scope="module")
def pack(store, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store['root'] / 'mlflow.db'}")
    out = tmp_path_factory.mktemp("out")
    settings = load_settings(CONFIG_DIR)  # as the CLI passes them
    paths = governance.write_pack(NAME, alias="champion", out_dir=out, monitor=settings.monitor,
                                  features=settings.features)
    mp.undo()
    return paths


@slow
def test_promotion_records_the_approver_and_the_figures(store):
    client = MlflowClient()
    v1 = client.get_model_version(NAME, store["info"].version)
    assert store["outcome"].champion_version == store["info"].version  # first version: confirmed
    assert v1.tags["approved_by"] == "risk.officer"
    assert v1.tags["approval_decision"] == "confirmed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v1.tags["approved_at"])
    assert float(v1.tags["approval_challenger_value"]) == pytest.approx(store["outcome"].challenger_value, abs=1e-6)
    assert v1.tags["approval_rows"] == str(store["outcome"].rows)
    # the weak challenger was reviewed and refused: a review, never an approval
    assert not store["refused"].promoted
    v2 = client.get_model_version(NAME, store["weak"].version)
    assert v2.tags["last_review_decision"] == "refused"
    assert v2.tags["last_review_by"] == "risk.officer"
    assert "approved_by" not in v2.tags
    assert registry.alias_version(client, NAME, "champion") == store["info"].version


def test_review_tags_are_deterministic():
    outcome = training.Promotion(NAME, "roc_auc", "3", 0.81, "2", 0.8, True, 1000)
    tags = governance.review_tags(outcome, user="alice", when="2026-01-01T00:00:00Z")
    assert tags["approved_by"] == "alice" and tags["approval_decision"] == "promoted"
    assert tags["approval_champion_version"] == "2" and tags["approval_challenger_value"] == "0.810000"
    refused = training.Promotion(NAME, "roc_auc", "3", 0.79, "2", 0.8, False, 1000)
    assert "approved_by" not in governance.review_tags(refused, user="alice", when="t")


def test_approver_from_env_else_os_user(monkeypatch):
    monkeypatch.setenv(governance.APPROVER_ENV, "  bob  ")
    assert governance.approver() == "bob"
    monkeypatch.delenv(governance.APPROVER_ENV)
    assert governance.approver()  # the OS user (or "unknown")


@slow
def test_training_logs_scored_rows_for_fairness_and_stability(store, tmp_path):
    client = MlflowClient()
    run_id = store["info"].run_id
    path = client.download_artifacts(run_id, governance.SCORED_ROWS, str(tmp_path))
    rows = pd.read_parquet(path)
    assert set(rows["split"]) == {"valid", "test"}
    assert set(rows.columns) == {"snapshot_month", "split", "label", "score", "gender", "age_band"}
    assert "client_id" not in rows.columns and not set(FEATURES) & set(rows.columns)  # no client data beyond this
    test = rows[rows["split"] == "test"]
    assert np.allclose(test["score"].to_numpy(), store["result"].predictions["score"].to_numpy())


@slow
def test_card_has_every_section_with_the_real_values(store, pack):
    client = MlflowClient()
    run = client.get_run(store["info"].run_id)
    md = pack.markdown.read_text(encoding="utf-8")
    assert pack.markdown.parent.name == f"v{store['info'].version}"
    for section in ("## Summary", "## Purpose and intended users", "## Data window and fingerprint", "## Features",
                    "## Metrics on the out-of-time test", "## Calibration by grade, with test results",
                    "## Fairness", "## Stability", "## Known limitations", "## Approval"):
        assert section in md, section
    assert "PD for the risk watch in the governance test." in md
    assert run.data.params["data_fingerprint"] in md
    assert "test: 2024-05 to 2024-06 (1000 rows)" in md
    assert "Days past due on any credit product" in md  # the feature catalogue's description
    auc = run.data.metrics["roc_auc"]
    assert f"| `roc_auc` | {auc:.4f} |" in md
    grades = pd.read_csv(client.download_artifacts(run.info.run_id, "grades.csv", str(pack.markdown.parent.parent)))
    for g in grades.itertuples():
        assert re.search(rf"^\| {g.grade} \| .* \| {int(g.n):,} \| {int(g.defaults):,} \|", md, flags=re.M), g.grade
    assert "Approved** by **risk.officer**" in md
    assert "confirmed as champion" in md
    assert "gender: selection-rate ratio" in md and "age_band: selection-rate ratio" in md
    assert "test period vs validation period" in md and "test month 2024-06 vs validation period" in md
    assert "Tiny synthetic test data." in md
    assert "| Approval | ok | approved by risk.officer at " in md  # the summary row


@slow
def test_html_is_self_contained(pack):
    html = pack.html.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, flags=re.I)
    assert "<script" not in html.lower() and "@import" not in html and "url(http" not in html
    assert 'src="data:image/png;base64,' in html  # the calibration plot, inline
    assert "risk.officer" in html and 'id="fairness"' in html


@slow
def test_card_is_attached_to_the_version_run_and_tagged(store, pack):
    client = MlflowClient()
    run_id = store["info"].run_id
    logged = {a.path for a in client.list_artifacts(run_id, governance.ARTIFACT_DIR)}
    assert logged == {f"{governance.ARTIFACT_DIR}/card.md", f"{governance.ARTIFACT_DIR}/card.html"}
    mv = client.get_model_version(NAME, store["info"].version)
    assert mv.tags[governance.CARD_TAG] == f"runs:/{run_id}/governance/card.html"
    assert pack.artifact_uri == mv.tags[governance.CARD_TAG]


@slow
def test_refused_version_card_says_not_approved(store, tmp_path):
    paths = governance.write_pack(NAME, version=store["weak"].version, out_dir=tmp_path, log_to_mlflow=False)
    md = paths.markdown.read_text(encoding="utf-8")
    assert "Not approved / not champion" in md
    assert "last review: refused by risk.officer" in md


@slow
def test_unknown_model_and_version_are_one_line():
    with pytest.raises(DataError, match=r"^tierwise-nothing: no registered model of that name \(registered: "
                                        r"[^)]*tierwise-default[^)]*\)$"):
        governance.write_pack("tierwise-nothing")
    with pytest.raises(DataError, match=r"^tierwise-default: no version 99 \(versions: 1, 2\)$"):
        governance.write_pack(NAME, version="99")
    with pytest.raises(DataError, match="no version has the alias 'gold'"):
        governance.write_pack(NAME, alias="gold")


@slow
def test_cli_writes_the_card_and_rejects_bad_input(store, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["governance", "--model", NAME, "--version", store["info"].version,
                                 "--out", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert (tmp_path / NAME / f"v{store['info'].version}" / "card.html").is_file()
    assert "wrote" in result.output
    bad = runner.invoke(app, ["governance", "--model", NAME, "--version", "1", "--alias", "champion"])
    assert bad.exit_code != 0 and "at most one of" in bad.output
    unknown = runner.invoke(app, ["governance", "--model", "tierwise-nothing", "--out", str(tmp_path)])
    assert unknown.exit_code != 0
    assert isinstance(unknown.exception, DataError)


def test_data_window_falls_back_to_the_training_card():
    text = "## Data window\n- train: 2024-01 to 2024-03 (30 rows)\n- test: 5 rows\n- data fingerprint (SHA-256): `x`\n\n## Metrics\n"
    assert governance.data_window_from_card(text) == {"train": "2024-01 to 2024-03 (30 rows)", "test": "5 rows"}


def test_decile_calibration_binary_and_regression():
    rng = np.random.default_rng(0)
    score = rng.uniform(0.01, 0.5, 2000)
    label = (rng.uniform(size=2000) < score).astype(float)
    table = governance.decile_calibration(label, score, "binary")
    assert len(table) == 10 and table["n"].sum() == 2000 and table["passed"].sum() >= 8  # 5% tests
    reg = governance.decile_calibration(score * 2, score, "regression")
    assert reg["n"].sum() == 2000 and list(reg["decile"])[:2] == ["D1", "D2"]
    assert reg["mean_actual"].is_monotonic_increasing


def test_score_stability_flags_a_shifted_month():
    from tierwise.reports import PsiConfig

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({
        "split": ["valid"] * 1000 + ["test"] * 2000,
        "month": ["2024-04"] * 1000 + ["2024-05"] * 1000 + ["2024-06"] * 1000,
        "score": np.concatenate([rng.uniform(size=2000), rng.uniform(size=1000) ** 3]),
    })
    out = governance.score_stability(rows, "month", PsiConfig())
    status = {r["compared"]: r["status"] for r in out}
    assert status["test month 2024-05 vs validation period"] == "ok"
    assert status["test month 2024-06 vs validation period"] == "alert"


def _register_recommender(client, params: dict[str, str], tags: dict[str, str] | None = None) -> None:
    """A recommender version in the registry (its run's params and tags only; no pyfunc), as champion."""
    run = client.create_run(tracking.experiment_id(client, "tierwise-recommender"))
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for key, value in (tags or {}).items():
        client.set_tag(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(governance.RECOMMENDER)
    mv = client.create_model_version(governance.RECOMMENDER, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(governance.RECOMMENDER, "champion", mv.version)


@slow
def test_recommender_card_lists_the_bundled_versions(store, tmp_path):
    """A registered recommender version (registry entries only; no pyfunc needs loading)."""
    _register_recommender(MlflowClient(), {"default_version": store["info"].version, "churn_version": "7",
                                           "growth_version": "1", "cut_premier": "1234.5", "reference_clients": "500"})
    paths = governance.write_pack(governance.RECOMMENDER, out_dir=tmp_path)
    md = paths.markdown.read_text(encoding="utf-8")
    assert "## Bundled model versions" in md and "## Tier policy" in md and "## Approval" in md
    assert f"| tierwise-default | v{store['info'].version} | approved by risk.officer at " in md
    assert "| tierwise-churn | v7 | not approved |" in md
    assert "| `premier` | ¥1,230 |" in md
    assert "1 of 3 bundled versions approved" in md
    assert "| Approval | alert | bundles a version that is not approved |" in md  # no promotion step of its own


def test_recommender_card_names_the_tasks_without_a_model_and_the_assumptions(tmp_path, monkeypatch):
    """A recommender built from growth alone: the card says churn and default were assumed, and how."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # not the module's store
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(tmp_path / "mlartifacts"))
    client = tracking.connect()
    _register_recommender(client, {"growth_version": "1", "tasks_assessed": "growth", "reference_clients": "500"},
                          {"assumptions": "no churn model: value assumes a churn rate of 5% over 6 "
                                          "months; default risk not assessed (no default model)"})
    md = governance.write_pack(governance.RECOMMENDER, out_dir=tmp_path).markdown.read_text(encoding="utf-8")
    assert "| tierwise-churn | none (no model) | assumed by the policy |" in md
    assert "| tierwise-default | none (no model) | assumed by the policy |" in md
    assert "0 of 1 bundled versions approved; no model for tierwise-churn, tierwise-default (assumed)" in md
    assert "assumed by the policy (also said in every tier reason): no churn model: value assumes a churn rate" in md


@slow
def test_promotion_states_the_difference_and_its_interval(store):
    first, refused = store["outcome"], store["refused"]
    assert first.first and first.difference is None
    assert governance.promotion_message(first) == (
        f"v{first.challenger_version} is the first version: confirmed as champion (nothing to compare with)")
    # the weak challenger (trained on shuffled labels) against v1, on the same out-of-time rows
    assert refused.difference == pytest.approx(refused.challenger_value - refused.champion_value)
    assert refused.difference_low <= refused.difference <= refused.difference_high < 0
    assert refused.resamples >= 900
    message = governance.promotion_message(refused)
    assert message.startswith(f"kept champion v{first.challenger_version}: challenger v{refused.challenger_version} "
                              "is not better beyond noise (roc_auc difference -")
    assert "95% interval" in message and "paired bootstrap" in message
    uri = f"sqlite:///{store['root'] / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # not the registry an earlier test connected to
    tags = client.get_model_version(NAME, store["weak"].version).tags
    assert float(tags["last_review_difference_high"]) == pytest.approx(refused.difference_high, abs=1e-6)
    assert tags["last_review_test"].startswith("paired bootstrap")


def test_paired_bootstrap_tells_a_real_gain_from_noise():
    rng = np.random.default_rng(0)
    n = 2000
    y = (rng.uniform(size=n) < 0.2).astype(float)
    signal = y + rng.normal(0, 1.0, n)
    same = governance.paired_bootstrap(y, signal, signal, "roc_auc", resamples=200, seed=1)
    assert same["difference"] == 0 and same["low"] == same["high"] == 0  # identical models: no gain
    noisy = governance.paired_bootstrap(y, signal + rng.normal(0, 0.02, n), signal, "roc_auc", resamples=200, seed=1)
    assert noisy["low"] < 0 < noisy["high"]  # a 0.001 change of AUC is noise: not promoted
    better = governance.paired_bootstrap(y, y + rng.normal(0, 0.5, n), signal, "roc_auc", resamples=200, seed=1)
    assert better["low"] > 0 and better["difference"] > 0.05
    again = governance.paired_bootstrap(y, signal + rng.normal(0, 0.02, n), signal, "roc_auc", resamples=200, seed=1)
    assert again["resamples"] == 200 and set(again) == set(noisy)
    assert governance.paired_bootstrap(y, signal, signal[::-1], "roc_auc", resamples=50, seed=3) == \
        governance.paired_bootstrap(y, signal, signal[::-1], "roc_auc", resamples=50, seed=3)  # seeded


def test_promotion_messages_read_right():
    def outcome(champion, promoted, **kw):
        return training.Promotion(NAME, "roc_auc", "2", 0.8843, champion, 0.8832, promoted, 1000, **kw)

    assert governance.promotion_message(outcome(None, True)) == "v2 is the first version: promoted to champion"
    assert governance.promotion_message(outcome("2", False)) == "v2 is already champion: confirmed on the out-of-time rows"
    kept = outcome("1", False, difference=0.0011, difference_low=-0.0020, difference_high=0.0042, resamples=1000)
    assert governance.promotion_message(kept) == (
        "kept champion v1: challenger v2 is not better beyond noise (roc_auc difference +0.0011, 95% interval "
        "-0.0020 to +0.0042, paired bootstrap of 1000 resamples)")
    won = outcome("1", True, difference=0.0300, difference_low=0.0100, difference_high=0.0500, resamples=1000)
    assert governance.promotion_message(won).startswith("promoted v2 to champion: better than v1 beyond noise")
    tags = governance.review_tags(kept, user="alice", when="t")
    assert tags["last_review_difference_low"] == "-0.002000" and tags["last_review_confidence"] == "95%"


def test_approval_is_never_ok_while_alerts_are_open():
    tags = {"approved_by": "alice", "approved_at": "2026-01-01T00:00:00Z", "approval_decision": "confirmed",
            "approval_metric": "roc_auc", "approval_challenger_version": "1", "approval_challenger_value": "0.88",
            "approval_champion_version": "1", "approval_champion_value": "0.88", "approval_rows": "1000"}
    clean = governance.approval_section(tags, ["champion"], "1")
    assert clean.status == "ok"
    sections = [governance.Section("fairness", "Fairness", status="alert", finding="2 breach(es)"),
                governance.Section("stability", "Stability", status="ok", finding="highest score PSI 0.010"),
                governance.Section("calibration", "Calibration", status="alert", finding="1 of 5 grades fail")]
    alerts = governance.open_alerts(sections)
    assert alerts == ["Fairness: 2 breach(es)", "Calibration: 1 of 5 grades fail"]
    open_ = governance.approval_section(tags, ["champion"], "1", alerts=alerts)
    assert open_.status == "warn" and "2 open alert(s) not cleared by the approval" in open_.finding
    assert "open alert: Fairness: 2 breach(es)" in open_.bullets
    acknowledged = next(b for b in open_.bullets if b.startswith("the approver acknowledged: "))
    assert "v1 0.8800 (the champion itself: no other version compared)" in acknowledged
    assert "challenger v1" not in acknowledged


@slow
def test_card_of_an_approved_champion_with_an_open_alert_says_so(store, tmp_path, monkeypatch):
    from tierwise.governance import _pack

    def breached(*args, **kwargs):
        return governance.Section("fairness", "Fairness", status="alert", finding="1 breach(es)")

    monkeypatch.setattr(_pack, "section_fairness", breached)
    md = governance.write_pack(NAME, version=store["info"].version, out_dir=tmp_path, log_to_mlflow=False
                               ).markdown.read_text(encoding="utf-8")
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "| Fairness | alert | 1 breach(es) |" in summary
    assert "| Approval | ok |" not in summary
    assert "| Approval | warn | approved by risk.officer at " in summary
    assert "1 open alert(s) not cleared by the approval" in summary
    assert "open alert: Fairness: 1 breach(es)" in md


def test_recommender_card_never_reads_ok_while_a_bundled_card_has_open_alerts(tmp_path, monkeypatch):
    """Every bundled version approved, but the growth card has an open fairness alert: the bundle's
    approval is not 'ok', and the alert is listed with its version."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(tmp_path / "mlartifacts"))
    client = tracking.connect()
    task_run = client.create_run(tracking.experiment_id(client, "tierwise-growth"))
    client.set_terminated(task_run.info.run_id)
    client.create_registered_model("tierwise-growth")
    task_mv = client.create_model_version("tierwise-growth", f"runs:/{task_run.info.run_id}/model",
                                          run_id=task_run.info.run_id)
    for key, value in {"approved_by": "risk.officer", "approved_at": "2026-12-01",
                       governance.ALERTS_TAG: "Fairness: 1 breach(es)"}.items():
        client.set_model_version_tag("tierwise-growth", task_mv.version, key, value)
    _register_recommender(client, {"growth_version": task_mv.version, "tasks_assessed": "growth",
                                   "reference_clients": "500"})
    md = governance.write_pack(governance.RECOMMENDER, out_dir=tmp_path).markdown.read_text(encoding="utf-8")
    assert "approved by risk.officer at 2026-12-01; open alerts: Fairness: 1 breach(es)" in md
    assert ("| Approval | warn | every bundled version approved; 1 open alert(s) on the bundled cards, "
            "not cleared by those approvals |") in md
    assert "open alert: tierwise-growth v1: Fairness: 1 breach(es)" in md
    assert "| Bundled model versions | alert |" in md


def test_a_task_card_tags_its_version_with_its_open_alerts(store, tmp_path):
    version = store["info"].version
    paths = governance.write_pack(NAME, version=version, out_dir=tmp_path)
    summary = paths.markdown.read_text(encoding="utf-8").split("## Summary")[1].split("\n## ")[0]
    rows = re.findall(r"^\| ([^|]+) \| (\w+) \| ([^|]*) \|$", summary, flags=re.M)
    expected = [f"{title}: {finding}" for title, status, finding in rows if status == "alert" and title != "Approval"]
    assert rows, "the card has a summary table"
    tags = MlflowClient().get_model_version(NAME, version).tags
    assert tags[governance.ALERTS_TAG] == ("; ".join(expected) or "none")
