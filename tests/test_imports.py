"""The import graph of src/: imports go one way, no module circles, no reaching into privates.

Modules are named as installed (`tierwise.features._io` for src/features/_io.py). A package is
a folder with an `__init__.py`; a module is private when its own name starts with `_`. Code in
one package may import another package only through its public names (its `__init__` or a
public module), never a `_private` module of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# where each folder of src/ installs (pyproject: [tool.setuptools] package-dir)
ROOTS = {"tierwise": "tierwise", "features": "tierwise.features", "models": "tierwise.models"}
# the floors, lowest first: a floor imports only the floors below it
FLOORS = ("tierwise.features", "tierwise.models", "tierwise")


def _module_name(path: Path) -> str:
    relative = path.relative_to(SRC).with_suffix("")
    parts = list(relative.parts)
    parts[0] = ROOTS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


MODULES = _modules()


def _package_of(module: str) -> str:
    """The package a module belongs to (itself when it is a package)."""
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = _package_of(module).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported module inside src, line) for each import a module makes.

    `from package import name` counts as importing `package.name` when that is a module.
    Every import counts, wherever it stands: inside a function or under `if TYPE_CHECKING:`
    it cannot make a circle at import time, but it still ties the two modules together.
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES or alias.name.split(".")[0] == "tierwise":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if not target.startswith("tierwise"):
                continue
            for alias in node.names:
                child = f"{target}.{alias.name}"
                yield (child if child in MODULES else target), node.lineno


def _floor(module: str) -> int:
    return max(i for i, floor in enumerate(FLOORS) if module == floor or module.startswith(floor + "."))


def _top_package(module: str) -> str:
    """The first-level unit a module belongs to: tierwise.features, tierwise.scoring, tierwise.training."""
    return ".".join(module.split(".")[:2])


def _owner_of_private(target: str) -> str | None:
    """The package a private module is private to (`tierwise.models` for tierwise.models._reasons)."""
    parts = target.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_"):
            return ".".join(parts[:i])
    return None


EDGES = {module: sorted(set(_imports(module))) for module in MODULES}


def test_every_module_is_found():
    assert {"tierwise", "tierwise.features", "tierwise.models"} <= set(MODULES)
    assert all(target in MODULES for edges in EDGES.values() for target, _ in edges), (
        "an import names a tierwise module that does not exist"
    )


def test_floors_import_only_downward():
    upward = [
        f"{MODULES[module].relative_to(SRC)}:{line} imports {target}"
        for module, edges in EDGES.items()
        for target, line in edges
        if _floor(target) > _floor(module)
    ]
    assert not upward, "imports go application -> models -> features:\n" + "\n".join(upward)


def test_no_module_imports_another_packages_private_module():
    reaching = []
    for module, edges in EDGES.items():
        for target, line in edges:
            owner = _owner_of_private(target)
            if owner is not None and not (module == owner or module.startswith(owner + ".")):
                reaching.append(f"{MODULES[module].relative_to(SRC)}:{line} imports {target}")
    assert not reaching, "use the package's public names:\n" + "\n".join(reaching)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, edges in EDGES.items():
        for target, _ in edges:
            # a package's __init__ re-exporting its own modules is not a circle
            if target == module:
                continue
            if module == _package_of(target) and MODULES[module].name == "__init__.py":
                continue
            graph[module].add(target)
    return graph


def test_no_import_circles_between_modules():
    circles = _cycles(_module_graph())
    assert not circles, "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_no_import_circles_between_packages():
    graph: dict[str, set[str]] = {}
    for module, edges in EDGES.items():
        graph.setdefault(_top_package(module), set())
        for target, _ in edges:
            if _top_package(target) != _top_package(module):
                graph[_top_package(module)].add(_top_package(target))
                graph.setdefault(_top_package(target), set())
    circles = _cycles(graph)
    assert not circles, "packages that import each other:\n" + "\n".join(" <-> ".join(c) for c in circles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_cycle_finder_finds_circles(source, expected):
    assert _cycles(source) == expected
