"""The notebooks in `notebooks/`: committed without outputs, and each one runs without error at
the small scale (`TIERWISE_NOTEBOOK_SCALE=small`) with `notebooks/` as its working directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
EXPECTED = (
    "01-synthetic-bank-tour.ipynb",
    "02-train-compare-register.ipynb",
    "03-explanations-for-relationship-managers.ipynb",
    "04-tiering-and-portfolio-monitoring.ipynb",
    "05-public-data-churn-and-default.ipynb",
)
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 300


def test_the_numbered_notebooks_are_there():
    assert tuple(p.name for p in NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    dirty = [i for i, cell in enumerate(nb.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_thin_notebooks_import_the_package(path: Path):
    """A notebook uses the package; it defines no functions or classes of its own."""
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "from tierwise" in source
    assert not [line for line in source.splitlines() if line.lstrip().startswith(("def ", "class "))]


def _stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.output_type == "stream")


def _execute(path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{str(exc)[-4000:]}")
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path: Path, monkeypatch):
    # the kernel inherits this environment: small scale, this venv's python first on PATH, and
    # MLflow pointed at the test's tmp_path (conftest); the notebooks also set their own store
    monkeypatch.setenv("TIERWISE_NOTEBOOK_SCALE", "small")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    nb = _execute(path)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), f"{path.name}: not every cell ran"
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    shown = [out for cell in code for out in cell.outputs]
    assert shown, f"{path.name}: the notebook showed nothing"


@pytest.mark.slow
def test_public_data_notebook_skips_absent_datasets_with_a_message(tmp_path, monkeypatch):
    empty = tmp_path / "no-datasets"
    empty.mkdir()
    monkeypatch.setenv("TIERWISE_DATASETS_DIR", str(empty))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    text = _stream_text(_execute(NOTEBOOK_DIR / EXPECTED[4]))
    assert "SKIPPED bank_churn_modelling" in text
    assert "SKIPPED taiwan_credit_default" in text
    assert "nothing to train" in text
