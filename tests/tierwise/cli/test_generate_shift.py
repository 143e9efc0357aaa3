"""`tierwise generate --shift-industry NAME [--shift-outflow S] [--shift-from M]`."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tierwise.cli import app
from tierwise.features import TierwiseError

runner = CliRunner()
BALANCES = ["deposit_current", "deposit_time", "wealth_balance", "fund_balance", "insurance_balance"]


def _generate(out, *extra: str):
    return runner.invoke(app, ["generate", "--clients", "300", "--months", "14", "--seed", "4",
                               "--start", "2023-01", "--out", str(out), *extra])


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shift_flags_move_money_out_of_that_industry_only(tmp_path):
    plain = _generate(tmp_path / "plain")
    shifted = _generate(tmp_path / "shift", "--shift-industry", "finance", "--shift-outflow", "0.5",
                        "--shift-from", "2023-10")
    assert plain.exit_code == 0 and shifted.exit_code == 0, shifted.output
    assert "shift: finance moves 50% of its assets out from 2023-10, month index 9" in shifted.output
    assert "(shift:" not in plain.output
    assert _sha(tmp_path / "plain" / "clients.parquet") == _sha(tmp_path / "shift" / "clients.parquet")
    fingerprints = {n: json.loads((tmp_path / n / "_generated.json").read_text())["fingerprint"]
                    for n in ("plain", "shift")}
    assert fingerprints["plain"] != fingerprints["shift"]

    clients = pd.read_parquet(tmp_path / "plain" / "clients.parquet").set_index("client_id")
    a = pd.read_parquet(tmp_path / "plain" / "monthly.parquet")
    b = pd.read_parquet(tmp_path / "shift" / "monthly.parquet")
    finance = a["client_id"].map(clients["industry"]) == "finance"
    after = pd.to_datetime(a["month"]) >= pd.Timestamp("2023-10-01")
    pd.testing.assert_frame_equal(a[~(finance & after)], b[~(finance & after)])
    total_a, total_b = a[BALANCES].sum(axis=1), b[BALANCES].sum(axis=1)
    moved = finance & after & (total_a > 0)
    assert moved.sum() > 0 and (total_b[moved] < total_a[moved]).all()


def test_the_same_shift_gives_the_same_files(tmp_path):
    for name in ("a", "b"):
        assert _generate(tmp_path / name, "--shift-industry", "technology").exit_code == 0
    for table in ("clients", "monthly", "oracle"):
        assert _sha(tmp_path / "a" / f"{table}.parquet") == _sha(tmp_path / "b" / f"{table}.parquet")


def test_shift_from_as_a_month_index(tmp_path):
    result = _generate(tmp_path, "--shift-industry", "technology", "--shift-from", "3")
    assert result.exit_code == 0, result.output
    assert "from 2023-04, month index 3" in result.output


def test_data_yaml_shift_is_read_and_the_flags_override_it(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "data.yaml").write_text("shift: {industry: finance, from_month: 5, deposit_outflow: 0.3}\n",
                                      encoding="utf-8")
    result = _generate(tmp_path / "a", "--config-dir", str(folder))
    assert result.exit_code == 0, result.output
    assert "shift: finance moves 30% of its assets out from 2023-06, month index 5" in result.output
    result = _generate(tmp_path / "b", "--config-dir", str(folder), "--shift-outflow", "0.7")
    assert "shift: finance moves 70% of its assets out from 2023-06" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--shift-industry", "tech"],
     "--shift-industry: 'tech' is not an industry; one of manufacturing, retail_trade, construction, "
     "real_estate, hospitality, technology, agriculture, logistics, finance, public_sector"),
    (["--shift-industry", "finance", "--shift-outflow", "1.5"],
     "--shift-outflow must be a share between 0 and 1 (e.g. 0.6), got 1.5"),
    (["--shift-outflow", "0.5"],
     "--shift-outflow and --shift-from need --shift-industry NAME (or a shift: section in data.yaml)"),
    (["--shift-industry", "finance", "--shift-from", "2023-13"],
     "--shift-from 2023-13: write the month as YYYY-MM (e.g. 2024-09) or a month index (e.g. 20)"),
    (["--shift-industry", "finance", "--shift-from", "2025-01"],
     "shift.from_month 2025-01 is outside the simulated months 2023-01..2024-02 (month index 0..13)"),
])
def test_bad_shift_flags_are_one_line_user_errors(tmp_path, args, message):
    result = _generate(tmp_path, *args)
    assert isinstance(result.exception, TierwiseError), result.output
    assert str(result.exception) == message
