"""`FeatureConfig` time: `history_months` fits the windows and label horizons to a short history."""

from __future__ import annotations

import pytest
import yaml

from tierwise.config import load_config
from tierwise.features import ConfigError, FeatureConfig, fit_to_history, label_column


def test_without_history_months_the_windows_and_horizons_are_as_configured():
    config = FeatureConfig()
    assert config.history_months is None and config.snapshot_months is None
    assert config.windows == (1, 3, 6, 12)
    assert [label_column(t, config) for t in ("churn", "default", "growth")] == ["churn_6m", "default_12m", "growth_12m"]


@pytest.mark.parametrize(("history", "windows", "horizons", "snapshots"), [
    (36, (1, 3, 6, 12), (6, 12, 12), 12),
    (21, (1, 3, 6), (6, 6, 6), 9),
    (12, (1, 3), (3, 3, 3), 6),
    (4, (1,), (1, 1, 1), 1),
])
def test_history_months_fits_windows_and_horizons(history, windows, horizons, snapshots):
    config = FeatureConfig(history_months=history)
    assert config.windows == windows
    assert (config.labels.churn.horizon_months, config.labels.default.horizon_months,
            config.labels.growth.horizon_months) == horizons
    assert config.snapshot_months == snapshots
    assert config.lookback_months + config.max_horizon + snapshots - 1 == history


def test_fitting_keeps_every_other_label_setting_and_survives_json():
    config = FeatureConfig.model_validate({"history_months": 21, "windows": [12, 3, 1, 6],
                                           "labels": {"default": {"dpd_threshold": 60}}})
    assert config.labels.default.dpd_threshold == 60 and config.labels.default.horizon_months == 6
    assert FeatureConfig.model_validate_json(config.model_dump_json()) == config


def test_fit_to_history_never_lengthens_a_horizon():
    windows, horizons = fit_to_history((1, 3, 6, 12), {"churn": 2, "default": 12}, 21)
    assert windows == (1, 3, 6) and horizons == {"churn": 2, "default": 6}


def test_a_history_that_leaves_no_snapshot_month_is_one_line_naming_the_key(tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump({"history_months": 6, "value": {"average_months": 6}}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, FeatureConfig)
    message = str(err.value)
    assert "\n" not in message and "features.yaml" in message and "history_months 6 leaves no snapshot month" in message


def test_a_history_too_short_to_read_is_refused_by_the_field(tmp_path):
    path = tmp_path / "features.yaml"
    path.write_text("history_months: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'history_months' = 2"):
        load_config(path, FeatureConfig)


def test_a_quoted_history_is_fitted_and_windows_it_cannot_fit_are_refused():
    assert FeatureConfig.model_validate({"history_months": "21"}).windows == (1, 3, 6)
    with pytest.raises(ValueError, match=r"windows \[1, 3, 6, 12\] .* do not fit history_months 21"):
        FeatureConfig.model_validate({"history_months": 21, "windows": ["1", "3", "6", "12"]})
