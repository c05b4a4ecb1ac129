"""The storage layer sits at the bottom: it imports nothing from the stages above it, and
opening the warehouse loads none of their heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import stock_pipeline.warehouse

WAREHOUSE = Path(stock_pipeline.warehouse.__file__).parent


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved against its package."""
    package = f"stock_pipeline.warehouse.{path.stem}".rsplit(".", 1)[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            names += [module] if node.module else [f"{base}.{a.name}" for a in node.names]
    return names


def test_the_warehouse_imports_no_other_package_of_the_product() -> None:
    modules = sorted(WAREHOUSE.glob("*.py"))
    assert len(modules) >= 5  # the glob found the package's modules
    upward = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported_modules(path)
        if name.split(".")[0] == "stock_pipeline"
        and not (name + ".").startswith("stock_pipeline.warehouse.")
    }
    assert not upward


def test_the_import_check_sees_an_upward_import(tmp_path) -> None:
    # the check above would catch the import this package once had
    module = tmp_path / "schema.py"
    module.write_text(
        "from stock_pipeline.market_data.indicators import INDICATOR_COLUMNS\n"
        "from . import connection\nimport stock_pipeline.settings\n"
    )
    assert imported_modules(module) == [
        "stock_pipeline.market_data.indicators",
        "stock_pipeline.warehouse.connection",
        "stock_pipeline.settings",
    ]


def test_importing_the_warehouse_loads_no_indicator_network_or_dagster_library() -> None:
    probe = "\n".join(
        [
            "import importlib, pkgutil, sys",
            "import stock_pipeline.warehouse as w",
            "found = list(pkgutil.iter_modules(w.__path__))",
            "for m in found: importlib.import_module(f'{w.__name__}.{m.name}')",
            "heavy = ('ta', 'keras', 'jax', 'dagster')",
            "print(','.join(n for n in heavy if n in sys.modules))",
            "print(len(found))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=WAREHOUSE.parent.parent,  # this checkout's package, as the tests import it
    )
    loaded, count = done.stdout.splitlines()
    assert loaded == ""
    assert int(count) >= 5
