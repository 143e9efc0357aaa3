"""Reason catalogues: the shipped YAMLs cover every engineered feature; protected data is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.features import ConfigError, FeatureConfig, feature_catalog
from tierwise.models._reason_catalogue import (
    ReasonCatalogue,
    Template,
    check_catalogue_coverage,
    flat_catalogues,
    merged_families,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def catalogues() -> dict[str, ReasonCatalogue]:
    return {lang: load_config(CONFIG_DIR / "reasons" / f"{lang}.yaml", ReasonCatalogue) for lang in ("en", "zh")}


def _catalogue(families: dict, **extra) -> ReasonCatalogue:
    return ReasonCatalogue.model_validate({"language": "en", "families": families, **extra})


def test_shipped_catalogues_cover_every_engineered_feature(catalogues, config_dir):
    config = load_config(config_dir / "features.yaml", FeatureConfig)
    catalog = feature_catalog(config)
    families = {name: info.family for name, info in catalog.items()}
    check_catalogue_coverage(list(catalog), families, catalogues)


def test_every_template_feature_is_in_its_family(catalogues, config_dir):
    config = load_config(config_dir / "features.yaml", FeatureConfig)
    catalog = feature_catalog(config)
    families = merged_families({k: v.family for k, v in catalog.items()}, list(catalog), catalogues)
    for catalogue in catalogues.values():
        for family, entry in catalogue.families.items():
            for feature in entry:
                if "{w}" in feature:  # a window entry: every window it stands for is in the family
                    assert {families.get(feature.replace("{w}", str(w)), family) for w in range(1, 37)} == {family}
                    continue
                assert families[feature] == family, (catalogue.language, family, feature)


def test_english_and_chinese_template_the_same_features(catalogues):
    en, zh = catalogues["en"].families, catalogues["zh"].families
    assert set(en) == set(zh)
    for family in en:
        assert list(en[family]) == list(zh[family]), family
        for feature in en[family]:
            assert en[family][feature].format == zh[family][feature].format


def test_missing_entries_are_named_per_language():
    en = _catalogue({"deposit_trend": {"deposit_total_chg_3m": {"format": "pct_change", "up": "up {value}",
                                                               "down": "down {value}"}}})
    zh = ReasonCatalogue(language="zh", families={})
    features = ["deposit_total_chg_3m", "complaints_sum_6m"]
    families = {"deposit_total_chg_3m": "deposit_trend", "complaints_sum_6m": "complaints"}
    with pytest.raises(ConfigError) as err:
        check_catalogue_coverage(features, families, {"en": en, "zh": zh})
    message = str(err.value)
    assert "en: no entry for 1 family: complaints (complaints_sum_6m)" in message
    assert "zh: no entry for 2 families" in message and "deposit_trend" in message
    assert "\n" not in message


def test_an_entry_without_a_template_for_any_model_feature_is_missing():
    en = _catalogue({"complaints": {"complaints_sum_12m": {"text": "{value} complaints"}}})
    with pytest.raises(ConfigError, match="no entry for 1 family: complaints"):
        check_catalogue_coverage(["complaints_sum_6m"], {"complaints_sum_6m": "complaints"}, {"en": en})


@pytest.mark.parametrize("families", [
    {"gender": {"segment": {"format": "category", "text": "x {value}"}}},
    {"segment": {"age_band": {"format": "category", "text": "x {value}"}}},
    {"who": {"client_id": {"format": "category", "text": "{value}"}}},
])
def test_catalogue_refuses_protected_or_personal_data(families):
    with pytest.raises(ValueError, match="protected or personal data"):
        _catalogue(families)


def test_loading_a_catalogue_naming_a_protected_attribute_is_one_config_line(tmp_path):
    path = tmp_path / "en.yaml"
    path.write_text("language: en\nfamilies:\n  demographics:\n    gender: {format: category, text: '{value}'}\n")
    with pytest.raises(ConfigError, match=r"en\.yaml.*protected or personal data \(gender\)"):
        load_config(path, ReasonCatalogue)


def test_family_grouping_a_protected_feature_with_others_is_refused():
    en = _catalogue({"people": {"segment": {"format": "category", "text": "{value}"}}})
    with pytest.raises(ConfigError, match="family 'people' groups protected or personal data \\(gender\\)"):
        check_catalogue_coverage(["segment", "gender"], {"segment": "people", "gender": "people"}, {"en": en})


def test_protected_features_on_their_own_need_no_entry():
    en = _catalogue({"segment": {"segment": {"format": "category", "text": "{value}"}}})
    check_catalogue_coverage(["segment", "gender", "age_band"], {}, {"en": en})


@pytest.mark.parametrize("bad", [{"text": "{amount}"}, {"up": "grew {value}"}, {"text": "{value"}])
def test_template_needs_known_placeholders_and_both_directions(bad):
    with pytest.raises(ValueError):
        Template.model_validate(bad)


def test_no_catalogue_at_all_is_an_error():
    with pytest.raises(ConfigError, match="no reason catalogue"):
        check_catalogue_coverage(["a"], {}, {})


def test_flat_catalogues_cover_a_table_from_its_descriptions_and_skip_protected():
    X = pd.DataFrame({"Age": [62, 30], "Balance": [1.0, 2.0], "Geography": pd.Categorical(["France", "Spain"]),
                      "Gender": ["F", "M"], "Tenure": [1, 2]})
    cats = flat_catalogues(X, {"Balance": "account balance", "Geography": "country of residence"},
                           model="bank_churn", protected=["Gender"],
                           score={"en": "churn likelihood", "zh": "流失可能"})
    assert set(cats) == {"en", "zh"}
    assert "Gender" not in cats["en"].families
    assert cats["en"].families["Balance"]["Balance"].text.startswith("Account balance: ")
    assert cats["en"].families["Geography"]["Geography"].format == "category"
    # Age is a protected attribute by default: never a reason, and coverage still passes
    assert "Age" not in cats["zh"].families
    check_catalogue_coverage(list(X.columns), {}, cats)
    assert cats["zh"].effect("bank_churn", "up") == "推高流失可能"


def test_merged_families_read_as_one_reason_and_must_agree_across_languages():
    entry = {"deposit_total_chg_3m": {"format": "pct_change", "up": "up {value}", "down": "down {value}"}}
    en = _catalogue({"balance_trend": entry}, merge={"balance_trend": ["deposit_trend", "assets_trend"]})
    families = {"deposit_total_chg_3m": "deposit_trend", "assets_total_chg_3m": "assets_trend", "x": "other"}
    merged = merged_families(families, list(families), {"en": en})
    assert merged == {"deposit_total_chg_3m": "balance_trend", "assets_total_chg_3m": "balance_trend", "x": "other"}
    check_catalogue_coverage(["deposit_total_chg_3m", "assets_total_chg_3m"], families, {"en": en})
    zh = ReasonCatalogue(language="zh", families={"balance_trend": entry})
    with pytest.raises(ConfigError, match="disagree on `merge`"):
        merged_families(families, list(families), {"en": en, "zh": zh})
    with pytest.raises(ValueError, match="merged into both"):
        _catalogue({"a": entry}, merge={"a": ["deposit_trend"], "b": ["deposit_trend"]})


def test_a_window_entry_phrases_every_window_its_family_does_not_name():
    window = {"format": "days", "text": "Up to {value} days in {w} months", "missing": "less than {w1} months"}
    catalogue = _catalogue({"arrears": {"dpd_max_3m": {"format": "days", "text": "three: {value}"},
                                        "dpd_max_{w}m": window}})
    out = catalogue.for_windows((3, 9, 1), built={"dpd_max_3m", "dpd_max_9m"})
    assert list(out.families["arrears"]) == ["dpd_max_3m", "dpd_max_9m"]
    assert out.families["arrears"]["dpd_max_3m"].text == "three: {value}"
    nine = out.families["arrears"]["dpd_max_9m"]
    assert (nine.text, nine.missing) == ("Up to {value} days in 9 months", "less than 10 months")
    assert list(catalogue.for_windows((1, 3)).families["arrears"]) == ["dpd_max_3m", "dpd_max_1m"]


def test_a_window_placeholder_outside_a_window_entry_is_refused():
    with pytest.raises(ValueError, match=r"feature 'dpd_max_9m': \{w\} is only for an entry keyed with"):
        _catalogue({"arrears": {"dpd_max_9m": {"format": "days", "text": "Up to {value} days in {w} months"}}})


@pytest.mark.parametrize("windows", [(1, 3, 6), (2, 4, 9), (1, 3, 9, 18)])
def test_the_shipped_catalogues_phrase_every_window_feature_of_any_windows(catalogues, windows):
    config = FeatureConfig(windows=windows)
    catalog = feature_catalog(config)
    windowed = [name for name in catalog if name.rsplit("_", 1)[-1][:-1].isdigit() and name.endswith("m")]
    for lang, catalogue in catalogues.items():
        named = {f for entry in catalogue.for_windows(windows, catalog).families.values() for f in entry}
        assert not [n for n in windowed if n not in named], lang
        assert not [f for f in named if "{" in f], lang
