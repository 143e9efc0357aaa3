"""Product adoption in the synthetic bank (`products:` in data.yaml): off by default bit for
bit; when on, ownership shows in the contract's columns, clients adopt over time, the run is
deterministic, and the oracle's adoption probabilities are this world's (they match the
adoption rates the labels read from the data)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tierwise.features import (
    PRODUCT_COLUMNS,
    PRODUCTS,
    FeatureConfig,
    build_labels,
    label_column,
    product_task,
)
from tierwise.synthetic import (
    DataConfig,
    OracleConfig,
    ProductsConfig,
    bank_fingerprint,
    generate_bank,
)

START = dt.date(2023, 1, 1)
MONTHS, CLIENTS, SEED = 20, 1500, 7
ORACLE = OracleConfig(pairs=1200, snapshots=1, futures=64)


def _bank(cfg: DataConfig):
    return generate_bank(cfg, clients=CLIENTS, months=MONTHS, seed=SEED, start=START)


@pytest.fixture(scope="module")
def banks():
    """(without, with) product adoption, same seed."""
    return _bank(DataConfig(oracle=ORACLE)), _bank(DataConfig(oracle=ORACLE, products=ProductsConfig()))


def test_off_is_the_default_and_keeps_the_fingerprint():
    assert DataConfig().products is None
    kw = {"clients": 10, "months": 5, "seed": 1, "start": "2023-01", "dirty": False}
    assert bank_fingerprint(DataConfig(), **kw) == bank_fingerprint(DataConfig(products=None), **kw)
    assert bank_fingerprint(DataConfig(products=ProductsConfig()), **kw) != bank_fingerprint(DataConfig(), **kw)


def test_adoption_is_deterministic(banks):
    again = _bank(DataConfig(oracle=ORACLE, products=ProductsConfig()))
    pd.testing.assert_frame_equal(banks[1].monthly, again.monthly)
    pd.testing.assert_frame_equal(banks[1].oracle, again.oracle)


def test_own_stream_leaves_the_clients_table_and_the_latent_world_alone(banks):
    off, on = banks
    pd.testing.assert_frame_equal(off.clients, on.clients)
    # complaints come from the bank's own stream; adoption only moves it once a card held in one
    # world and not the other has changed a client's arrears (a defaulted client stops leaving,
    # and the bank's later draws follow another path): every month up to the first such
    # difference is the same in both worlds
    keys = ["client_id", "month"]
    both = off.monthly[[*keys, "complaints", "days_past_due"]].merge(
        on.monthly[[*keys, "complaints", "days_past_due"]], on=keys, how="outer")
    defaulted = both[["days_past_due_x", "days_past_due_y"]].fillna(0) >= 90
    differs = both.loc[defaulted["days_past_due_x"] != defaulted["days_past_due_y"], "month"]
    first = differs.min() if len(differs) else both["month"].max()
    early = both[both["month"] <= first]
    assert (early["complaints_x"] == early["complaints_y"]).all()
    moved = both.loc[both["complaints_x"] != both["complaints_y"], "month"]
    assert moved.empty or moved.min() > first


def test_clients_adopt_products_they_did_not_hold(banks):
    m = banks[1].monthly.sort_values(["client_id", "month"])
    for product, column in PRODUCT_COLUMNS.items():
        held = m[column].to_numpy() > 0
        first = m.groupby("client_id")[column].transform(lambda s: s.iloc[0] > 0).to_numpy()
        ever = m.assign(h=held).groupby("client_id")["h"].transform("max").to_numpy()
        adopters = pd.Series(ever & ~first, index=m["client_id"]).groupby(level=0).max().sum()
        assert adopters > 0, product


def test_a_product_not_held_shows_as_zero(banks):
    m = banks[1].monthly
    no_app = m["mobile_logins"] == 0
    assert (m.loc[no_app & ~m["relationship_closed"], "mobile_txn_count"] >= 0).all()
    active_no_app = no_app & (m["branch_txn_count"] + m["atm_txn_count"] > 0)
    assert (m.loc[active_no_app, "mobile_txn_count"] == 0).mean() > 0.9


def test_oracle_columns_nan_for_holders_and_probabilities_in_range(banks):
    o = banks[1].oracle
    for product in PRODUCTS:
        p = o[f"p_adopt_{product}_3m"]
        assert p.notna().any() and p.dropna().between(0, 1).all()
        drivers = o.loc[p.isna(), f"adopt_{product}_driver"]
        assert drivers.isna().all()
    assert not any(c.startswith("p_adopt_") for c in banks[0].oracle.columns)


def test_oracle_probabilities_match_the_labels_read_from_the_data(banks):
    """The oracle's mean adoption probability equals the adoption rate the one label definition
    finds in the simulated data, over the same (client, snapshot) pairs, within sampling error."""
    bank = banks[1]
    o = bank.oracle
    month = o["snapshot_month"].iloc[0].date()
    cfg = FeatureConfig()
    labels = build_labels(bank.monthly, month, cfg).set_index("client_id")
    joined = o.set_index("client_id")
    for product in ("time_deposit", "funds", "insurance", "mobile_banking", "credit_card"):
        label = labels[label_column(product_task(product), cfg)].reindex(joined.index)
        p = joined[f"p_adopt_{product}_3m"]
        both = label.notna() & p.notna()
        assert both.mean() > 0.95 * p.notna().mean()  # the same clients are eligible
        n = int(both.sum())
        se = np.sqrt(p[both].mean() * (1 - p[both].mean()) / n)
        assert abs(label[both].mean() - p[both].mean()) < 4 * se + 0.01, product
