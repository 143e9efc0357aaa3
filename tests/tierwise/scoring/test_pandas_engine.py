"""The pandas engine and `tierwise score`: equality with scoring everyone at once, chunk-size
invariance, rejects, the MLflow run, kill-and-resume with a real SIGKILL, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.archive import SCORED_COLUMNS
from tierwise.cli import app
from tierwise.features import TierwiseError, read_raw_tables, snapshot_features, validate_tables
from tierwise.groups import month_groups
from tierwise.models import RECOMMENDATION_COLUMNS, GroupsConfig, apply_contagion, apply_rm_capacity
from tierwise.registry import load_recommender
from tierwise.scoring import parts_path, rejects_path, score_pandas

runner = CliRunner()
TIERWISE = Path(sys.executable).with_name("tierwise")


def _score(world, out: Path, chunk: int, keep_parts: bool = False):
    rec, version, configs = load_recommender(world["model"])
    return score_pandas(world["bank"], world["month"], out, recommender=rec, feature_config=configs.features,
                        model_uri=world["model"], model_version=version, chunk_clients=chunk,
                        keep_parts=keep_parts)


def test_chunks_equal_scoring_everyone_at_once(world, tmp_path):
    import recommender_factory as factory

    result = _score(world, tmp_path / "recs.parquet", chunk=40)
    got = pd.read_parquet(tmp_path / "recs.parquet")
    assert list(got.columns) == list(SCORED_COLUMNS)
    assert got["tier_prev"].isna().all() and got["exit_review_status"].isna().all()  # no archive: no memory
    assert (got["model_version"] == "1").all() and got["input_fingerprint"].str.len().eq(64).all()
    got = got.loc[:, list(RECOMMENDATION_COLUMNS)]
    assert result.chunks > 3 and result.clients == len(got)
    rec, _, _ = load_recommender(world["model"])
    clients, monthly = read_raw_tables(world["bank"])
    report = validate_tables(clients, monthly)
    features = snapshot_features(report.clients, report.monthly, world["month"], factory.feature_config())
    whole = rec.recommend(features)
    groups, _ = month_groups(world["bank"], world["month"], clients["client_id"], GroupsConfig())
    assert groups is not None, "the synthetic bank has relations"
    whole = apply_contagion(whole, groups, rec.policy.policy)  # related firms, before RM capacity
    whole = apply_rm_capacity(whole, rec.policy, n_rms=int(whole["rm_id"].dropna().nunique()) or None)
    whole = whole.sort_values("client_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, whole, check_dtype=False)
    assert not parts_path(tmp_path / "recs.parquet").exists()  # work folder removed when done


def test_chunk_size_does_not_change_the_output(world, tmp_path):
    _score(world, tmp_path / "a.parquet", chunk=7)
    _score(world, tmp_path / "b.parquet", chunk=1000)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()  # row groups too


def test_rejects_and_mlflow_run(world, tmp_path):
    result = _score(world, tmp_path / "recs.parquet", chunk=100)
    rejects = pd.read_parquet(rejects_path(tmp_path / "recs.parquet"))
    assert len(rejects) == sum(result.rejected.values()) > 0  # the dirty bank has bad rows
    assert rejects["reason"].str.len().gt(0).all()
    assert set(rejects["table"]) <= {"clients", "monthly"}
    run = mlflow.get_run(result.run_id)
    assert run.data.params["model_version"] == "1"
    assert len(run.data.params["input_fingerprint"]) == 64
    assert run.data.metrics["clients_scored"] == result.clients
    shares = sum(v for k, v in run.data.metrics.items() if k.endswith("_share"))
    assert shares == pytest.approx(1.0)


def _cli_env(world) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = world["tracking"]
    env["MLFLOW_ARTIFACTS_DESTINATION"] = world["artifacts"]
    return env


def _score_command(world, out: Path, chunk: int) -> list[str]:
    return [str(TIERWISE), "score", "--data", str(world["bank"]), "--month", f"{world['month']:%Y-%m}",
            "--model", world["model"], "--out", str(out), "--no-archive", "--chunk-clients", str(chunk)]


@pytest.mark.slow
def test_sigkill_halfway_then_resume_gives_the_same_output(world, tmp_path):
    env = _cli_env(world)
    reference = tmp_path / "reference.parquet"
    _score(world, reference, chunk=5)  # uninterrupted, in-process
    out = tmp_path / "killed.parquet"
    manifest = parts_path(out) / "manifest.json"
    proc = subprocess.Popen(_score_command(world, out, 5), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    done = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = len(json.loads(manifest.read_text())["chunks"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and done >= 3
    rerun = subprocess.run(_score_command(world, out, 5), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed" in rerun.stdout
    assert "its rows are streamed into the chunks" in " ".join(rerun.stderr.split())  # the bank is in client order
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(reference))


def test_parts_of_another_job_are_not_reused(world, tmp_path):
    out = tmp_path / "recs.parquet"
    first = _score(world, out, chunk=50, keep_parts=True)
    manifest = parts_path(out) / "manifest.json"
    body = json.loads(manifest.read_text())
    body["key"]["fingerprint"] = "something-else"
    manifest.write_text(json.dumps(body))
    second = _score(world, out, chunk=50)
    assert second.resumed_chunks == 0 and first.resumed_chunks == 0
    again = tmp_path / "again.parquet"
    _score(world, again, chunk=50, keep_parts=True)
    third = _score(world, again, chunk=50)
    assert third.resumed_chunks == third.chunks  # same job: every chunk reused


@pytest.mark.parametrize(("args", "message"), [
    (["--month", "2030-01"], "outside the data"),
    (["--month", "June"], "is not a month"),
    (["--engine", "dask"], "'dask' is not an engine"),
    (["--model", "models:/tierwise-recommender@nobody"], "no version of tierwise-recommender has the alias 'nobody'"),
])
def test_bad_arguments_are_one_line(world, tmp_path, args, message):
    base = {"--data": str(world["bank"]), "--month": f"{world['month']:%Y-%m}", "--model": world["model"],
            "--out": str(tmp_path / "r.parquet"), "--archive": str(tmp_path / "archive")}
    extra = dict(zip(args[::2], args[1::2], strict=True))
    argv = ["score", *[x for k, v in {**base, **extra}.items() for x in (k, v)]]
    result = runner.invoke(app, argv)
    assert result.exit_code != 0
    shown = str(result.exception) if isinstance(result.exception, TierwiseError) else result.output
    assert message in " ".join(shown.split())
    assert not (tmp_path / "r.parquet").exists() and not (tmp_path / "archive").exists()


# --------------------------------------------------------------------------- the archive, month after month


def _archive_month(world, archive: Path, month, chunk: int = 100):
    rec, version, configs = load_recommender(world["model"])
    return score_pandas(world["bank"], month, recommender=rec, archive=archive, feature_config=configs.features,
                        model_uri=world["model"], model_version=version, chunk_clients=chunk)


def _partitions(archive: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(archive.glob("month=*/part-0.parquet"))}


def test_months_scored_in_order_remember_the_month_before(world, tmp_path):
    from tierwise.archive import archived_months, read_archive
    from tierwise.features import add_months

    archive = tmp_path / "archive"
    months = [add_months(world["month"], -k) for k in range(5, -1, -1)]
    for month in months:
        result = _archive_month(world, archive, month)
        assert result.archived == archive and result.out is None
    assert archived_months(archive) == months
    got = read_archive(archive)
    for before, month in zip(months, months[1:], strict=False):
        earlier = set(got.loc[got["month"] == pd.Timestamp(before), "client_id"])
        now = got[got["month"] == pd.Timestamp(month)]
        remembered = now[now["client_id"].isin(earlier)]
        assert len(remembered) > 100 and remembered["tier_prev"].notna().all()
        assert not remembered["tier_reason_en"].str.contains("no tier history").any()
        previous = got[got["month"] == pd.Timestamp(before)].set_index("client_id")["tier"]
        assert (remembered["tier_prev"].to_numpy() == previous.reindex(remembered["client_id"]).to_numpy()).all()
    first = got[got["month"] == pd.Timestamp(months[0])]
    assert first["tier_prev"].isna().all()
    # rejects sit beside the archive, one file per month
    assert (tmp_path / "archive-rejects" / f"{months[-1]:%Y-%m}.parquet").is_file()

    # rerunning any month leaves every partition byte-identical
    before = _partitions(archive)
    _archive_month(world, archive, months[2], chunk=37)
    assert _partitions(archive) == before


@pytest.mark.slow
def test_sigkill_while_archiving_a_month_then_rerun_gives_the_same_archive(world, tmp_path):
    from tierwise.features import add_months, month_label

    env = _cli_env(world)
    months = [add_months(world["month"], -1), world["month"]]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    for month in months:
        _archive_month(world, reference, month, chunk=5)
    _archive_month(world, killed, months[0], chunk=5)
    command = [str(TIERWISE), "score", "--data", str(world["bank"]), "--month", month_label(months[1]),
               "--model", world["model"], "--archive", str(killed), "--chunk-clients", "5"]
    manifest = tmp_path / f".killed-{month_label(months[1])}.parts" / "manifest.json"
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(json.loads(manifest.read_text())["chunks"]) >= 3:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert sorted(_partitions(killed)) == [f"month={months[0]:%Y-%m}-01"]  # the killed month is not there
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed" in rerun.stdout
    assert _partitions(killed) == _partitions(reference)
