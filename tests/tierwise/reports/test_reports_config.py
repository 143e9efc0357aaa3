"""configs/monitor.yaml parses into MonitorConfig; mistakes are one clear line."""

from __future__ import annotations

import pytest

from tierwise.config import load_config
from tierwise.features import ConfigError
from tierwise.reports import MonitorConfig


def test_shipped_monitor_config_loads(config_dir):
    cfg = load_config(config_dir / "monitor.yaml", MonitorConfig)
    assert cfg.psi.warn == 0.1 and cfg.psi.alert == 0.25
    assert cfg.fairness.min_selection_rate_ratio == 0.8 and cfg.fairness.max_tpr_difference == 0.1
    assert cfg == MonitorConfig()  # the YAML spells out the defaults


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text("psi:\n  alrt: 0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monitor.yaml: unknown key 'psi.alrt'; allowed keys here: .*alert"):
        load_config(path, MonitorConfig)


def test_warn_must_be_below_alert(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text("psi:\n  warn: 0.3\n  alert: 0.2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"warn \(0.3\) must be below alert \(0.2\)"):
        load_config(path, MonitorConfig)
