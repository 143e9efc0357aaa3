"""Offers (issue 20, item 4): top products by propensity x margin behind the policy's gates,
and MAP@k. The gates are a property: no credit product is ever offered to a client on risk
watch, in exit review or in default; under exit review only risk-reducing products. It is
tested with hypothesis on the bank's menu and on drawn menus (which products are credit or
risk-reducing, their margins, how many offers), for both places the gates are applied: the
choice of offers (`choose_offers`) and the re-gating after a later step raised a flag
(`gate_offers`)."""

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
    OFFER_PARTS,
    ProductFamilyConfig,
    ProductSpec,
    average_precision_at_k,
    choose_offers,
    gate_offers,
    is_number_column,
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


def test_two_product_models_and_three_offers_leave_the_third_empty(family):
    # a bank with propensity models for only two products: the frame has two columns
    p = pd.DataFrame({"wealth": [0.2, np.nan], "loan": [0.1, 0.3]})
    no = np.zeros(2, bool)
    out = choose_offers(p, family, risk_watch=no, exit_review=no, in_default=no)
    assert out["offer_1"].tolist() == ["wealth", "loan"]
    assert out.loc[0, "offer_2"] == "loan" and out[["offer_3"]].isna().all(axis=None)
    assert pd.isna(out.loc[1, "offer_2"]) and np.isnan(out["offer_3_value"]).all()


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


@st.composite
def _menus(draw, model) -> ProductFamilyConfig:  # noqa: ANN001
    """A product menu: some of the families, each credit and/or risk-reducing or neither, a
    margin (zero included), and how many offers."""
    names = draw(st.lists(st.sampled_from(PRODUCTS), min_size=1, unique=True))
    specs = {p: ProductSpec(margin=draw(st.floats(0, 1000)), credit=draw(st.booleans()),
                            risk_reducing=draw(st.booleans())) for p in names}
    return ProductFamilyConfig(products=specs, offers=draw(st.integers(1, len(PRODUCTS))), model=model)


def _flags(data, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    return tuple(np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool) for _ in range(3))


def _allowed(menu: ProductFamilyConfig, product: str, watch: bool, review: bool, default: bool) -> bool:
    if (watch or review or default) and product in menu.credit_products:
        return False
    return not review or product in menu.risk_reducing_products


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_on_any_menu_the_offers_are_the_top_allowed_values_and_never_credit_under_the_gates(family, data):
    menu = data.draw(_menus(family.model))
    n = data.draw(st.integers(1, 10))
    p = data.draw(hnp.arrays(np.float64, (n, len(PRODUCTS)), elements=st.one_of(st.floats(0, 1), st.just(np.nan))))
    watch, review, default = _flags(data, n)
    out = choose_offers(_frame(p), menu, risk_watch=watch, exit_review=review, in_default=default)
    k = menu.offers
    assert list(out.columns) == [f"offer_{i}{part}" for i in range(1, k + 1)
                                 for part in ("", "_propensity", "_value")]
    for i in range(n):
        chosen = [o for o in out.loc[i, [f"offer_{j}" for j in range(1, k + 1)]] if pd.notna(o)]
        if watch[i] or review[i] or default[i]:
            assert not set(chosen) & menu.credit_products
        if review[i]:
            assert set(chosen) <= menu.risk_reducing_products
        eligible = {q: p[i, PRODUCTS.index(q)] * menu.products[q].margin for q in menu.products
                    if not np.isnan(p[i, PRODUCTS.index(q)]) and _allowed(menu, q, watch[i], review[i], default[i])}
        assert set(chosen) <= set(eligible) and len(chosen) == min(k, len(eligible))
        values = [out.loc[i, f"offer_{j}_value"] for j in range(1, len(chosen) + 1)]
        assert values == pytest.approx([eligible[q] for q in chosen])
        left_out = [v for q, v in eligible.items() if q not in chosen]
        assert not left_out or max(left_out) <= min(values)  # nothing better was left out


def _offer_frame(menu: ProductFamilyConfig, offered: list[list[str]], flags) -> pd.DataFrame:  # noqa: ANN001
    """Recommendation rows with the policy's flags and offer columns: each part of an offer
    names its product (text) or encodes it (numbers), so that the parts can be followed."""
    k = menu.offers
    cols: dict[str, object] = dict(zip(("flag_risk_watch", "flag_exit_review", "flag_in_default"), flags, strict=True))
    for i in range(k):
        names = [row[i] if i < len(row) else None for row in offered]
        for part in OFFER_PARTS:
            if is_number_column(part):
                cols[f"offer_{i + 1}{part}"] = np.array(
                    [np.nan if q is None else PRODUCTS.index(q) + OFFER_PARTS.index(part) / 10 for q in names])
            else:
                cols[f"offer_{i + 1}{part}"] = pd.array([None if q is None else f"{q}{part}" for q in names],
                                                        dtype="str")
    return pd.DataFrame(cols)


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_regating_after_a_raised_flag_leaves_no_credit_offer_and_moves_the_rest_up_in_order(family, data):
    menu = data.draw(_menus(family.model))
    n = data.draw(st.integers(1, 10))
    offered = [data.draw(st.lists(st.sampled_from(sorted(menu.products)), unique=True, max_size=menu.offers))
               for _ in range(n)]
    watch, review, default = _flags(data, n)
    frame = _offer_frame(menu, offered, (watch, review, default))
    out = gate_offers(frame, menu)
    k = menu.offers
    for i in range(n):
        kept = [q for q in offered[i] if _allowed(menu, q, watch[i], review[i], default[i])]
        names = out.loc[i, [f"offer_{j}" for j in range(1, k + 1)]].tolist()
        assert [q for q in names if pd.notna(q)] == kept  # the allowed ones, in their order, moved up
        assert all(pd.isna(q) for q in names[len(kept):])
        if watch[i] or review[i] or default[i]:
            assert not set(kept) & menu.credit_products
        if review[i]:
            assert set(kept) <= menu.risk_reducing_products
        for j, q in enumerate(kept, start=1):  # every part of an offer moved with it
            for part in OFFER_PARTS[1:]:
                value = out.loc[i, f"offer_{j}{part}"]
                expected = PRODUCTS.index(q) + OFFER_PARTS.index(part) / 10 if is_number_column(part) else f"{q}{part}"
                assert value == pytest.approx(expected) if is_number_column(part) else value == expected
        if kept == offered[i]:
            pd.testing.assert_series_equal(out.loc[i], frame.loc[i])  # nothing to remove: the row as it was
