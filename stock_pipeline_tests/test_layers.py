"""The package's layers, read from the source: what may import what, and where the
environment may be read. Import statements are collected with ``ast`` from every module,
at any depth (a function-level import is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stock_pipeline"

#: Packages of the plain core: callable from a notebook, no Dagster, no environment.
CORE = (
    "compute",
    "evaluation",
    "forecasting",
    "market_data",
    "trading",
    "universe",
    "warehouse",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, tree: ast.Module) -> set[str]:
    """Every module ``name`` imports (absolute names, relative imports resolved)."""
    found: set[str] = set()
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def internal(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    return {m for m in imports(name, tree) if m in known and m != name}


def stage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_core_imports_no_dagster_and_nothing_from_the_dagster_layer() -> None:
    offenders = []
    for name, tree in modules().items():
        if stage(name) not in CORE:
            continue
        for imported in imports(name, tree):
            top = imported.split(".")
            if (
                top[0] == "dagster"
                or top[0].startswith("dagster_")
                or (top[:2] in (["stock_pipeline", "defs"], ["stock_pipeline", "cli"]))
            ):
                offenders.append(f"{name} imports {imported}")
    assert not offenders, "\n".join(sorted(offenders))


def test_the_warehouse_imports_nothing_from_the_stages_above_it() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, tree in modules().items()
        if stage(name) == "warehouse"
        for imported in imports(name, tree)
        if imported.startswith("stock_pipeline.") and stage(imported) != "warehouse"
    ]
    assert not offenders, "\n".join(sorted(offenders))


def test_no_modules_import_each_other_in_a_loop() -> None:
    trees = modules()
    known = set(trees)
    graph = {name: internal(name, tree, known) for name, tree in trees.items()}
    # a package's __init__ re-exporting its own modules is not a loop of two modules
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycles = _cycles(graph)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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


@pytest.mark.parametrize("package", CORE)
def test_the_core_reads_no_environment(package: str) -> None:
    """Settings and the connection come in as arguments; only ``settings`` (and the
    backend start-up it configures) reads ``os.environ``."""
    offenders = []
    for name, tree in modules().items():
        if stage(name) != package:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, "\n".join(offenders)


def test_no_module_is_over_300_lines() -> None:
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, long
