"""A state database that cannot be used is one clear line, never a traceback (issue 11,
item 15).

A real state database is made once by `syncd reconcile` against the in-process simulator;
each test copies it and spoils the copy the way an admin meets it: data pages overwritten
with garbage (a failing disk), a write through a read-only opening, another program's
SQLite file, a file that is no database at all. Every command that opens the database must
then name the file and say what to do, and none may change a foreign file.

Read-only: tests run as root, which ignores file modes, so the copy is opened read-only
the way SQLite itself offers (``?mode=ro`` in state.url); SQLite answers exactly as for a
chmod 444 file ("attempt to write a readonly database"), which the unit tests of
:func:`syncd.state.db.sqlite_failure` also feed it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.e2e.kit import shown, syncd

CONFIG = """\
[state]
url = "{url}"

[logging]
level = "warning"
format = "json"

[sources.hris]
path = "export.csv"
columns = {{ employee_id = "ID", first_name = "First", last_name = "Last", email = "Email", \
department = "Dept" }}
derived = {{ username = "{{email}}" }}
groups = [{{ name = "dept", columns = ["department"] }}]

[connections.lms]
vendor = "litmos"
base_url = "sandbox:"
credentials = {{ api_key = "not-used-0000" }}
rate = {{ requests = 500, per_seconds = 1 }}
groups = ["dept"]
"""
EXPORT = "ID,First,Last,Email,Dept\n" + "".join(
    f"{n},First{n},Last{n},p{n}@corp.test,{'Sales' if n % 2 else 'Ops'}\n" for n in range(1, 13)
)


def world(folder: Path, url: str) -> Path:
    (folder / "syncd.toml").write_text(CONFIG.format(url=url), encoding="utf-8")
    (folder / "export.csv").write_text(EXPORT, encoding="utf-8")
    return folder / "syncd.toml"


def run(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    proc = syncd(*command, "--config", "syncd.toml", cwd=folder)
    assert "Traceback" not in proc.stderr, shown(proc)
    return proc


@pytest.fixture(scope="module")
def synced_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state database after a completed first sync, checkpointed into one file."""
    folder = tmp_path_factory.mktemp("synced")
    db = folder / "state.db"
    world(folder, f"sqlite:///{db}")
    proc = run(folder, "reconcile")
    assert proc.returncode == 0, shown(proc)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def copied(synced_db: Path, folder: Path) -> Path:
    db = folder / "state.db"
    shutil.copyfile(synced_db, db)
    return db


def corrupt(db: Path) -> None:
    """Garbage over the first page of every syncd table and index, as a failing disk
    leaves a file: the schema (page 1) still reads, the data does not."""
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r
            for (r,) in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE rootpage > 1 "
                "AND tbl_name != 'alembic_version'"
            )
        ]
    with db.open("r+b") as handle:
        for root in roots:
            handle.seek((root - 1) * page)
            handle.write(b"\xde\xad\xbe\xef" * (page // 4))


def one_error_line(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit 1 and the explanation on one line (a command's error, or reconcile's summary)."""
    assert proc.returncode == 1, shown(proc)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if expected in line]
    assert lines, f"no line says {expected!r}\n{shown(proc)}"
    assert all("\n" not in line for line in lines)


@pytest.mark.parametrize(
    "command", [("plan",), ("reconcile",), ("queue", "list"), ("queue", "retry")]
)
def test_a_damaged_database_is_named_with_what_to_do(synced_db, tmp_path, command):
    db = copied(synced_db, tmp_path)
    corrupt(db)
    world(tmp_path, f"sqlite:///{db}")
    proc = run(tmp_path, *command)
    one_error_line(proc, f"state database {db} is damaged (database disk image is malformed)")
    assert "restore it from a backup" in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", [("reconcile",), ("queue", "retry")])
def test_a_read_only_database_is_named_with_what_to_do(synced_db, tmp_path, command):
    db = copied(synced_db, tmp_path)
    world(tmp_path, f"sqlite:///file:{db}?mode=ro&uri=true")
    proc = run(tmp_path, *command)
    one_error_line(
        proc, f"state database {db} cannot be written (attempt to write a readonly database)"
    )
    assert "write access" in proc.stdout + proc.stderr


def test_plan_reads_a_database_opened_read_only_through_a_file_uri(synced_db, tmp_path):
    # `plan` only reads: a read-only opening is the right way to give it the database, and
    # must be read as the synced database it is, not taken for a missing file (a first sync).
    db = copied(synced_db, tmp_path)
    account = "syncd-sandbox-lms.state"
    shutil.copyfile(synced_db.parent / account, tmp_path / account)
    world(tmp_path, f"sqlite:///file:{db}?mode=ro&uri=true")
    proc = run(tmp_path, "plan")
    assert proc.returncode == 0, shown(proc)
    assert "create_user" not in proc.stdout


@pytest.mark.parametrize("command", [("plan",), ("reconcile",), ("db", "upgrade")])
def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path, command):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Acme')")
    world(tmp_path, f"sqlite:///{db}")
    proc = run(tmp_path, *command)
    one_error_line(proc, f"state database {db} is not a syncd state database")
    assert "create_user" not in proc.stdout
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["customers"]


def test_a_file_that_is_no_database_at_all(tmp_path):
    db = tmp_path / "state.db"
    db.write_bytes(b"Employee ID,Name\n" * 2000)
    world(tmp_path, f"sqlite:///{db}")
    proc = run(tmp_path, "plan")
    one_error_line(proc, f"state database {db} is not a SQLite database (file is not a database)")
