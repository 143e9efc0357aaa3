"""Offers (issue 20, item 4): top products by propensity x margin behind the policy's gates,
and MAP@k. The gates are a property: no credit product is ever offered to a client on risk
watch, in exit review or in default; under exit review only risk-reducing products."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tierwise.config import load_config
from tierwise.features import PRODUCTS
from tierwise.models import (
    ProductFamilyConfig,
    average_precision_at_k,
    choose_offers,
    map_at_k,
    top_k,
)


@pytest.fixture(scope="module")
def family(request) -> ProductFamilyConfig:
    from pathlib import Path

    return load_config(Path(request.config.rootpath) / "configs" / "products.yaml", ProductFamilyConfig)


def _frame(p: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(p, columns=list(PRODUCTS))


def test_the_top_offers_are_the_highest_expected_values(family):
    p = np.full((1, len(PRODUCTS)), 0.01)
    p[0, PRODUCTS.index("wealth")] = 0.2  # 0.2 x 300 = 60
    p[0, PRODUCTS.index("loan")] = 0.1  # 45
    p[0, PRODUCTS.index("mobile_banking")] = 0.9  # 36
    p[0, PRODUCTS.index("funds")] = np.nan  # held
    no = np.zeros(1, bool)
    out = choose_offers(_frame(p), family, risk_watch=no, exit_review=no, in_default=no)
    assert out.loc[0, ["offer_1", "offer_2", "offer_3"]].tolist() == ["wealth", "loan", "mobile_banking"]
    assert out.loc[0, "offer_1_value"] == pytest.approx(60.0)
    assert out.loc[0, "offer_3_propensity"] == pytest.approx(0.9)


def test_risk_watch_removes_credit_and_exit_review_keeps_only_risk_reducing(family):
    p = _frame(np.full((3, len(PRODUCTS)), 0.5))
    watch = np.array([True, False, False])
    review = np.array([False, True, False])
    out = choose_offers(p, family, risk_watch=watch, exit_review=review, in_default=np.zeros(3, bool))
    offered = out[["offer_1", "offer_2", "offer_3"]].to_numpy()
    assert (out["offer_1"].dtype == "str") and not set(offered[0]) & {"loan", "credit_card"}
    assert set(offered[1]) == {"time_deposit", "insurance", "salary_domiciliation"}
    assert "loan" in offered[2]  # the highest margin, nothing gated


def test_fewer_eligible_products_than_offers_leaves_none(family):
    p = np.full((1, len(PRODUCTS)), np.nan)
    p[0, 0] = 0.3
    no = np.zeros(1, bool)
    out = choose_offers(_frame(p), family, risk_watch=no, exit_review=no, in_default=no)
    assert out.loc[0, "offer_1"] == "time_deposit" and pd.isna(out.loc[0, "offer_2"])
    assert np.isnan(out.loc[0, "offer_2_value"])


def test_map_at_k_by_hand():
    actual = np.array([[True, False, False, True], [False, False, False, False], [False, False, True, False]])
    scores = np.array([[0.9, 0.8, 0.1, 0.7], [0.5, 0.4, 0.3, 0.2], [0.1, np.nan, 0.2, 0.9]])
    ranking = top_k(scores, 3)
    assert ranking.tolist() == [[0, 1, 3], [0, 1, 2], [3, 2, 0]]
    ap = average_precision_at_k(ranking, actual, 3)
    assert ap == pytest.approx([(1 + 2 / 3) / 2, 0.0, 0.5])
    assert map_at_k(scores, actual, 3) == pytest.approx(np.mean(ap))
    perfect = np.where(actual, 1.0, 0.0)
    assert map_at_k(perfect[[0, 2]], actual[[0, 2]], 3) == 1.0


@settings(max_examples=80, deadline=None)
@given(
    p=hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.just(len(PRODUCTS))),
                 elements=st.one_of(st.floats(0, 1), st.just(np.nan))),
    flags=st.data(),
)
def test_no_credit_offer_under_risk_watch_exit_review_or_default(family, p, flags):
    n = p.shape[0]
    draw = flags.draw
    watch, review, default = (np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) for _ in range(3))
    out = choose_offers(_frame(p), family, risk_watch=watch, exit_review=review, in_default=default)
    offered = out[[f"offer_{i}" for i in range(1, family.offers + 1)]].to_numpy()
    values = out[[f"offer_{i}_value" for i in range(1, family.offers + 1)]].to_numpy(float)
    for i in range(n):
        chosen = [o for o in offered[i] if pd.notna(o)]
        if watch[i] or review[i] or default[i]:
            assert not set(chosen) & family.credit_products
        if review[i]:
            assert set(chosen) <= family.risk_reducing_products
        assert all(not np.isnan(p[i, PRODUCTS.index(o)]) for o in chosen)  # never a held product
        assert len(set(chosen)) == len(chosen)
        v = values[i][~np.isnan(values[i])]
        assert (np.diff(v) <= 0).all()  # best first
