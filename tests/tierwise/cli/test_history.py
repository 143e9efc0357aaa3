"""`tierwise history --client`: a client's trail through the archive, month by month."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tierwise.cli import app
from tierwise.features import DataError

_FACTORY = Path(__file__).resolve().parents[1] / "reports" / "reports_factory.py"
_spec = importlib.util.spec_from_file_location("reports_factory_history", _FACTORY)
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)
runner = CliRunner()


def _flat(output: str) -> str:
    """The words of a rich table or error box, one space apart."""
    return " ".join(re.sub(r"[│┃╭╮╰╯─━┏┓┗┛┡┩┣┫╇╈┳┻┼├┤└┘┌┐]", " ", output).split())


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder, _, _ = factory.write_small_archive(tmp_path_factory.mktemp("history"))
    return folder


def _rows(output: str) -> list[str]:
    return re.findall(r"^│ (\d{4}-\d{2}) ", output, flags=re.M)


def test_history_shows_every_archived_month(archive):
    result = runner.invoke(app, ["history", "--client", "C00000", "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    assert _rows(result.output) == ["2024-01", "2024-02", "2024-03"]
    text = _flat(result.output)
    assert "C00000: in 3 of 3 archived month(s)" in text
    for expected in ("Premier", "Excellence", "Potential", "Risk watch, Exit review", "Cost review",
                     "Exit review opened", "Downgraded after exit review: PD 6.1% stayed above the limit"):
        assert expected in text
    assert "Deposits fell" in text and "Top reason: Churn" in text


def test_history_months_and_chinese(archive):
    result = runner.invoke(app, ["history", "--client", "C00006", "--archive", str(archive), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert _rows(result.output) == ["2024-03"]  # a client new in March
    assert "潜力" in result.output and "首要原因" in result.output and "Potential" not in result.output
    result = runner.invoke(app, ["history", "--client", "C00000", "--archive", str(archive), "--months", "2"])
    assert _rows(result.output) == ["2024-02", "2024-03"]
    assert "C00000: in 2 of 2 archived month(s)" in _flat(result.output)


def test_unknown_client_is_one_line_naming_the_months_searched(archive):
    result = runner.invoke(app, ["history", "--client", "C99999", "--archive", str(archive)])
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError)  # main() prints it as one line, no traceback
    assert str(result.exception) == (f"client 'C99999' is not in the archive {archive}: "
                                     "3 month(s) searched (2024-01 to 2024-03)")
    # a client seen only in months outside --months is not found in the ones searched
    result = runner.invoke(app, ["history", "--client", "C00002", "--archive", str(archive), "--months", "1"])
    assert "1 month(s) searched (2024-03)" in str(result.exception)


def test_unknown_client_through_main_has_no_traceback(archive, monkeypatch, capsys):
    import sys

    from tierwise.cli import main

    monkeypatch.setattr(sys, "argv", ["tierwise", "history", "--client", "C99999", "--archive", str(archive)])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and "Traceback" not in err
    assert "client 'C99999' is not in the archive" in _flat(err)


def test_bad_language_and_empty_archive(archive, tmp_path):
    result = runner.invoke(app, ["history", "--client", "C00000", "--archive", str(archive), "--lang", "fr"])
    assert result.exit_code == 2 and "'fr' is not a language; use en or zh" in _flat(result.output)
    result = runner.invoke(app, ["history", "--client", "C00000", "--archive", str(tmp_path / "none")])
    assert isinstance(result.exception, DataError) and "no archived month" in str(result.exception)
