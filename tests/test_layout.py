"""The packages import from this repository's src/ (the import graph is checked in test_imports)."""

from __future__ import annotations

from pathlib import Path

import tierwise
import tierwise.features as features
import tierwise.models as models

SRC = Path(__file__).resolve().parents[1] / "src"


def test_packages_come_from_this_repository():
    # `features` and `models` are common top-level names: make sure we import ours
    for package in (features, models, tierwise):
        assert Path(package.__file__).resolve().is_relative_to(SRC), package.__file__
