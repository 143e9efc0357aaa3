"""The served `next_tier` field (`?next_tier=1`) on a real lean server process on loopback:
absent by default (the answer unchanged), present when asked on `POST /invocations` and
`GET /clients/{id}`, every alternative verified again by the recommender, the archived review
state respected on `GET /clients/{id}`, one-line 503 without the month's snapshot."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.features import with_change  # noqa: E402
from tierwise.serving import start_server, wait_until_ready  # noqa: E402

LEVER_FEATURES = [*factory.FEATURES, "deposit_time", "wealth_balance", "salary_inflow", "mobile_logins",
                  "investment_total"]
"""The tiny models use the lever columns too, so the served rows (the recommender's inputs) carry them."""


def _register(bank: Path) -> str:
    from tierwise.recommender import build_recommender, log_recommender
    from tierwise.settings import load_settings

    settings = load_settings(factory.CONFIG_DIR).for_recommender()
    features = factory.bank_features(bank)
    X = features.loc[:, LEVER_FEATURES].reset_index(drop=True)
    rng = np.random.default_rng(0)
    n = len(X)
    wealth = np.log1p(X["assets_total"].fillna(0).to_numpy())
    churn = ((wealth < np.median(wealth)) ^ (rng.random(n) < 0.2)).astype(float)
    default = ((X["days_past_due_max_6m"].fillna(0).to_numpy() > 0) | (rng.random(n) < 0.1)).astype(float)
    growth = np.log1p(X["salary_inflow_avg_3m"].fillna(0).to_numpy()) / 10 + rng.normal(0, 0.1, n)
    models = {"churn": factory._fit("churn", "binary", X, churn, 0),
              "default": factory._fit("default", "binary", X, default, 0),
              "growth": factory._fit("growth", "regression", X, growth, 0)}
    rec, descriptions = build_recommender(models, factory.policy_config(), features, factory.feature_config(),
                                          n_threads=1, catalogues=settings.reasons)
    log_recommender(rec, descriptions, features, settings=settings, source_versions={t: "t" for t in models})
    return "models:/tierwise-recommender@champion"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A lean server on a recommender whose models read the lever columns, with the latest
    month's snapshot and archive partition written beside it as the monthly job does."""
    from tierwise import tracking
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender

    root = tmp_path_factory.mktemp("served_next_tier")
    with factory.in_store(f"sqlite:///{root / 'mlflow.db'}", str(root / "mlartifacts")):
        tracking.connect()
        bank = factory.make_bank(root / "bank")
        model = _register(bank)
        loaded = load_recommender(model)
        month = factory.latest_month(bank)
        features = factory.bank_features(bank)
        frame = request_frame(features, loaded.recommender)
        rows = json.loads(frame.to_json(orient="records", double_precision=15))
        archive = root / "archive"
        proc, port = start_server(model, log_file=root / "server.log", lean=True, archive=archive)
        try:
            wait_until_ready(proc, port, path="/ready", seconds=120)
            yield {"url": f"http://127.0.0.1:{port}", "rows": rows, "loaded": loaded, "archive": archive,
                   "month": month, "frame": frame, "features": features}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def test_next_tier_is_added_only_when_asked_and_every_alternative_holds(served):
    from tierwise import archive as client_archive
    from tierwise.models import TIERS_BY_RANK
    from tierwise.settings import load_settings

    url, rows = served["url"], served["rows"][:60]
    body = json.dumps(rows).encode()
    status, err = factory.http_json(url + "/invocations?next_tier=1", body)
    assert status == 503 and "run-month" in err["message"]  # the ranges need the month's snapshot
    client_archive.write_snapshot(served["archive"], served["month"], served["frame"])
    status, plain = factory.http_json(url + "/invocations", body)
    assert status == 200 and all("next_tier" not in p for p in plain["predictions"])
    status, asked = factory.http_json(url + "/invocations?next_tier=1", body)
    assert status == 200, asked
    config = load_settings(factory.CONFIG_DIR).next_tier
    rec, built = served["loaded"].recommender, served["loaded"].settings
    found = 0
    for row, before, after in zip(rows, plain["predictions"], asked["predictions"], strict=True):
        field = after.pop("next_tier")
        assert after == before  # the rest of the answer is the default answer
        assert field["tier"] == before["tier"]
        assert set(field) >= {"status", "tier", "target", "alternatives", "text_en", "text_zh", "from_archive"}
        assert not field["from_archive"]
        if field["status"] != "found":
            assert not field["alternatives"]
            continue
        found += 1
        assert TIERS_BY_RANK.index(field["target"]) == TIERS_BY_RANK.index(field["tier"]) + 1
        for alt in field["alternatives"]:
            assert 1 <= len(alt["changes"]) <= config.max_changes and alt["text_en"] and alt["text_zh"]
            changed = served["frame"][served["frame"]["client_id"] == row["client_id"]].reset_index(drop=True)
            for change in alt["changes"]:
                assert change["amount"] > 0 and change["after"] == pytest.approx(change["before"] + change["amount"])
                changed = with_change(changed, change["column"], np.array([change["amount"]]), built.features,
                                      config.hold_months)
            again = rec.recommend(changed)
            assert again["tier"].iat[0] == alt["tier"]
            assert TIERS_BY_RANK.index(alt["tier"]) >= TIERS_BY_RANK.index(field["target"])
    assert found > 0


def test_get_client_next_tier_reads_the_archived_review(served):
    from tierwise import archive as client_archive

    url = served["url"]
    client_archive.write_snapshot(served["archive"], served["month"], served["frame"])
    status, body = factory.http_json(url + "/invocations?next_tier=1", json.dumps(served["rows"][:60]).encode())
    assert status == 200
    found = next(r["client_id"] for r, p in zip(served["rows"], body["predictions"], strict=False)
                 if p["next_tier"]["status"] == "found")
    status, got = factory.http_json(url + f"/clients/{found}?next_tier=1")
    assert status == 200 and got["next_tier"]["status"] == "found" and not got["next_tier"]["from_archive"]
    status, plain = factory.http_json(url + f"/clients/{found}")
    assert status == 200 and "next_tier" not in plain
    # the monthly job archived the month with the client under exit review: no next tier, one sentence
    recs = served["loaded"].recommender.recommend(served["features"])
    recs["exit_review_status"] = pd.array([("open" if c == found else None) for c in recs["client_id"]],
                                          dtype="str")
    client_archive.write_month(served["archive"], served["month"], recs)
    client_archive.write_snapshot(served["archive"], served["month"], served["frame"])  # a new file: rebuilt
    status, got = factory.http_json(url + f"/clients/{found}?next_tier=1")
    assert status == 200, got
    field = got["next_tier"]
    assert field["from_archive"] and field["status"] == "exit_review" and not field["alternatives"]
    assert "under exit review" in field["text_en"] and "退出审查" in field["text_zh"]
