"""The recommender composition: contract columns, row-wise scoring, reasons, input errors."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.features import DataError
from tierwise.models import (
    RECOMMENDATION_COLUMNS,
    TIERS,
    FamilyReasons,
    PolicyConfig,
    Recommender,
    TierwiseModel,
    resolve_policy,
)
from tierwise.models._candidates import LightGBMCandidate
from tierwise.models._recommender_pyfunc import check_request
from tierwise.models._train import coerce_categories, learn_categories

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NUMERIC = ["assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly",
           "logins", "dpd", "deposit_chg"]
FAMILIES = {"assets_total": "assets", "credit_exposure": "credit", "contribution_monthly": "value",
            "cost_to_serve_monthly": "value", "logins": "digital", "dpd": "arrears",
            "deposit_chg": "deposits", "segment": "segment", "region": "region"}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    assets = rng.lognormal(10, 1.5, n)
    exposure = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(9, 1, n))
    frame = pd.DataFrame({
        "client_id": [f"C{i:05d}" for i in range(n)],
        "snapshot_month": pd.Timestamp("2025-06-01"),
        "segment": rng.choice(["retail", "sme"], n),
        "region": rng.choice(["N", "S", "E", "W"], n),
        "industry": rng.choice(["a", "b"], n),
        "branch": rng.choice(["B1", "B2"], n),
        "rm_id": np.where(rng.random(n) < 0.2, "RM1", None),
        "assets_total": assets,
        "credit_exposure": exposure,
        "contribution_monthly": assets * 0.001 + rng.normal(0, 5, n),
        "cost_to_serve_monthly": rng.uniform(5, 40, n),
        "logins": rng.poisson(5, n).astype(float),
        "dpd": np.where(rng.random(n) < 0.1, rng.integers(1, 120, n), 0).astype(float),
        "deposit_chg": rng.normal(0, 0.3, n),
    })
    frame.loc[frame.sample(frac=0.05, random_state=seed).index, "logins"] = np.nan
    return frame


def _model(task: str, kind: str, X: pd.DataFrame, y: np.ndarray) -> TierwiseModel:
    cats = learn_categories(X)
    params = {"objective": "binary" if kind == "binary" else "regression", "num_leaves": 7,
              "learning_rate": 0.2, "min_child_samples": 10, "seed": 1, "deterministic": True,
              "force_row_wise": True, "num_threads": 1, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(coerce_categories(X, cats), label=y), num_boost_round=15)
    return TierwiseModel(task=task, kind=kind, estimator=LightGBMCandidate(booster, kind, params),
                         calibrator=None, feature_names=list(X.columns), categories=cats,
                         id_columns=["client_id"], input_columns=list(X.columns))


@pytest.fixture(scope="module")
def setup():
    train = _frame(800, seed=1)
    rng = np.random.default_rng(2)
    X = train.loc[:, [*NUMERIC, "segment", "region"]]
    churn = ((train["logins"].fillna(0) < 4) ^ (rng.random(len(train)) < 0.2)).astype(float).to_numpy()
    default = ((train["dpd"] > 30) | (rng.random(len(train)) < 0.05)).astype(float).to_numpy()
    growth = (train["deposit_chg"] + rng.normal(0, 0.1, len(train))).to_numpy()
    models = {"churn": _model("churn", "binary", X, churn), "default": _model("default", "binary", X, default),
              "growth": _model("growth", "regression", X, growth)}
    policy = PolicyConfig.model_validate(yaml.safe_load((CONFIGS / "policy.yaml").read_text(encoding="utf-8")))
    resolved = resolve_policy(models, policy, train)
    rec = Recommender(churn=models["churn"], default=models["default"], growth=models["growth"],
                      policy=resolved, reasons=FamilyReasons(families=FAMILIES), n_threads=1)
    return rec, _frame(300, seed=3)


def test_output_follows_the_contract(setup):
    rec, frame = setup
    out = rec.recommend(frame)
    assert list(out.columns) == list(RECOMMENDATION_COLUMNS)
    assert len(out) == len(frame)
    assert out["client_id"].tolist() == frame["client_id"].tolist()
    assert set(out["tier"]) <= set(TIERS)
    assert out["p_churn"].between(0, 1).all()
    no_credit = frame["credit_exposure"].to_numpy() == 0
    assert out["p_default"].isna().to_numpy().tolist() == no_credit.tolist()
    assert out.loc[no_credit, "reason_default_1_family"].isna().all()
    assert (out["month"] == pd.Timestamp("2025-06-01")).all()
    for flag in [c for c in out.columns if c.startswith("flag_")]:
        assert out[flag].dtype == bool


def test_reasons_are_ranked_positive_families(setup):
    rec, frame = setup
    out = rec.recommend(frame)
    for m in ("churn", "default", "growth"):
        s = out[[f"reason_{m}_{k}_shap" for k in (1, 2, 3)]].to_numpy()
        ok = ~np.isnan(s)
        assert (s[ok] > 0).all()
        filled = np.nan_to_num(s, nan=-1e9)
        assert (np.diff(filled, axis=1) <= 0).all()  # rank 1 >= rank 2 >= rank 3
        fam = out[f"reason_{m}_1_family"].dropna()
        assert set(fam) <= set(FAMILIES.values())
        text = out[f"reason_{m}_1_en"].dropna()
        assert len(text) == len(fam) and text.str.contains(r"\(").all()


def test_family_reasons_sum_contributions_by_family():
    X = pd.DataFrame({"a1": [1.0, 2.0], "a2": [3.0, 4.0], "b": [5.0, 6.0]})
    contrib = np.array([[0.3, 0.4, 0.5, 9.0],     # family A = 0.7 > B = 0.5
                        [-0.3, 0.1, 0.05, 9.0]])  # A = -0.2 (not a reason), B = 0.05
    out = FamilyReasons(families={"a1": "A", "a2": "A", "b": "B"},
                        descriptions={"a2": ("Second", "第二")})("churn", contrib, X)
    assert out["reason_churn_1_family"].tolist() == ["A", "B"]
    assert out["reason_churn_1_shap"].tolist() == pytest.approx([0.7, 0.05])
    assert out.loc[0, "reason_churn_1_en"].startswith("Second: 3")  # a2 contributes most to A
    assert out.loc[0, "reason_churn_1_zh"].startswith("第二：3")
    assert out.loc[0, "reason_churn_2_family"] == "B"
    assert pd.isna(out.loc[1, "reason_churn_2_family"]) and np.isnan(out.loc[1, "reason_churn_2_shap"])
    assert out["reason_churn_3_family"].isna().all()  # only two families


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 299), min_size=1, max_size=40, unique=True))
def test_scoring_is_row_wise(setup, rows):
    """Any subset of clients, in any order, gets exactly the rows of scoring everyone."""
    rec, frame = setup
    full = rec.recommend(frame)
    part = rec.recommend(frame.iloc[rows])
    pd.testing.assert_frame_equal(part, full.iloc[rows].reset_index(drop=True))


def test_same_inputs_same_output(setup):
    rec, frame = setup
    pd.testing.assert_frame_equal(rec.recommend(frame), rec.recommend(frame.copy()))


def test_missing_column_is_one_line(setup):
    rec, frame = setup
    with pytest.raises(DataError, match=r"missing column\(s\) dpd"):
        rec.recommend(frame.drop(columns=["dpd"]))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f.head(0), "no rows"),
    (lambda f: f.drop(columns=["logins"]), "missing field(s): logins"),
    (lambda f: f.assign(logins="many"), "field 'logins' must be a number, got 'many' in row 0"),
    (lambda f: f.assign(client_id=None), "field 'client_id' is empty in row 0"),
])
def test_bad_requests_are_invalid_parameter_errors(setup, mutate, message):
    from mlflow.exceptions import MlflowException

    rec, frame = setup
    with pytest.raises(MlflowException) as err:
        check_request(mutate(frame.head(2).copy()), rec)
    assert message in err.value.message
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_numbers_sent_as_text_are_accepted(setup):
    rec, frame = setup
    sent = frame.head(3).astype({"logins": "str"})
    checked = check_request(sent, rec)
    assert sent["logins"].dtype == "str"  # the request itself is left as it was sent
    pd.testing.assert_frame_equal(rec.recommend(checked), rec.recommend(frame.head(3)))


def test_empty_numeric_fields_are_missing_numbers(setup):
    """A JSON null in a numeric field (an object column) reads as NaN, a number sent as text
    next to it as that number."""
    rec, frame = setup
    sent = frame.head(3).astype({"logins": object, "dpd": object})
    sent["logins"] = None
    sent["dpd"] = [None, "2", 0]
    checked = check_request(sent, rec)
    assert checked["logins"].dtype == np.float64 and checked["logins"].isna().all()
    assert checked["dpd"].tolist()[1:] == [2.0, 0.0] and np.isnan(checked["dpd"].iloc[0])
    expected = frame.head(3).assign(logins=np.nan, dpd=[np.nan, 2.0, 0.0])
    pd.testing.assert_frame_equal(rec.recommend(checked), rec.recommend(expected))


def test_batch_and_single_client_paths_agree(setup):
    """A served client (one row, one thread) gets exactly the row a large multi-threaded batch
    gives it: the same scores to 1e-12, the same tiers, flags and reasons."""
    from tierwise.models._recommender import SMALL_BATCH

    rec, _ = setup
    frame = _frame(SMALL_BATCH + 50, seed=9)
    batch = rec.recommend(frame)
    picked = [0, 1, 7, 500, SMALL_BATCH + 49]
    singles = pd.concat([rec.recommend(frame.iloc[[i]]) for i in picked], ignore_index=True)
    expected = batch.iloc[picked].reset_index(drop=True)
    for col in batch.columns:
        if pd.api.types.is_float_dtype(batch[col].dtype):
            np.testing.assert_allclose(singles[col].to_numpy(), expected[col].to_numpy(), rtol=0, atol=1e-12,
                                       err_msg=col)
        else:
            pd.testing.assert_series_equal(singles[col], expected[col], obj=col)


def test_model_matrix_reads_inputs_as_lightgbm_does(setup):
    """The input matrix gives the booster and TreeSHAP the numbers of the category frame:
    unseen and missing categories are NaN, numbers float64."""
    rec, frame = setup
    model = rec.churn
    sent = frame.head(20).copy()
    sent.loc[0, "region"] = "nowhere"
    sent.loc[1, "segment"] = None
    matrix = model.model_matrix(sent)
    X = model.model_inputs(sent)
    assert matrix.dtype == np.float64 and matrix.flags.c_contiguous
    assert np.isnan(matrix[0, model.feature_names_.index("region")])
    assert np.isnan(matrix[1, model.feature_names_.index("segment")])
    np.testing.assert_array_equal(model.booster_.predict(matrix), model.booster_.predict(X))
    np.testing.assert_array_equal(model.predict_matrix(matrix, num_threads=1), model.predict_score(sent))


def test_few_rows_matrix_equals_the_general_path(setup, monkeypatch):
    """A served request (a few rows, a block per column as MLflow parses it) reads the same
    matrix as a batch chunk; a nullable number column falls back to the general path."""
    import tierwise.models._train as train

    rec, frame = setup
    model = rec.churn
    sent = frame.head(5).copy()
    sent.loc[0, "region"] = "nowhere"
    sent.loc[1, "segment"] = None
    numbers = [c for c in model.feature_names_ if c not in model.categories_]
    sent.loc[2, numbers[0]] = np.nan
    per_column = pd.DataFrame({c: sent[c].to_numpy() for c in sent.columns})  # a block per column
    nullable = sent.assign(**{numbers[1]: pd.array([1, None, 3, 4, 5], dtype="Int64")})
    few = {name: model.model_matrix(x) for name, x in
           (("sent", sent), ("per_column", per_column), ("nullable", nullable))}
    monkeypatch.setattr(train, "FEW_ROWS", 0)
    for name, x in (("sent", sent), ("per_column", per_column), ("nullable", nullable)):
        np.testing.assert_array_equal(few[name], model.model_matrix(x), err_msg=name)
    assert np.isnan(few["nullable"][1, model.feature_names_.index(numbers[1])])
    assert np.isnan(few["sent"][0, model.feature_names_.index("region")])


def test_matrix_columns_read_as_the_frame_does(setup):
    """`MatrixColumns` (what the reason writer reads for a served client) gives each column
    as `matrix_frame` holds it: numbers as they are, categories as labels with NaN."""
    from tierwise.models._train import MatrixColumns, matrix_frame

    rec, frame = setup
    model = rec.churn
    sent = frame.head(30).copy()
    sent.loc[3, "segment"] = None
    matrix = model.model_matrix(sent)
    view = MatrixColumns(matrix, model.feature_names_, model.categories_, sent.index)
    full = matrix_frame(matrix, model.feature_names_, model.categories_, sent.index)
    assert view.shape == full.shape and list(view.columns) == list(full.columns)
    for col in full.columns:
        expected = full[col].to_numpy()
        got = view[col]
        assert got.dtype == expected.dtype, col
        pd.testing.assert_series_equal(pd.Series(got), pd.Series(expected), obj=col)
    pd.testing.assert_frame_equal(view.frame(), full)


def test_renumbered_keeps_a_numbered_frame_and_renumbers_others():
    from tierwise.models._recommender import renumbered

    frame = pd.DataFrame({"a": [1, 2, 3]})
    assert renumbered(frame) is frame
    moved = frame.set_axis([5, 6, 7])
    assert renumbered(moved).index.tolist() == [0, 1, 2] and moved.index.tolist() == [5, 6, 7]
    assert renumbered(frame.iloc[1:]).index.tolist() == [0, 1]


@pytest.mark.parametrize("n", [1, 3, 64, 65])
def test_str_columns_are_the_text_columns(n):
    """A few rows as slices of one array, more one array per column: the same `str` columns."""
    from tierwise.models._policy_text import STR_DTYPE
    from tierwise.models._recommender import str_columns

    rng = np.random.default_rng(n)
    texts = {f"t{i}": rng.choice(np.array(["a", "bé 1", None], dtype=object), n) for i in range(4)}
    out = str_columns(texts, n)
    assert list(out) == list(texts)
    for col, values in texts.items():
        pd.testing.assert_extension_array_equal(out[col], pd.array(values, dtype=STR_DTYPE))


# --------------------------------------------------------------------------- a subset of the tasks


def _subset(setup, tasks: tuple[str, ...]) -> Recommender:
    rec, frame = setup
    models = {t: rec.models[t] for t in tasks}
    resolved = resolve_policy(models, rec.policy.policy, frame)
    return Recommender(**models, policy=resolved, reasons=rec.reasons, n_threads=1)


@pytest.mark.parametrize("tasks", [("growth",), ("churn", "growth")])
def test_a_subset_of_models_keeps_the_contract_and_says_what_it_assumed(setup, tasks):
    full, frame = setup
    rec = _subset(setup, tasks)
    assert rec.tasks == tasks
    out = rec.recommend(frame)
    assert list(out.columns) == list(RECOMMENDATION_COLUMNS)
    assert set(out["tier"]) <= set(TIERS)
    whole = full.recommend(frame)
    for task, score in (("churn", "p_churn"), ("default", "p_default"), ("growth", "growth")):
        reasons = out[[f"reason_{task}_{k}_{p}" for k in (1, 2, 3) for p in ("family", "en", "zh", "shap")]]
        if task in tasks:
            np.testing.assert_allclose(out[score], whole[score])  # the same model, the same score
            assert reasons.notna().any().any()
        else:
            assert out[score].isna().all() and reasons.isna().all().all()
    notes = rec.assumptions("en")
    assert len(notes) == 3 - len(tasks) and "default risk not assessed (no default model)" in notes
    said = [n for n in notes if "not assessed" not in n]  # the risk clause says that one
    assert all(n in r for r in out["tier_reason_en"] for n in said)
    credit = frame["credit_exposure"].to_numpy() > 0
    assert out.loc[credit, "tier_reason_en"].str.contains("default risk not assessed").all()
    assert out.loc[credit, "tier_reason_zh"].str.contains("未评估违约风险").all()
    assert out.loc[~credit, "tier_reason_zh"].str.contains("无信贷敞口").all()
    assert not out["flag_risk_watch"].any()


def test_a_subset_recommender_round_trips_through_its_artifacts(setup, tmp_path):
    from tierwise.models._recommender_pyfunc import load_recommender, write_artifacts

    rec = _subset(setup, ("growth",))
    artifacts = write_artifacts(tmp_path, rec, {})
    assert "churn" not in artifacts and "default" not in artifacts
    back = load_recommender(artifacts, n_threads=1)
    assert back.tasks == ("growth",) and back.policy.tasks == ("growth",)
    _, frame = setup
    pd.testing.assert_frame_equal(back.recommend(frame.head(20)), rec.recommend(frame.head(20)))


def test_a_recommender_needs_a_model_and_a_matching_policy(setup):
    rec, _ = setup
    with pytest.raises(DataError, match="no task model"):
        Recommender(policy=rec.policy, reasons=rec.reasons)
    with pytest.raises(DataError, match="resolved for churn, default, growth but the models are growth"):
        Recommender(growth=rec.growth, policy=rec.policy, reasons=rec.reasons)
