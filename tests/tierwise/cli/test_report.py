"""`tierwise report rm` and `tierwise monitor` end to end on a seeded tiny bank."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from tierwise.archive import write_month

_FACTORY = Path(__file__).resolve().parents[1] / "reports" / "reports_factory.py"
_spec = importlib.util.spec_from_file_location("reports_factory_cli", _FACTORY)
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bank")
    recs, clients, monthly = factory.make_bank(n_clients=300, seed=11)
    recs_path, data = factory.write_bank(folder, recs, clients, monthly)
    return recs_path, data, recs


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory, bank_dir):
    """The bank's three scored months (2024-01 .. 2024-03) as a client archive."""
    folder = tmp_path_factory.mktemp("archive")
    _, _, recs = bank_dir
    for month, rows in recs.groupby("month"):
        write_month(folder, pd.Timestamp(month).date(), rows)
    return folder


def test_report_rm_writes_the_page(run_cli, monkeypatch, capsys, tmp_path, bank_dir):
    recs_path, data, recs = bank_dir
    rm = str(recs["rm_id"].dropna().min())
    out = tmp_path / "pages" / "rm.html"
    code, stdout, stderr = run_cli("report", "rm", "--rm-id", rm, "--month", "2024-03",
                               "--lang", "zh", "--recommendations", str(recs_path), "--data", str(data),
                               "--out", str(out))
    assert code == 0, stderr
    html = out.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    some = recs[(recs["rm_id"] == rm) & (recs["month"].astype(str).str.startswith("2024-03"))]["client_id"].iloc[0]
    assert f'id="client-{some}"' in html
    assert not list(out.parent.glob(".*.tmp"))  # atomic write leaves nothing behind


def test_report_rm_unknown_rm_is_one_line(run_cli, monkeypatch, capsys, tmp_path, bank_dir):
    recs_path, data, _ = bank_dir
    code, _, stderr = run_cli("report", "rm", "--rm-id", "NOPE", "--month", "2024-03",
                          "--recommendations", str(recs_path), "--data", str(data), "--out", str(tmp_path / "x.html"))
    assert code == 1
    assert "rm-id 'NOPE' has no clients in 2024-03; valid rm-ids: RM01" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "x.html").exists()


def test_report_rm_bad_month_and_missing_file(run_cli, monkeypatch, capsys, tmp_path, bank_dir):
    recs_path, data, _ = bank_dir
    code, _, stderr = run_cli("report", "rm", "--rm-id", "RM01", "--month", "March",
                          "--recommendations", str(recs_path), "--out", str(tmp_path / "x.html"))
    assert code == 2 and "'March' is not a month; write it as YYYY-MM" in stderr
    code, _, stderr = run_cli("report", "rm", "--rm-id", "RM01", "--month", "2024-03",
                          "--recommendations", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "x.html"))
    assert code == 1 and "none.parquet: recommendations file not found" in stderr


def test_monitor_writes_json_html_and_logs_an_mlflow_run(run_cli, tmp_path, bank_dir):
    recs_path, data, _ = bank_dir
    out = tmp_path / "monitor"
    code, stdout, stderr = run_cli("monitor", "--month", "2024-03", "--baseline", "2024-02",
                               "--recommendations", str(recs_path), "--data", str(data), "--out", str(out))
    assert code == 0, stderr
    result = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    assert result["month"] == "2024-03" and result["baseline"] == "2024-02"
    assert result["fairness"]["comparisons"]
    assert "<html" in (out / "monitor.html").read_text(encoding="utf-8")

    experiment = mlflow.get_experiment_by_name("tierwise-monitor")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert len(runs) == 1
    run_ = runs[0]
    assert run_.data.metrics["tier_share.Premier"] == pytest.approx(result["tiers"]["month"][0]["share"])
    assert run_.data.metrics["alerts"] == len(result["alerts"])
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_.info.run_id)}
    assert artifacts == {"monitor.json", "monitor.html"}


def test_monitor_unknown_baseline_is_one_line(run_cli, monkeypatch, capsys, tmp_path, bank_dir):
    recs_path, data, _ = bank_dir
    code, _, stderr = run_cli("monitor", "--month", "2024-03", "--baseline", "2019-01",
                          "--recommendations", str(recs_path), "--data", str(data), "--out", str(tmp_path))
    assert code == 1
    assert "--baseline 2019-01 is not in the recommendations; scored months: 2024-01, 2024-02, 2024-03" in stderr


def test_monitor_takes_decision_thresholds_from_the_policy(tmp_path, config_dir):
    from tierwise.config import load_config
    from tierwise.models import PolicyConfig
    from tierwise.reports import MonitorConfig

    policy = yaml.safe_load((config_dir / "policy.yaml").read_text(encoding="utf-8"))
    policy["risk"]["pd_limit"] = 0.07
    policy["retention"]["min_p_churn"] = 0.45
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    cfg = MonitorConfig().with_policy(load_config(tmp_path / "policy.yaml", PolicyConfig))
    assert (cfg.fairness.default_threshold, cfg.fairness.churn_threshold) == (0.07, 0.45)
    # the limit the recommender's policy was resolved to (risk.watch_share) is the one the risk watch used
    resolved = MonitorConfig().with_policy(load_config(tmp_path / "policy.yaml", PolicyConfig), risk_limit=0.093)
    assert resolved.fairness.default_threshold == 0.093
    assert MonitorConfig().with_policy(None) == MonitorConfig()


def test_monitor_reads_the_archive_with_month_and_baseline_by_default(run_cli, monkeypatch, capsys, tmp_path, bank_dir,
                                                                     archive_dir):
    _, data, _ = bank_dir
    out = tmp_path / "monitor"
    code, stdout, stderr = run_cli("monitor", "--archive", str(archive_dir), "--data", str(data),
                               "--out", str(out))
    assert code == 0, stderr
    assert "(2024-03 against 2024-02)" in stdout
    result = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    assert (result["month"], result["baseline"]) == ("2024-03", "2024-02")
    assert result["history"]["months"] == ["2024-01", "2024-02", "2024-03"]
    assert len(result["history"]["migration"]["steps"]) == 2
    run_ = mlflow.search_runs([mlflow.get_experiment_by_name("tierwise-monitor").experiment_id],
                              output_format="list")[0]
    assert run_.data.metrics["top_tier_share"] == pytest.approx(result["history"]["tiers"][-1]["top_tier_share"])
    assert "expected_auc.churn" in run_.data.metrics


def test_monitor_baseline_defaults_to_the_month_before_in_a_recommendations_file(run_cli, monkeypatch, capsys, tmp_path,
                                                                                  bank_dir):
    recs_path, data, _ = bank_dir
    out = tmp_path / "monitor"
    code, _, stderr = run_cli("monitor", "--month", "2024-02", "--recommendations", str(recs_path),
                          "--data", str(data), "--out", str(out))
    assert code == 0, stderr
    result = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    assert (result["month"], result["baseline"]) == ("2024-02", "2024-01")
    assert result["history"]["months"] == ["2024-01", "2024-02"]  # nothing after --month
    assert not result["history"]["exit_reviews"]["available"]  # a file without the review columns
    assert "exit-review columns" in (out / "monitor.html").read_text(encoding="utf-8")


def test_monitor_month_not_archived_is_one_line_naming_the_archived_months(run_cli, monkeypatch, capsys, tmp_path,
                                                                          archive_dir):
    code, _, stderr = run_cli("monitor", "--month", "2030-01", "--archive", str(archive_dir),
                          "--out", str(tmp_path / "m"))
    assert code == 1 and "Traceback" not in stderr
    assert "--month 2030-01 is not archived; archived months: 2024-01, 2024-02, 2024-03" in stderr
    assert not (tmp_path / "m").exists()


def test_monitor_without_an_earlier_month_for_the_baseline_is_one_line(run_cli, monkeypatch, capsys, tmp_path, bank_dir):
    _, _, recs = bank_dir
    first = recs[recs["month"] == recs["month"].min()]
    write_month(tmp_path / "archive", pd.Timestamp(first["month"].iloc[0]).date(), first)
    code, _, stderr = run_cli("monitor", "--archive", str(tmp_path / "archive"),
                          "--out", str(tmp_path / "m"))
    assert code == 1 and "Traceback" not in stderr
    assert "--baseline: no archived month before 2024-01 to compare with (archived months: 2024-01)" in stderr
    code, _, stderr = run_cli("monitor", "--archive", str(tmp_path / "empty"),
                          "--out", str(tmp_path / "m"))
    assert code == 1 and "empty: no archived month" in stderr


def _flat(stderr: str) -> str:
    """Usage errors come in a box that wraps long lines: the words, one space apart."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", stderr).split())


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    """The hand-checked three-month archive of reports_factory, with its bank folder."""
    archive, bank, _ = factory.write_small_archive(tmp_path_factory.mktemp("small"))
    return archive, bank


def test_report_rm_reads_the_archive_by_default(run_cli, monkeypatch, capsys, tmp_path, small_dir):
    archive, bank = small_dir
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "archive").symlink_to(archive, target_is_directory=True)
    out = tmp_path / "rm01.html"
    code, _, stderr = run_cli("report", "rm", "--rm-id", "RM01", "--month", "2024-02",
                          "--data", str(bank), "--out", str(out))
    assert code == 0, stderr
    html = out.read_text(encoding="utf-8")
    assert set(re.findall(r'<tr id="client-([^"]+)"', html)) == {"C00000", "C00001", "C00002"}
    assert "Premier → Excellence" in html  # February compared with January


def test_report_rm_all_writes_the_index_and_every_page(run_cli, monkeypatch, capsys, tmp_path, small_dir):
    archive, bank = small_dir
    out = tmp_path / "pages"
    code, stdout, stderr = run_cli("report", "rm", "--all", "--month", "2024-03", "--lang", "zh",
                               "--archive", str(archive), "--data", str(bank), "--out", str(out))
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "rm-RM01.html", "rm-RM02.html"]
    assert "wrote 2 RM page(s) and" in stdout
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in index and 'href="rm-RM01.html"' in index


def test_report_rm_wrong_combinations_are_one_line(run_cli, monkeypatch, capsys, tmp_path, small_dir):
    archive, bank = small_dir
    base = ("report", "rm", "--month", "2024-03", "--archive", str(archive), "--data", str(bank))
    code, _, stderr = run_cli(*base, "--all", "--rm-id", "RM01", "--out", str(tmp_path / "p"))
    assert code == 2 and "--all writes every RM's page; leave out --rm-id" in _flat(stderr)
    code, _, stderr = run_cli(*base, "--out", str(tmp_path / "p.html"))
    assert code == 2 and "give --rm-id RM for one page, or --all" in _flat(stderr)
    code, _, stderr = run_cli(*base, "--all", "--out", str(tmp_path / "p.html"))
    assert code == 2 and "with --all, --out is a folder" in _flat(stderr)
    code, _, stderr = run_cli(*base, "--rm-id", "RM01", "--out", str(tmp_path))
    assert code == 2 and "is a folder; give the HTML file to write" in _flat(stderr)
    assert "Traceback" not in stderr and not list(tmp_path.iterdir())


def test_report_rm_month_not_archived_lists_the_archived_ones(run_cli, monkeypatch, capsys, tmp_path, small_dir):
    archive, bank = small_dir
    code, _, stderr = run_cli("report", "rm", "--all", "--month", "2024-05", "--archive",
                          str(archive), "--data", str(bank), "--out", str(tmp_path / "p"))
    assert code == 1 and "Traceback" not in stderr
    assert "month 2024-05 is not in the archive" in stderr and "archived months: 2024-01, 2024-02, 2024-03" in stderr
    code, _, stderr = run_cli("report", "rm", "--all", "--month", "2024-03", "--archive",
                          str(tmp_path / "nothing"), "--out", str(tmp_path / "p"))
    assert code == 1 and "no archived month" in stderr


def test_report_rm_all_reads_little_and_writes_what_the_library_writes(run_cli, monkeypatch, capsys, tmp_path, small_dir):
    # the CLI reads the month in full and only PAGE_HISTORY_COLUMNS of the months before: same pages
    from tierwise.archive import read_archive
    from tierwise.reports import ReportConfig, read_bank, write_rm_pages

    archive, bank = small_dir
    code, _, stderr = run_cli("report", "rm", "--all", "--month", "2024-03", "--archive",
                          str(archive), "--data", str(bank), "--out", str(tmp_path / "cli"))
    assert code == 0, stderr
    _, monthly = read_bank(bank)  # the rows that pass the contract (the small bank has one after a closure)
    assert len(monthly) == len(factory.small_archive_frames()[1]) - 1
    write_rm_pages(read_archive(archive), monthly, "2024-03", tmp_path / "lib", ReportConfig(), "en")
    for name in ("index.html", "rm-RM01.html", "rm-RM02.html"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes(), name
    code, _, stderr = run_cli("report", "rm", "--rm-id", "RM01", "--month", "2024-03", "--archive",
                          str(archive), "--data", str(bank), "--out", str(tmp_path / "one.html"))
    assert code == 0, stderr
    one = (tmp_path / "one.html").read_text(encoding="utf-8")
    assert one.replace("\n", "") == (tmp_path / "lib" / "rm-RM01.html").read_text(encoding="utf-8").replace(
        '<p><a id="back-to-index" href="index.html">&larr; All relationship managers</a></p>', "").replace("\n", "")
