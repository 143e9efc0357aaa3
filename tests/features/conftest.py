"""Fixtures for the feature tests: the tiny bank of `feature_bank` and the default config."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_bank import make_bank

from tierwise.features import FeatureConfig


@pytest.fixture
def bank() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_bank()


@pytest.fixture
def feature_config() -> FeatureConfig:
    return FeatureConfig()
