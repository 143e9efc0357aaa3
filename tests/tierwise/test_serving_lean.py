"""The lean `tierwise serve` (Starlette on uvicorn): a real server process on a free loopback
port, real HTTP. Its answers equal the MLflow pyfunc's field for field over hundreds of clients
(missing values and unseen categories included); the served contract is the batch contract
(refused codes, wrong types, non-finite numbers: 400 naming the field); size, depth and batch
limits; no 5xx for any malformed body (hypothesis); SIGTERM / SIGINT stop it and its workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.serving import lean_command, start_server, wait_until_ready  # noqa: E402


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw or b"{}")
        except ValueError:
            return err.code, {"raw": raw.decode(errors="replace")}


def _declared_only(base: str, length: int) -> tuple[int, dict]:
    """POST /invocations declaring `length` bytes and sending none: the answer to the header."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/invocations")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _in_store(world: dict):
    """Point MLflow at the module's store (for the whole module: the server outlives a test)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACTS_DESTINATION",
                                            "MLFLOW_REGISTRY_URI")}
    os.environ["MLFLOW_TRACKING_URI"] = world["tracking"]
    os.environ["MLFLOW_REGISTRY_URI"] = world["tracking"]
    os.environ["MLFLOW_ARTIFACTS_DESTINATION"] = world["artifacts"]
    return saved


def _restore(saved: dict) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def served(scoring_world, tmp_path_factory):
    """(base URL, request rows of every client of the latest month, the pyfunc, the recommender)."""
    import mlflow.pyfunc

    from tierwise import tracking
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender

    saved = _in_store(scoring_world)
    folder = tmp_path_factory.mktemp("lean")
    log, archive = folder / "server.log", folder / "archive"
    try:
        tracking.connect()
        recommender = load_recommender(scoring_world["model"]).recommender
        pyfunc = mlflow.pyfunc.load_model(scoring_world["model"])
        frame = request_frame(factory.bank_features(scoring_world["bank"]), recommender)
        rows = json.loads(frame.to_json(orient="records", double_precision=15))
        proc, port = start_server(scoring_world["model"], log_file=log, lean=True, archive=archive)
        try:
            wait_until_ready(proc, port, path="/ready", seconds=120)
            yield {"url": f"http://127.0.0.1:{port}", "rows": rows, "pyfunc": pyfunc, "recommender": recommender,
                   "proc": proc, "archive": archive}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        _restore(saved)


def _assert_same(answer: dict, expected: pd.Series) -> None:
    assert set(answer) == set(expected.index)
    for col, value in answer.items():
        wanted = expected[col]
        if pd.isna(wanted):
            assert value is None, col
        elif isinstance(wanted, str):
            assert value == wanted, col
        elif isinstance(wanted, (bool, np.bool_)):
            assert value is bool(wanted), col
        else:
            assert value == pytest.approx(float(wanted), rel=1e-12, abs=1e-15), col


def test_health_and_ready(served):
    assert _get(served["url"] + "/health") == 200
    assert _get(served["url"] + "/ready") == 200


def test_answers_equal_the_pyfunc_field_for_field_over_hundreds_of_clients(served):
    rng = np.random.default_rng(7)
    rows = [dict(r) for r in served["rows"]]
    policy_values = {"assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly"}
    numeric = [c for c, v in rows[0].items() if isinstance(v, float) and c not in policy_values]
    for row in rows[::3]:  # missing values: a third of the clients lose a few numbers
        for col in rng.choice(numeric, size=4, replace=False):
            row[str(col)] = None
    for row in rows[1::7]:  # unseen categories
        row["region"] = "Atlantis"
    assert len(rows) >= 200
    expected = served["pyfunc"].predict(pd.DataFrame(rows))
    got: list[dict] = []
    for start in range(0, len(rows), 100):  # the default batch limit
        status, body = _post(served["url"] + "/invocations",
                             json.dumps({"dataframe_records": rows[start:start + 100]}).encode())
        assert status == 200, body
        got += body["predictions"]
    assert len(got) == len(rows)
    for i, answer in enumerate(got):
        _assert_same(answer, expected.iloc[i])
    # every accepted shape gives the same answer: a plain list of clients, one object, dataframe_split
    one = rows[5]
    _, a = _post(served["url"] + "/invocations", json.dumps({"clients": [one]}).encode())
    _, b = _post(served["url"] + "/invocations", json.dumps(one).encode())
    split = {"dataframe_split": {"columns": list(one), "data": [list(one.values())]}}
    _, c = _post(served["url"] + "/invocations", json.dumps(split).encode())
    assert a["predictions"] == b["predictions"] == c["predictions"] == [got[5]]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"segment": "corporate"}, "segment", "not one of"),
    ({"segment": 12345}, "segment", "must be text"),
    ({"segment": None}, "segment", "empty"),
    ({"client_id": None}, "client_id", "empty"),
    ({"mobile_logins_avg_3m": "lots"}, "mobile_logins_avg_3m", "must be a number"),
    ({"mobile_logins_avg_3m": True}, "mobile_logins_avg_3m", "must be a number"),
    ({"mobile_logins_avg_3m": [1, 2]}, "mobile_logins_avg_3m", "must be a number"),
    ({"assets_total": float("inf")}, "assets_total", "finite"),
    ({"assets_total": -float("inf")}, "assets_total", "finite"),
    ({"region": {"a": 1}}, "region", "must be text"),
])
def test_the_served_contract_is_the_batch_contract(served, change, field, words):
    row = {**served["rows"][0], **change}
    body = json.dumps({"dataframe_records": [row]}).encode()  # Python writes Infinity literals
    status, answer = _post(served["url"] + "/invocations", body)
    assert status == 400, answer
    assert field in answer["message"] and words in answer["message"], answer


def test_missing_field_and_limits(served):
    url = served["url"] + "/invocations"
    row = served["rows"][0]
    status, body = _post(url, json.dumps([{k: v for k, v in row.items() if k != "assets_total"}]).encode())
    assert status == 400 and "assets_total" in body["message"] and "missing" in body["message"]
    status, body = _post(url, b"[" * 100_000)
    assert status == 400 and "nested" in body["message"], body
    status, body = _post(url, b"[" * 500 + b"]" * 500)
    assert status == 400 and "nested" in body["message"], body
    status, body = _declared_only(served["url"], 2_000_000)  # refused from the header, before the body
    assert status == 413 and "at most" in body["message"], body
    try:  # sent whole, the body is counted as it streams in
        status, body = _post(url, b"{" + b" " * 1_048_600 + b"}")
        assert status == 413, body
    except urllib.error.URLError as exc:  # the server answered 413 and closed before the last bytes went out
        assert isinstance(exc.reason, (BrokenPipeError, ConnectionResetError)), exc
    status, body = _post(url, json.dumps({"dataframe_records": [row] * 101}).encode())
    assert status == 413 and "100" in body["message"], body
    for empty in (b"", b"{}", b"[]", b'{"dataframe_records": []}', b"null", b"3", b'"x"'):
        status, body = _post(url, empty)
        assert 400 <= status < 500, (empty, body)
    status, body = _post(url, json.dumps([row]).encode())
    assert status == 200  # still serving


_json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_malformed_body_gets_a_5xx(served, data):
    row = dict(served["rows"][1])
    kind = data.draw(st.sampled_from(["bytes", "field", "shape", "drop"]))
    if kind == "bytes":
        body = data.draw(st.binary(max_size=300))
    elif kind == "field":
        for col in data.draw(st.lists(st.sampled_from(sorted(row)), min_size=1, max_size=4)):
            row[col] = data.draw(_json_values)
        body = json.dumps({"dataframe_records": [row]}).encode()
    elif kind == "shape":
        body = json.dumps(data.draw(_json_values)).encode()
    else:
        cut = data.draw(st.integers(0, 2000))
        body = json.dumps([row]).encode()[:cut]
    status, answer = _post(served["url"] + "/invocations", body)
    assert status < 500, (body[:200], answer)


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_serve_by_client_from_the_snapshot_the_monthly_job_keeps(served, world):
    from tierwise import archive as client_archive
    from tierwise import registry
    from tierwise.monthly import MonthlyJob, snapshot_step

    url = served["url"] + "/clients/"
    status, body = _get_json(url + "C0000001")
    assert status == 503 and "run-month" in body["message"], body  # no snapshot yet
    loaded = registry.load_recommender(world["model"])
    job = MonthlyJob(data=world["bank"], archive=served["archive"], outputs=served["archive"].parent,
                     model_uri=world["model"], loaded=loaded, monitor_config=None)
    month = world["month"]
    path = snapshot_step(job, month)
    assert path == client_archive.latest_snapshot(served["archive"])
    assert path.parent.name == f"month={month:%Y-%m}-01" and path.parent.parent.name == "archive-snapshot"
    assert not list(served["archive"].glob("*"))  # beside the archive, not in it
    row = served["rows"][3]
    status, body = _get_json(url + row["client_id"])
    assert status == 200, body
    assert body.pop("month") == f"{month:%Y-%m}"
    _, posted = _post(served["url"] + "/invocations", json.dumps([row]).encode())
    assert body == posted["predictions"][0]  # the same answer as posting the client's features
    status, body = _get_json(url + "NOBODY")
    assert status == 404 and "NOBODY" in body["message"]


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_and_all_its_workers(scoring_world, tmp_path, sig):
    from tierwise.serving import free_port, serve_env

    saved = _in_store(scoring_world)
    try:
        port = free_port()
        with open(tmp_path / "server.log", "wb") as log:
            proc = subprocess.Popen(lean_command(scoring_world["model"], port=port, workers=2), env=serve_env(),
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_ready(proc, port, path="/ready", seconds=120)
            workers = _children(proc.pid)
            assert len(workers) >= 2, workers  # two uvicorn workers (and multiprocessing's helper)
            started = time.monotonic()
            proc.send_signal(sig)  # to the process alone, as `kill` or a supervisor sends it
            proc.wait(timeout=15)
            deadline = time.monotonic() + 5
            while _alive(workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(workers), (workers, (tmp_path / "server.log").read_text()[-2000:])
            assert time.monotonic() - started < 10
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        _restore(saved)


def test_sigterm_stops_mlflows_server_started_by_tierwise_serve_mlflow(scoring_world, tmp_path):
    from tierwise.serving import free_port, serve_env

    saved = _in_store(scoring_world)
    try:
        port = free_port()
        command = [*lean_command(scoring_world["model"], port=port), "--mlflow"]
        with open(tmp_path / "server.log", "wb") as log:
            proc = subprocess.Popen(command, env=serve_env(), stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            wait_until_ready(proc, port, path="/ping", seconds=180)
            children = _children(proc.pid)
            assert children  # MLflow's launcher and its uvicorn
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            deadline = time.monotonic() + 5
            while _alive(children) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(children), (tmp_path / "server.log").read_text()[-2000:]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        _restore(saved)
