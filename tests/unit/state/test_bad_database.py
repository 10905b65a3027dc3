"""A damaged, read-only or foreign SQLite file is one clear line, never a traceback
(issue 11, item 15).

:func:`syncd.state.db.sqlite_failure` is fed the real exceptions SQLite raises, made on
real files: a data page overwritten with garbage, a file that is not a database, a write
through a read-only connection, a file in a folder that does not exist. Tests run as root,
which ignores file modes, so read-only is made the way SQLite itself offers
(``mode=ro``); the error, and so the message, is the one a chmod 444 file gives.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from syncd.errors import StateError
from syncd.state import db


def raised(action) -> sqlite3.Error:  # type: ignore[no-untyped-def]
    with pytest.raises(sqlite3.Error) as err:
        action()
    return err.value


def table_file(path: Path, rows: int = 500) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany(
            "INSERT INTO people (name) VALUES (?)", [(f"n{i}" * 20,) for i in range(rows)]
        )
    return path


def corrupt_data_pages(path: Path) -> None:
    """Garbage over every page but the first (the schema), as a failing disk leaves it."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for offset in range(4096, size, 4096):
            handle.seek(offset)
            handle.write(b"\xde\xad\xbe\xef" * 1024)


def read_all(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("SELECT * FROM people").fetchall()


def test_a_damaged_file_says_restore_or_rebuild(tmp_path):
    path = table_file(tmp_path / "state.db")
    corrupt_data_pages(path)
    error = db.sqlite_failure(raised(lambda: read_all(path)), str(path))
    assert isinstance(error, StateError)
    assert str(error).startswith(f"state database {path} is damaged (database disk image is")
    assert "backup" in str(error) and "--full" in str(error)


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is a spreadsheet, not a database" * 200)
    error = db.sqlite_failure(raised(lambda: read_all(path)), str(path))
    assert str(error).startswith(f"state database {path} is not a SQLite database")
    assert "state.url" in str(error)


def test_a_read_only_file_says_who_must_be_able_to_write(tmp_path):
    path = table_file(tmp_path / "state.db")

    def write() -> None:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            conn.execute("INSERT INTO people (name) VALUES ('x')")

    error = db.sqlite_failure(raised(write), str(path))
    assert str(error).startswith(
        f"state database {path} cannot be written (attempt to write a readonly database)"
    )
    assert "write access" in str(error)


def test_a_file_that_cannot_be_opened(tmp_path):
    path = tmp_path / "gone" / "state.db"
    error = db.sqlite_failure(raised(lambda: read_all(path)), str(path))
    assert str(error).startswith(f"state database {path} cannot be opened")


def test_other_errors_are_left_to_their_callers(tmp_path):
    path = table_file(tmp_path / "state.db")

    def bad_sql() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("SELECT nope FROM people")

    assert db.sqlite_failure(raised(bad_sql), str(path)) is None
    assert db.sqlite_failure(ValueError("x"), str(path)) is None


def test_the_engine_raises_the_one_line_for_any_query(tmp_path):
    path = table_file(tmp_path / "state.db")
    corrupt_data_pages(path)
    engine = db.create_engine_for(f"sqlite:///{path}")
    try:
        with pytest.raises(StateError) as err, engine.connect() as conn:
            conn.execute(text("SELECT * FROM people")).fetchall()
    finally:
        engine.dispose()
    assert str(err.value).startswith(f"state database {path} is damaged")
    assert "\n" not in str(err.value)


def test_a_foreign_sqlite_file_is_refused_by_every_reader(tmp_path):
    path = table_file(tmp_path / "other-app.db", rows=1)
    engine = db.create_engine_for(f"sqlite:///{path}")
    try:
        for read in (db.recorded_revision, db.current_revision):
            with pytest.raises(StateError) as err:
                read(engine)
            assert "is not a syncd state database" in str(err.value)
            assert "people" in str(err.value)
        with pytest.raises(StateError):
            db.upgrade(engine)
    finally:
        engine.dispose()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"people"}, "nothing may be created in someone else's database"
