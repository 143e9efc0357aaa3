"""The served rows' path without pandas (`models._recommender_rows`, issue 19): the same answer,
field for field, as the frame path (`check_request` + `Recommender.recommend`) over hundreds of
clients with missing values and unseen categories; the policy on `PolicyRows` decides as on a
frame; rows it does not take go through the frame, which names the problem."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402


@pytest.fixture(scope="module")
def served_rows(scoring_world):

    from tierwise import tracking
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender

    with factory.in_store(scoring_world["tracking"], scoring_world["artifacts"]):
        tracking.connect()
        recommender = load_recommender(scoring_world["model"]).recommender
    frame = request_frame(factory.bank_features(scoring_world["bank"]), recommender)
    return recommender, json.loads(frame.to_json(orient="records", double_precision=15))


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key, x in a.items():
        y = b[key]
        if y is None or (isinstance(y, float) and math.isnan(y)):
            assert x is None or (isinstance(x, float) and math.isnan(x)), key
        else:
            assert type(x) is type(y) and x == y, (key, x, y)  # bit for bit


def _perturbed(rows: list[dict]) -> list[dict]:
    from tierwise.models._recommender_pyfunc import _CONTRACT

    rng = np.random.default_rng(3)
    rows = [dict(r) for r in rows]
    values = {"assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly"}
    numeric = [c for c, v in rows[0].items() if isinstance(v, float) and c not in values
               and (c not in _CONTRACT or _CONTRACT[c].nullable)]
    for row in rows[::3]:  # missing values
        for col in rng.choice(numeric, size=6, replace=False):
            row[str(col)] = None
    for row in rows[1::5]:  # unseen categories
        row["region"] = "Atlantis"
    for row in rows[2::7]:  # no credit exposure: no PD, no default reasons
        row["credit_exposure"] = 0.0
    for row in rows[3::11]:  # whole numbers sent as JSON integers
        row["assets_total"] = int(row["assets_total"])
    return rows


def test_the_rows_path_answers_the_frame_path_field_for_field(served_rows):
    from tierwise.models._recommender_pyfunc import check_request, plain_rows
    from tierwise.models._recommender_rows import recommend_rows

    recommender, rows = served_rows
    rows = _perturbed(rows)
    assert len(rows) >= 200
    frame = check_request(pd.DataFrame.from_records(rows), recommender)
    expected = recommender.recommend(frame, columns=recommender.pyfunc_columns).to_dict(orient="records")
    for size in (1, 7, 50):
        got = []
        for start in range(0, len(rows), size):
            batch = rows[start:start + size]
            got += recommend_rows(recommender, plain_rows(batch, recommender))  # taken: no NotFast
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            _same(a, b)


def test_the_policy_decides_rows_as_it_decides_a_frame(served_rows):
    from tierwise.models import _policy
    from tierwise.models._policy_inputs import PolicyRows

    recommender = served_rows[0]
    rng = np.random.default_rng(11)
    n = 400
    exposure = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(9, 2, n))
    data = {
        "client_id": np.array([f"C{i}" for i in range(n)], dtype=object),
        "segment": rng.choice(np.array(["retail", "sme"], dtype=object), n),
        "p_churn": rng.beta(1, 6, n),
        "p_default": np.where(exposure > 0, rng.beta(1, 30, n), np.nan),
        "growth": rng.normal(0, 0.6, n),
        "assets_total": np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(10, 2, n)),
        "credit_exposure": exposure,
        "contribution_monthly": rng.normal(300, 900, n),
        "cost_to_serve_monthly": rng.lognormal(4, 1, n),
        "p_default_prev": np.where(rng.random(n) < 0.3, np.nan, rng.beta(1, 30, n)),
        "tier_prev": rng.choice(np.array([None, "General", "Potential", "Excellence", "Premier"], dtype=object), n),
        "days_past_due": np.where(rng.random(n) < 0.1, 120.0, 0.0),
    }
    batch = _policy.recommendation_columns(pd.DataFrame(data), recommender.policy)
    for start in range(0, n, 5):  # served requests of five
        part = {k: v[start:start + 5] for k, v in data.items()}
        rows = _policy.decision_arrays(PolicyRows(part), recommender.policy)
        for col, values in rows.items():
            want = batch[col][start:start + 5]
            got = values.to_pylist() if hasattr(values, "to_pylist") else values
            want = list(want) if not isinstance(want, np.ndarray) else want
            if isinstance(got, np.ndarray):
                assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), col
            else:
                assert [None if pd.isna(w) else w for w in want] == got, col


@pytest.mark.parametrize(("change", "words"), [
    ({"mobile_logins_avg_3m": "4.0"}, None),  # a number written as text: the frame reads it
    ({"mobile_logins_avg_3m": True}, "must be a number"),
    ({"segment": "corporate"}, "not one of"),
    ({"assets_total": -5.0}, "non-negative"),
    ({"assets_total": float("inf")}, "finite"),
])
def test_rows_it_does_not_take_go_through_the_frame(served_rows, change, words):
    from mlflow.exceptions import MlflowException

    from tierwise.features import TierwiseError
    from tierwise.models._recommender_pyfunc import answer_records, plain_rows
    from tierwise.models._recommender_rows import NotFast, recommend_rows

    recommender, rows = served_rows
    row = {**rows[0], **change}
    with pytest.raises((NotFast, TierwiseError)):
        recommend_rows(recommender, plain_rows([row], recommender))
    if words is None:
        answer = answer_records([row], recommender)
        _same(answer[0], answer_records(pd.DataFrame([row]), recommender)[0])
        return
    with pytest.raises(MlflowException, match=words):
        answer_records([row], recommender)


def test_platt_calibration_without_sklearns_checks_is_bit_for_bit_predict_proba(served_rows):
    from tierwise.models._calibration import platt_probability

    recommender = served_rows[0]
    platt = [m.calibrator_.model_ for m in recommender.models.values()
             if m.calibrator_ is not None and m.calibrator_.method_ == "platt"]
    if not platt:
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(0)
        x = rng.normal(size=500)
        platt = [LogisticRegression(C=1e6).fit(x.reshape(-1, 1), (x + rng.normal(size=500) > 0).astype(int))]
    x = np.concatenate([np.random.default_rng(1).normal(0, 4, 5000), [0.0, -30.0, 30.0, 1e-300]])
    for model in platt:
        assert np.array_equal(platt_probability(model, x), model.predict_proba(x.reshape(-1, 1))[:, 1])
        assert np.array_equal(platt_probability(model, x[:1]), model.predict_proba(x[:1].reshape(-1, 1))[:, 1])


def test_queued_requests_are_answered_together_with_the_same_answers(served_rows, monkeypatch):
    import asyncio

    import tierwise.models
    from tierwise._server import BadRequest, Batcher, answer_rows

    recommender, rows = served_rows
    rows = _perturbed(rows)
    requests = [rows[0:1], rows[1:4], [{**rows[4], "segment": "corporate"}], rows[5:6],
                [{**rows[6], "tier_prev": "Premier"}], rows[7:8], rows[8:70], rows[70:71]]
    alone = []
    for request in requests:
        try:
            alone.append(answer_rows(recommender, request))
        except BadRequest as exc:
            alone.append(exc)
    joined_sizes = []
    real = tierwise.models.recommend_rows

    def counted(rec, batch):
        joined_sizes.append(len(batch))
        return real(rec, batch)

    monkeypatch.setattr(tierwise.models, "recommend_rows", counted)  # the name the server calls

    async def all_at_once():
        batcher = Batcher(recommender, max_rows=64)
        return await asyncio.gather(*(batcher.answer(r) for r in requests), return_exceptions=True)

    got = asyncio.run(all_at_once())
    # the plain requests with the same fields went through together, in parts of at most 64 rows
    assert joined_sizes and max(joined_sizes) <= 64 and sum(s > 1 for s in joined_sizes) >= 1
    assert sum(joined_sizes) >= len(rows[:4]) + 1 + 62
    for g, a in zip(got, alone, strict=True):
        if isinstance(a, BadRequest):
            assert isinstance(g, BadRequest) and str(g) == str(a)  # only that request is refused
            continue
        assert len(g) == len(a)
        for x, y in zip(g, a, strict=True):
            _same(x, y)
