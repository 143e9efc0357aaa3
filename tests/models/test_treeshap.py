"""Exactness of the fast TreeSHAP against LightGBM's own `pred_contrib=True`."""

from __future__ import annotations

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import DataError
from tierwise.models import tree_shap
from tierwise.models.treeshap import tree_shap as public_tree_shap

ATOL = 1e-6


def _frame(rng: np.random.Generator, n: int, n_num: int, n_cat: int, nan_share: float,
           zero_share: float) -> pd.DataFrame:
    cols: dict[str, object] = {}
    for j in range(n_num):
        x = rng.normal(size=n) * (1 + j)
        x[rng.random(n) < zero_share] = 0.0
        x[rng.random(n) < nan_share] = np.nan
        cols[f"x{j}"] = x
    for j in range(n_cat):
        levels = [f"c{k}" for k in range(int(rng.integers(2, 40)))]
        codes = rng.integers(0, len(levels), n)
        values = pd.Categorical.from_codes(codes, categories=levels)
        values[rng.random(n) < nan_share] = np.nan
        cols[f"cat{j}"] = values
    return pd.DataFrame(cols)


def _target(rng: np.random.Generator, X: pd.DataFrame, binary: bool) -> np.ndarray:
    score = np.zeros(len(X))
    for col in X.columns:
        if isinstance(X[col].dtype, pd.CategoricalDtype):
            codes = X[col].cat.codes.to_numpy()
            score += np.where(codes >= 0, np.sin(codes * 1.7), 0.3)
        else:
            score += np.tanh(np.nan_to_num(X[col].to_numpy(), nan=0.5)) * rng.normal()
    score += rng.normal(size=len(X)) * 0.5
    return (score > np.median(score)).astype(int) if binary else score


def _random_model(seed: int) -> tuple[lgb.Booster, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_num, n_cat = int(rng.integers(1, 7)), int(rng.integers(0, 3))
    X = _frame(rng, int(rng.integers(150, 500)), n_num, n_cat,
               nan_share=float(rng.choice([0.0, 0.1, 0.3])),
               zero_share=float(rng.choice([0.0, 0.3])))
    binary = bool(rng.integers(0, 2))
    params = {
        "objective": "binary" if binary else "regression",
        "num_leaves": int(rng.integers(2, 48)),
        "max_depth": int(rng.choice([-1, -1, 1, 2, 3, 5, 8])),
        "min_data_in_leaf": int(rng.choice([1, 3, 10, 40])),
        "min_sum_hessian_in_leaf": 0.0,
        "learning_rate": 0.3,
        "zero_as_missing": bool(rng.integers(0, 2)),
        "use_missing": bool(rng.integers(0, 4)),  # mostly True
        "max_cat_to_onehot": int(rng.choice([1, 4, 64])),
        "cat_smooth": 1.0,
        "min_data_per_group": 5,
        "bagging_fraction": float(rng.choice([1.0, 0.7])),
        "bagging_freq": 1,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
    }
    if rng.random() < 0.3:
        params["monotone_constraints"] = [int(rng.integers(-1, 2)) for _ in range(n_num)] + [0] * n_cat
        params["monotone_constraints_method"] = str(rng.choice(["basic", "intermediate"]))
    y = _target(rng, X, binary)
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=int(rng.integers(1, 16)))
    return booster, X


def _assert_exact(booster: lgb.Booster, X, values: np.ndarray) -> None:
    expected = booster.predict(X, pred_contrib=True)
    assert values.shape == expected.shape
    np.testing.assert_allclose(values, expected, rtol=0, atol=ATOL)
    np.testing.assert_allclose(values.sum(axis=1), booster.predict(X, raw_score=True),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("seed", range(30))
def test_matches_pred_contrib_on_random_models(seed):
    booster, X = _random_model(seed)
    _assert_exact(booster, X, tree_shap(booster, X))


@pytest.mark.parametrize("seed", [3, 11, 17])
def test_path_method_and_tables_agree(seed):
    # max_table_depth=0: every leaf goes through the classic path method; 2: a mix of both
    booster, X = _random_model(seed)
    for depth in (0, 2):
        _assert_exact(booster, X, tree_shap(booster, X, max_table_depth=depth))


def test_numpy_input_and_both_entry_points():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = X[:, 0] - np.nan_to_num(X[:, 1]) ** 2
    booster = lgb.train({"objective": "regression", "num_leaves": 20, "verbose": -1,
                         "num_threads": 1, "min_data_in_leaf": 3}, lgb.Dataset(X, y), num_boost_round=10)
    _assert_exact(booster, X, public_tree_shap(booster, X))
    _assert_exact(booster, X.astype(np.float32), tree_shap(booster, X.astype(np.float32)))


def test_categories_unseen_at_training_and_other_orders():
    rng = np.random.default_rng(5)
    X = _frame(rng, 400, 2, 2, nan_share=0.05, zero_share=0.0)
    y = _target(rng, X, binary=True)
    booster = lgb.train({"objective": "binary", "num_leaves": 15, "verbose": -1,
                         "num_threads": 1,
                         "min_data_in_leaf": 3, "max_cat_to_onehot": 1, "min_data_per_group": 5,
                         "cat_smooth": 1.0}, lgb.Dataset(X, y), num_boost_round=8)
    scoring = X.copy()
    for col in ("cat0", "cat1"):
        levels = list(scoring[col].cat.categories)
        # new levels and another category order: LightGBM maps them with pandas_categorical
        scoring[col] = scoring[col].cat.set_categories(["zz_new", *reversed(levels)])
        scoring.loc[scoring.index[:20], col] = "zz_new"
    _assert_exact(booster, scoring, tree_shap(booster, scoring))


def test_single_leaf_trees_and_unused_features():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    y = rng.normal(size=50)
    booster = lgb.train({"objective": "regression", "min_data_in_leaf": 100, "verbose": -1,
                         "num_threads": 1},
                        lgb.Dataset(X, y), num_boost_round=3)
    values = tree_shap(booster, X)
    _assert_exact(booster, X, values)
    assert np.all(values[:, :4] == 0.0)


def test_multiclass_blocks_per_class():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 8,
                         "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), num_boost_round=5)
    values = tree_shap(booster, X)
    np.testing.assert_allclose(values, booster.predict(X, pred_contrib=True), rtol=0, atol=ATOL)


def test_threads_do_not_change_results_and_are_restored():
    booster, X = _random_model(4)
    before = numba.get_num_threads()
    one = tree_shap(booster, X, n_threads=1)
    assert numba.get_num_threads() == before
    assert np.array_equal(one, tree_shap(booster, X, n_threads=2))
    assert tree_shap(booster, X.iloc[:0]).shape == (0, X.shape[1] + 1)


_EDGE_VALUES = [0.0, -0.0, 1e-36, -1e-36, np.nan, np.inf, -np.inf, 1e300, -1.0, 0.5, 1.0, 3.0]


@pytest.fixture(scope="module")
def edge_model() -> tuple[lgb.Booster, list[float]]:
    rng = np.random.default_rng(9)
    X = rng.choice([0.0, np.nan, -1.0, 1.0, 2.0, 3.0], size=(400, 3)) + rng.normal(size=(400, 3)) * 0.1
    X[rng.random(X.shape) < 0.2] = 0.0
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 2] = rng.integers(0, 6, 400)
    y = np.nan_to_num(X[:, 0]) + (X[:, 2] % 2) + np.isnan(X[:, 1]) + rng.normal(size=400) * 0.1
    booster = lgb.train({"objective": "regression", "num_leaves": 24, "min_data_in_leaf": 2,
                         "zero_as_missing": True, "max_cat_to_onehot": 1, "verbose": -1,
                         "num_threads": 1},
                        lgb.Dataset(X, y, categorical_feature=[2]), num_boost_round=6)
    thresholds = [float(t) for t in booster.trees_to_dataframe()["threshold"].dropna()
                  if isinstance(t, float | int)]
    return booster, thresholds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_edge_values_match(edge_model, data):
    # thresholds themselves, zeros of both signs, tiny values, NaN, infinities, negative codes
    booster, thresholds = edge_model
    values = st.sampled_from(_EDGE_VALUES + thresholds) | st.floats(-5, 5) | st.integers(-3, 80)
    rows = data.draw(st.lists(st.lists(values, min_size=3, max_size=3), min_size=1, max_size=8))
    X = np.array(rows, dtype=np.float64)
    _assert_exact(booster, X, tree_shap(booster, X))


def test_wrong_number_of_columns_is_one_clear_line():
    booster, X = _random_model(0)
    with pytest.raises(DataError, match=rf"X has {X.shape[1] + 1} columns, the model was "
                                        rf"trained on {X.shape[1]} features"):
        tree_shap(booster, np.zeros((3, X.shape[1] + 1)))
    with pytest.raises(DataError, match=r"X must be 2-D"):
        tree_shap(booster, np.zeros(X.shape[1]))


def test_text_column_is_rejected_by_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1,
                         "min_data_in_leaf": 5},
                        lgb.Dataset(X, X["a"] * 2), num_boost_round=2)
    bad = X.assign(b=X["b"].astype(str))
    with pytest.raises(DataError, match=r"column 'b' of X has dtype .*expected numbers or category"):
        tree_shap(booster, bad)


def test_linear_tree_is_refused():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    booster = lgb.train({"objective": "regression", "linear_tree": True, "verbose": -1,
                         "num_threads": 1},
                        lgb.Dataset(X, X[:, 0] * 3 + X[:, 1]), num_boost_round=2)
    with pytest.raises(DataError, match=r"linear tree .*constant-leaf trees only"):
        tree_shap(booster, X)


def test_bad_thread_count_is_refused():
    booster, X = _random_model(0)
    with pytest.raises(DataError, match=r"n_threads must be at least 1, got 0"):
        tree_shap(booster, X, n_threads=0)


def test_paths_too_long_for_a_bit_mask(monkeypatch):
    # leaves with more unique path features than MASK_BITS re-evaluate their path per row
    import tierwise.models._treeshap as impl

    monkeypatch.setattr(impl, "MASK_BITS", 0)
    booster, X = _random_model(17)
    _assert_exact(booster, X, tree_shap(booster, X, max_table_depth=0))


def test_uses_the_best_iteration_as_predict_does():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = (X[:, 0] + rng.normal(size=600) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1,
                         "learning_rate": 0.5},
                        lgb.Dataset(X[:400], y[:400]), num_boost_round=100,
                        valid_sets=[lgb.Dataset(X[400:], y[400:])],
                        callbacks=[lgb.early_stopping(10, verbose=False)],
                        keep_training_booster=True)
    assert 0 < booster.best_iteration < booster.current_iteration()
    _assert_exact(booster, X, tree_shap(booster, X))


def test_chunks_and_blocks_do_not_change_results(monkeypatch):
    import tierwise.models._treeshap as impl

    booster, X = _random_model(6)
    whole = tree_shap(booster, X)
    monkeypatch.setattr(impl, "ROWS_PER_CHUNK", 37)
    monkeypatch.setattr(impl, "ROWS_PER_BLOCK", 5)
    assert np.array_equal(whole, tree_shap(booster, X))


def test_repeated_calls_reuse_the_prepared_model_and_see_further_training():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(float)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "seed": 1},
                        lgb.Dataset(X, y), num_boost_round=5, keep_training_booster=True)
    first = tree_shap(booster, X)
    np.testing.assert_allclose(tree_shap(booster, X), first, rtol=0, atol=0)
    booster.update()  # one more tree: the cached tables must not be reused
    np.testing.assert_allclose(tree_shap(booster, X), booster.predict(X, pred_contrib=True), atol=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_a_few_rows_give_the_batch_numbers_bit_for_bit(seed, monkeypatch):
    # up to FEW_ROWS rows (a served request) take the one-row kernel: the same arithmetic in the
    # same order as the block kernel, missing values, zeros and categories (unseen too) included
    import tierwise.models._treeshap as impl

    booster, X = _random_model(seed)
    whole = tree_shap(booster, X)  # blocks
    singles = np.vstack([tree_shap(booster, X.iloc[i:i + 1]) for i in range(len(X))])
    assert np.array_equal(whole, singles)
    few = np.vstack([tree_shap(booster, X.iloc[i:i + impl.FEW_ROWS]) for i in range(0, len(X), impl.FEW_ROWS)])
    assert np.array_equal(whole, few)
    for mask_bits in (impl.MASK_BITS, 0):  # leaves without tables: quadrature, then the path per row
        monkeypatch.setattr(impl, "MASK_BITS", mask_bits)
        whole = tree_shap(booster, X, max_table_depth=2)
        singles = np.vstack([tree_shap(booster, X.iloc[i:i + 1], max_table_depth=2) for i in range(len(X))])
        assert np.array_equal(whole, singles)
    _assert_exact(booster, X.iloc[:3], tree_shap(booster, X.iloc[:3]))
