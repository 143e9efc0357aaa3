"""The packages import from this repository's src/, and imports only go downward."""

from __future__ import annotations

import ast
from pathlib import Path

import tierwise.features as features
import tierwise.models as models
import tierwise

SRC = Path(__file__).resolve().parents[1] / "src"


def test_packages_come_from_this_repository():
    # `features` and `models` are common top-level names: make sure we import ours
    for package in (features, models, tierwise):
        assert Path(package.__file__).resolve().is_relative_to(SRC), package.__file__


def _imported_top_levels(package_dir: Path) -> set[str]:
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_imports_go_one_way():
    assert not {"models", "tierwise"} & _imported_top_levels(SRC / "features")
    assert "tierwise" not in _imported_top_levels(SRC / "models")
