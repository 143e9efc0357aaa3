"""Offers everywhere the RM looks (issue 20, item 5), on a tiny bank with product adoption and a
real MLflow registry in tmp: the registered recommender bundles propensity models for only some
products (offers among those); without product models every field is what it was; the MLflow
pyfunc and the lean server (a real process on loopback) answer the same offers; offers pass
the policy's gates; the archive keeps them and old archives (without offers) stay readable."""

from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.models import offer_columns  # noqa: E402

PRODUCTS = ("wealth", "funds", "loan", "insurance")  # only some of the menu has a model


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 300-client bank with adoption on, its features, and a registered recommender with offers."""
    root = tmp_path_factory.mktemp("offers")
    bank = factory.make_product_bank(root / "bank")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "MLFLOW_REGISTRY_URI": f"sqlite:///{root / 'mlflow.db'}",
           "MLFLOW_ARTIFACTS_DESTINATION": str(root / "mlartifacts")}
    with factory.in_store(env["MLFLOW_TRACKING_URI"], env["MLFLOW_ARTIFACTS_DESTINATION"]):
        uri = factory.register_tiny_recommender_with_offers(bank, PRODUCTS)
        yield {"bank": bank, "uri": uri, "env": env, "root": root, "features": factory.bank_features(bank)}


@pytest.fixture
def in_store(world, monkeypatch):
    for k, v in world["env"].items():
        monkeypatch.setenv(k, v)
    return world


def _recommenders(features: pd.DataFrame):
    from tierwise.recommender import build_recommender
    from tierwise.settings import load_settings

    settings = load_settings(factory.CONFIG_DIR).for_recommender()
    models = factory.tiny_models(features)
    plain, _ = build_recommender(models, factory.policy_config(), features, factory.feature_config(), n_threads=1,
                                 catalogues=settings.reasons)
    offers, _ = build_recommender(models, factory.policy_config(), features, factory.feature_config(), n_threads=1,
                                  catalogues=settings.reasons, products=factory.tiny_product_models(features, PRODUCTS),
                                  family=factory.product_family())
    return plain, offers


def test_without_product_models_every_field_is_unchanged_and_offers_only_add_columns(world):
    from tierwise.models import RECOMMENDATION_COLUMNS

    plain, offers = _recommenders(world["features"])
    a, b = plain.recommend(world["features"]), offers.recommend(world["features"])
    assert list(a.columns) == list(RECOMMENDATION_COLUMNS) and plain.offer_columns == []
    assert list(b.columns) == [*RECOMMENDATION_COLUMNS, *offer_columns(3)]
    pd.testing.assert_frame_equal(a, b.loc[:, list(a.columns)])
    offered = set(b[["offer_1", "offer_2", "offer_3"]].stack().dropna())
    assert offered and offered <= set(PRODUCTS)  # offers only among the products with a model


def test_each_offer_is_not_held_ranked_by_value_and_carries_a_true_signed_reason(world):
    from tierwise.features import PRODUCT_COLUMNS

    _, rec = _recommenders(world["features"])
    out = rec.recommend(world["features"])
    feats = world["features"].reset_index(drop=True)
    for i in (1, 2, 3):
        has = out[f"offer_{i}"].notna().to_numpy()
        for product in PRODUCTS:
            rows = has & (out[f"offer_{i}"] == product).to_numpy()
            assert not (feats.loc[rows, PRODUCT_COLUMNS[product]].fillna(0) > 0).any()  # never a held product
        reason = out[f"offer_{i}_reason_en"].notna().to_numpy()
        assert (out.loc[reason, f"offer_{i}_reason_shap"] > 0).all()  # it raises the propensity
        assert out.loc[reason, f"offer_{i}_reason_en"].str.startswith("raises the likelihood of").all()
        assert out.loc[reason, f"offer_{i}_reason_zh"].str.startswith("推高").all()
        assert reason.sum() > 0.5 * has.sum()
    v = out[["offer_1_value", "offer_2_value", "offer_3_value"]].to_numpy()
    both = ~np.isnan(v[:, 1])
    assert (v[both, 0] >= v[both, 1]).all()
    # the reason is the product's own model's: one client alone gets the same offers and words
    one = rec.recommend(world["features"].iloc[[7]])
    pd.testing.assert_frame_equal(one.reset_index(drop=True), out.iloc[[7]].reset_index(drop=True))


def test_no_credit_offer_on_risk_watch_exit_review_or_default_even_when_raised_later(world):
    from tierwise.models import gate_offers

    _, rec = _recommenders(world["features"])
    out = rec.recommend(world["features"])
    gated = out["flag_risk_watch"] | out["flag_exit_review"] | out["flag_in_default"]
    credit = out[["offer_1", "offer_2", "offer_3"]].isin(list(rec.family.credit_products)).any(axis=1)
    assert not (gated & credit).any()
    # a later step (contagion) puts every client with a loan offer on risk watch: the loan goes
    raised = out.assign(flag_risk_watch=out["flag_risk_watch"] | credit)
    again = gate_offers(raised, rec.family)
    assert credit.any()
    assert not again[["offer_1", "offer_2", "offer_3"]].isin(list(rec.family.credit_products)).any(axis=None)
    moved = credit & out["offer_2"].notna() & (out["offer_1"] == "loan")
    assert (again.loc[moved, "offer_1"] == out.loc[moved, "offer_2"]).all()
    assert again.loc[~credit].equals(out.loc[~credit])


def test_fewer_product_models_than_offers_leave_the_last_offers_empty(world):
    from tierwise.recommender import build_recommender
    from tierwise.settings import load_settings

    features = world["features"]
    two = ("wealth", "loan")  # a bank with two product models and three offers per client
    rec, _ = build_recommender(factory.tiny_models(features), factory.policy_config(), features,
                               factory.feature_config(), n_threads=1,
                               catalogues=load_settings(factory.CONFIG_DIR).for_recommender().reasons,
                               products=factory.tiny_product_models(features, two), family=factory.product_family())
    out = rec.recommend(features)
    assert out["offer_1"].notna().any() and set(out[["offer_1", "offer_2"]].stack().dropna()) <= set(two)
    assert out["offer_3"].isna().all() and out["offer_3_value"].isna().all() and out["offer_3_reason_en"].isna().all()
    gated = out["flag_risk_watch"] | out["flag_exit_review"] | out["flag_in_default"]
    assert not (gated & out[["offer_1", "offer_2"]].eq("loan").any(axis=1)).any()


def _post(url: str, rows: list[dict]) -> list[dict]:
    body = json.dumps({"dataframe_records": rows}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


def test_the_pyfunc_and_the_served_answer_carry_the_same_offers(in_store, tmp_path):
    import mlflow.pyfunc

    from tierwise import tracking
    from tierwise.recommender import request_frame
    from tierwise.registry import load_recommender
    from tierwise.serving import start_server, wait_until_ready

    tracking.connect()
    loaded = load_recommender(in_store["uri"])
    assert set(loaded.recommender.products) == set(PRODUCTS)
    pyfunc = mlflow.pyfunc.load_model(in_store["uri"])
    frame = request_frame(in_store["features"], loaded.recommender)
    rows = json.loads(frame.to_json(orient="records", double_precision=15))[:60]
    expected = pyfunc.predict(pd.DataFrame(rows))
    assert set(offer_columns(3)) <= set(expected.columns)
    assert expected["offer_1"].notna().any()
    proc, port = start_server(in_store["uri"], log_file=tmp_path / "server.log", lean=True)
    try:
        wait_until_ready(proc, port, path="/ready", seconds=120)
        got = _post(f"http://127.0.0.1:{port}/invocations", rows)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert len(got) == len(rows)
    for answer, (_, wanted) in zip(got, expected.iterrows(), strict=True):
        assert list(answer) == list(expected.columns)
        for col in offer_columns(3):
            if pd.isna(wanted[col]):
                assert answer[col] is None, col
            elif isinstance(wanted[col], str):
                assert answer[col] == wanted[col], col
            else:
                assert answer[col] == pytest.approx(float(wanted[col]), rel=1e-12), col


def test_archive_round_trip_with_and_without_offers(world, tmp_path):
    import datetime as dt

    from tierwise import archive

    plain, rec = _recommenders(world["features"])
    with_offers = rec.recommend(world["features"]).drop(columns=["month"])
    without = plain.recommend(world["features"]).drop(columns=["month"])
    old, new = dt.date(2024, 3, 1), dt.date(2024, 4, 1)
    archive.write_month(tmp_path, old, without)  # an archive written before offers existed
    archive.write_month(tmp_path, new, with_offers)
    first = archive.read_archive(tmp_path, months=[old])
    assert not any(c.startswith("offer_") for c in first.columns)  # an old month reads as it was
    back = archive.read_archive(tmp_path, months=[new]).drop(columns=["month"])
    for col in offer_columns(3):
        left = with_offers.sort_values("client_id")[col].reset_index(drop=True)
        if col.endswith(("_propensity", "_value", "_shap")):
            np.testing.assert_array_equal(back[col].to_numpy(float), left.to_numpy(float))
        else:
            assert back[col].astype(object).where(back[col].notna(), None).tolist() == \
                left.astype(object).where(left.notna(), None).tolist(), col
    both = archive.read_archive(tmp_path)  # old and new months together: the old month has no offers
    assert both.loc[both["month"] == pd.Timestamp(old), "offer_1"].isna().all()
    picked = archive.read_archive(tmp_path, months=[old], columns=["tier", "offer_1"])  # asked of an old month: null
    assert picked["offer_1"].isna().all()


def test_explain_lists_the_offers_the_champion_recommender_makes(in_store):
    from tierwise import tracking
    from tierwise.explain import ClientCard, client_offers, offer_lines
    from tierwise.registry import load_recommender

    tracking.connect()
    rec = load_recommender(in_store["uri"]).recommender
    feats = in_store["features"].reset_index(drop=True)
    out = rec.recommend(feats)
    i = int(np.flatnonzero(out["offer_2"].notna().to_numpy())[0])
    for lang in ("en", "zh"):
        offers = client_offers(feats.iloc[[i]], lang)
        assert [o.product for o in offers] == out.loc[i, ["offer_1", "offer_2", "offer_3"]].dropna().tolist()
        assert offers[0].reason == (out.loc[i, f"offer_1_reason_{lang}"] if pd.notna(out.loc[i, f"offer_1_reason_{lang}"])
                                    else "")
        card = ClientCard(client_id="x", month=None, lang=lang, segment="", scores=[], offers=offers,  # type: ignore[arg-type]
                          horizons={"products": 3})
        first = offer_lines(card)[0][0]
        assert first.startswith(out.loc[i, f"offer_1_{lang}"]) and ("3 months" in first or "3个月" in first)
