"""`syncd validate` as a user runs it: real files, `python -m syncd` in a fresh folder.

Exit codes are part of the contract (0 clean, 1 rows rejected, 2 the file is unusable), so
most tests run the real command as a subprocess; a few that only look at the printed
tables use typer's runner in-process, which is faster.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncd.cli import app
from tests.e2e.kit import EXAMPLE, shown, syncd

SECRET_ENV = "SYNCD_E2E_VALIDATE_KEY"
SECRET = "k-validate-0123456789abcdef"

HEADER = "Employee ID,First Name,Last Name,Email,Department,Manager ID,Hire Date,Status"
CONFIG = """\
[state]
url = "sqlite:///{folder}/nowhere/state.db"

[sources.hris]
path = "export.csv"
columns = {{ employee_id = "employee id", first_name = "First Name", last_name = "Last Name", \
email = "Email", department = "Department", manager_id = "Manager ID", hire_date = "Hire Date", \
status = "Status" }}
date_formats = ["%m/%d/%y"]
groups = [{{ name = "dept", columns = ["department"] }}]

[connections.lms]
vendor = "litmos"
base_url = "https://api.litmos.com/v1.svc"
credentials = {{ api_key = "${{{secret_env}}}" }}
groups = ["dept"]
"""


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return syncd("validate", *args, cwd=cwd, env={SECRET_ENV: SECRET})


def count_of(out: str, label: str) -> int:
    """The number in the summary table's row ``label``."""
    match = re.search(rf"│ {label} +│ +([\d,]+) │", out)
    assert match, f"no `{label}` row in:\n{out}"
    return int(match.group(1).replace(",", ""))


def people(count: int, start: int = 1001) -> list[str]:
    return [
        f"{n},First{n},Last{n},p{n}@corp.test,Dept{n % 3},{start},01/0{1 + n % 9}/20,Active"
        for n in range(start, start + count)
    ]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A working folder with a config and a clean export of five people."""
    (tmp_path / "syncd.toml").write_text(
        CONFIG.format(folder=tmp_path.as_posix(), secret_env=SECRET_ENV), encoding="utf-8"
    )
    write_export(tmp_path / "export.csv", people(5))
    return tmp_path


def write_export(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return validate(*args, "--config", str(folder / "syncd.toml"), cwd=folder)


# --------------------------------------------------------------------------- the sample


def test_the_shipped_example_shows_its_bad_rows(tmp_path):
    report = tmp_path / "out" / "rejected.csv"
    proc = validate("--config", str(EXAMPLE), "--report", str(report), cwd=tmp_path)
    assert proc.returncode == 1, shown(proc)
    out = proc.stdout
    assert "hris-export.csv" in out and "encoding utf-8-sig" in out
    for label, count in [("read", 150), ("accepted", 147), ("rejected", 3), ("groups", 36)]:
        assert count_of(out, label) == count
    assert "duplicate_key" in out and "invalid_email" in out and "unknown_manager" in out
    assert "`r.okafor@acme` is not an email address" in out
    with report.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["key"], r["column"], r["reason"], r["value"]) for r in rows] == [
        ("98", "100097", "Employee ID", "duplicate_key", "100097"),
        ("99", "100097", "Employee ID", "duplicate_key", "100097"),
        ("123", "100122", "Work Email", "invalid_email", "r.okafor@acme"),
    ]
    assert list(rows[0]) == ["file", "line", "key", "column", "reason", "value", "message"]
    assert rows[0]["file"].endswith("config/sample/hris-export.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no state database, no litter"


# --------------------------------------------------------------------------- exit codes


def test_a_clean_export_exits_0_and_touches_no_state_database(folder):
    proc = run(folder)
    assert proc.returncode == 0, shown(proc)
    assert count_of(proc.stdout, "read") == 5
    assert count_of(proc.stdout, "rejected") == 0
    assert "rejected rows" not in proc.stdout
    assert not (folder / "nowhere").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["export.csv", "syncd.toml"]


def test_file_argument_overrides_the_configured_path(folder):
    other = folder / "elsewhere" / "march.csv"
    other.parent.mkdir()
    write_export(other, [*people(3), "1001,Dup,Key,,Dept1,,,Active", ",No,Key,,Dept1,,,Active"])
    proc = run(folder, str(other))
    assert proc.returncode == 1, shown(proc)
    assert "march.csv" in proc.stdout
    assert "duplicate_key" in proc.stdout and "missing_key" in proc.stdout
    assert "`1001` is the key of 2 rows (lines 2, 5); every one is rejected" in proc.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "file not found"),
        (b"", "the file is empty"),
        (HEADER.encode() + b"\n", "has a header but no rows"),
        (b"Employee ID,Email\n1001,a@b.test\n", "required columns `First Name` (for `first_name`)"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "not a CSV file: this is a ZIP archive"),
        (b"%PDF-1.4\n" + bytes(range(256)), "not a CSV file: this is a PDF document"),
        (b"just some words\nand more words\n", "not a CSV file"),
    ],
    ids=["missing", "empty", "header-only", "column-absent", "xlsx", "pdf", "prose"],
)
def test_a_file_level_error_exits_2_and_writes_no_report(folder, content, message):
    export = folder / "export.csv"
    if content is None:
        export.unlink()
    else:
        export.write_bytes(content)
    report = folder / "report.csv"
    proc = run(folder, "--report", str(report))
    assert proc.returncode == 2, shown(proc)
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert str(export) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not report.exists()


def test_a_configuration_error_exits_1(folder):
    config = folder / "syncd.toml"
    config.write_text(config.read_text().replace("date_formats", "date_fromats"))
    proc = run(folder)
    assert proc.returncode == 1, shown(proc)
    assert "sources.hris.date_fromats: unknown key" in proc.stderr


def test_secrets_never_appear(folder):
    write_export(folder / "export.csv", [*people(3), "1009,A,B,not-an-email,Dept1,,,Active"])
    proc = run(folder, "--report", str(folder / "r.csv"))
    assert proc.returncode == 1, shown(proc)
    assert SECRET not in proc.stdout + proc.stderr
    assert SECRET not in (folder / "r.csv").read_text()


# --------------------------------------------------------------------------- output


def invoke(folder: Path, *args: str) -> tuple[int, str]:
    """The command in-process (typer's runner); only for tests of what is printed."""
    result = CliRunner().invoke(
        app,
        ["validate", *args, "--config", str(folder / "syncd.toml")],
        env={SECRET_ENV: SECRET, "COLUMNS": "200"},
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_only_the_first_rejected_rows_are_printed(folder):
    bad = [f"{n},A,B,bad{n},Dept1,,,Active" for n in range(2000, 2025)]
    write_export(folder / "export.csv", [*people(5), *bad])
    code, out = invoke(folder)
    assert code == 1
    assert "bad2009" in out and "bad2010" not in out
    assert "... and 15 more rejected row(s) (--report FILE writes them all)" in out
    code, out = invoke(folder, "--show", "2")
    assert "bad2001" in out and "bad2002" not in out
    assert "... and 23 more rejected row(s)" in out


def test_warnings_and_groups_are_shown(folder):
    write_export(folder / "export.csv", [*people(4), "1100,A,B,a@b.test,Dept9,4242,,Active"])
    code, out = invoke(folder)
    assert code == 0, "a warning alone is not a rejection"
    assert "warnings (the rows are kept)" in out
    assert "manager `4242` is not an accepted person in this export" in out
    assert "│   dept " in out


def test_several_sources_need_a_choice(folder):
    config = folder / "syncd.toml"
    extra = (
        '\n[sources.contractors]\npath = "export.csv"\ncolumns = { employee_id = "Employee ID" }\n'
    )
    config.write_text(config.read_text() + extra)
    proc = run(folder)
    assert proc.returncode == 1
    assert "several sources (contractors, hris); choose one with --source" in proc.stderr
    code, out = invoke(folder, "--source", "contractors")
    assert code == 0 and "source `contractors`" in out
    proc = run(folder, "--source", "nope")
    assert proc.returncode == 1 and "no source named `nope`" in proc.stderr


def test_a_report_that_cannot_be_written_is_a_clear_error(folder):
    write_export(folder / "export.csv", [*people(2), "1009,A,B,not-an-email,Dept1,,,Active"])
    blocker = folder / "file"
    blocker.write_text("not a folder")
    proc = run(folder, "--report", str(blocker / "report.csv"))
    assert proc.returncode == 1, shown(proc)
    assert "cannot write the report" in proc.stderr and "Traceback" not in proc.stderr


def test_an_error_naming_brackets_is_printed_as_written(folder):
    """A message is plain text: a file or value with `[...]` in it must not vanish as markup."""
    odd = folder / "export [bold].csv"
    proc = run(folder, str(odd))
    assert proc.returncode == 2, shown(proc)
    assert "export [bold].csv" in proc.stderr
