"""The package's layers, read from its source (every import statement, type-only ones included).

Arrows point one way: no subpackage imports another that imports it back, however long the loop;
the daemon, the composition root and the command line sit on top and nothing below imports them;
the config is a schema and imports no stage. The root package is the public facade: it names the
library API lazily, and modules below may take only ``__version__`` from it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import edgeface

PACKAGE = Path(edgeface.__file__).parent
ROOT = "edgeface"


@dataclass(frozen=True)
class Import:
    source: str
    """The importing unit: a subpackage (``vision``) or top-level module (``app``) of edgeface."""
    target: str
    """The imported unit, or ``edgeface`` for the root package itself."""
    names: tuple[str, ...]
    """The names taken with ``from … import``; empty for ``import …``."""
    where: str


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def imports() -> Iterator[Import]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[:-1]
        if parts[-1] == "__init__":
            parts = package
        module = ".".join(parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                name = ".".join(base + ([node.module] if node.module else []))
                found = [(name, tuple(alias.name for alias in node.names))]
            else:
                continue
            for target, names in found:
                if target.split(".")[0] == ROOT and unit(target) != unit(module):
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    yield Import(unit(module), unit(target), names, where)


IMPORTS = list(imports())


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        if ROOT not in (imp.source, imp.target):
            edges[imp.source].add(imp.target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_reader_sees_the_imports_the_layers_are_built_on() -> None:
    # Guards the test itself: a parser that found nothing would pass every rule below.
    edges = graph()
    assert {"daemon", "vision", "config"} <= edges["app"]
    assert "models" in edges["vision"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_subpackage_imports_one_that_imports_it_back() -> None:
    edges = graph()
    loops = cycles(edges)
    detail = [
        f"{' ↔ '.join(loop)}: " + ", ".join(i.where for i in IMPORTS if i.source in loop and i.target in loop)
        for loop in loops
    ]
    assert not loops, detail


def test_nothing_below_imports_the_daemon_the_composition_root_or_the_command_line() -> None:
    allowed = {"daemon": {"app", "cli"}, "app": {"cli"}, "cli": {"__main__"}}
    wrong = [f"{i.where} imports {i.target}" for i in IMPORTS if i.source not in allowed.get(i.target, {i.source})]
    assert not wrong


def test_the_config_is_a_schema_that_imports_no_stage() -> None:
    # It validates against the model catalogue (profile names, pinned checksums) and raises the package's errors.
    stages = sorted({i.target for i in IMPORTS if i.source == "config"} - {"models", "errors"})
    assert not stages, [i.where for i in IMPORTS if i.source == "config" and i.target in stages]


def test_modules_below_take_only_the_version_from_the_root_package() -> None:
    # The root package exports the library API lazily; importing more from it would load that API.
    wrong = [i.where for i in IMPORTS if i.target == ROOT and i.source != ROOT and set(i.names) != {"__version__"}]
    assert not wrong
