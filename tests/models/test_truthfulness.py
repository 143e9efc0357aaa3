"""Truthfulness: the share of oracle clients whose true driver's family is in the top-3 reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.features import ConfigError, DataError, FeatureConfig, feature_catalog
from tierwise.models._reason_catalogue import ReasonCatalogue, merged_families
from tierwise.models._truthfulness import DriverMap, measure_truthfulness, truthful_hits

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DRIVERS = DriverMap(churn={"disengagement": ["digital_trend"], "asset_outflow": ["deposit_trend"]},
                    default={"arrears_history": ["arrears"]})


def _reasons(rows: list[tuple[str, str, list]]) -> pd.DataFrame:
    out = pd.DataFrame({"client_id": [r[0] for r in rows], "snapshot_month": pd.to_datetime([r[1] for r in rows])})
    for k in range(3):
        out[f"reason_churn_{k + 1}_family"] = pd.array([r[2][k] if k < len(r[2]) else None for r in rows], dtype="str")
    return out


def test_share_counts_only_clients_with_a_driver():
    reasons = _reasons([("a", "2024-01-01", ["complaints", "digital_trend"]),
                        ("b", "2024-01-01", ["complaints", "tenure", "region"]),
                        ("c", "2024-01-01", ["deposit_trend"]),
                        ("d", "2024-01-01", ["tenure"])])
    oracle = pd.DataFrame({"client_id": ["a", "b", "c", "d", "e"],
                           "snapshot_month": pd.to_datetime(["2024-01-01"] * 5),
                           "churn_driver": pd.array(["disengagement", "disengagement", "asset_outflow", None,
                                                     "asset_outflow"], dtype="str")})
    out = measure_truthfulness(reasons, oracle, DRIVERS, task="churn")
    assert out["clients"] == 3  # d has no driver; e has no reasons row
    assert out["share"] == pytest.approx(2 / 3)
    assert out["by_driver"]["disengagement"] == {"clients": 2, "share": 0.5}
    assert out["by_driver"]["asset_outflow"]["share"] == 1.0


def test_the_month_is_part_of_the_key():
    reasons = _reasons([("a", "2024-02-01", ["digital_trend"])])
    oracle = pd.DataFrame({"client_id": ["a"], "snapshot_month": pd.to_datetime(["2024-01-01"]),
                           "churn_driver": ["disengagement"]})
    assert measure_truthfulness(reasons, oracle, DRIVERS, task="churn")["clients"] == 0


def test_an_unmapped_driver_is_a_config_error():
    with pytest.raises(ConfigError, match="driver 'mystery'"):
        truthful_hits(np.array([["x", None, None]], dtype=object), ["mystery"], DRIVERS.churn)


def test_missing_columns_are_named():
    with pytest.raises(DataError, match="oracle table has no column"):
        measure_truthfulness(_reasons([]), pd.DataFrame({"client_id": []}), DRIVERS, task="churn")
    with pytest.raises(ConfigError, match="no driver mapping for task 'growth'"):
        DRIVERS.families("growth")


def test_shipped_driver_map_names_real_families_and_every_generator_driver():
    from tierwise.synthetic import CHURN_DRIVERS, DEFAULT_DRIVERS

    drivers = load_config(CONFIG_DIR / "drivers.yaml", DriverMap)
    catalog = feature_catalog(load_config(CONFIG_DIR / "features.yaml", FeatureConfig))
    catalogues = {lang: load_config(CONFIG_DIR / "reasons" / f"{lang}.yaml", ReasonCatalogue) for lang in ("en", "zh")}
    families = set(merged_families({k: v.family for k, v in catalog.items()}, list(catalog), catalogues).values())
    drivers.check_families(sorted(families))
    assert set(drivers.churn) == set(CHURN_DRIVERS)
    assert set(drivers.default) == set(DEFAULT_DRIVERS)
    with pytest.raises(ConfigError, match="unknown reason family: nowhere"):
        DriverMap(churn={"x": ["nowhere"]}).check_families(sorted(families))
