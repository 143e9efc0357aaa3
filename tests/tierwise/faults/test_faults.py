"""Fault injection (issue 18, item 9): for every command, bad-path runs through the real entry
point (`tierwise.cli.main`, in process) end in one line on stderr and a non-zero exit, with no
traceback, and leave the previous outputs byte-for-byte (and mtime) as they were.

Covered: missing input, unreadable input, bad configuration, an output that is a folder or a
file, a run on an output another process holds (a real second process), a corrupted resume
part, a month after the extract's end. One small bank and recommender (`scoring_world`) and
one two-month run-month archive serve every case."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tierwise.cli import main
from tierwise.features import add_months, month_label

HOLD = textwrap.dedent("""
    import sys, time
    from tierwise.features import output_lock
    from tierwise.archive import month_lock
    import datetime as dt
    if sys.argv[1] == "month":
        lock = month_lock(__import__("pathlib").Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))
    else:
        lock = output_lock(sys.argv[2])
    with lock:
        print("held", flush=True)
        time.sleep(120)
""")


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """stderr without log lines, on one line (click draws its usage errors in a box)."""
        kept = [ln for ln in self.err.splitlines() if not _LOG.match(ln)]
        return " ".join(_BOX.sub(" ", "\n".join(kept)).split())


_LOG = re.compile(r"^(\[\d\d:\d\d:\d\d\] +)?(INFO|WARNING|DEBUG) |^ {10,}")  # rich log lines, wrapped
_BOX = re.compile(r"[│╭╮╰╯─]+")


def tierwise(capsys, monkeypatch, *args: str) -> Ran:
    """`tierwise ARGS` through the console-script entry point, in this process."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["tierwise", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def bank(scoring_world, tmp_path_factory):
    """The scoring world, plus an archive and the outputs of `run-month` for its last two months."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", scoring_world["tracking"])
    mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", scoring_world["artifacts"])
    root = tmp_path_factory.mktemp("faults")
    last = scoring_world["month"]
    first = add_months(last, -1)
    mp.setattr(sys, "argv", ["tierwise", "run-month", "--from", month_label(first), "--to", month_label(last),
                             "--data", str(scoring_world["bank"]), "--model", scoring_world["model"],
                             "--archive", str(root / "archive"), "--outputs", str(root / "outputs"),
                             "--chunk-clients", "100"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    mp.undo()
    yield {**scoring_world, "root": root, "archive": root / "archive", "outputs": root / "outputs",
           "first": first, "last": last, "m": month_label(last)}


@pytest.fixture
def env(bank, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bank["tracking"])
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", bank["artifacts"])
    return bank


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `roots` (or the file itself): its bytes and mtime."""
    files: dict[str, tuple[bytes, int]] = {}
    for root in roots:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            if not path.name.endswith(".lock"):
                files[str(path)] = (path.read_bytes(), path.stat().st_mtime_ns)
    return files


def check_one_line(ran: Ran, key: str, code: int = 1) -> None:
    """Exit `code`, no traceback, one error line (or click's usage error) holding `key`."""
    assert ran.code == code, (ran.code, ran.out, ran.err)
    assert "Traceback" not in ran.out + ran.err, ran.err
    assert key in ran.line, ran.err
    errors = [ln for ln in ran.err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 or (code == 2 and "Usage:" in ran.err), ran.err


@pytest.fixture
def holder() -> Iterator[Callable[..., subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def hold(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, *map(str, args)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _broken_bank(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "monthly.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    return dst


def _future_bank(src: Path, dst: Path) -> Path:
    """The bank with one monthly row moved to 2099-01 and one client onboarded in 2090."""
    shutil.copytree(src, dst)
    monthly = pd.read_parquet(dst / "monthly.parquet")
    monthly["month"] = pd.to_datetime(monthly["month"])
    monthly.loc[monthly.index[-1], "month"] = pd.Timestamp("2099-01-01")
    monthly.to_parquet(dst / "monthly.parquet", index=False)
    clients = pd.read_parquet(dst / "clients.parquet")
    clients["onboarding_month"] = pd.to_datetime(clients["onboarding_month"])
    clients.loc[clients.index[0], "onboarding_month"] = pd.Timestamp("2090-01-01")
    clients.to_parquet(dst / "clients.parquet", index=False)
    return dst


def _config_dir(tmp_path: Path, name: str, body: bytes) -> Path:
    folder = tmp_path / "configs"
    shutil.copytree(Path(__file__).resolve().parents[3] / "configs", folder)
    (folder / name).write_bytes(body)
    return folder


# --------------------------------------------------------------------------- missing / unreadable input


@pytest.mark.parametrize("command", [
    ["validate"], ["profile"], ["features", "--month", "2024-01", "--out", "{tmp}/f.parquet"],
    ["trainset", "--from", "2023-06", "--to", "2023-08", "--out", "{tmp}/t.parquet"],
    ["score", "--month", "2024-01", "--archive", "{tmp}/archive"],
    ["run-month", "--month", "2024-01", "--archive", "{tmp}/archive", "--outputs", "{tmp}/outputs"],
    ["explain", "--client", "C000001", "--month", "2024-01"],
])
def test_a_missing_data_folder_is_one_line(env, capsys, monkeypatch, tmp_path, command):
    argv = [a.format(tmp=tmp_path) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv, "--data", tmp_path / "nowhere")
    check_one_line(ran, "nowhere", code=ran.code or 1)
    assert ran.code != 0
    assert not any(tmp_path.glob("*.parquet")) and not (tmp_path / "archive").exists()


@pytest.mark.parametrize("command", [
    ["validate"], ["profile"], ["features", "--month", "{m}", "--out", "{tmp}/f.parquet"],
    ["score", "--month", "{m}", "--archive", "{tmp}/archive"],
    ["run-month", "--month", "{m}", "--archive", "{tmp}/archive", "--outputs", "{tmp}/outputs"],
])
def test_an_unreadable_monthly_table_is_one_line(env, capsys, monkeypatch, tmp_path, command):
    data = _broken_bank(env["bank"], tmp_path / "broken")
    argv = [a.format(tmp=tmp_path, m=env["m"]) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv, "--data", data, "--model", env["model"]) if command[0] in (
        "score", "run-month") else tierwise(capsys, monkeypatch, *argv, "--data", data)
    check_one_line(ran, "monthly.parquet")
    assert "cannot be read" in ran.line
    assert not (tmp_path / "f.parquet").exists() and not (tmp_path / "archive").exists()


# --------------------------------------------------------------------------- bad configuration


@pytest.mark.parametrize(("name", "body", "key"), [
    ("features.yaml", b"windows: [1, 3]\nwindos: 2\n", "windos"),
    ("policy.yaml", b"\xff\xfe not utf-8", "UTF-8"),
    ("monitor.yaml", b"history: [unclosed\n", "monitor.yaml"),
])
@pytest.mark.parametrize("command", [
    ["validate", "--data", "{bank}"],
    ["features", "--data", "{bank}", "--month", "{m}", "--out", "{tmp}/f.parquet"],
    ["train", "--task", "churn", "--data", "{bank}"],
    ["monitor", "--archive", "{archive}", "--out", "{tmp}/monitor"],
    ["report", "rm", "--archive", "{archive}", "--month", "{m}", "--all", "--out", "{tmp}/pages"],
])
def test_a_bad_configuration_file_is_one_line_naming_it(env, capsys, monkeypatch, tmp_path, name, body, key, command):
    folder = _config_dir(tmp_path, name, body)
    argv = [a.format(tmp=tmp_path, m=env["m"], bank=env["bank"], archive=env["archive"]) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv, "--config-dir", folder)
    check_one_line(ran, name, code=2)
    assert key in ran.line
    assert not (tmp_path / "f.parquet").exists() and not (tmp_path / "monitor").exists()
    assert not (tmp_path / "pages").exists()


# --------------------------------------------------------------------------- an output that is a folder or a file


def _previous(path: Path, folder: bool = False) -> Path:
    """An earlier output at `path` (a file, or a folder with a file in it)."""
    if folder:
        path.mkdir(parents=True)
        (path / "kept.txt").write_text("earlier run")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("earlier run")
    return path


@pytest.mark.parametrize(("command", "target", "is_folder", "key"), [
    (["features", "--data", "{bank}", "--quarantine", "--month", "{m}", "--out", "{target}"], "f.parquet", True,
     "is a folder"),
    (["trainset", "--data", "{bank}", "--quarantine", "--from", "2023-02", "--to", "2023-03", "--out", "{target}"],
     "t.parquet", True,
     "is a folder"),
    (["score", "--data", "{bank}", "--month", "{m}", "--model", "{model}", "--no-archive", "--out", "{target}"],
     "s.parquet", True, "is a folder"),
    (["score", "--data", "{bank}", "--month", "{m}", "--model", "{model}", "--archive", "{target}"],
     "archive", False, "is a file, not an archive folder"),
    (["run-month", "--data", "{bank}", "--month", "{m}", "--model", "{model}", "--archive", "{target}",
      "--outputs", "{tmp}/outputs"], "archive", False, "is a file, not an archive folder"),
    (["report", "rm", "--archive", "{archive}", "--month", "{m}", "--rm-id", "RM01", "--out", "{target}"],
     "rm.html", True, "is a folder"),
    (["report", "rm", "--archive", "{archive}", "--month", "{m}", "--all", "--out", "{target}"],
     "pages", False, "--out is a folder"),
    (["monitor", "--archive", "{archive}", "--out", "{target}"], "monitor", False, "monitor"),
    (["profile", "--data", "{bank}", "--out", "{target}"], "profile.json", True, "is a folder"),
    (["generate", "--clients", "30", "--months", "14", "--out", "{target}"], "bank", False, "bank"),
])
def test_an_output_of_the_wrong_kind_is_one_line_and_is_kept(env, capsys, monkeypatch, tmp_path, command, target,
                                                              is_folder, key):
    where = _previous(tmp_path / target, folder=is_folder)
    before = snapshot(where)
    argv = [a.format(tmp=tmp_path, m=env["m"], first=month_label(env["first"]), bank=env["bank"],
                     archive=env["archive"], model=env["model"], target=where) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv)
    check_one_line(ran, key, code=ran.code if ran.code in (1, 2) else 1)
    assert snapshot(where) == before


# --------------------------------------------------------------------------- a run on an output another process holds


def test_score_on_an_out_file_another_run_writes_refuses(env, capsys, monkeypatch, tmp_path, holder):
    out = _previous(tmp_path / "s.parquet")
    before = snapshot(out)
    proc = holder("file", out)
    ran = tierwise(capsys, monkeypatch, "score", "--data", env["bank"], "--month", env["m"], "--model", env["model"],
                   "--no-archive", "--out", out)
    check_one_line(ran, f"{out} is being written by another tierwise run (pid {proc.pid} on ")
    assert "wait for it to end and rerun" in ran.line
    assert snapshot(out) == before and not (tmp_path / "s.parquet.parts").exists()


@pytest.mark.parametrize("command", ["score", "run-month"])
def test_a_run_on_an_archive_month_another_run_writes_refuses(env, capsys, monkeypatch, tmp_path, holder, command):
    archive = tmp_path / "archive"
    shutil.copytree(env["archive"], archive)
    before = snapshot(archive)
    proc = holder("month", archive, env["last"].isoformat())
    extra = ["--outputs", tmp_path / "outputs"] if command == "run-month" else []
    ran = tierwise(capsys, monkeypatch, command, "--data", env["bank"], "--month", env["m"], "--model", env["model"],
                   "--archive", archive, *extra)
    check_one_line(ran, f"archive {archive} month {env['m']} is being written by another tierwise run "
                        f"(pid {proc.pid} on ")
    assert snapshot(archive) == before and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(("command", "target"), [
    (["features", "--data", "{bank}", "--quarantine", "--month", "{m}", "--out", "{target}"], "f.parquet"),
    (["report", "rm", "--archive", "{archive}", "--month", "{m}", "--all", "--out", "{target}"], "pages"),
    (["monitor", "--archive", "{archive}", "--out", "{target}"], "monitor"),
])
def test_other_outputs_another_run_writes_refuse(env, capsys, monkeypatch, tmp_path, holder, command, target):
    where = tmp_path / target
    proc = holder("file", where)
    argv = [a.format(m=env["m"], bank=env["bank"], archive=env["archive"], target=where) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv)
    check_one_line(ran, f"{where} is being written by another tierwise run (pid {proc.pid} on ")
    assert not where.exists()


def test_a_killed_holder_does_not_block(env, capsys, monkeypatch, tmp_path, holder):
    out = tmp_path / "s.parquet"
    proc = holder("file", out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    ran = tierwise(capsys, monkeypatch, "score", "--data", env["bank"], "--month", env["m"], "--model", env["model"],
                   "--no-archive", "--out", out)
    assert ran.code == 0, ran.err
    assert out.is_file()


# --------------------------------------------------------------------------- a corrupted resume part


def test_score_resumes_past_a_corrupted_part(env, capsys, monkeypatch, tmp_path):
    from tierwise.registry import load_recommender
    from tierwise.scoring import parts_path, score_pandas

    loaded = load_recommender(env["model"])
    out = tmp_path / "s.parquet"
    score_pandas(env["bank"], env["last"], out, recommender=loaded.recommender, feature_config=loaded.settings.features,
                 model_uri=env["model"], model_version=loaded.version, chunk_clients=100, keep_parts=True)
    reference = out.read_bytes()
    out.unlink()
    part = parts_path(out) / "part-000000.parquet"
    part.write_bytes(b"PAR1" + bytes(64) + b"PAR1")  # what ArrowInvalid used to stop on
    ran = tierwise(capsys, monkeypatch, "score", "--data", env["bank"], "--month", env["m"], "--model", env["model"],
                   "--no-archive", "--out", out, "--chunk-clients", "100")
    assert ran.code == 0 and "Traceback" not in ran.err, ran.err
    assert "part-000000.parquet" in ran.err and "recomputing" in ran.err  # the warning names the part
    assert "resumed 2 of 3 chunks" in ran.out
    assert out.read_bytes() == reference


# --------------------------------------------------------------------------- a month after the extract's end


def test_a_future_month_is_not_in_the_data(env, capsys, monkeypatch, tmp_path):
    data = _future_bank(env["bank"], tmp_path / "future")
    ran = tierwise(capsys, monkeypatch, "score", "--data", data, "--month", "2099-01", "--model", env["model"],
                   "--no-archive", "--out", tmp_path / "s.parquet")
    check_one_line(ran, f"--month 2099-01 is outside the data: {data / 'monthly.parquet'} covers ")
    assert ran.line.endswith(f" to {env['m']}")  # the 2099-01 row does not extend the range
    assert not (tmp_path / "s.parquet").exists()
    ran = tierwise(capsys, monkeypatch, "validate", "--data", data)
    assert ran.code == 0, ran.err
    rejected = pd.read_parquet(data / "_rejected" / "monthly.parquet")
    assert rejected["reason"].str.contains("month: after the extract's end month").sum() == 1
    clients = pd.read_parquet(data / "_rejected" / "clients.parquet")
    assert clients["reason"].str.contains("onboarding_month: onboarded after the latest month of the extract").sum() == 1
    ran = tierwise(capsys, monkeypatch, "features", "--data", data, "--quarantine", "--month", "2099-01",
                   "--out", tmp_path / "f.parquet")
    check_one_line(ran, "2099-01 is outside the data")
    assert not (tmp_path / "f.parquet").exists()


# --------------------------------------------------------------------------- the other commands


@pytest.mark.parametrize(("command", "code", "key"), [
    (["history", "--archive", "{archive}", "--client", "NOBODY"], 1, "NOBODY"),
    (["history", "--archive", "{tmp}/none", "--client", "C1"], 1, "none"),
    (["explain", "--data", "{bank}", "--client", "NOBODY", "--month", "{m}"], 1,
     "no task model is registered in sqlite:"),
    (["explain", "--data", "{tmp}/none", "--client", "NOBODY", "--month", "{m}"], 2, "none"),
    (["generate", "--clients", "0", "--out", "{tmp}/bank"], 1, "--clients must be a positive whole number"),
    (["governance", "--model", "tierwise-recommender", "--version", "99", "--out", "{tmp}/gov"], 1, "99"),
    (["governance", "--model", "tierwise-churn", "--out", "{tmp}/gov"], 1, "no registered model of that name"),
    (["recommend", "--data", "{tmp}/none"], 2, "none"),
    (["promote", "--task", "churn", "--data", "{tmp}/none"], 2, "none"),
    (["predict", "--model", "{model}", "--data", "{tmp}/none.csv", "--out", "{tmp}/p.csv"], 2, "none.csv"),
    (["predict", "--model", "{model}", "--data", "{bank}/clients.parquet", "--out", "{tmp}/p.csv"], 1,
     'cannot load: Model does not have the "sklearn" flavor'),
    (["report", "rm", "--archive", "{archive}", "--month", "2099-01", "--rm-id", "RM01", "--out", "{tmp}/r.html"], 1,
     "2099-01"),
    (["monitor", "--archive", "{archive}", "--month", "2099-01", "--out", "{tmp}/monitor"], 1, "2099-01"),
    (["run-month", "--data", "{bank}", "--from", "{m}", "--to", "{first}", "--archive", "{tmp}/a",
      "--outputs", "{tmp}/o"], 2, "is before --from"),
])
def test_other_commands_fail_in_one_line(env, capsys, monkeypatch, tmp_path, command, code, key):
    before = snapshot(env["archive"])
    argv = [a.format(tmp=tmp_path, m=env["m"], first=month_label(env["first"]), bank=env["bank"],
                     archive=env["archive"], model=env["model"]) for a in command]
    ran = tierwise(capsys, monkeypatch, *argv)
    check_one_line(ran, key, code=code)
    assert snapshot(env["archive"]) == before
    assert not [p for p in tmp_path.iterdir() if p.name != "none"]
