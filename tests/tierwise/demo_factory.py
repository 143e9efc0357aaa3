"""`tierwise demo` at a small size: the configs for it, and one run whose outputs tests share."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tierwise.cli import app


def small_configs(tmp_path: Path, config_dir: Path, clients: int, months: int, pairs: int) -> tuple[Path, str]:
    """A copy of `config_dir` under `tmp_path` with a smaller bank; (folder, data.yaml text)."""
    configs = tmp_path / "configs"
    shutil.copytree(config_dir, configs)
    text = (configs / "data.yaml").read_text()
    text = (text.replace("clients: 20000", f"clients: {clients}").replace("months: 36", f"months: {months}")
            .replace("pairs: 20000", f"pairs: {pairs}"))
    (configs / "data.yaml").write_text(text)
    return configs, text


@dataclass(frozen=True)
class DemoRun:
    """A finished `tierwise demo`: its folder (the working directory it ran in), its console
    output, and the MLflow store it used."""

    root: Path
    configs: Path
    output: str
    tracking_uri: str

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"


def run_demo(root: Path, config_dir: Path) -> DemoRun:
    """The whole monthly job (2,500 clients x 30 months, no tuning trials) with `root` as the
    working directory and MLflow tracking and artifacts under `root` -- set here, for the length
    of the run, because a shared (module or session) fixture runs before the per-test autouse
    fixture that points MLflow at each test's tmp_path."""
    configs, _ = small_configs(root, config_dir, 2500, 30, 600)
    for task in ("churn", "default", "growth"):  # keep the test quick: no tuning trials
        path = configs / "models" / f"{task}.yaml"
        path.write_text(path.read_text().replace("max_trials: 2", "max_trials: 0"))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_ARTIFACTS_DESTINATION", str(root / "mlartifacts"))
        mp.setenv("TIERWISE_CONFIG_DIR", str(config_dir))
        mp.chdir(root)
        result = CliRunner().invoke(app, ["demo", "--config-dir", str(configs)], terminal_width=200)
    assert result.exit_code == 0, result.output
    return DemoRun(root=root, configs=configs, output=result.output, tracking_uri=uri)
