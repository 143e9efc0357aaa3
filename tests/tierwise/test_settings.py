"""`load_settings`: every file of a configs folder once, with the cross-file checks at load time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tierwise.features import ConfigError
from tierwise.settings import RecommenderSettings, Settings, load_settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def configs(tmp_path) -> Path:
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def _edit(path: Path, change) -> None:  # noqa: ANN001
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_shipped_configs_load_into_one_frozen_bundle():
    settings = load_settings(CONFIG_DIR)
    assert sorted(settings.tasks) == ["churn", "default", "growth"]
    assert settings.flat is not None and settings.policy is not None and settings.monitor is not None
    assert sorted(settings.reasons) == ["en", "zh"] and settings.drivers is not None
    assert settings.source == CONFIG_DIR
    with pytest.raises(Exception, match="frozen"):
        settings.policy = None  # type: ignore[misc]


def test_the_recommender_settings_survive_json():
    built = load_settings(CONFIG_DIR).for_recommender()
    assert RecommenderSettings.model_validate_json(built.model_dump_json()) == built


def test_an_absent_file_is_none_until_a_command_needs_it(tmp_path):
    settings = load_settings(tmp_path)
    assert settings.policy is None and settings.tasks == {} and settings.reasons == {}
    with pytest.raises(ConfigError, match=r"policy\.yaml: config file not found$"):
        settings.require("policy")
    with pytest.raises(ConfigError, match=r"reasons/en\.yaml: config file not found$"):
        settings.require("reasons")
    with pytest.raises(ConfigError, match=r"models/churn\.yaml: no task config for 'churn'"):
        settings.task("churn")


def test_a_task_naming_a_feature_the_features_config_lacks_names_both_files(configs):
    _edit(configs / "models" / "churn.yaml", lambda raw: raw["monotone"].update({"no_such_feature": 1}))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "\n" not in message
    assert "models/churn.yaml" in message and "features.yaml" in message and "'no_such_feature'" in message


def test_a_task_file_without_a_label_names_both_files(configs):
    shutil.copy(configs / "models" / "churn.yaml", configs / "models" / "attrition.yaml")
    _edit(configs / "models" / "attrition.yaml", lambda raw: raw.update(task="attrition"))
    with pytest.raises(ConfigError, match=r"models/attrition\.yaml: task 'attrition' has no label in .*features\.yaml"):
        load_settings(configs)


def test_a_task_config_naming_another_task_fails(configs):
    _edit(configs / "models" / "growth.yaml", lambda raw: raw.update(task="churn"))
    with pytest.raises(ConfigError, match=r"growth\.yaml: task 'churn' does not match the file name 'growth'"):
        load_settings(configs)


def test_policy_horizon_against_the_label_horizon_names_both_files(configs):
    _edit(configs / "policy.yaml", lambda raw: raw.update(churn_horizon_months=3))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "policy.yaml" in message and "features.yaml" in message and "churn_horizon_months is 3" in message


def test_the_policys_in_default_days_must_be_the_default_labels(configs):
    _edit(configs / "policy.yaml", lambda raw: raw["risk"].update(in_default_dpd=60))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "policy.yaml" in message and "features.yaml" in message and "in_default_dpd is 60" in message


def test_drivers_naming_an_unknown_reason_family_names_both_files(configs):
    _edit(configs / "drivers.yaml", lambda raw: raw["churn"].update({"disengagement": ["nowhere"]}))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "drivers.yaml" in message and "features.yaml" in message and "nowhere" in message


def test_a_bad_key_in_any_file_is_the_loaders_one_line(configs):
    (configs / "monitor.yaml").write_text("nonsense_key: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monitor\.yaml: unknown key 'nonsense_key'"):
        load_settings(configs)


def test_settings_forbid_unknown_fields():
    with pytest.raises(Exception, match="extra"):
        Settings(source=Path("."), surprise=1)  # type: ignore[call-arg]


# -- time, set once in features.yaml ------------------------------------------------------


def _history(configs: Path, months: int) -> None:
    """The one change a bank with a short history makes."""
    _edit(configs / "features.yaml", lambda raw: raw.update(history_months=months))


def test_the_shipped_configs_resolve_the_window_features_as_before():
    settings = load_settings(CONFIG_DIR)
    assert settings.tasks["default"].monotone == {
        "days_past_due": 1, "days_past_due_max_3m": 1, "days_past_due_max_6m": 1, "days_past_due_max_12m": 1,
        "months_in_arrears_12m": 1, "card_utilisation": 1}
    assert (settings.policy.churn_horizon_months, settings.policy.default_horizon_months) == (6, 12)
    labels = settings.data.labels
    assert (labels.churn_horizon_months, labels.default_horizon_months, labels.growth_horizon_months) == (6, 12, 12)


def test_history_months_alone_fits_every_file_to_a_21_month_bank(configs):
    from tierwise.features import build_training_table, feature_catalog, label_column, task_frame
    from tierwise.models import check_catalogue_coverage
    from tierwise.synthetic import generate_bank
    from tierwise.training import snapshot_months

    _history(configs, 21)
    settings = load_settings(configs)
    features = settings.features
    assert features.windows == (1, 3, 6) and features.max_horizon == 6
    assert (settings.policy.churn_horizon_months, settings.policy.default_horizon_months) == (6, 6)
    assert settings.data.labels.default_horizon_months == 6
    assert settings.tasks["default"].monotone == {
        "days_past_due": 1, "days_past_due_max_3m": 1, "days_past_due_max_6m": 1, "months_in_arrears_6m": 1,
        "card_utilisation": 1}

    bank = generate_bank(settings.data, clients=1500, months=21, seed=3)
    months = snapshot_months(bank.monthly, features, 8)
    assert len(months) == 8
    table = build_training_table(bank.clients, bank.monthly, months, features)
    catalog = feature_catalog(features)
    check_catalogue_coverage(list(catalog), {n: i.family for n, i in catalog.items()}, settings.reasons)
    for task, config in settings.tasks.items():
        frame = task_frame(table, task, features)
        assert frame.target == label_column(task, features) == f"{task}_6m"
        assert frame.data["split"].value_counts().to_dict().keys() >= {"train", "valid", "test"}
        named = [*(config.features or []), *config.exclude, *config.monotone]
        assert set(named) <= set(frame.features), task


def test_a_window_feature_the_history_drops_is_one_line_saying_how_to_write_it(configs):
    _history(configs, 21)
    _edit(configs / "models" / "default.yaml", lambda raw: raw["monotone"].update({"days_past_due_max_12m": 1}))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "\n" not in message and "models/default.yaml" in message
    assert "'days_past_due_max_12m' is not built" in message and "history_months 21" in message
    assert "'days_past_due_max_{long}m'" in message


@pytest.mark.parametrize(("file", "change", "key"), [
    ("policy.yaml", lambda raw: raw.update(default_horizon_months=12), "default_horizon_months is 12"),
    ("data.yaml", lambda raw: raw["labels"].update(growth_horizon_months=12), "labels.growth_horizon_months is 12"),
])
def test_a_horizon_repeated_against_the_history_names_the_key_to_remove(configs, file, change, key):
    _history(configs, 21)
    _edit(configs / file, change)
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "\n" not in message and file in message and "features.yaml" in message
    assert key in message and "horizon_months 6" in message and f"remove it from {file}" in message


def test_the_reason_catalogues_phrase_windows_they_do_not_name(configs):
    _edit(configs / "features.yaml", lambda raw: raw.update(windows=[1, 3, 6, 9]))
    settings = load_settings(configs)
    assert settings.reasons["en"].families["arrears"]["days_past_due_max_9m"].text == \
        "Up to {value} days past due in the last 9 months"
    assert settings.reasons["zh"].families["arrears"]["days_past_due_max_9m"].text == "近9个月最长逾期{value}天"
    assert settings.reasons["en"].families["balance_trend"]["deposit_total_chg_9m"].missing == \
        "Deposits: less than 10 months of history"
    assert not [f for c in settings.reasons.values() for e in c.families.values() for f in e if "{" in f]


def _set_currency(configs: Path, symbol: str, *, catalogues: bool = True) -> None:
    _edit(configs / "policy.yaml", lambda raw: [raw["reasons"][lang].update(currency=symbol) for lang in raw["reasons"]])
    if catalogues:
        for lang in ("en", "zh"):
            _edit(configs / "reasons" / f"{lang}.yaml", lambda raw: raw.update(currency=symbol))


def test_one_currency_reaches_the_policy_the_catalogues_and_the_pages(configs):
    _set_currency(configs, "HK$")
    settings = load_settings(configs)
    assert settings.currency == "HK$"
    assert settings.policy.currency == "HK$"
    assert {c.currency for c in settings.reasons.values()} == {"HK$"}
    assert settings.monitor.report.currency == "HK$"  # filled from the policy


def test_a_catalogue_with_another_currency_names_both_files(configs):
    _set_currency(configs, "$", catalogues=False)
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    message = str(err.value)
    assert "reasons/en.yaml currency is '¥'" in message and "policy.yaml reasons.en.currency is '$'" in message
    assert "one currency" in message and "\n" not in message


def test_the_policy_has_one_currency_for_every_language(configs):
    _edit(configs / "policy.yaml", lambda raw: raw["reasons"]["zh"].update(currency="$"))
    with pytest.raises(ConfigError, match=r"policy.yaml.*one currency for every language, got en '¥', zh '\$'"):
        load_settings(configs)
