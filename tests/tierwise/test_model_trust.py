"""Trust before load: a model is code (its pickle runs when it is loaded), so `score`, `run-month`
and the library check a model's MLmodel file before anything is unpickled."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pytest
from typer.testing import CliRunner

from tierwise import registry
from tierwise.cli import app
from tierwise.features import DataError


class Stranger(mlflow.pyfunc.PythonModel):
    """A pyfunc that is not ours: loading it runs `load_context`, which leaves a mark."""

    def __init__(self, mark: str) -> None:
        self.mark = mark

    def load_context(self, context):  # noqa: ANN001 - the mlflow signature
        Path(self.mark).write_text("ran")

    def predict(self, context, model_input):  # noqa: ANN001
        return model_input


@pytest.fixture
def stranger(tmp_path) -> tuple[Path, Path]:
    mark = tmp_path / "ran.txt"
    folder = tmp_path / "model"
    mlflow.pyfunc.save_model(str(folder), python_model=Stranger(str(mark)))
    mark.unlink(missing_ok=True)  # saving may load it once to check it
    return folder, mark


def test_a_model_that_is_not_a_recommender_is_refused_before_it_is_loaded(stranger):
    folder, mark = stranger
    with pytest.raises(DataError, match=r"is not a tierwise recommender \(checked from its MLmodel file; nothing "
                                        r"was loaded\)"):
        registry.load_recommender(str(folder))
    assert not mark.exists()


def test_score_with_a_strange_model_is_one_line_and_runs_nothing(stranger, tmp_path):
    folder, mark = stranger
    result = CliRunner().invoke(app, ["score", "--data", str(tmp_path), "--month", "2024-01", "--model", str(folder)])
    assert result.exit_code != 0 and isinstance(result.exception, DataError)
    assert "is not a tierwise recommender" in str(result.exception)
    assert not mark.exists()


def test_a_folder_without_an_mlmodel_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"^model .*: cannot load: "):
        registry.check_is_recommender(str(tmp_path))
