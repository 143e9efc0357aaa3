"""`tierwise demo` at this stage: generate (once), validate, summarise."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from tierwise.cli import app

runner = CliRunner()


def test_demo_generates_validates_and_summarises(tmp_path, config_dir):
    configs = tmp_path / "configs"
    shutil.copytree(config_dir, configs)
    text = (configs / "data.yaml").read_text()
    text = text.replace("clients: 20000", "clients: 600").replace("months: 36", "months: 26").replace("pairs: 5000", "pairs: 400")
    (configs / "data.yaml").write_text(text)
    out = tmp_path / "bank"
    args = ["demo", "--out", str(out), "--config-dir", str(configs)]
    first = runner.invoke(app, args, terminal_width=200)
    assert first.exit_code == 0, first.output
    assert "generated 600 clients x 26 months" in first.output
    for expected in ("clients by segment", "retail", "sme", "churn within 6 months", "oracle ROC AUC"):
        assert expected in first.output
    second = runner.invoke(app, args, terminal_width=200)
    assert second.exit_code == 0
    assert "already generated" in second.output
    (configs / "data.yaml").write_text(text.replace("seed: 42", "seed: 43"))
    third = runner.invoke(app, args, terminal_width=200)
    assert "generated 600 clients" in third.output
