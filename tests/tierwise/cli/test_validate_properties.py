"""Property test of `tierwise validate` on files a bank could bring: Parquet or CSV, any
tables drawn against the contract (see tests/features/contract_tables.py), with or without
a branch list, sometimes a file that is not a table at all. Every run ends in a report whose
rows add up (exit 0) or in a one-line `TierwiseError` (exit 1); never another exception."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "features"))
from contract_tables import one_line, table  # noqa: E402

from tierwise.cli import app  # noqa: E402
from tierwise.features import CLIENT_COLUMNS, MONTHLY_COLUMNS, TierwiseError  # noqa: E402

runner = CliRunner()
SUMMARY = re.compile(r"(clients|monthly): kept ([\d,]+) of ([\d,]+) rows, rejected ([\d,]+)")


def _write(df: pd.DataFrame, folder: Path, name: str, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(folder / f"{name}.csv", index=False)
    elif fmt == "not a table":
        (folder / f"{name}.parquet").write_bytes(b"PAR1 this is not parquet")
    elif fmt == "bad csv":  # not UTF-8, ragged rows, or nothing at all
        (folder / f"{name}.csv").write_bytes(b"" if df.empty else b"client_id,month\n\xff\xfe,1,2,3\n\"open")
    else:  # Parquet holds one type per column: a mixed column is written as text, as an export would
        mixed = {c: df[c].map(lambda v: None if v is None else str(v)).astype("str")
                 for c in df.columns if df[c].dtype == object}
        df.assign(**mixed).to_parquet(folder / f"{name}.parquet", index=False)


def _n_rows(folder: Path, name: str) -> int:
    path = folder / f"{name}.parquet"
    return len(pd.read_parquet(path)) if path.exists() else len(pd.read_csv(folder / f"{name}.csv", dtype="str"))


@seed(16)
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(clients=table(CLIENT_COLUMNS, 5), monthly=table(MONTHLY_COLUMNS, 8),
       formats=st.tuples(st.sampled_from(["parquet", "csv"] * 4 + ["not a table", "bad csv"]),
                         st.sampled_from(["parquet", "csv"] * 4 + ["bad csv"])),
       branches=st.sampled_from([None, ["EA01", "NO02"], None, ["EA01"], None, []]),
       args=st.sampled_from([[], ["--any-branch"], ["--check-branches"]]))
def test_validate_ends_in_a_report_or_one_line(clients, monthly, formats, branches, args):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(clients, folder, "clients", formats[0])
        _write(monthly, folder, "monthly", formats[1])
        if branches is not None:
            pd.DataFrame({"branch": branches}, dtype="str").to_csv(folder / "branches.csv", index=False)
        result = runner.invoke(app, ["validate", "--data", str(folder), *args], env={"COLUMNS": "400"})
        if result.exception is not None:
            assert isinstance(result.exception, TierwiseError), repr(result.exception)
            assert result.exit_code == 1
            one_line(result.exception)
            return
        assert result.exit_code == 0, result.output
        found = {m[0]: [int(g.replace(",", "")) for g in m[1:]] for m in SUMMARY.findall(result.output)}
        assert set(found) == {"clients", "monthly"}, result.output
        event("report", f"rejected rows: {found['clients'][2] + found['monthly'][2] > 0}")
        for name, (kept, rows_in, rejected) in found.items():
            assert rows_in == _n_rows(folder, name) == kept + rejected
            path = folder / "_rejected" / f"{name}.parquet"
            reasons = pd.read_parquet(path)["reason"] if path.exists() else pd.Series([], dtype="str")
            assert len(reasons) == rejected and reasons.str.len().gt(0).all()
