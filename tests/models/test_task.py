from __future__ import annotations

import pytest
import yaml

from tierwise.config import load_config
from tierwise.features import ConfigError
from tierwise.models import TaskConfig


@pytest.mark.parametrize("task", ["churn", "default", "growth"])
def test_shipped_task_configs_parse(config_dir, task):
    config = load_config(config_dir / "models" / f"{task}.yaml", TaskConfig)
    assert config.task == task
    assert (config.kind == "regression") == (task == "growth")


def test_default_task_has_grades_ending_at_one(config_dir):
    config = load_config(config_dir / "models" / "default.yaml", TaskConfig)
    assert config.grades[-1].max_pd == 1.0


def test_unknown_key_is_one_line(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"task": "x", "kind": "binary", "learning_rate": 0.1}))
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rate'"):
        load_config(path, TaskConfig)


def test_grades_must_increase_to_one(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"task": "x", "kind": "binary",
                                    "grades": [{"name": "A", "max_pd": 0.5}, {"name": "B", "max_pd": 0.2}]}))
    with pytest.raises(ConfigError, match="grades must have strictly increasing max_pd"):
        load_config(path, TaskConfig)


def test_regression_task_rejects_binary_metric():
    with pytest.raises(ValueError, match="does not apply to a regression task"):
        TaskConfig(task="g", kind="regression", primary_metric="roc_auc")


def test_resolved_expands_window_placeholders_against_the_features_config():
    from tierwise.features import FeatureConfig

    config = TaskConfig(task="default", kind="binary", features=["days_past_due_max_{long}m", "tenure_months"],
                        exclude=["card_utilisation_chg_{w}m"],
                        monotone={"days_past_due_max_{w}m": 1, "months_in_arrears_{long}m": 1})
    short = config.resolved(FeatureConfig(history_months=21))
    assert short.features == ["days_past_due_max_6m", "tenure_months"]
    assert short.exclude == [f"card_utilisation_chg_{w}m" for w in (1, 3, 6)]
    assert short.monotone == {"days_past_due_max_3m": 1, "days_past_due_max_6m": 1, "months_in_arrears_6m": 1}
    assert config.resolved(FeatureConfig()).monotone["months_in_arrears_12m"] == 1


def test_resolved_refuses_one_feature_with_two_signs():
    from tierwise.features import FeatureConfig

    config = TaskConfig(task="default", kind="binary",
                        monotone={"days_past_due_max_{w}m": 1, "days_past_due_max_6m": -1})
    with pytest.raises(ConfigError, match=r"'days_past_due_max_6m' is given both \+1 and -1"):
        config.resolved(FeatureConfig())


def test_resolved_writes_the_label_horizon_and_longest_window_into_the_texts(config_dir):
    from tierwise.features import FeatureConfig

    config = load_config(config_dir / "models" / "default.yaml", TaskConfig)
    assert "{horizon}" in config.description
    assert config.resolved(FeatureConfig()).description.startswith("Probability of 90+ days past due within 12 months")
    short = config.resolved(FeatureConfig(history_months=21))
    assert "within 6 months" in short.description and "6-month probability" in short.intended_use
    churn = load_config(config_dir / "models" / "churn.yaml", TaskConfig).resolved(FeatureConfig(history_months=21))
    assert "less than 6 months of history" in churn.limitations[1]
    assert not [t for t in (short.description, short.intended_use, *short.limitations, *churn.limitations) if "{" in t]
