"""Reason codes: family aggregation, ranking, texts with the client's values, protected data."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierwise.config import load_config
from tierwise.features import ConfigError, DataError
from tierwise.models._reason_catalogue import ReasonCatalogue, Template
from tierwise.models._reasons import reason_codes, render, top_k

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
FAMILIES = {"deposit_total_chg_3m": "deposit_trend", "deposit_total_chg_6m": "deposit_trend",  # -> balance_trend
            "complaints_sum_6m": "complaints", "tenure_months": "tenure", "industry": "industry",
            "gender": "gender"}


@pytest.fixture(scope="module")
def catalogues() -> dict[str, ReasonCatalogue]:
    return {lang: load_config(CONFIG_DIR / "reasons" / f"{lang}.yaml", ReasonCatalogue) for lang in ("en", "zh")}


@pytest.fixture
def X() -> pd.DataFrame:
    return pd.DataFrame({
        "deposit_total_chg_3m": [np.log(0.58), 0.2, np.nan],
        "deposit_total_chg_6m": [np.log(0.5), 0.1, 0.0],
        "complaints_sum_6m": [3.0, 0.0, 1.0],
        "tenure_months": [40.0, 5.0, 1.0],
        "industry": pd.Categorical(["construction", None, "finance"]),
        "gender": pd.Categorical(["F", "M", "F"]),
    })


def test_top_reasons_are_families_ranked_by_summed_contribution(X, catalogues):
    contrib = np.array([
        # chg_3m chg_6m compl tenure industry gender  expected
        [0.30, 0.25, 0.40, -0.1, 0.05, 0.0, -2.0],   # deposit_trend 0.55 > complaints 0.40 > industry 0.05
        [-0.2, -0.1, 0.00, 0.30, -0.4, 0.0, -2.0],   # tenure only
        [0.00, 0.00, 0.10, 0.00, 0.00, 0.9, -2.0],   # gender is never a reason
    ])
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=3, direction="up")
    assert out.loc[0, ["reason_churn_1_family", "reason_churn_2_family", "reason_churn_3_family"]].tolist() == [
        "balance_trend", "complaints", "industry"]
    assert out.loc[0, "reason_churn_1_shap"] == pytest.approx(0.55)
    assert out.loc[0, "reason_churn_1_en"] == "raises churn likelihood: Deposits fell 42% in the last 3 months"
    assert out.loc[0, "reason_churn_1_zh"] == "推高流失可能性：近3个月存款下降42%"
    assert out.loc[0, "reason_churn_2_en"] == "raises churn likelihood: 3 complaints in the last 6 months"
    assert out.loc[0, "reason_churn_3_en"] == "raises churn likelihood: Industry: Construction"
    assert out.loc[0, "reason_churn_3_zh"] == "推高流失可能性：行业：建筑业"
    assert out.loc[1, "reason_churn_1_family"] == "tenure"
    assert out.loc[1, "reason_churn_1_en"] == "raises churn likelihood: Client for 5 months"
    assert out.loc[1, ["reason_churn_2_family", "reason_churn_2_en", "reason_churn_2_zh"]].isna().all()
    assert np.isnan(out.loc[1, "reason_churn_2_shap"])
    assert out.loc[2, "reason_churn_1_family"] == "complaints"
    assert not out.filter(like="_family").isin(["gender"]).any().any()
    assert pd.api.types.is_string_dtype(out["reason_churn_1_en"])


def test_the_strongest_variant_of_a_family_phrases_the_reason(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[0, 1] = 0.5  # the 6-month change pushes, not the 3-month one
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=1)
    assert out.loc[0, "reason_churn_1_en"] == "raises churn likelihood: Deposits fell 50% in the last 6 months"


def test_protective_factors_on_request(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[:, 3] = -0.3
    contrib[:, 2] = 0.2
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="default", k=2, direction="both")
    assert out["protect_default_1_family"].tolist() == ["tenure"] * 3
    assert out.loc[0, "protect_default_1_shap"] == pytest.approx(-0.3)
    assert out.loc[0, "protect_default_1_en"] == "lowers default risk: Client for 3.3 years"
    assert out["reason_default_1_family"].tolist() == ["complaints"] * 3
    assert out.loc[1, "reason_default_1_zh"] == "推高违约风险：近6个月无投诉"
    down = reason_codes(contrib, X, FAMILIES, catalogues, model="default", k=2, direction="down")
    assert not any(c.startswith("reason_") for c in down.columns)


def test_missing_values_read_as_such(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[:, 0] = 1.0
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=1)
    assert out.loc[2, "reason_churn_1_en"] == "raises churn likelihood: Deposits: less than 4 months of history"
    assert out.loc[1, "reason_churn_1_en"] == "raises churn likelihood: Deposits grew 22% in the last 3 months"


def test_a_missing_catalogue_entry_fails_before_any_work(X, catalogues):
    with pytest.raises(ConfigError, match="no entry for 1 family: mystery"):
        reason_codes(np.zeros((3, 8)), X.assign(mystery=1.0), FAMILIES, catalogues, model="churn")


def test_shape_mismatch_is_one_line(X, catalogues):
    with pytest.raises(DataError, match=r"shape \(3, 2\) do not match 3 rows x 6 features"):
        reason_codes(np.zeros((3, 2)), X, FAMILIES, catalogues, model="churn")


def test_protected_attribute_never_appears_even_if_it_dominates(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[:, 5] = 10.0
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=3, direction="both")
    assert out.filter(like="_family").isna().all().all()
    text = " ".join(out.filter(regex="_(en|zh)$").fillna("").to_numpy().ravel())
    assert "F" not in text.split() and "gender" not in text.lower()


@pytest.mark.parametrize("fmt,value,lang,expected", [
    ("currency", 12345.0, "en", "¥12,300"), ("currency", 12345.0, "zh", "¥1.23万"),
    ("currency", 2_500_000.0, "en", "¥2.5 million"), ("currency", 3.2e8, "zh", "¥3.2亿"),
    ("share", 0.423, "en", "42%"), ("months", 30.0, "en", "2.5 years"), ("months", 30.0, "zh", "2.5年"),
    ("months", 1.0, "en", "1 month"), ("count", 2.25, "en", "2.2"), ("days", 45.0, "zh", "45"),
    ("number", 101348.88, "en", "101,000"), ("number", 62.0, "en", "62"),
])
def test_number_formats(fmt, value, lang, expected):
    template = Template(format=fmt, text="{value}")
    assert render(template, np.array([value]), lang)[0] == expected


def test_signed_template_shows_magnitude_and_zero_phrase():
    template = Template(format="pct_change", up="up {value}", down="down {value}", zero="flat")
    out = render(template, np.array([np.log(1.5), np.log(0.75), 0.0001, np.nan, np.inf]), "en", missing_value="?")
    assert out.tolist() == ["up 50%", "down 25%", "flat", "up ?", "up ?"]
    counted = Template(format="count", up="u {value}", down="d {value}", missing="none")
    assert render(counted, np.array([-19.0, np.nan, 2.5]), "en").tolist() == ["d 19", "none", "u 2.5"]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 8), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_top_k_matches_a_full_sort(n, m, k, seed):
    scores = np.random.default_rng(seed).normal(size=(n, m))
    idx, val = top_k(scores, k)
    expected = -np.sort(-scores, axis=1)[:, :min(k, m)]
    np.testing.assert_allclose(val, expected)
    np.testing.assert_allclose(np.take_along_axis(scores, idx, axis=1), expected)


@functools.cache
def _full_setup():
    from tierwise.features import FeatureConfig, feature_catalog

    catalog = feature_catalog(load_config(CONFIG_DIR / "features.yaml", FeatureConfig))
    families = {k: v.family for k, v in catalog.items()}
    cats = {lang: load_config(CONFIG_DIR / "reasons" / f"{lang}.yaml", ReasonCatalogue) for lang in ("en", "zh")}
    return catalog, families, cats


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["up", "down", "balanced"]))
def test_reasons_are_positive_pushes_in_descending_order_and_a_function_of_the_inputs(seed, way):
    catalog, families, cats = _full_setup()
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({k: (rng.normal(size=20) if v.kind == "numeric" else pd.Categorical(rng.choice(["a", "b"], 20)))
                      for k, v in catalog.items()})
    contrib = rng.normal(size=(20, len(catalog) + 1)) * (rng.random((20, len(catalog) + 1)) < 0.1)
    out = reason_codes(contrib, X, families, cats, model="m", k=3, direction=way)
    prefix = "protect" if way == "down" else "reason"
    shap = out[[f"{prefix}_m_{r}_shap" for r in (1, 2, 3)]].to_numpy()
    strength = np.where(np.isnan(shap), 0.0, np.abs(shap))
    assert (np.diff(strength, axis=1) <= 0).all()
    assert (strength[~np.isnan(shap)] >= cats["en"].min_shap).all()
    side = {"up": np.ones(20), "down": -np.ones(20)}.get(way, np.where(contrib[:, :-1].sum(axis=1) >= 0, 1.0, -1.0))
    assert (np.sign(shap) == side[:, None])[~np.isnan(shap)].all()
    for r in (1, 2, 3):  # each text says the direction of its own SHAP value
        texts, signs = out[f"{prefix}_m_{r}_en"], np.sign(shap[:, r - 1])
        assert texts[signs > 0].str.startswith("raises").all() and texts[signs < 0].str.startswith("lowers").all()
    for r in (1, 2, 3):
        fam_present = out[f"{prefix}_m_{r}_family"].notna()
        assert (fam_present == out[f"{prefix}_m_{r}_en"].notna()).all()
        assert (fam_present == out[f"{prefix}_m_{r}_zh"].notna()).all()
    again = reason_codes(contrib, X, families, cats, model="m", k=3, direction=way)
    pd.testing.assert_frame_equal(out, again)


def test_catalogue_reasons_is_a_reason_writer(X, catalogues):
    from tierwise.models import CatalogueReasons

    contrib = np.zeros((3, 7))
    contrib[:, 2] = 0.2
    out = CatalogueReasons(FAMILIES, catalogues, k=2)("churn", contrib, X)
    assert list(out.columns[:4]) == ["reason_churn_1_family", "reason_churn_1_en", "reason_churn_1_zh",
                                     "reason_churn_1_shap"]
    assert out["reason_churn_1_family"].tolist() == ["complaints"] * 3


def test_catalogue_reasons_arrays_are_its_frame_as_numpy(X, catalogues):
    from tierwise.models import CatalogueReasons

    contrib = np.zeros((3, 7))
    contrib[:, 2] = 0.2
    writer = CatalogueReasons(FAMILIES, catalogues, k=2)
    arrays, frame = writer.arrays("churn", contrib, X), writer("churn", contrib, X)
    assert list(arrays) == list(frame.columns)
    for col, values in arrays.items():
        assert values.dtype == (np.float64 if col.endswith("_shap") else object), col
        expected = frame[col].to_numpy(dtype=values.dtype, na_value=np.nan if values.dtype != object else None)
        np.testing.assert_array_equal(values, expected, err_msg=col)


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["up", "down", "both"]))
def test_a_single_client_gets_the_reasons_of_its_row_in_a_batch(seed, way):
    """A served client (one row, `reason_arrays`' single-row path) reads exactly what its row
    reads in a batch: families and texts in both languages, missing values included; SHAP sums
    to the last bit or two (the family sums are a matrix product, which BLAS blocks differently
    for one row and for many)."""
    from tierwise.models._reasons import reason_arrays, reason_plan

    catalog, families, cats = _full_setup()
    rng = np.random.default_rng(seed)
    n = 25
    X = pd.DataFrame({k: (np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n) * 1e4) if v.kind == "numeric"
                          else pd.Categorical(rng.choice(["a", "b", None], n)))
                      for k, v in catalog.items()})
    contrib = rng.normal(size=(n, len(catalog) + 1)) * (rng.random((n, len(catalog) + 1)) < 0.3)
    contrib[0] = 0.0  # a client with nothing pushing: no reasons at all
    contrib[1, :2] = 0.5  # equal pushes: the first wins in both
    plan = reason_plan(list(X.columns), families, cats)
    batch = reason_arrays(plan, contrib, X, cats, model="m", k=3, direction=way)
    for i in range(n):
        single = reason_arrays(plan, contrib[i:i + 1], X.iloc[[i]].reset_index(drop=True), cats,
                               model="m", k=3, direction=way)
        assert list(single) == list(batch)
        for col, values in batch.items():
            assert single[col].dtype == values.dtype, col
            if col.endswith("_shap"):
                np.testing.assert_allclose(single[col], values[i:i + 1], rtol=1e-13, atol=0, err_msg=f"row {i} {col}")
            else:
                np.testing.assert_array_equal(single[col], values[i:i + 1], err_msg=f"row {i} {col}")


def _awkward_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Numbers of every scale and the edges a display key meets: zeros of both signs, halves,
    whole numbers, thresholds, missing values, infinities."""
    scale = rng.choice([1e-7, 1e-3, 0.05, 1.0, 9.96, 100.0, 1e4, 2.5e6, 1e9], n)
    x = rng.normal(size=n) * scale
    x[::7] = np.round(x[::7] * 2) / 2  # halves: rounding to even
    edges = np.array([0.0, -0.0, 0.5, -0.5, 2.5, 9.95, 10.0, -0.004, 0.005, 0.2, 999.5, 1e6, 9995.0, 12.0, 30.0,
                      np.nan, np.inf, -np.inf])
    whole = np.round(rng.normal(size=n) * 40)
    return np.concatenate([x, whole, edges])


def test_one_value_reads_as_it_reads_in_a_batch():
    """`render_one` (a served client's words) against `render` over many values (the batch's
    distinct-value pass): every template of the catalogues, both languages, both effects."""
    from tierwise.models._reasons import render_one

    _, _, cats = _full_setup()
    rng = np.random.default_rng(5)
    numbers = _awkward_numbers(rng, 300)
    labels = np.array(["a", "b", None, np.nan, "unknown", "construction", "finance"], dtype=object)[
        rng.integers(0, 7, 60)]
    checked = 0
    for lang, cat in cats.items():
        for family, templates in cat.families.items():
            for feature, template in templates.items():
                template = template.for_window(3)  # a '{w}' entry as a feature reads it
                values = labels if template.format == "category" else numbers
                for effect in ("raises it", "lowers it"):
                    kw = {"effect": effect, "missing_value": cat.missing_value, "reason_format": cat.reason_format,
                          "currency": cat.currency}
                    batch = render(template, values, lang, **kw)
                    one = [render_one(template, v, lang, **kw) for v in values.tolist()]
                    assert batch.tolist() == one, (lang, family, feature)
                    checked += 1
    assert checked > 50


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["balanced", "up", "down", "both"]), st.sampled_from([1, 4, 32]))
def test_a_few_rows_read_as_their_rows_in_a_batch(seed, way, size):
    """The row-by-row path of a few rows (`reason_arrays` up to `FEW_ROWS`, what a served request
    takes) gives what the vectorised path gives those rows in a batch of many: families and
    texts exactly, ties between families and between a family's features included, missing and
    below-threshold values, repeated sentences; SHAP to the last bit or two (the family sums
    are a matrix product, blocked differently for few rows and many)."""
    from tierwise.models._reasons import FEW_ROWS, reason_arrays, reason_plan
    from tierwise.models._train import MatrixColumns

    catalog, families, cats = _full_setup()
    rng = np.random.default_rng(seed)
    n = 3 * FEW_ROWS + 7
    pool = _awkward_numbers(rng, 200)
    pool = pool[np.isfinite(pool) | np.isnan(pool)]
    X = pd.DataFrame({k: (rng.choice(pool, n) if v.kind == "numeric"
                          else pd.Categorical(rng.choice(["a", "b", "unknown", None], n)))
                      for k, v in catalog.items()})
    contrib = rng.normal(size=(n, len(catalog) + 1)) * (rng.random((n, len(catalog) + 1)) < 0.3)
    contrib[0] = 0.0  # nothing pushing: no reasons
    contrib[1:6, :6] = 0.5  # equal pushes: ties within and between families
    contrib[6:9] = np.round(contrib[6:9] * 8) / 8  # more ties, exact in any order of summation
    plan = reason_plan(list(X.columns), families, cats)
    batch = reason_arrays(plan, contrib, X, cats, model="m", k=3, direction=way)
    categories = {c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}
    matrix = np.column_stack([np.where(X[c].cat.codes < 0, np.nan, X[c].cat.codes) if c in categories
                              else X[c].to_numpy(dtype=float) for c in X.columns])
    for start in range(0, n, size):
        rows = slice(start, min(start + size, n))
        served = MatrixColumns(np.ascontiguousarray(matrix[rows]), list(X.columns), categories)  # the served rows
        few = reason_arrays(plan, contrib[rows], served if (start // size) % 2 else X.iloc[rows].reset_index(drop=True), cats,
                            model="m", k=3, direction=way)
        assert list(few) == list(batch)
        for col, values in batch.items():
            assert few[col].dtype == values.dtype, col
            if col.endswith("_shap"):
                np.testing.assert_allclose(few[col], values[rows], rtol=1e-13, atol=0, err_msg=f"{start} {col}")
            else:
                np.testing.assert_array_equal(few[col], values[rows], err_msg=f"rows from {start}: {col}")


# -- signed, balanced reasons (issue 17) -------------------------------------------------


def test_a_low_score_is_explained_by_what_keeps_it_low(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[0, 2], contrib[0, 3] = 0.3, -0.8  # score below the base value: tenure lowers it most
    contrib[1, 2], contrib[1, 3] = 0.8, -0.3  # above: complaints raise it
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=2)
    assert out.loc[0, "reason_churn_1_family"] == "tenure"
    assert out.loc[0, "reason_churn_1_shap"] == pytest.approx(-0.8)
    assert out.loc[0, "reason_churn_1_en"] == "lowers churn likelihood: Client for 3.3 years"
    assert out.loc[0, "reason_churn_1_zh"].startswith("降低流失可能性：")
    assert pd.isna(out.loc[0, "reason_churn_2_family"])  # complaints push the other way: not listed
    assert out.loc[1, "reason_churn_1_family"] == "complaints"
    assert out.loc[1, "reason_churn_1_en"].startswith("raises churn likelihood: ")


def test_unknown_values_are_never_reasons(X, catalogues):
    contrib = np.zeros((3, 7))
    contrib[:, 4] = 2.0  # industry dominates; row 1's industry is missing
    contrib[:, 2] = 0.1
    out = reason_codes(contrib, X.assign(industry=pd.Categorical(["construction", None, "unknown"])),
                       FAMILIES, catalogues, model="churn", k=3)
    assert out.loc[0, "reason_churn_1_family"] == "industry"
    assert out.loc[[1, 2], "reason_churn_1_family"].tolist() == ["complaints", "complaints"]
    text = " ".join(out.filter(regex="_(en|zh)$").fillna("").to_numpy().ravel())
    assert "unknown" not in text and "not known" not in text and "未知" not in text


def test_near_zero_contributions_are_never_reasons(X, catalogues):
    floor = catalogues["en"].min_shap
    contrib = np.zeros((3, 7))
    contrib[:, 2] = floor * 0.5
    contrib[:, 3] = floor * 2
    out = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=3)
    assert out["reason_churn_1_family"].tolist() == ["tenure"] * 3
    assert out["reason_churn_2_family"].isna().all()


def test_a_threshold_text_appears_only_above_its_threshold():
    volatile = Template(format="ratio", text="volatile ({value})", min_value=0.2, below="steady ({value})")
    assert render(volatile, np.array([0.02, 0.35]), "en").tolist() == ["steady (0.02)", "volatile (0.35)"]
    with pytest.raises(ValueError, match="needs the `min_value`"):
        Template(format="ratio", text="x {value}", below="y")
    cats = {lang: ReasonCatalogue(language=lang, families={"vol": {"vol": Template(
        format="ratio", text="volatile ({value})", min_value=0.2)}, "n": {"n": Template(format="count", text="{value} n")}})
        for lang in ("en", "zh")}
    frame = pd.DataFrame({"vol": [0.02, 0.5], "n": [1.0, 1.0]})
    contrib = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0]])
    out = reason_codes(contrib, frame, {}, cats, model="m", k=2)
    assert out["reason_m_1_family"].tolist() == ["n", "vol"]  # 0.02 is not "volatile": not a reason


def test_the_volatility_texts_of_the_catalogue_follow_the_threshold(catalogues):
    for lang, word in (("en", "steady"), ("zh", "平稳")):
        template = catalogues[lang].families["balance_volatility"]["deposit_total_vol_3m"]
        assert word in render(template, np.array([0.02]), lang)[0]


def test_the_same_line_is_never_listed_twice():
    same = Template(format="currency", text="Deposits: {value}")
    cats = {lang: ReasonCatalogue(language=lang, families={"a": {"a": same}, "b": {"b": same},
                                                           "c": {"c": Template(format="count", text="{value} c")}})
            for lang in ("en", "zh")}
    frame = pd.DataFrame({"a": [2350.0, 2350.0], "b": [2350.0, 9000.0], "c": [1.0, 1.0]})
    contrib = np.array([[0.5, 0.4, 0.3, 0.0], [0.5, 0.4, 0.3, 0.0]])
    out = reason_codes(contrib, frame, {}, cats, model="m", k=3)
    assert out.loc[0, ["reason_m_1_family", "reason_m_2_family"]].tolist() == ["a", "c"]
    assert out.loc[0, "reason_m_2_shap"] == pytest.approx(0.3)
    assert pd.isna(out.loc[0, "reason_m_3_family"]) and np.isnan(out.loc[0, "reason_m_3_shap"])
    assert out.loc[1, ["reason_m_1_family", "reason_m_2_family", "reason_m_3_family"]].tolist() == ["a", "b", "c"]


def test_one_client_reads_as_in_a_batch(X, catalogues):
    rng = np.random.default_rng(7)
    contrib = rng.normal(size=(3, 7))
    batch = reason_codes(contrib, X, FAMILIES, catalogues, model="churn", k=3)
    for i in range(3):
        one = reason_codes(contrib[i:i + 1], X.iloc[i:i + 1], FAMILIES, catalogues, model="churn", k=3)
        pd.testing.assert_frame_equal(one, batch.iloc[i:i + 1])


def test_catalogues_must_agree_on_the_smallest_reason(X, catalogues):
    other = {"en": catalogues["en"], "zh": catalogues["zh"].model_copy(update={"min_shap": 0.5})}
    with pytest.raises(ConfigError, match="disagree on `min_shap`"):
        reason_codes(np.zeros((3, 7)), X, FAMILIES, other, model="churn")
