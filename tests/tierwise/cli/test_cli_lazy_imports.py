"""A command imports the library it runs when it runs: `tierwise score --help` (a fresh
process) loads neither the synthetic bank, the reports, training nor the settings, while
`tierwise --help` still lists every command and each command's own --help works."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from tierwise.cli import app

_RUNNER = """
import json, sys
sys.argv = ["tierwise", *json.loads(sys.argv[1])]
from tierwise.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES=" + json.dumps(sorted(m for m in sys.modules if m.startswith(("tierwise", "mlflow", "hypothesis")))))
"""

_NOT_FOR_HELP = ("tierwise.synthetic", "tierwise.reports", "tierwise.training", "tierwise.settings",
                 "tierwise.models", "tierwise.scoring", "mlflow", "hypothesis")


def _loaded(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(args)], capture_output=True, text=True,
                          timeout=120, check=True)
    out, _, modules = done.stdout.rpartition("MODULES=")
    return out, set(json.loads(modules))


def test_score_help_loads_no_command_library():
    out, modules = _loaded("score", "--help")
    assert "--chunk-clients" in out  # the help was printed
    assert "tierwise.cli._score" in modules and "tierwise.cli._demo" in modules  # every verb is registered
    heavy = sorted(m for m in modules if m.startswith(_NOT_FOR_HELP))
    assert heavy == []


def test_every_command_is_listed_and_has_help(run_cli):
    group = typer.main.get_command(app)
    names = sorted(group.list_commands(None))
    assert {"score", "generate", "demo", "validate", "train", "monitor", "report", "profile"} <= set(names)
    code, out, _ = run_cli("--help")
    assert code == 0 and all(name in out for name in names)


@pytest.mark.parametrize("command", ["score", "generate", "demo", "validate", "features", "trainset", "train",
                                     "run-month", "monitor", "profile", "explain", "history", "recommend"])
def test_each_command_help(run_cli, command):
    code, out, err = run_cli(command, "--help")
    assert code == 0, err
    assert "--" in out and "Traceback" not in out + err
