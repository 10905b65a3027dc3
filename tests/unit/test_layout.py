"""The import rules of DESIGN.md, checked on the source so a violation fails the build."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "syncd"


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules() -> list[tuple[str, set[str]]]:
    return [
        (path.relative_to(PACKAGE.parent).as_posix(), imports_of(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def uses(imports: set[str], root: str) -> bool:
    return any(name == root or name.startswith(root + ".") for name in imports)


# (library or package, the only places allowed to import it)
ONLY_IN = [
    ("sqlalchemy", ("syncd/state/",)),
    ("alembic", ("syncd/state/",)),
    ("httpx", ("syncd/http.py", "syncd/sandbox/")),
    ("httpcore", ("syncd/http.py",)),
    ("typer", ("syncd/cli/",)),
    ("rich", ("syncd/cli/",)),
]
NEVER_FROM = [
    ("syncd/plan/", ("syncd.state", "syncd.queue", "syncd.vendors", "syncd.http")),
    ("syncd/vendors/", ("syncd.state",)),
    ("syncd/hris/", ("syncd.state", "syncd.queue", "syncd.vendors", "syncd.http")),
]


@pytest.mark.parametrize("library, allowed", ONLY_IN)
def test_library_is_imported_only_where_allowed(library, allowed):
    offenders = [
        name
        for name, imports in modules()
        if uses(imports, library) and not name.startswith(allowed)
    ]
    assert not offenders, f"{library} imported outside {allowed}: {offenders}"


@pytest.mark.parametrize("folder, forbidden", NEVER_FROM)
def test_stage_does_not_reach_into_later_stages(folder, forbidden):
    offenders = [
        (name, sorted(i for i in imports if any(uses({i}, f) for f in forbidden)))
        for name, imports in modules()
        if name.startswith(folder) and any(uses(imports, f) for f in forbidden)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("module", ["syncd.cli", "syncd.pipeline.plan"])
def test_command_line_and_plan_stage_load_without_pandas_or_arrow(module):
    """`syncd plan` starts reading the state database before pandas and Arrow load (a
    third of a second of its critical path), and `syncd --help` never loads them."""
    probe = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'httpx') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]"
