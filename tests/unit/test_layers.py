"""The layering of lambdas/, read from the source with `ast`: handlers -> logic -> dal -> shared.
A module imports only from its own layer or the ones below; logic reaches AWS and PostgreSQL
only through the dal (no pg8000, boto3 or botocore); no import cycles, function-level imports
included (a lazy import hides a cycle, it does not remove it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"
LAYERS = {"shared": 0, "dal": 1, "logic": 2, "handlers": 3}
DRIVERS = {"pg8000", "boto3", "botocore"}  # the dal's ports wrap these


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(LAMBDAS.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file: `from lambdas.dal import sql` is
    lambdas.dal.sql when that is a module, else lambdas.dal."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == "lambdas" else None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in graph.items():
        own = layer(module)
        for other in sorted(imported):
            theirs = layer(other)
            if own is not None and theirs is not None and theirs > own:
                found.append(f"{module} imports {other}")
    return found


def driver_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {other}"
        for module, imported in graph.items()
        if layer(module) == LAYERS["logic"]
        for other in sorted(imported)
        if other.split(".")[0] in DRIVERS
    ]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in graph:
                continue
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_of_lambdas_is_in_a_layer():
    assert GRAPH, "no modules found under lambdas/"
    outside = [m for m in MODULES if m.count(".") >= 2 and layer(m) is None]
    assert outside == []


def test_a_module_imports_only_from_its_own_layer_or_below():
    assert layer_violations(GRAPH) == []


def test_logic_reaches_aws_and_postgresql_only_through_the_dal():
    assert driver_imports(GRAPH) == []


def test_no_import_cycles_in_lambdas():
    assert cycles(GRAPH) == []


# ---- the checks themselves find what they look for --------------------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"lambdas.dal.rds": {"lambdas.logic.target"}, "lambdas.logic.target": set()}, 1),
        ({"lambdas.shared.models": {"lambdas.handlers.report"}}, 1),
        ({"lambdas.handlers.report": {"lambdas.logic.report", "lambdas.dal.rds", "lambdas.shared.models"}}, 0),
    ],
)
def test_an_upward_import_is_a_violation(graph: dict[str, set[str]], expected: int):
    assert len(layer_violations(graph)) == expected


def test_a_driver_import_in_logic_is_found():
    graph = {"lambdas.logic.verify": {"pg8000.exceptions"}, "lambdas.dal.database": {"pg8000.native"}}
    assert driver_imports(graph) == ["lambdas.logic.verify imports pg8000.exceptions"]


def test_a_function_level_import_counts(tmp_path: Path):
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from lambdas.logic import database_apply\n    import boto3\n")
    assert imports(lazy) == {"lambdas.logic.database_apply", "boto3"}


def test_a_cycle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]
