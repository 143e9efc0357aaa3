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
