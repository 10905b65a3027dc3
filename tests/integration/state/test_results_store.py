"""The results table on SQLite and PostgreSQL: idempotent upserts that write only real
changes, regressions recorded, HRIS keys resolved from the mirror, revisions that select
"what changed since", and the watermark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.results.rows import row
from syncd.state import results as store
from syncd.state.db import session_factory
from syncd.state.mirror import upsert_user
from syncd.state.models import Result
from syncd.vendors.base import ResultRecord, ResultStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CONN = "lms"


def record(user: str = "r1", item: str = "c1", **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "remote_user_id": user,
        "username": f"{user}@corp.test",
        "item_kind": "course",
        "item_id": item,
        "item_name": "Safety",
        "status": ResultStatus.IN_PROGRESS,
        "percentage": 40.0,
    }
    values.update(changes)
    return row(ResultRecord(**values))  # type: ignore[arg-type]


def write(sessions, rows, at=NOW):
    with sessions.begin() as db:
        revision = store.next_revision(db, CONN)
        return store.upsert(db, CONN, rows, revision=revision, now=at)


def stored(sessions, user="r1", item="c1"):
    with sessions() as db:
        return db.query(Result).filter_by(connection=CONN, remote_user_id=user, item_id=item).one()


def test_a_repeat_writes_nothing_and_a_change_writes_one_row(state_engine):
    sessions = session_factory(state_engine)
    assert write(sessions, [record(), record(item="c2")]) == 2
    assert write(sessions, [record(), record(item="c2")]) == 0
    assert write(sessions, [record(), record(item="c2", percentage=80.0)]) == 1
    with sessions() as db:
        assert db.query(Result).count() == 2
    assert stored(sessions, item="c2").percentage == 80.0
    assert stored(sessions, item="c1").revision == 1


def test_the_same_record_twice_in_one_batch_is_one_row(state_engine):
    sessions = session_factory(state_engine)
    assert write(sessions, [record(), record(percentage=50.0)]) == 1
    assert stored(sessions).percentage == 50.0


def test_a_reset_course_is_recorded_as_going_backwards(state_engine):
    sessions = session_factory(state_engine)
    done = record(status=ResultStatus.PASSED, completed=True, completed_at=NOW)
    write(sessions, [done])
    later = NOW + timedelta(days=3)
    write(sessions, [record(status=ResultStatus.NOT_STARTED, percentage=0.0)], at=later)
    reset = stored(sessions)
    assert reset.status == "not_started" and reset.previous_status == "passed"
    assert reset.regressed_at == later
    write(
        sessions,
        [record(status=ResultStatus.IN_PROGRESS, percentage=10.0)],
        at=later + timedelta(days=1),
    )
    moving = stored(sessions)
    assert moving.previous_status == "not_started"
    assert moving.regressed_at == later, "moving forward keeps when it last went back"


def test_progress_forward_is_not_a_regression(state_engine):
    sessions = session_factory(state_engine)
    write(sessions, [record()])
    write(sessions, [record(status=ResultStatus.COMPLETED, completed=True)])
    assert stored(sessions).regressed_at is None
    assert stored(sessions).previous_status == "in_progress"


def test_the_hris_key_comes_from_the_mirror_and_is_never_blanked(state_engine):
    sessions = session_factory(state_engine)
    with sessions.begin() as db:
        upsert_user(
            db, CONN, "E100", match_value="ann", attrs={}, active=True, remote_id="r1", now=NOW
        )
    write(sessions, [record(), record(user="stranger")])
    assert stored(sessions).external_id == "E100"
    assert stored(sessions, user="stranger").external_id is None
    with sessions() as db:
        assert store.unmanaged_count(db, CONN) == 1
    write(sessions, [record(percentage=90.0)])
    assert stored(sessions).external_id == "E100"


def test_a_key_the_vendor_carries_wins_and_counts_as_a_change_once(state_engine):
    sessions = session_factory(state_engine)
    write(sessions, [record(user="E7")])
    assert write(sessions, [record(user="E7", external_id="E7")]) == 1
    assert write(sessions, [record(user="E7", external_id="E7")]) == 0
    assert stored(sessions, user="E7").external_id == "E7"


def test_export_rows_select_by_revision_and_skip_unmanaged_people(state_engine):
    sessions = session_factory(state_engine)
    write(sessions, [record(user="E1", external_id="E1"), record(user="x")])
    write(sessions, [record(user="E2", external_id="E2")])
    with sessions() as db:
        everything = list(store.export_rows(db, [CONN], ["external_id"]))
        since_first = list(store.export_rows(db, [CONN], ["external_id"], after={CONN: 1}))
        up_to_first = list(store.export_rows(db, [CONN], ["external_id"], upto={CONN: 1}))
    at = 0
    assert [r[at] for r in everything] == ["E1", "E2"]
    assert [r[at] for r in since_first] == ["E2"]
    assert [r[at] for r in up_to_first] == ["E1"]


def test_cursors_round_trip(state_engine):
    sessions = session_factory(state_engine)
    with sessions.begin() as db:
        assert store.watermark(db, CONN) is None
        store.set_watermark(db, CONN, NOW)
        store.set_exported_revision(db, CONN, 4)
    with sessions() as db:
        assert store.watermark(db, CONN) == NOW
        assert store.exported_revision(db, CONN) == 4
        assert store.exported_revision(db, "other") == 0


def test_a_first_assignment_date_fills_in_quietly_and_a_changed_one_is_a_change(state_engine):
    sessions = session_factory(state_engine)
    write(sessions, [record()])
    assigned = NOW - timedelta(days=9)
    assert write(sessions, [record(assigned_at=assigned)]) == 0, "filled, not a change"
    assert stored(sessions).assigned_at == assigned and stored(sessions).revision == 1
    assert write(sessions, [record()]) == 0, "a read without it never blanks it"
    assert stored(sessions).assigned_at == assigned
    assert write(sessions, [record(assigned_at=assigned + timedelta(days=1))]) == 1
