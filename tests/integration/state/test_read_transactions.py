"""Read-only commands read in read transactions, so a worker can write meanwhile.

`syncd plan` reads a whole mirror; if it took the write lock for that (SQLite's
``BEGIN IMMEDIATE``), a worker recording its ops at the same time would wait for the whole
plan, then fail with "database is locked". Here the writer in the test process never waits
for a lock at all (SQLite busy timeout 0, PostgreSQL lock timeout 1 ms): any wait is a
failure, which is how "neither waits for the other's whole run" is checked without a clock.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import DBAPIError, OperationalError

from syncd.config import load
from syncd.hris import read_roster
from syncd.plan import Mirror, build_plan
from syncd.plan.hashing import hash_frame, hashes_to_text
from syncd.plan.ops import CreateUser
from syncd.state import mirror, runs
from syncd.state.db import create_engine_for, read_session, session_factory, upgrade
from syncd.state.models import MirrorUser
from syncd.vendors import profile
from tests.e2e.kit import shown, syncd
from tests.integration.kit import enqueue, new_store, user

PEOPLE = 100_000
EDITED = 50
TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
HEADER = ["Employee ID", "First Name", "Last Name", "Email", "Status"]

CONFIG = """\
[state]
url = "{url}"

[logging]
level = "warning"
format = "json"

[sources.hris]
path = "export.csv"
key = "employee_id"
columns = {{ employee_id = "Employee ID", first_name = "First Name", last_name = "Last Name", \
email = "Email", status = "Status" }}
derived = {{ username = "{{email}}" }}

[connections.lms]
vendor = "litmos"
base_url = "https://lms.example.test/v1.svc"
credentials = {{ api_key = "never-sent: plan makes no calls" }}
options = {{ source = "syncd-test" }}

[connections.lms.safeguards]
max_deactivations = 1000000
max_deactivation_percent = 100
max_changes = 10000000
"""


def _export(path: Path, edited: int = 0) -> None:
    """``PEOPLE`` active people; the first ``edited`` of them with a new last name."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(PEOPLE):
            last = f"Married{n}" if n < edited else f"Last{n}"
            out.writerow([f"E{n:06d}", f"First{n}", last, f"p{n}@corp.test", "Active"])


def _seed_mirror(config: Path, url: str) -> None:
    """The mirror as the worker leaves it once the export's first plan is done, in bulk."""
    cfg = load(config)
    conn = cfg.connections["lms"]
    roster = read_roster(cfg.source_path("hris"), cfg.sources["hris"], today=TODAY)
    plan = build_plan(roster, conn, profile("litmos"), Mirror.empty(), today=TODAY)
    creates = [op for op in plan.ops if isinstance(op, CreateUser)]
    assert len(creates) == PEOPLE
    names = [name for name, _ in creates[0].attrs]
    hashes = hashes_to_text(
        hash_frame(
            pd.Series([op.external_id for op in creates], dtype="str"),
            pd.Series([op.match_value for op in creates], dtype="str"),
            {
                f: pd.Series([op.attrs[i][1] for op in creates], dtype="str")
                for i, f in enumerate(names)
            },
        )
    )
    rows = [
        {
            "connection": "lms",
            "external_id": op.external_id,
            "remote_id": f"R{op.external_id}",
            "match_value": op.match_value,
            "active": True,
            "attrs": dict(op.attrs),
            "attrs_hash": hashes[i],
            "updated_at": NOW,
        }
        for i, op in enumerate(creates)
    ]
    engine = create_engine_for(url)
    try:
        with engine.begin() as db:
            for start in range(0, len(rows), 20_000):
                db.execute(insert(MirrorUser), rows[start : start + 20_000])
    finally:
        engine.dispose()


def _impatient_engine(url: str) -> Engine:
    """An engine on the state database that never waits for a lock another holds."""
    engine = create_engine_for(url)

    @event.listens_for(engine, "connect")
    def _no_waiting(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA busy_timeout=0")
        else:
            cursor.execute("SET lock_timeout = 1")
            dbapi_connection.commit()
        cursor.close()

    return engine


@dataclass
class Writer:
    """A worker recording done ops: one mirror user per short transaction, in a loop."""

    engine: Engine
    commits: int = 0
    failure: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        sessions = session_factory(self.engine)
        try:
            while not self.stop.is_set():
                n = self.commits
                with sessions.begin() as db:
                    mirror.upsert_user(
                        db,
                        "lms",
                        f"W{n:06d}",
                        match_value=f"w{n}@corp.test",
                        attrs={"UserName": f"w{n}@corp.test"},
                        active=False,
                        remote_id=f"RW{n}",
                        now=NOW,
                    )
                self.commits += 1
                self.started.set()
        except BaseException as exc:  # reported by the test, whatever it is
            self.failure = exc
            self.started.set()


@pytest.fixture
def writing(state_url: str) -> Iterator[Callable[[], Writer]]:
    """Start a :class:`Writer` on the state database; stopped and disposed afterwards."""
    running: list[tuple[Writer, threading.Thread]] = []

    def start() -> Writer:
        writer = Writer(_impatient_engine(state_url))
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        running.append((writer, thread))
        assert writer.started.wait(60)
        return writer

    yield start
    for writer, thread in running:
        writer.stop.set()
        thread.join(60)
        writer.engine.dispose()


def test_plan_reads_while_a_worker_writes(
    state_url: str, tmp_path: Path, writing: Callable[[], Writer]
) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text(CONFIG.format(url=state_url), encoding="utf-8")
    _export(tmp_path / "export.csv")
    _seed_mirror(config, state_url)
    _export(tmp_path / "export.csv", edited=EDITED)

    writer = writing()
    assert writer.failure is None, writer.failure
    before = writer.commits
    proc = syncd(
        "plan", "--config", str(config), "--format", "json", "--today", str(TODAY), cwd=tmp_path
    )
    during = writer.commits - before
    writer.stop.set()

    assert writer.failure is None, f"the writer failed while plan read: {writer.failure}"
    assert proc.returncode == 2, shown(proc)
    assert json.loads(proc.stdout)["counts"] == {"update_user": EDITED}, shown(proc)
    assert during >= 20, f"the writer committed only {during} times while plan ran"


def _count(db: Any) -> int:
    return int(db.execute(select(func.count()).select_from(MirrorUser)).scalar_one())


def _write_one(engine: Engine, n: int) -> None:
    with session_factory(engine).begin() as db:
        mirror.upsert_user(
            db, "lms", f"X{n}", match_value=f"x{n}", attrs={}, active=True, remote_id=None, now=NOW
        )


def test_a_read_session_lets_a_writer_commit_and_keeps_its_snapshot(state_url: str) -> None:
    engine = create_engine_for(state_url)
    impatient = _impatient_engine(state_url)
    try:
        with read_session(engine) as db:
            assert _count(db) == 0
            _write_one(impatient, 1)
            assert _count(db) == 0, "a read session sees one snapshot from its first read on"
        with read_session(engine) as db:
            assert _count(db) == 1
    finally:
        impatient.dispose()
        engine.dispose()


def test_a_write_session_still_takes_the_write_lock_when_it_begins(tmp_path: Path) -> None:
    """Writers keep ``BEGIN IMMEDIATE`` on SQLite: a read-then-write never fails midway.

    (PostgreSQL writers lock rows, not the database: nothing to check there.)
    """
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(state_url)
    engine = create_engine_for(state_url)
    impatient = _impatient_engine(state_url)
    try:
        with session_factory(engine).begin() as db:
            _count(db)
            with pytest.raises(OperationalError, match="database is locked"):
                _write_one(impatient, 1)
    finally:
        impatient.dispose()
        engine.dispose()


@pytest.mark.postgres
def test_a_read_session_refuses_to_write_on_postgresql(fresh_pg_database: str) -> None:
    """PostgreSQL is told the transaction only reads (SQLite has no such mode)."""
    state_url = fresh_pg_database
    upgrade(state_url)
    engine = create_engine_for(state_url)
    try:
        with read_session(engine) as db, pytest.raises(DBAPIError, match="read-only transaction"):
            mirror.upsert_user(
                db, "lms", "Y", match_value="y", attrs={}, active=True, remote_id=None, now=NOW
            )
    finally:
        engine.dispose()


def test_queue_list_and_db_current_answer_while_a_worker_is_mid_transaction(
    state_url: str, tmp_path: Path
) -> None:
    """Both read in a read transaction: a worker's open (uncommitted) write does not hold
    them off, and they do not see it."""
    config = tmp_path / "syncd.toml"
    config.write_text(CONFIG.format(url=state_url), encoding="utf-8")
    engine = create_engine_for(state_url)
    store = new_store(engine, "lms")
    enqueue(store, [user(1)])
    try:
        with store.sessions.begin() as db:
            run_id = runs.start_run(db, connection="lms", kind="reconcile", now=NOW, planned=1)
            store.enqueue(db, run_id, [user(2)], now=NOW)
            db.flush()
            listed = syncd(
                "queue", "list", "--config", str(config), "--format", "json", cwd=tmp_path
            )
            current = syncd("db", "current", "--config", str(config), cwd=tmp_path)
    finally:
        engine.dispose()

    assert listed.returncode == 0, shown(listed)
    assert [op["key"] for op in json.loads(listed.stdout)[0]["ops"]] == [user(1).key]
    assert current.returncode == 0, shown(current)
    assert "(up to date)" in current.stdout, shown(current)


def test_a_dry_run_reads_while_a_worker_is_mid_transaction(state_url: str, tmp_path: Path) -> None:
    """`reconcile --dry-run` only reads: a worker's open write does not hold it off (on
    SQLite a writer's session would wait for the lock, then fail as "database is locked")."""
    config = tmp_path / "syncd.toml"
    config.write_text(CONFIG.format(url=state_url), encoding="utf-8")
    (tmp_path / "export.csv").write_text(
        "Employee ID,First Name,Last Name,Email,Status\n"
        "E1,Ann,Lee,ann@corp.test,Active\nE2,Bob,Ray,bob@corp.test,Active\n",
        encoding="utf-8",
    )
    engine = create_engine_for(state_url)
    store = new_store(engine, "lms")
    enqueue(store, [user(1)])
    try:
        with store.sessions.begin() as db:
            run_id = runs.start_run(db, connection="lms", kind="reconcile", now=NOW, planned=1)
            store.enqueue(db, run_id, [user(2)], now=NOW)
            db.flush()
            dry = syncd("reconcile", "--dry-run", "--config", str(config), cwd=tmp_path)
    finally:
        engine.dispose()
    assert dry.returncode == 2, shown(dry)
    assert "dry run: changes pending" in dry.stdout, shown(dry)
