"""`tierwise serve`: the real MLflow scoring server on a free loopback port, real HTTP requests:
good, missing field, wrong type, empty body, then good again (the server keeps serving)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.serving import serve_command, serve_env, start_server, wait_until_ready  # noqa: E402


def test_serve_command_is_local_and_loopback():
    cmd = serve_command("models:/tierwise-recommender@champion", port=5123)
    assert cmd[cmd.index("--env-manager") + 1] == "local"
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("-m") + 1] == "models:/tierwise-recommender@champion"


@pytest.mark.slow
def test_server_runs_the_shap_kernel_on_one_thread_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    assert serve_env()["NUMBA_NUM_THREADS"] == "1"
    assert serve_env(n_threads=2)["NUMBA_NUM_THREADS"] == "2"
    monkeypatch.setenv("NUMBA_NUM_THREADS", "4")
    assert serve_env()["NUMBA_NUM_THREADS"] == "4"
    assert serve_env().get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")  # LightGBM's threads untouched


def test_served_recommender_answers_and_rejects_bad_requests(tmp_path):
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender

    bank = factory.make_bank(tmp_path / "bank", clients=200)
    uri = factory.register_tiny_recommender(bank)
    recommender, _, _ = load_recommender(uri)
    rows = json.loads(request_frame(factory.bank_features(bank).head(2), recommender).to_json(orient="records"))
    expected = recommender.recommend(request_frame(factory.bank_features(bank).head(1), recommender))
    proc, port = start_server(uri, log_file=tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        wait_until_ready(proc, port)
        status, body = factory.http_json(url, json.dumps({"dataframe_records": rows[:1]}).encode())
        assert status == 200, body
        answer = body["predictions"][0]
        assert answer["client_id"] == rows[0]["client_id"]
        assert answer["tier"] == expected["tier"].iat[0]
        assert answer["p_churn"] == pytest.approx(expected["p_churn"].iat[0], abs=1e-12)
        assert answer["reason_churn_1_en"] == expected["reason_churn_1_en"].iat[0]
        assert set(answer) == set(expected.columns) - {"month"}
        for col, value in answer.items():  # every field, missing ones included
            wanted = expected[col].iat[0]
            if pd.isna(wanted):
                assert value is None or pd.isna(value), col
            elif isinstance(wanted, str):
                assert value == wanted, col
            else:
                assert value == pytest.approx(wanted, rel=1e-9, abs=1e-12), col  # rows sent with 10 digits

        missing = {k: v for k, v in rows[0].items() if k != "assets_total"}
        status, body = factory.http_json(url, json.dumps({"dataframe_records": [missing]}).encode())
        assert status == 400 and "assets_total" in body["message"] and "missing" in body["message"]

        wrong = {**rows[0], "mobile_logins_avg_3m": "lots"}
        status, body = factory.http_json(url, json.dumps({"dataframe_records": [wrong]}).encode())
        assert status == 400 and "mobile_logins_avg_3m" in body["message"]

        status, body = factory.http_json(url, b"")
        assert 400 <= status < 500 and "JSON" in body["message"]

        status, body = factory.http_json(url, json.dumps({"dataframe_records": rows}).encode())
        assert status == 200 and len(body["predictions"]) == 2
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_recommender_with_growth_alone_is_served_and_says_what_it_assumed(tmp_path):
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender

    bank = factory.make_bank(tmp_path / "bank", clients=120)
    uri = factory.register_tiny_recommender(bank, tasks=("growth",))
    recommender, _, _ = load_recommender(uri)
    assert recommender.tasks == ("growth",)
    features = factory.bank_features(bank)
    features = features[features["credit_exposure"] > 0].head(1)
    rows = json.loads(request_frame(features, recommender).to_json(orient="records"))
    proc, port = start_server(uri, log_file=tmp_path / "server.log")
    try:
        wait_until_ready(proc, port)
        status, body = factory.http_json(f"http://127.0.0.1:{port}/invocations", json.dumps({"dataframe_records": rows}).encode())
        assert status == 200, body
        answer = body["predictions"][0]
        for empty in ("p_churn", "p_default", "reason_churn_1_en", "reason_default_1_zh", "reason_churn_1_shap"):
            assert answer[empty] is None or pd.isna(answer[empty]), empty  # JSON null or NaN
        assert answer["growth"] == pytest.approx(recommender.recommend(features)["growth"].iat[0], rel=1e-9)
        assert "default risk not assessed (no default model)" in answer["tier_reason_en"]
        assert "no churn model: value assumes a churn rate of 5.0% over 6 months" in answer["tier_reason_en"]
        assert "无流失模型" in answer["tier_reason_zh"] and answer["tier"] in ("Premier", "Excellence", "Potential",
                                                                              "General")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_default_workers_one_per_available_core_and_the_fast_loop(monkeypatch):
    from tierwise import serving

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert serving.default_workers() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(), raising=False)
    assert serving.default_workers() == 1
    assert serving._fast_loop() == {"http": "httptools", "loop": "uvloop"}  # both are dependencies
