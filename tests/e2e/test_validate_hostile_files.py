"""Hostile export files through the real CLI: what a user sees, and what reaches the LMS.

A file mixing UTF-8 and cp1252 is read in the encoding most of it is in, its other rows are
quarantined with a file-level warning, and no name reaches the LMS as mojibake; a field too
long for the CSV reader is named with its line and column; a named pipe as the source is
refused at once, in one line, by every command that reads the export.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from syncd.sandbox.running import RunningSandbox
from tests.e2e.kit import shown, syncd

KEY_ENV = "SYNCD_E2E_HOSTILE_KEY"
HEADER = "Employee ID,First Name,Last Name,Email,Department,Status"
CONFIG = """\
[state]
url = "sqlite:///{folder}/state.db"

[sources.hris]
path = "{path}"
columns = {{ employee_id = "Employee ID", first_name = "First Name", last_name = "Last Name", \
email = "Email", department = "Department", status = "Status" }}
derived = {{ username = "{{email}}" }}
groups = [{{ name = "dept", columns = ["department"] }}]

[connections.lms]
vendor = "litmos"
base_url = "{base_url}"
credentials = {credentials}
options = {{ source = "syncd-e2e-hostile" }}
groups = ["dept"]
"""


def configure(
    folder: Path, path: str = "export.csv", sandbox: RunningSandbox | None = None
) -> Path:
    """A config reading ``path``: against ``sandbox``, else the in-process simulator."""
    config = folder / "syncd.toml"
    config.write_text(
        CONFIG.format(
            folder=folder.as_posix(),
            path=path,
            base_url=f"{sandbox.base_url}/v1.svc" if sandbox else "sandbox:",
            credentials=f'{{ api_key = "${{{KEY_ENV}}}" }}' if sandbox else "{}",
        ),
        encoding="utf-8",
    )
    return config


def run(
    *args: str, folder: Path, sandbox: RunningSandbox | None = None
) -> subprocess.CompletedProcess[str]:
    env = {KEY_ENV: sandbox.credentials["apikey"]} if sandbox else {}
    return syncd(*args, "--config", str(folder / "syncd.toml"), cwd=folder, env=env)


def mixed_export(path: Path) -> None:
    """Mostly UTF-8, as modern HRIS write, with two rows pasted in from a cp1252 system."""
    rows = [
        "1001,José,Núñez,jose@corp.test,Sales,Active".encode(),
        "1002,Zoë,Lee,zoe@corp.test,Sales,Active".encode(),
        "1003,Renée,Müller,renee@corp.test,Sales,Active".encode("cp1252"),
        b"1004,Ann,Ray,ann@corp.test,Support,Active",
        "1005,André,Fox,andre@corp.test,Support,Active".encode("cp1252"),
    ]
    path.write_bytes(HEADER.encode() + b"\n" + b"".join(r + b"\n" for r in rows))


# --------------------------------------------------------------------------- mixed encodings


def test_validate_quarantines_the_rows_in_the_other_encoding_with_a_file_warning(tmp_path):
    configure(tmp_path)
    mixed_export(tmp_path / "export.csv")
    report = tmp_path / "rejected.csv"
    proc = run("validate", "--report", str(report), folder=tmp_path)
    assert proc.returncode == 1, shown(proc)
    assert "encoding utf-8" in proc.stdout
    assert "mixed_encoding" in proc.stdout
    assert (
        "the file mixes encodings: it is read as UTF-8 and 2 row(s) whose bytes are not valid "
        "UTF-8 (they look like cp1252) are rejected"
    ) in " ".join(proc.stdout.split())
    assert "JosÃ©" not in proc.stdout
    text = report.read_text(encoding="utf-8")
    assert "Renée" in text and "André" in text
    assert text.count("mixed_encoding") == 2


def test_reconcile_never_sends_mojibake_and_creates_only_the_clean_rows(tmp_path, litmos_sandbox):
    configure(tmp_path, sandbox=litmos_sandbox)
    mixed_export(tmp_path / "export.csv")
    proc = run("reconcile", folder=tmp_path, sandbox=litmos_sandbox)
    assert proc.returncode == 0, shown(proc)
    users = litmos_sandbox.simulator.store.users.values()  # type: ignore[attr-defined]
    names = sorted((u.fields["FirstName"], u.fields["LastName"]) for u in users)
    assert names == [("Ann", "Ray"), ("José", "Núñez"), ("Zoë", "Lee")], shown(proc)
    assert "the file mixes encodings" in proc.stdout + proc.stderr, shown(proc)


def test_plan_names_the_mixed_file_as_validate_does(tmp_path, litmos_sandbox):
    configure(tmp_path, sandbox=litmos_sandbox)
    mixed_export(tmp_path / "export.csv")
    proc = run("plan", folder=tmp_path, sandbox=litmos_sandbox)
    assert proc.returncode == 2, shown(proc)
    assert "the file mixes encodings: it is read as UTF-8" in " ".join(proc.stdout.split())


# --------------------------------------------------------------------------- long fields


def test_a_giant_field_in_the_first_lines_is_named_with_line_and_column(tmp_path):
    configure(tmp_path)
    (tmp_path / "export.csv").write_text(
        f"{HEADER}\n1001,Ann,Lee,ann@corp.test,Sales,Active\n"
        f"1002,Bob,{'x' * 200_000},bob@corp.test,Sales,Active\n",
        encoding="utf-8",
    )
    proc = run("validate", folder=tmp_path)
    assert proc.returncode == 2, shown(proc)
    assert "no comma" not in proc.stderr
    assert "line 3, column 3 (`Last Name`): a field is longer than 131,072 characters" in (
        " ".join(proc.stderr.split())
    ), shown(proc)


# --------------------------------------------------------------------------- not a regular file


@pytest.mark.parametrize("command", ["validate", "plan", "reconcile"])
def test_a_named_pipe_as_the_source_is_refused_in_one_line(tmp_path, command):
    configure(tmp_path)
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    proc = run(command, folder=tmp_path)
    assert proc.returncode != 0, shown(proc)
    assert "Traceback" not in proc.stderr, shown(proc)
    message = f"{fifo}: is a named pipe (FIFO), not a regular file"
    assert message in " ".join(proc.stderr.split()), shown(proc)


def test_a_glob_that_matches_only_a_named_pipe_matches_no_file(tmp_path):
    configure(tmp_path, path="exports/roster-*.csv")
    (tmp_path / "exports").mkdir()
    os.mkfifo(tmp_path / "exports" / "roster-2.csv")
    proc = run("plan", folder=tmp_path)
    assert proc.returncode == 1, shown(proc)
    assert "no file matches this pattern" in proc.stderr, shown(proc)
