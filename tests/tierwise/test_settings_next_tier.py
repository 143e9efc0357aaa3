"""next_tier.yaml is loaded once with the settings and checked against features.yaml and the
reason catalogues: every mistake is one line naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tierwise.features import ConfigError
from tierwise.settings import load_settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def _edit(path: Path, change) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_the_shipped_next_tier_config_loads():
    settings = load_settings(CONFIG_DIR)
    assert settings.next_tier is not None and settings.next_tier.max_changes == 3
    assert {lv.group for lv in settings.next_tier.levers.values()} >= {"deposits", "wealth", "salary", "digital"}


def test_a_lever_column_typo_names_the_file_and_key(configs):
    _edit(configs / "next_tier.yaml", lambda raw: raw["levers"]["time_deposits"].update(column="deposit_tme"))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    assert _one_line(err).startswith(f"{configs / 'next_tier.yaml'}: key 'levers.time_deposits.column'")


def test_a_fixed_feature_typo_names_the_file(configs):
    _edit(configs / "next_tier.yaml", lambda raw: raw["fixed"].append("regoin"))
    with pytest.raises(ConfigError) as err:
        load_settings(configs)
    assert _one_line(err) == (f"{configs / 'next_tier.yaml'}: fixed feature 'regoin' is not built by "
                              f"{configs / 'features.yaml'} (windows [1, 3, 6, 12])")


def test_a_lever_moving_a_fixed_feature_is_refused(configs):
    _edit(configs / "next_tier.yaml", lambda raw: raw["fixed"].append("assets_total"))
    with pytest.raises(ConfigError, match=r"next_tier\.yaml: levers\.\w+ \(\w+\) moves fixed "
                                          r"feature 'assets_total'"):
        load_settings(configs)


def test_an_unknown_key_and_a_missing_step_text(configs):
    _edit(configs / "next_tier.yaml", lambda raw: raw.update(max_change=2))
    with pytest.raises(ConfigError, match=r"next_tier\.yaml: unknown key 'max_change'; allowed keys here: .*max_changes"):
        load_settings(configs)
    shutil.copy(CONFIG_DIR / "next_tier.yaml", configs / "next_tier.yaml")
    _edit(configs / "reasons" / "zh.yaml", lambda raw: raw["next_tier"]["steps"].pop("deposit_time"))
    with pytest.raises(ConfigError, match=r"reasons/zh\.yaml: next_tier\.steps has no text for 'deposit_time'"):
        load_settings(configs)
