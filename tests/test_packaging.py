"""pyproject.toml declares what the code imports: every third-party package src/ imports is a
dependency with a lower bound; what only the Spark engine or the benchmarks import is an extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
FIRST_PARTY = {"tierwise", "bench_harness"}  # bench_harness: bench/run.py's name for its own module
OPTIONAL = {"pyspark": "spark"}  # imported by src/ only inside the Spark engine's functions


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(folder: Path) -> set[str]:
    """Top-level names of the absolute imports in the folder's modules, minus the stdlib's."""
    out: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                out.add(node.module.split(".")[0])
    return out - set(sys.stdlib_module_names) - FIRST_PARTY


def _distributions(names: set[str]) -> dict[str, set[str]]:
    """Import name -> the distributions that install it (`sklearn` -> `scikit-learn`; `mlflow`
    -> `mlflow` and its parts `mlflow-skinny`, ...)."""
    installed = packages_distributions()
    missing = sorted(n for n in names if n not in installed)
    assert not missing, f"imported but not installed (add them to pyproject.toml): {missing}"
    return {n: {_name(d) for d in installed[n]} for n in names}


def _declared(requirements: list[str]) -> dict[str, str]:
    return {_name(r): r for r in requirements}


def test_every_import_of_src_is_a_dependency_with_a_lower_bound():
    core = _declared(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    undeclared, unbounded = [], [r for r in core.values() if ">=" not in r]
    for module, dists in sorted(_distributions(_imports(REPO / "src")).items()):
        group = core if module not in OPTIONAL else _declared(extras[OPTIONAL[module]])
        if not dists & set(group):
            undeclared.append(f"{module} ({', '.join(sorted(dists))})")
    assert not undeclared, f"src/ imports these, pyproject.toml does not declare them: {undeclared}"
    assert not unbounded, f"dependencies without a lower bound: {unbounded}"


def test_extras_hold_the_optional_pieces_and_make_installs_them():
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared = {dist for group in extras.values() for dist in _declared(group)}
    declared |= set(_declared(PYPROJECT["project"]["dependencies"]))
    undeclared = sorted(m for m, dists in _distributions(_imports(REPO / "bench")).items() if not dists & declared)
    assert not undeclared, f"bench/ imports undeclared packages: {undeclared}"
    assert "pyspark" in _declared(extras["spark"]) and "psutil" in _declared(extras["bench"])
    assert not {"pyspark", "psutil"} & set(_declared(PYPROJECT["project"]["dependencies"]))
    assert all(">=" in r for group in extras.values() for r in group)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "-e '.[dev,spark,bench]'" in makefile, "make install must install the dev, spark and bench extras"


def test_the_build_backend_reads_the_license_string():
    setuptools = next(r for r in PYPROJECT["build-system"]["requires"] if _name(r) == "setuptools")
    floor = tuple(int(p) for p in setuptools.split(">=")[1].split("."))
    assert floor >= (77,), f"{setuptools}: the PEP 639 `license = \"...\"` string needs setuptools >= 77"


def test_every_package_folder_of_src_is_installed():
    """The package list is written out (package-dir maps src/features and src/models under
    tierwise): a new sub-package missing from it would be left out of the install."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    roots = {folder: name for name, folder in setuptools["package-dir"].items()}
    found = set()
    for init in (REPO / "src").rglob("__init__.py"):
        folder = init.parent.relative_to(REPO)
        root = next(r for r in sorted(roots, key=len, reverse=True) if folder.as_posix().startswith(r))
        rest = folder.as_posix().removeprefix(root).strip("/")
        found.add(".".join([roots[root], *rest.split("/")]) if rest else roots[root])
    assert sorted(found - set(setuptools["packages"])) == [], "add these to [tool.setuptools] packages"
    assert sorted(set(setuptools["packages"]) - found) == [], "listed packages without a folder"
