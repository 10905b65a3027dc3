"""One plain line means one line (issue 11, item 16).

Captured through a pipe, as cron or a CI log sees it, and with no ``COLUMNS`` in the
environment: error lines and table rows are never hard-wrapped at 80 columns (long paths
and op descriptions stay whole), and values from the export are printed as they are,
never read as rich markup (``[bold]``) or emoji codes (``root:x:0:0`` is not ``root❌0:0``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.kit import shown, syncd

CONFIG = """\
[state]
url = "sqlite:///state.db"

[sources.hris]
path = "export.csv"
columns = { employee_id = "Employee ID", first_name = "First Name", last_name = "Last Name", \
email = "Email", department = "Department", status = "Status" }
derived = { username = "{email}" }
groups = [{ name = "dept", columns = ["department"] }]

[connections.lms]
vendor = "litmos"
base_url = "sandbox:"
credentials = { api_key = "not-used-0000" }
groups = ["dept"]
"""
LONG_EMAIL = (
    "ann.with.a.rather.long.address@a-long-subdomain-for-testing-line-wraps.corp.example.com"
)
EXPORT = f"""\
Employee ID,First Name,Last Name,Email,Department,Status
1001,Ann,root:x:0:0,{LONG_EMAIL},[bold]Ops[/],Active
1002,Bob,Smith,root:x:0:0,Ops,Active
"""


def piped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m syncd` with both streams on pipes and no terminal width to go by (an
    empty ``COLUMNS`` is no width at all to rich, as if unset)."""
    return syncd(*args, cwd=cwd, env={"COLUMNS": ""})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config and export in a folder whose path alone is wider than 80 columns."""
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "hr-exports"
    deep.mkdir(parents=True)
    (deep / "syncd.toml").write_text(CONFIG, encoding="utf-8")
    (deep / "export.csv").write_text(EXPORT, encoding="utf-8")
    return deep


def line_with(text: str, output: str) -> str:
    found = [line for line in output.splitlines() if text in line]
    assert found, f"no line holds {text!r} whole:\n{output}"
    return found[0]


def test_an_error_is_one_line_with_the_whole_path(folder):
    missing = folder / "no-such-config-file-in-this-folder.toml"
    proc = piped("validate", "--config", str(missing), cwd=folder)
    assert proc.returncode == 1, shown(proc)
    assert proc.stderr.strip() == f"error: {missing}: configuration file not found", shown(proc)


def test_validate_prints_values_as_they_are_and_paths_whole(folder):
    proc = piped("validate", "--config", "syncd.toml", cwd=folder)
    assert proc.returncode == 1, shown(proc)
    heading = line_with(str(folder / "export.csv"), proc.stdout)
    assert heading.startswith(str(folder / "export.csv"))
    row = line_with("`root:x:0:0` is not an email address", proc.stdout)
    assert "1002" in row and "invalid_email" in row
    assert "❌" not in proc.stdout + proc.stderr


def test_plan_rows_are_whole_and_markup_in_values_is_text(folder):
    proc = piped("plan", "--config", "syncd.toml", cwd=folder)
    assert proc.returncode == 2, shown(proc)
    line_with(f"create user 1001 ({LONG_EMAIL})", proc.stdout)
    line_with("create group '[bold]Ops[/]'", proc.stdout)
    assert "❌" not in proc.stdout + proc.stderr
