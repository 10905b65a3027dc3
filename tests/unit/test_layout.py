"""The import rules of DESIGN.md, checked on the source so a violation fails the build.

Imports are read from the syntax tree of every module, those inside functions and under
``TYPE_CHECKING`` included: a deferred import still ties two packages together. Rules are
stated per top-level unit of ``syncd`` (a package, or a module directly under ``syncd/``),
never per file, so moving a module between packages is checked by where it lands.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "syncd"
ROOT = "syncd"
"""The unit of ``syncd/__init__.py`` (and of a name imported from it that is no module)."""


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


def unit_of_path(path: Path) -> str:
    """The top-level unit a source file belongs to: ``syncd/state/db.py`` -> ``state``."""
    parts = path.relative_to(PACKAGE).parts
    if len(parts) > 1:
        return parts[0]
    return ROOT if parts[0] == "__init__.py" else parts[0].removesuffix(".py")


def unit_of_name(dotted: str) -> str | None:
    """The unit a dotted module name refers to, or None when it is not part of syncd."""
    parts = dotted.split(".")
    if parts[0] != ROOT:
        return None
    if len(parts) == 1:
        return ROOT
    head = parts[1]
    return head if (PACKAGE / head).is_dir() or (PACKAGE / f"{head}.py").is_file() else ROOT


def _imported(path: Path) -> Iterator[str]:
    """Every syncd module name ``path`` imports, relative imports resolved."""
    package = path.relative_to(PACKAGE.parent).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            # `from syncd import spreadsheet` imports the module syncd.spreadsheet
            yield from (f"{module}.{alias.name}" for alias in node.names)


def unit_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> unit it imports -> the files that do (self-imports left out)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of_path(path)
        edges = graph.setdefault(source, {})
        for name in _imported(path):
            target = unit_of_name(name)
            if target is not None and target != source:
                files = edges.setdefault(target, [])
                where = path.relative_to(PACKAGE.parent).as_posix()
                if where not in files:
                    files.append(where)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One import cycle between units as a path ``[a, b, ..., a]``, or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(unit: str) -> list[str] | None:
        stack.append(unit)
        on_stack.add(unit)
        for target in sorted(graph.get(unit, {})):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        on_stack.discard(stack.pop())
        done.add(unit)
        return None

    for unit in sorted(graph):
        if unit not in done and (cycle := visit(unit)) is not None:
            return cycle
    return None


LAYERS: list[tuple[str, ...]] = [
    ("__main__", "cli"),
    ("pipeline", "service"),
    ("queue", "results"),
    ("sandbox",),
    ("state", "vendors"),
    ("hris", "plan", "http"),
    ("limiter",),
    ("config", "config_reference", "spreadsheet", "atomic", "files", "log", "errors", ROOT),
]
"""The layer order of DESIGN.md, top to bottom: a unit imports only from its own layer
(without a cycle) or from layers below it."""

RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}

BOTTOM = {"config", "log", "errors", "atomic", "files", ROOT}
ONLY_FROM = [
    ("plan", BOTTOM),
    ("hris", BOTTOM),
    ("http", {"limiter", *BOTTOM}),
    ("state", {"plan", *BOTTOM}),
    ("vendors", {"plan", "http", "limiter", *BOTTOM}),
    ("sandbox", BOTTOM),
]
"""Units that import only these others (DESIGN's import rules): ``plan`` and ``hris`` are pure
stages; ``state`` stores plan values and knows no stage that uses it; ``vendors`` never
touches the database; the simulators are a test tool apart from the sync path, imported
only from above (``pipeline`` attaches their ``sandbox:`` URLs)."""


# (library or package, the only places allowed to import it)
ONLY_IN = [
    ("sqlalchemy", ("syncd/state/",)),
    ("alembic", ("syncd/state/",)),
    ("httpx", ("syncd/http.py", "syncd/sandbox/")),
    ("httpcore", ("syncd/http.py",)),
    ("typer", ("syncd/cli/",)),
    ("rich", ("syncd/cli/",)),
    ("prometheus_client", ("syncd/service/",)),
]


@pytest.mark.parametrize("library, allowed", ONLY_IN)
def test_library_is_imported_only_where_allowed(library, allowed):
    offenders = [
        name
        for name, imports in modules()
        if uses(imports, library) and not name.startswith(allowed)
    ]
    assert not offenders, f"{library} imported outside {allowed}: {offenders}"


def test_every_unit_has_a_place_in_the_layer_order():
    assert sorted(set(unit_graph()) - set(RANK)) == []


def test_imports_flow_down_the_layer_order_only():
    upward = [
        f"{source} imports {target} (in {', '.join(files)})"
        for source, edges in unit_graph().items()
        for target, files in edges.items()
        if RANK[target] < RANK[source]
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("unit, allowed", ONLY_FROM)
def test_unit_imports_only_what_it_may(unit, allowed):
    extra = {
        target: files
        for target, files in unit_graph().get(unit, {}).items()
        if target not in allowed
    }
    assert not extra, f"{unit} may import only {sorted(allowed)}: {extra}"


def test_no_import_cycle_between_units():
    graph = unit_graph()
    cycle = find_cycle(graph)
    steps = [f"{a} ({graph[a][b][0]})" for a, b in pairwise(cycle or [])]
    assert cycle is None, "import cycle: " + " -> ".join([*steps, cycle[-1]])


def test_the_cycle_finder_names_a_cycle_and_passes_a_chain():
    chain = {"a": {"b": ["a.py"]}, "b": {"c": ["b.py"]}, "c": {}}
    loop = {"a": {"b": ["a.py"]}, "b": {"c": ["b.py"]}, "c": {"a": ["c.py"]}}
    assert find_cycle(chain) is None
    assert find_cycle(loop) == ["a", "b", "c", "a"]


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


def test_planning_asks_every_vendor_its_profile_without_loading_httpx():
    """`syncd plan` calls nobody: the connectors' modules leave their HTTP client (httpx,
    its import and its teardown: a tenth of a second of every plan) to the code that
    calls a vendor."""
    probe = (
        "import sys, syncd.vendors as v; [v.profile(name) for name in v.REGISTRY]; "
        "print(len(v.REGISTRY), 'httpx' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.split() == ["3", "False"]


def _test_imports() -> Iterator[tuple[str, str]]:
    """(test file, imported module) for every import of the test tree's own modules (as
    ``tests.…`` or, in pytest's rootdir-relative form, a bare ``test_…``)."""
    tests = Path(__file__).resolve().parents[1]
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("tests") or node.module.startswith("test_"):
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                    for name in [node.module, *names]:
                        yield str(path.relative_to(tests.parent)), name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(("tests", "test_")):
                        yield str(path.relative_to(tests.parent)), alias.name


def test_tests_share_helpers_through_kit_modules_never_through_test_modules():
    """Helpers a test module shares live in its folder's ``kit.py`` (or ``tests/fixtures``):
    importing a test module runs its fixtures' and tests' imports and hides where a helper
    lives."""
    offending = sorted(
        (path, name)
        for path, name in _test_imports()
        if any(part.startswith("test_") for part in name.split("."))
    )
    assert offending == []


def test_each_test_folder_keeps_its_helpers_in_one_module_named_kit():
    tests = Path(__file__).resolve().parents[1]
    helpers = sorted(
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if path.parent.name != "fixtures"
        and path.name not in ("kit.py", "conftest.py", "__init__.py")
        and not path.name.startswith("test_")
    )
    assert helpers == []
