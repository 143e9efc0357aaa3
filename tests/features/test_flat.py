"""Flat-table mode: dataset YAML, loader and report, and the scikit-learn preprocessor."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from tierwise.config import load_config
from tierwise.features import (
    ConfigError,
    DataError,
    DatasetConfig,
    FlatTablePreprocessor,
    load_flat_table,
)
from tierwise.features._flat_preprocess import MISSING, RARE, UNSEEN
from tierwise.features._flat_types import infer_role, looks_like_id_name

REPO = Path(__file__).resolve().parents[2]
DATASET_CONFIGS = REPO / "configs" / "datasets"
SHARED = REPO.parent / "shared" / "datasets"


# -- a tiny table with a null in every column type -------------------------------------------


def tiny_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype("float")
    age[3] = np.nan
    balance = rng.gamma(2.0, 5000.0, n)
    balance[5] = np.nan
    geography = rng.choice(["France", "Spain", "Germany"], n).astype(object)
    geography[7] = None
    geography[8] = "Monaco"  # seen once: rare
    active = pd.array(rng.integers(0, 2, n).astype(bool), dtype="boolean")
    active[9] = pd.NA
    gender = rng.choice(["F", "M"], n).astype(object)
    gender[10] = None
    logit = -1.5 + 0.04 * (np.nan_to_num(age, nan=40) - 40) - 0.8 * np.asarray(active.fillna(False), dtype=float)
    exited = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no").astype(object)
    exited[[11, 12]] = None  # no target: quarantined
    return pd.DataFrame(
        {
            "RowNumber": np.arange(1, n + 1),
            "CustomerId": rng.permutation(n) + 15_000_000,
            "Surname": pd.Series([f"Name{int(i)}" for i in rng.integers(0, 250, n)], dtype="str"),
            "Geography": pd.Series(geography, dtype="str"),
            "Gender": pd.Series(gender, dtype="str"),
            "Age": age,
            "Balance": balance,
            "IsActiveMember": active,
            "Branch": pd.Series(["main"] * n, dtype="str"),  # constant
            "Exited": pd.Series(exited, dtype="str"),
        }
    )


def write_yaml(folder: Path, **overrides) -> Path:
    raw = {
        "name": "tiny_churn",
        "path": "tiny.parquet",
        "target": "Exited",
        "positive_label": "yes",
        "id_columns": ["CustomerId"],
        "protected": ["Gender"],
        "descriptions": {"Age": "age in years"},
        **overrides,
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
def tiny_dataset(tmp_path) -> DatasetConfig:
    tiny_table().to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path)
    return load_config(path, DatasetConfig).located_at(path)


# -- loader and report -----------------------------------------------------------------------


def test_load_reports_what_was_dropped_and_why(tiny_dataset):
    frame, report = load_flat_table(tiny_dataset)
    assert frame.features == ("Geography", "Age", "Balance", "IsActiveMember")
    assert frame.categorical == ("Geography",)
    assert frame.kind == "binary" and frame.split_column is None
    assert frame.id_columns == ("CustomerId",) and frame.name == "tiny_churn"
    assert "counter" in report.reason("RowNumber")
    assert "free text / high cardinality" in report.reason("Surname")
    assert "constant" in report.reason("Branch")
    assert report.carried == ("Gender",)
    # the frame holds ids, target, raw features and carried columns; nothing else
    assert set(frame.data.columns) == {"CustomerId", "Exited", *frame.features, "Gender"}
    text = str(report)
    for word in ("RowNumber", "Surname", "Branch", "Gender", "quarantined", "id column"):
        assert word in text


def test_same_inputs_give_identical_frames_and_a_json_report(tiny_dataset):
    first, report = load_flat_table(tiny_dataset)
    second, _ = load_flat_table(tiny_dataset)
    pd.testing.assert_frame_equal(first.data, second.data)
    summary = json.loads(json.dumps(report.as_dict()))
    assert summary["dropped"]["RowNumber"] == report.reason("RowNumber")
    assert summary["rows_quarantined"] == 2
    assert tiny_dataset.monotone_constraints(["Age", "Balance"]) == [0, 0]


def test_target_is_mapped_and_rows_without_one_are_quarantined(tiny_dataset):
    raw = tiny_table()
    frame, report = load_flat_table(tiny_dataset)
    assert set(frame.y.unique()) == {0, 1}
    assert len(frame.data) == len(raw) - 2
    assert len(report.quarantine) == 2
    assert set(report.quarantine["reason"]) == {"missing target 'Exited'"}
    kept = raw.dropna(subset=["Exited"])
    assert (frame.y.to_numpy() == (kept["Exited"] == "yes").to_numpy()).all()
    assert report.positive_rate == pytest.approx(frame.y.mean())


def test_regression_target(tmp_path):
    raw = tiny_table().drop(columns=["Exited"])
    raw["value_12m"] = np.random.default_rng(1).lognormal(size=len(raw))
    raw.loc[4, "value_12m"] = np.nan
    raw.to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path, target="value_12m", kind="regression", positive_label=None)
    frame, report = load_flat_table(load_config(path, DatasetConfig).located_at(path))
    assert frame.kind == "regression" and frame.y.dtype == np.float64
    assert report.positive_rate is None and len(report.quarantine) == 1
    raw["value_12m"] = raw["value_12m"].astype(str).where(raw.index != 7, "n/a")
    raw.to_parquet(tmp_path / "tiny.parquet")
    with pytest.raises(DataError, match=r"target 'value_12m' must be numeric for kind: regression; row 7 has 'n/a'"):
        load_flat_table(load_config(path, DatasetConfig).located_at(path))


def test_csv_and_an_explicit_path_work(tiny_dataset, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    tiny_table().to_csv(other / "copy.csv", index=False)
    frame, report = load_flat_table(tiny_dataset, other / "copy.csv")
    assert report.source.endswith("copy.csv")
    assert "Geography" in frame.features


def test_injected_target_copy_is_excluded_and_reported(tmp_path):
    raw = tiny_table(2000)
    rng = np.random.default_rng(5)
    target = (raw["Exited"] == "yes").astype(int)
    flip = rng.random(len(raw)) < 0.01
    raw["account_status_flag"] = np.where(flip, 1 - target, target)
    raw.to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path)
    frame, report = load_flat_table(load_config(path, DatasetConfig).located_at(path))
    assert "account_status_flag" not in frame.features
    suspect = next(s for s in report.leakage.suspects if s.column == "account_status_flag")
    assert suspect.auc > 0.98
    assert report.reason("account_status_flag").startswith("leak suspect: AUC")
    assert "account_status_flag" in str(report)


def test_leak_keep_list_keeps_the_column(tmp_path):
    raw = tiny_table(500)
    raw["status_copy"] = raw["Exited"]
    raw.to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path, leakage={"keep": ["status_copy"]})
    frame, report = load_flat_table(load_config(path, DatasetConfig).located_at(path))
    assert "status_copy" in frame.features
    assert report.leakage.kept == ("status_copy",)


def test_yaml_naming_a_missing_column_is_one_clear_line(tmp_path):
    tiny_table().to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path, drop_columns=["Postcode"])
    config = load_config(path, DatasetConfig).located_at(path)
    with pytest.raises(DataError) as info:
        load_flat_table(config)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "drop_columns" in message and "'Postcode'" in message


def test_unknown_target_values_are_named(tmp_path):
    raw = tiny_table()
    raw.loc[20, "Exited"] = "maybe"
    raw.to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path)
    with pytest.raises(DataError, match=r"target 'Exited' has unknown values maybe"):
        load_flat_table(load_config(path, DatasetConfig).located_at(path))


def test_positive_label_not_in_the_data_is_named(tmp_path):
    tiny_table().to_parquet(tmp_path / "tiny.parquet")
    path = write_yaml(tmp_path, positive_label="churned")
    with pytest.raises(DataError, match=r"tiny.yaml: positive_label 'churned' is not a value of target 'Exited'.*values: no, yes"):
        load_flat_table(load_config(path, DatasetConfig).located_at(path))


def test_missing_data_file_lists_where_it_looked(tmp_path):
    path = write_yaml(tmp_path, path="nowhere.csv")
    with pytest.raises(DataError, match=r"tiny.yaml: path 'nowhere.csv' not found \(looked in .*nowhere.csv"):
        load_flat_table(load_config(path, DatasetConfig).located_at(path))
    with pytest.raises(DataError, match=r"missing.parquet: data file not found"):
        load_flat_table(load_config(path, DatasetConfig), tmp_path / "missing.parquet")


def test_unreadable_file_type_is_a_clear_error(tmp_path):
    (tmp_path / "tiny.xlsx").write_text("x", encoding="utf-8")
    path = write_yaml(tmp_path, path="tiny.xlsx")
    with pytest.raises(DataError, match=r"tiny.xlsx: expected a .csv or .parquet file"):
        load_flat_table(load_config(path, DatasetConfig).located_at(path))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target_column": "Exited"}, r"unknown key 'target_column'"),
        ({"positive_label": None}, r"needs positive_label"),
        ({"protected_features": ["Age"]}, r"protected_features \['Age'\] are not listed in protected"),
        ({"type_overrides": {"Age": "text"}}, r"type_overrides.Age"),
        ({"leakage": {"name_patterns": ["(unclosed"]}}, r"not a valid regular expression"),
        ({"name": "bad name!"}, r"key 'name'"),
    ],
)
def test_bad_dataset_yaml_is_one_clear_line(tmp_path, overrides, message):
    path = write_yaml(tmp_path, **overrides)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, DatasetConfig)
    assert "\n" not in str(info.value)


# -- column roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ID", True), ("CustomerId", True), ("RowNumber", True), ("client_id", True),
     ("NumOfProducts", False), ("paid", False), ("Tenure", False)],
)
def test_identifier_names(name, expected):
    assert looks_like_id_name(name) is expected


def test_unique_integers_are_kept_unless_named_like_an_id_or_a_counter():
    values = pd.Series([5, 17, 3, 99, 42, 8], name="CreditScore")
    assert infer_role(values).role == "numeric"
    assert infer_role(values.rename("AccountNo")).role == "drop"
    assert "counter" in infer_role(pd.Series([3, 1, 2, 4, 6, 5], name="x")).reason


# -- the preprocessor ------------------------------------------------------------------------


@parametrize_with_checks([FlatTablePreprocessor(), FlatTablePreprocessor(min_frequency=0.05)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _features(n: int = 300, seed: int = 0) -> pd.DataFrame:
    return tiny_table(n, seed).drop(columns=["Exited"])


def test_fit_infers_types_and_drops_with_reasons():
    pre = FlatTablePreprocessor().fit(_features())
    assert pre.categorical_features_ == ("Geography", "Gender")
    assert pre.numeric_features_ == ("Age", "Balance", "IsActiveMember")
    assert set(pre.dropped_) == {"RowNumber", "CustomerId", "Surname", "Branch"}
    assert "id-like" in pre.dropped_["CustomerId"]
    assert list(pre.get_feature_names_out()) == ["Geography", "Gender", "Age", "Balance", "IsActiveMember"]
    assert list(pre.dropped_table()["column"]) == list(pre.dropped_)


def test_transform_gives_lightgbm_ready_columns_with_fixed_categories():
    train = _features()
    pre = FlatTablePreprocessor(min_frequency=5).fit(train)
    out = pre.transform(train)
    geo = out["Geography"]
    assert isinstance(geo.dtype, pd.CategoricalDtype)
    assert list(geo.cat.categories) == ["France", "Germany", "Spain", RARE, UNSEEN, MISSING]
    assert geo.iloc[7] == MISSING and geo.iloc[8] == RARE
    assert np.isnan(out["Age"].iloc[3]) and np.isnan(out["IsActiveMember"].iloc[9])
    assert out["IsActiveMember"].dtype == np.float64
    new = train.iloc[:4].copy()
    new["Geography"] = ["Italy", "France", None, "Monaco"]
    coded = pre.transform(new)["Geography"]
    assert list(coded) == [UNSEEN, "France", MISSING, RARE]
    assert list(coded.cat.categories) == list(geo.cat.categories)


@settings(max_examples=25, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c", "zz", None]), min_size=1, max_size=30),
)
def test_category_codes_do_not_depend_on_what_is_transformed(labels):
    train = pd.DataFrame({"g": pd.Series(list("aaaaabbbbbcc") * 3, dtype="str"), "x": np.arange(36.0) % 7})
    pre = FlatTablePreprocessor(min_frequency=10).fit(train)
    batch = pd.DataFrame({"g": pd.Series(labels, dtype="str"), "x": np.zeros(len(labels))})
    out = pre.transform(batch)["g"]
    assert list(out.cat.categories) == ["a", "b", RARE, UNSEEN, MISSING]
    one_by_one = [pre.transform(batch.iloc[[i]])["g"].iloc[0] for i in range(len(batch))]
    assert list(out) == one_by_one
    assert set(out) <= set(out.cat.categories)


def test_set_output_pandas_keeps_names_and_dtypes():
    train = _features()
    pre = FlatTablePreprocessor().set_output(transform="pandas").fit(train)
    out = pre.transform(train)
    assert list(out.columns) == list(pre.get_feature_names_out())
    assert isinstance(out["Gender"].dtype, pd.CategoricalDtype)


def test_codes_and_type_overrides():
    frame = pd.DataFrame(
        {
            "EDUCATION": [1, 2, 3, 0, 5, 6, 2, 2, 1, 1] * 3,
            "PAY_0": [-2, -1, 0, 1, 2, 0, 0, -1, 3, 0] * 3,
            "zone": [10, 20, 10, 20, 30, 10, 20, 10, 20, 30] * 3,
        }
    )
    pre = FlatTablePreprocessor(
        min_frequency=1,
        categorical_codes={"EDUCATION": {1: "graduate school", 2: "university", 3: "high school",
                                         0: "undocumented", 5: "undocumented", 6: "undocumented"}},
        type_overrides={"zone": "categorical"},
    ).fit(frame)
    out = pre.transform(frame)
    assert pre.categorical_features_ == ("EDUCATION", "zone")
    assert out["EDUCATION"].iloc[:6].tolist() == [
        "graduate school", "university", "high school", "undocumented", "undocumented", "undocumented"
    ]
    assert out["zone"].iloc[0] == "10"
    assert out["PAY_0"].tolist() == frame["PAY_0"].astype(float).tolist()


def test_numeric_column_receiving_text_is_a_clear_error():
    pre = FlatTablePreprocessor().fit(_features())
    bad = _features().head(3)
    bad["Age"] = ["young", "40", None]
    with pytest.raises(DataError, match=r"column 'Age': expected numbers, got 'young'"):
        pre.transform(bad)


def test_pipeline_with_lightgbm_learns_the_signal(tiny_dataset):
    frame, _ = load_flat_table(tiny_dataset)
    model = make_pipeline(
        tiny_dataset.preprocessor(),
        lgb.LGBMClassifier(n_estimators=30, min_child_samples=5, verbose=-1, n_jobs=1, random_state=0),
    )
    model.fit(frame.X, frame.y)
    p = model.predict_proba(frame.X)[:, 1]
    assert roc_auc_score(frame.y, p) > 0.7
    # LightGBM saw categories, not strings
    booster_cats = model[-1].booster_.dump_model()["feature_names"]
    assert booster_cats == list(frame.features)


# -- the shared public datasets (skipped when absent) ----------------------------------------

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared datasets not found at {SHARED} (CI keeps them beside the checkout)"
)


def _shipped(name: str) -> DatasetConfig:
    path = DATASET_CONFIGS / f"{name}.yaml"
    return load_config(path, DatasetConfig).located_at(path)


@needs_shared
def test_bank_churn_loads_with_no_hand_edits():
    frame, report = load_flat_table(_shipped("bank_churn_modelling"))
    assert len(frame.data) == 10_000
    for column in ("RowNumber", "CustomerId", "Surname", "Gender"):
        assert column not in frame.features
    assert "id-like" in report.reason("RowNumber")
    assert report.reason("Surname") is not None
    assert frame.id_columns == ("CustomerId",)
    assert "Gender" in report.carried and "Age" in frame.features
    assert frame.categorical == ("Geography",)
    text = str(report)
    assert all(word in text for word in ("RowNumber", "CustomerId", "Surname"))


@needs_shared
def test_taiwan_loads_with_no_hand_edits():
    frame, report = load_flat_table(_shipped("taiwan_credit_default"))
    assert len(frame.data) == 30_000
    assert frame.id_columns == ("ID",) and "ID" not in frame.features
    assert set(report.carried) == {"SEX", "MARRIAGE", "AGE"}
    assert frame.categorical == ("EDUCATION",)
    assert "ID" in str(report)
    assert 0.2 < report.positive_rate < 0.25


def _cv_auc(config: DatasetConfig) -> float:
    frame, _ = load_flat_table(config)
    X, y = frame.X, frame.y.to_numpy()
    aucs = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = make_pipeline(
            config.preprocessor(),
            lgb.LGBMClassifier(**{"verbose": -1, "n_jobs": 1, "random_state": 0, **config.lightgbm}),
        )
        model.fit(X.iloc[train], y[train])
        aucs.append(roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1]))
    return float(np.mean(aucs))


@needs_shared
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "lightgbm_defaults_reference"),
    # "LightGBM defaults" column of ../shared/datasets/README.md (with every column as a feature)
    [("bank_churn_modelling", 0.861), ("taiwan_credit_default", 0.780)],
)
def test_shipped_lightgbm_parameters_beat_the_defaults_reference(name, lightgbm_defaults_reference):
    assert _cv_auc(_shipped(name)) > lightgbm_defaults_reference
