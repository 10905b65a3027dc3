"""The mypy configuration in pyproject.toml is strict where DESIGN.md says, and only there.

mypy silently widens ``strict = true`` in an override to every module (python/mypy#11401),
so the scope is checked here on probe modules rather than trusted from the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

# Returns a value typed Any from a function declared to return int: an error only under
# warn_return_any, one of the strict flags.
LEAKS_ANY = "from typing import Any\n\n\ndef f(x: Any) -> int:\n    return x.value\n"
UNTYPED = "def f(x):\n    return x\n"
STRICT = ("plan", "queue", "pipeline")
LENIENT = ("hris", "sandbox", "state")


def check(root: Path, modules: dict[str, str]) -> str:
    """mypy's report, with the project's config, on a ``syncd`` package of ``modules``
    (dotted name below ``syncd`` -> source)."""
    package = root / "syncd"
    for name, source in modules.items():
        path = package.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents[:-1]:
            (root / folder / "__init__.py").touch()
        path.write_text(source)
    cache = ["--cache-dir", str(root / ".mypy_cache"), "--no-site-packages"]
    stdout, stderr, _ = api.run(["--config-file", str(PYPROJECT), *cache, str(package)])
    assert not stderr, stderr
    return stdout


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report on one module that leaks Any in each strict and each lenient package."""
    probes = {f"{name}.probe": LEAKS_ANY for name in STRICT + LENIENT}
    return check(tmp_path_factory.mktemp("probes"), probes)


@pytest.mark.parametrize("name", STRICT)
def test_strict_packages_refuse_any_leaking_out(reported: str, name: str) -> None:
    assert f"syncd/{name}/probe.py:5: error: Returning Any" in reported


@pytest.mark.parametrize("name", LENIENT)
def test_other_packages_are_not_strict(reported: str, name: str) -> None:
    assert f"syncd/{name}/probe.py" not in reported


def test_unannotated_functions_are_refused_everywhere(tmp_path: Path) -> None:
    reported = check(tmp_path, {"hris.loose": UNTYPED})
    assert "syncd/hris/loose.py:1: error: Function is missing a type annotation" in reported
