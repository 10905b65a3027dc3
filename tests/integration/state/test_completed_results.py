"""The completions the learning policy keeps (``syncd.state.results.completed_items``) on
SQLite and PostgreSQL: finished statuses only, managed people only, registrations as their
course, and "never pulled" told apart from "pulled, nothing finished"."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.results.rows import row
from syncd.state import results as store
from syncd.state.db import session_factory
from syncd.vendors.base import ResultRecord, ResultStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CONN = "lms"


def record(user: str, item: str, status: ResultStatus, **more: object) -> dict[str, object]:
    values: dict[str, object] = {
        "remote_user_id": f"r-{user}",
        "username": f"{user}@corp.test",
        "external_id": user,
        "item_kind": "course",
        "item_id": item,
        "status": status,
    }
    values.update(more)
    return row(ResultRecord(**values))  # type: ignore[arg-type]


def write(sessions, rows, connection=CONN):
    with sessions.begin() as db:
        revision = store.next_revision(db, connection)
        store.upsert(db, connection, rows, revision=revision, now=NOW)


def test_finished_items_of_managed_people(state_engine):
    sessions = session_factory(state_engine)
    write(
        sessions,
        [
            record("E1", "C1", ResultStatus.COMPLETED, completed=True),
            record("E1", "C2", ResultStatus.PASSED, completed=True, passed=True),
            record("E1", "C3", ResultStatus.EXPIRED),
            record("E1", "C4", ResultStatus.IN_PROGRESS),
            record("E1", "C5", ResultStatus.FAILED, passed=False),
            record("E2", "C1", ResultStatus.NOT_STARTED),
            record("E2", "LP1", ResultStatus.COMPLETED, completed=True, item_kind="learning_path"),
            record("E3", "REG-9", ResultStatus.PASSED, item_kind="registration", course_id="C7"),
            record("", "C1", ResultStatus.COMPLETED, remote_user_id="stranger", completed=True),
        ],
    )
    write(sessions, [record("E1", "C9", ResultStatus.COMPLETED)], connection="other")
    with sessions() as db:
        pulled, items = store.completed_items(db, CONN)
    assert pulled
    assert sorted(items) == [
        ("E1", "course", "C1"),
        ("E1", "course", "C2"),
        ("E1", "course", "C3"),
        ("E2", "learning_path", "LP1"),
        ("E3", "course", "C7"),
    ]


def test_never_pulled_is_unknown_and_an_empty_pull_is_known(state_engine):
    sessions = session_factory(state_engine)
    with sessions() as db:
        assert store.completed_items(db, CONN) == (False, [])
    with sessions.begin() as db:
        store.set_watermark(db, CONN, NOW)
    with sessions() as db:
        assert store.completed_items(db, CONN) == (True, [])
        assert store.completed_items(db, "other") == (False, [])
    write(sessions, [record("E1", "C1", ResultStatus.IN_PROGRESS)], connection="other")
    with sessions() as db:
        assert store.completed_items(db, "other") == (True, [])
