"""Test helpers for the recommender, scoring and serving tests: a seeded tiny synthetic bank,
three tiny LightGBM task models trained on its snapshot features (labels made up from the
features with seeded noise: the tests check plumbing, not model quality), and a registered
recommender built from them with the real classes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.features import FeatureConfig, read_raw_tables, snapshot_features, validate_tables
from tierwise.models import PolicyConfig, TierwiseModel
from tierwise.models._candidates import LightGBMCandidate
from tierwise.models._train import coerce_categories, learn_categories
from tierwise.synthetic import DataConfig, generate_bank, write_bank

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "configs"
FEATURES = ["assets_total", "deposit_total_chg_3m", "credit_exposure", "days_past_due_max_6m",
            "mobile_logins_avg_3m", "tenure_months", "contribution_monthly", "segment", "region",
            "card_utilisation", "salary_inflow_avg_3m", "complaints_sum_6m"]


@contextlib.contextmanager
def in_store(tracking: str, artifacts: str) -> Iterator[pytest.MonkeyPatch]:
    """MLflow (tracking, registry, artifacts) pointed at a test store for the block, restored after:
    for module fixtures, where pytest's `monkeypatch` lives only as long as one test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", tracking)
        mp.setenv("MLFLOW_REGISTRY_URI", tracking)
        mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", artifacts)
        yield mp


def http_json(url: str, body: bytes | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of a GET (no `body`) or a JSON POST to a test server; an HTTP error
    is returned as its status and body, not raised."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def feature_config() -> FeatureConfig:
    return load_config(CONFIG_DIR / "features.yaml", FeatureConfig)


def policy_config() -> PolicyConfig:
    return load_config(CONFIG_DIR / "policy.yaml", PolicyConfig)


def make_bank(folder: Path, *, clients: int = 300, months: int = 16, seed: int = 5) -> Path:
    bank = generate_bank(DataConfig(), clients=clients, months=months, seed=seed,
                         start=dt.date(2023, 1, 1))
    write_bank(bank, folder, seed=seed)
    return folder


def latest_month(folder: Path) -> dt.date:
    _, monthly = read_raw_tables(folder)
    return pd.Timestamp(monthly["month"].max()).date()


def bank_features(folder: Path, month: dt.date | None = None) -> pd.DataFrame:
    clients, monthly = read_raw_tables(folder)
    report = validate_tables(clients, monthly)
    month = month or pd.Timestamp(report.monthly["month"].max()).date()
    return snapshot_features(report.clients, report.monthly, month, feature_config())


def _fit(task: str, kind: str, X: pd.DataFrame, y: np.ndarray, seed: int) -> TierwiseModel:
    cats = learn_categories(X)
    Xc = coerce_categories(X, cats)
    params = {"objective": "binary" if kind == "binary" else "regression", "num_leaves": 7,
              "learning_rate": 0.2, "min_child_samples": 10, "seed": seed, "deterministic": True,
              "force_row_wise": True, "num_threads": 1, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(Xc, label=y.astype(float)), num_boost_round=20)
    return TierwiseModel(task=task, kind=kind, estimator=LightGBMCandidate(booster, kind, params),
                         calibrator=None, feature_names=list(X.columns), categories=cats,
                         id_columns=["client_id"], input_columns=list(X.columns))


def tiny_models(features: pd.DataFrame, seed: int = 0) -> dict[str, TierwiseModel]:
    """Churn, default (binary) and growth (regression) models on `FEATURES`."""
    rng = np.random.default_rng(seed)
    X = features.loc[:, FEATURES].reset_index(drop=True)
    n = len(X)
    logins = X["mobile_logins_avg_3m"].fillna(0).to_numpy()
    dpd = X["days_past_due_max_6m"].fillna(0).to_numpy()
    churn = ((logins < np.median(logins)) ^ (rng.random(n) < 0.2)).astype(float)
    default = ((dpd > 0) | (rng.random(n) < 0.1)).astype(float)
    growth = np.log1p(X["salary_inflow_avg_3m"].fillna(0).to_numpy()) / 10 + rng.normal(0, 0.1, n)
    return {"churn": _fit("churn", "binary", X, churn, seed),
            "default": _fit("default", "binary", X, default, seed),
            "growth": _fit("growth", "regression", X, growth, seed)}


def register_tiny_recommender(folder: Path, tasks: tuple[str, ...] = ("churn", "default", "growth")) -> str:
    """Build the recommender from tiny models of `tasks` on the bank in `folder`, register it
    as champion; returns the model URI."""
    from tierwise.recommender import build_recommender, log_recommender
    from tierwise.settings import load_settings

    settings = load_settings(CONFIG_DIR).for_recommender()
    features = bank_features(folder)
    models = {t: m for t, m in tiny_models(features).items() if t in tasks}
    rec, descriptions = build_recommender(models, policy_config(), features, feature_config(), n_threads=1,
                                          catalogues=settings.reasons)
    log_recommender(rec, descriptions, features, settings=settings, source_versions={t: "t" for t in models})
    return "models:/tierwise-recommender@champion"


def product_family():
    from tierwise.models import ProductFamilyConfig

    return load_config(CONFIG_DIR / "products.yaml", ProductFamilyConfig)


def make_product_bank(folder: Path, *, clients: int = 300, months: int = 16, seed: int = 5) -> Path:
    """A tiny bank with product adoption on (data.yaml `products:`)."""
    from tierwise.synthetic import ProductsConfig

    bank = generate_bank(DataConfig(products=ProductsConfig()), clients=clients, months=months, seed=seed,
                         start=dt.date(2023, 1, 1))
    write_bank(bank, folder, seed=seed)
    return folder


def tiny_product_models(features: pd.DataFrame, products: tuple[str, ...], seed: int = 0) -> dict[str, TierwiseModel]:
    """Tiny propensity models (product -> model) on `FEATURES`, labels made up with seeded noise."""
    from tierwise.features import product_task

    rng = np.random.default_rng(seed)
    X = features.loc[:, FEATURES].reset_index(drop=True)
    assets = np.log1p(X["assets_total"].fillna(0).to_numpy())
    out = {}
    for j, product in enumerate(products):
        y = ((assets > np.quantile(assets, 0.3 + 0.05 * j)) ^ (rng.random(len(X)) < 0.2)).astype(float)
        out[product] = _fit(product_task(product), "binary", X, y, seed + j)
    return out


def register_tiny_recommender_with_offers(folder: Path, products: tuple[str, ...]) -> str:
    """`register_tiny_recommender` with tiny propensity models of `products` bundled (the
    product family config of this repository)."""
    from tierwise.recommender import build_recommender, log_recommender
    from tierwise.settings import load_settings

    settings = load_settings(CONFIG_DIR).for_recommender()
    features = bank_features(folder)
    rec, descriptions = build_recommender(tiny_models(features), policy_config(), features, feature_config(),
                                          n_threads=1, catalogues=settings.reasons,
                                          products=tiny_product_models(features, products),
                                          family=product_family())
    log_recommender(rec, descriptions, features, settings=settings, source_versions={t: "t" for t in rec.models})
    return "models:/tierwise-recommender@champion"
