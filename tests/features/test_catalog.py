"""The feature catalogue: a one-line description for every engineered feature, in step with
the snapshot columns, families grouping the window variants."""

from __future__ import annotations

import re

import pytest
from feature_bank import month_at

from tierwise.features import FeatureConfig, FeatureInfo, feature_catalog, snapshot_features

UNITS = {"currency", "ratio", "log ratio", "share", "count", "months", "days", "currency per month", "category"}


def test_every_feature_has_a_one_line_description(feature_config):
    catalog = feature_catalog(feature_config)
    assert len(catalog) > 50
    for name, info in catalog.items():
        assert isinstance(info, FeatureInfo) and info.name == name
        assert info.description and "\n" not in info.description and len(info.description) < 140
        assert info.family and re.fullmatch(r"[a-z_]+", info.family)
        assert info.unit in UNITS, (name, info.unit)
        assert info.kind in ("numeric", "categorical")


def test_names_the_policy_and_reasons_rely_on(feature_config):
    catalog = feature_catalog(feature_config)
    for name in ("assets_total", "credit_exposure", "contribution_monthly", "cost_to_serve_monthly",
                 "deposit_total_chg_3m", "months_since_mobile_login", "months_since_salary",
                 "months_since_branch_visit", "tenure_months", "card_utilisation"):
        assert name in catalog


def test_window_variants_share_a_family_and_say_ratio_or_difference(feature_config):
    catalog = feature_catalog(feature_config)
    assert {catalog[f"deposit_total_chg_{w}m"].family for w in (1, 3, 6, 12)} == {"deposit_trend"}
    assert "log ratio" in catalog["deposit_total_chg_3m"].description
    assert "difference" in catalog["mobile_logins_chg_3m"].description


def test_windows_and_groups_come_from_the_config():
    config = FeatureConfig(windows=[2, 4], groups={"card": False, "recency": False})
    catalog = feature_catalog(config)
    assert "assets_total_chg_2m" in catalog and "assets_total_chg_3m" not in catalog
    assert "assets_total_slope_4m" in catalog and "assets_total_slope_2m" not in catalog
    assert not any(name.startswith("card_utilisation") or name.startswith("months_since") for name in catalog)


def test_snapshot_columns_follow_a_changed_config(bank):
    clients, monthly = bank
    config = FeatureConfig(windows=[2, 4], groups={"value": False, "static": False})
    out = snapshot_features(clients, monthly, month_at(15), config)
    names = list(feature_catalog(config))
    assert out.columns[2:2 + len(names)].tolist() == names


def test_unknown_margin_column_is_rejected():
    with pytest.raises(ValueError, match="unknown monthly column"):
        FeatureConfig(value={"margins_annual": {"deposit_savings": 0.01}})


def test_window_placeholders_resolve_against_the_configured_windows():
    from tierwise.features import resolve_feature_names, window_neutral

    default, short = FeatureConfig(), FeatureConfig(history_months=21)
    names = ["days_past_due", "days_past_due_max_{w}m", "months_in_arrears_{long}m"]
    assert resolve_feature_names(names, default) == [
        "days_past_due", "days_past_due_max_3m", "days_past_due_max_6m", "days_past_due_max_12m",
        "months_in_arrears_12m"]
    assert resolve_feature_names(names, short) == [
        "days_past_due", "days_past_due_max_3m", "days_past_due_max_6m", "months_in_arrears_6m"]
    # a 1-month window builds changes but no maxima: {w} takes only the windows that build the feature
    assert resolve_feature_names(["deposit_total_chg_{w}m"], short)[0] == "deposit_total_chg_1m"
    assert set(resolve_feature_names(names, short)) <= set(feature_catalog(short))
    # a placeholder no window builds stays as written, for the caller's unknown-feature message
    assert resolve_feature_names(["nothing_{w}m"], default) == ["nothing_{w}m"]
    assert window_neutral("days_past_due_max_12m") == "days_past_due_max_{long}m"
    assert window_neutral("days_past_due") is None
