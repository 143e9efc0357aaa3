"""The monitor's offers (issue 20, item 5): a real `tierwise monitor` on a tiny bank with product
adoption, scored month by month by a registered recommender with offers (real MLflow in tmp).
The offer mix by tier is each product's share of the offers in the archive; the take-up of the
offers made `horizon` months back is what the monthly data shows those clients opened, against
the rate of the clients not offered the product; "not yet mature" until the data reaches it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # recommender_factory

import recommender_factory as factory  # noqa: E402

from tierwise.archive import read_archive  # noqa: E402
from tierwise.features import PRODUCT_COLUMNS, FeatureConfig, add_months, month_label  # noqa: E402
from tierwise.reports._monitor_offers import offers_block  # noqa: E402

PRODUCTS = ("wealth", "funds", "insurance", "credit_card")
HORIZON = FeatureConfig().labels.products.horizon_months


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A 300-client bank with adoption on, a registered recommender with offers, and the last
    `HORIZON` + 1 months scored into one archive."""
    from tierwise.registry import load_recommender
    from tierwise.scoring import score_pandas

    root = tmp_path_factory.mktemp("monitor-offers")
    bank = factory.make_product_bank(root / "bank")
    db = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": db, "MLFLOW_REGISTRY_URI": db, "MLFLOW_ARTIFACTS_DESTINATION": str(root / "art")}
    mp = pytest.MonkeyPatch()
    for k, v in env.items():
        mp.setenv(k, v)
    uri = factory.register_tiny_recommender_with_offers(bank, PRODUCTS)
    rec, version, configs = load_recommender(uri)
    month = factory.latest_month(bank)
    months = [add_months(month, -i) for i in range(HORIZON, -1, -1)]
    for m in months:
        score_pandas(bank, m, archive=root / "archive", recommender=rec, feature_config=configs.features,
                     model_uri=uri, model_version=version, chunk_clients=150)
    yield {"root": root, "bank": bank, "archive": root / "archive", "months": months, "env": env}
    mp.undo()


@pytest.fixture
def in_store(scored, monkeypatch):
    for k, v in scored["env"].items():
        monkeypatch.setenv(k, v)
    return scored


def _monitor(run_cli, scored, tmp_path, month, data):
    out = tmp_path / "monitor"
    code, _, stderr = run_cli("monitor", "--out", str(out), "--archive", str(scored["archive"]), "--data", str(data),
                              "--month", month_label(month))
    assert code == 0, stderr
    return json.loads((out / "monitor.json").read_text()), (out / "monitor.html").read_text()


def _offered(recs: pd.DataFrame, product: str) -> np.ndarray:
    return (recs[["offer_1", "offer_2", "offer_3"]].astype(object) == product).any(axis=1).to_numpy()


def test_offer_mix_by_tier_is_each_products_share_of_the_archived_offers(in_store, run_cli, tmp_path):
    month = in_store["months"][-1]
    result, html = _monitor(run_cli, in_store, tmp_path, month, in_store["bank"])
    offers = result["offers"]
    assert offers["available"] and offers["horizon_months"] == HORIZON
    recs = read_archive(in_store["archive"], months=[month])
    slots = recs[["offer_1", "offer_2", "offer_3"]].astype(object)
    by_tier = {row["tier"]: row for row in offers["mix"]}
    assert set(by_tier) == {*recs["tier"].unique(), "all"}
    for tier, row in by_tier.items():
        part = slots if tier == "all" else slots[(recs["tier"] == tier).to_numpy()]
        made = part.stack().dropna()
        made = made[made.isin(PRODUCT_COLUMNS)]
        assert row["offers"] == len(made) and row["clients"] == len(part)
        for product, share in row["share"].items():
            expected = (made == product).mean() if len(made) else None
            assert share == pytest.approx(expected) if expected is not None else share is None
            if product not in PRODUCTS:
                assert not share  # offers only among the products with a model
    assert sum(v for v in by_tier["all"]["share"].values() if v) == pytest.approx(1.0)
    assert 'id="offer-mix"' in html and 'data-tier="all"' in html


def test_take_up_is_what_the_offered_clients_opened_against_those_not_offered(in_store, run_cli, tmp_path):
    month = in_store["months"][-1]
    result, html = _monitor(run_cli, in_store, tmp_path, month, in_store["bank"])
    offers = result["offers"]
    then = in_store["months"][0]
    assert offers["matured"], offers["note"]
    assert offers["take_up_month"] == month_label(then)
    recs = read_archive(in_store["archive"], months=[then]).set_index("client_id")
    monthly = pd.read_parquet(in_store["bank"] / "monthly.parquet")
    monthly["month"] = pd.to_datetime(monthly["month"])
    rows = {r["product"]: r for r in offers["take_up"]}
    checked = 0
    for product, column in PRODUCT_COLUMNS.items():
        wide = monthly.pivot(index="client_id", columns="month", values=column).reindex(recs.index)
        at = wide[pd.Timestamp(then)].fillna(0) > 0
        later = wide[[pd.Timestamp(add_months(then, h)) for h in range(1, HORIZON + 1)]]
        alive_to_end = wide[pd.Timestamp(month)].notna() | later.notna().any(axis=1)
        opened = (later.fillna(0) > 0).any(axis=1)
        known = ~at & alive_to_end
        offered = _offered(recs.reset_index(), product)
        got, rest = known.to_numpy() & offered, known.to_numpy() & ~offered
        row = rows[product]
        assert row["offered"] == int(got.sum()) and row["not_offered"] == int(rest.sum())
        assert row["adopted"] == int(opened.to_numpy()[got].sum())
        assert row["adopted_not_offered"] == int(opened.to_numpy()[rest].sum())
        if got.any():
            assert row["take_up"] == pytest.approx(opened.to_numpy()[got].mean())
            checked += 1
        else:
            assert row["take_up"] is None
    assert checked >= 2
    assert 'id="offer-take-up"' in html
    assert any(k.startswith("offers.take_up.") for k in _metrics(result))


def _metrics(result):
    from tierwise.reports._monitor_build import monitor_metrics

    return monitor_metrics(result)


def test_take_up_is_not_yet_mature_before_the_data_reaches_the_horizon(in_store):
    """Offers of a month whose horizon runs past the monthly data: the note says so; a month
    whose offers `horizon` months back were not archived: nothing to measure."""
    months = in_store["months"]
    recs = read_archive(in_store["archive"])
    monthly = pd.read_parquet(in_store["bank"] / "monthly.parquet")
    short = monthly[pd.to_datetime(monthly["month"]) < pd.Timestamp(months[-1])]
    block = offers_block(recs, pd.Timestamp(months[-1]), short, FeatureConfig())
    assert block["available"] and not block["matured"] and block["take_up"] == []
    assert "not yet mature" in block["note"] and month_label(months[-1]) in block["note"]
    early = offers_block(recs, pd.Timestamp(months[-2]), monthly, FeatureConfig())
    assert not early["matured"] and "no archived offers" in early["note"]
    assert early["mix"]  # the mix of that month is still shown


def test_a_month_without_offers_has_a_note_not_a_section(in_store):
    recs = read_archive(in_store["archive"]).drop(columns=[c for c in read_archive(in_store["archive"]).columns
                                                           if c.startswith("offer_")])
    block = offers_block(recs, pd.Timestamp(in_store["months"][-1]), None, FeatureConfig())
    assert block == {"available": False, "note": block["note"]} and "no offers" in block["note"]
    assert os.environ["MLFLOW_TRACKING_URI"].startswith("sqlite:///")
