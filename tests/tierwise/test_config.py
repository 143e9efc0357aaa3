from __future__ import annotations

import pytest
from pydantic import ValidationError

from tierwise.config import load_config
from tierwise.features import ConfigError, FrozenConfig


class Inner(FrozenConfig):
    horizon_months: int = 6
    share: float = 0.1


class Outer(FrozenConfig):
    name: str
    churn: Inner = Inner()


def test_loads_and_freezes(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nchurn:\n  horizon_months: 3\n")
    cfg = load_config(path, Outer)
    assert cfg.churn.horizon_months == 3
    with pytest.raises(ValidationError, match="frozen"):
        cfg.name = "y"


def test_unknown_nested_key_names_file_key_and_allowed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nchurn:\n  horizon_month: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, Outer)
    msg = str(err.value)
    assert str(path) in msg and "churn.horizon_month" in msg
    assert "horizon_months, share" in msg
    assert "\n" not in msg


def test_wrong_type_names_key_and_value(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nchurn:\n  share: lots\n")
    with pytest.raises(ConfigError, match=r"churn\.share.*'lots'"):
        load_config(path, Outer)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", Outer)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, Outer)


def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path):
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("name: 尊享\n".encode("gbk"))  # saved in a Chinese Windows code page
    with pytest.raises(ConfigError, match=r"gbk\.yaml: not UTF-8 text \(byte 0x[0-9a-f]{2} at position 6\); save the file as UTF-8$"):
        load_config(gbk, Outer)
