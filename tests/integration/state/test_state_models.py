"""The models on a real database: types round-trip, constraints hold, the ready query works."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import and_, exists, insert, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, aliased

from syncd.state.db import session_factory
from syncd.state.models import (
    Cursor,
    MirrorAssignment,
    MirrorMembership,
    MirrorUser,
    OutboxDep,
    OutboxOp,
    OutboxState,
    QuarantinedRow,
    Result,
    Run,
    SourceFile,
)

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def add_run(session: Session, **values) -> Run:
    run = Run(connection="litmos-main", kind="reconcile", started_at=T0, **values)
    session.add(run)
    session.flush()
    return run


def test_aware_datetimes_round_trip_as_the_same_instant_in_utc(state_engine):
    local = datetime(2026, 1, 15, 18, 45, 12, 345678, tzinfo=NEW_YORK_WINTER)
    with session_factory(state_engine).begin() as session:
        run_id = add_run(session, finished_at=local).id
    with session_factory(state_engine)() as session:
        run = session.get(Run, run_id)
        assert run.finished_at == local
        assert run.finished_at.tzinfo is UTC
        assert run.finished_at.hour == 23
        assert run.started_at == T0


def test_datetime_comparisons_in_sql_use_the_instant(state_engine):
    """SQLite compares stored text: only sound because every value is stored in UTC."""
    with session_factory(state_engine).begin() as session:
        for minutes in (10, 20, 30):
            add_run(
                session, finished_at=(T0 + timedelta(minutes=minutes)).astimezone(NEW_YORK_WINTER)
            )
    with session_factory(state_engine)() as session:
        later = session.scalars(
            select(Run.finished_at).where(Run.finished_at > T0 + timedelta(minutes=15))
        ).all()
    assert sorted(later) == [T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)]


def test_naive_datetime_is_refused_on_write(state_engine):
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session_factory(state_engine).begin() as session,
    ):
        add_run(session, finished_at=datetime(2026, 1, 1, 12, 0))


def test_json_round_trips_nested_unicode_and_keeps_key_order(state_engine):
    attrs = {"UserName": "zoë@corp.example", "FirstName": "Zoë", "Active": "true", "A": "1"}
    raw = {"row": ["É", 1, None, {"nested": True}], "line": 7}
    with session_factory(state_engine).begin() as session:
        session.add(
            MirrorUser(
                connection="c",
                external_id="E1",
                match_value="zoë@corp.example",
                attrs=attrs,
                attrs_hash="1",
            )
        )
        source = SourceFile(
            source="hris", path="/x.csv", sha256="0" * 64, size=1, mtime=T0, rows_read=1
        )
        session.add(source)
        session.flush()
        session.add(
            QuarantinedRow(source_file_id=source.id, path="/x.csv", line=7, reason="bad", raw=raw)
        )
    with session_factory(state_engine)() as session:
        user = session.get(MirrorUser, ("c", "E1"))
        assert user.attrs == attrs
        assert list(user.attrs) == list(attrs)
        assert session.scalars(select(QuarantinedRow.raw)).one() == raw


def test_outbox_result_none_is_sql_null(state_engine):
    with session_factory(state_engine).begin() as session:
        run = add_run(session)
        session.add(
            OutboxOp(run_id=run.id, connection="c", idempotency_key="k", kind="x", payload={})
        )
    with state_engine.connect() as connection:
        assert (
            connection.execute(text("SELECT count(*) FROM outbox WHERE result IS NULL")).scalar()
            == 1
        )


@pytest.mark.parametrize(
    "model, rows",
    [
        (
            MirrorUser,
            [
                dict(
                    connection="c",
                    external_id="E1",
                    match_value="a",
                    attrs={},
                    attrs_hash="1",
                    updated_at=T0,
                ),
                dict(
                    connection="c",
                    external_id="E1",
                    match_value="b",
                    attrs={},
                    attrs_hash="2",
                    updated_at=T0,
                ),
            ],
        ),
        (
            MirrorMembership,
            [dict(connection="c", group_key="g", external_id="E1")] * 2,
        ),
        (
            MirrorAssignment,
            [dict(connection="c", external_id="E1", kind="course", item_id="C1")] * 2,
        ),
        (
            Result,
            [
                dict(
                    connection="c",
                    remote_user_id="R1",
                    item_kind="course",
                    item_id="C1",
                    status="completed",
                    revision=1,
                    seen_at=T0,
                    raw={},
                ),
                dict(
                    connection="c",
                    remote_user_id="R1",
                    item_kind="course",
                    item_id="C1",
                    status="passed",
                    revision=2,
                    seen_at=T0 + timedelta(days=1),
                    raw={"again": True},
                ),
            ],
        ),
        (
            Cursor,
            [
                dict(connection="c", name="results", value="a", updated_at=T0),
                dict(connection="c", name="results", value="b", updated_at=T0),
            ],
        ),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_unique_keys_refuse_a_second_row(state_engine, model, rows):
    with state_engine.begin() as connection:
        connection.execute(insert(model), rows[:1])
    with pytest.raises(IntegrityError), state_engine.begin() as connection:
        connection.execute(insert(model), rows[1:])
    other = {**rows[1], "connection": "other"}
    with state_engine.begin() as connection:
        connection.execute(insert(model), [other])


def test_outbox_key_is_unique_per_connection(state_engine):
    with session_factory(state_engine).begin() as session:
        run = add_run(session)
        for connection in ("a", "b"):
            session.add(
                OutboxOp(
                    run_id=run.id,
                    connection=connection,
                    idempotency_key="create_user:E1",
                    kind="create_user",
                    payload={},
                )
            )
    with pytest.raises(IntegrityError), session_factory(state_engine).begin() as session:
        session.add(
            OutboxOp(
                run_id=run.id,
                connection="a",
                idempotency_key="create_user:E1",
                kind="create_user",
                payload={"second": True},
            )
        )


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO runs (kind, started_at, status, planned, done, retried, dead, blocked, "
        "calls) VALUES ('reconcile', '2026-01-01 00:00:00', 'exploded', 0, 0, 0, 0, 0, 0)",
        "INSERT INTO mirror_assignments VALUES ('c', 'E1', 'webinar', 'W1')",
    ],
    ids=["run status", "assignment kind"],
)
def test_check_constraints_refuse_unknown_states(state_engine, statement):
    with pytest.raises(IntegrityError), state_engine.begin() as connection:
        connection.execute(text(statement))


def test_outbox_state_check_and_foreign_keys_are_enforced(state_engine):
    with session_factory(state_engine).begin() as session:
        run = add_run(session)
        op = OutboxOp(run_id=run.id, connection="c", idempotency_key="k", kind="x", payload={})
        session.add(op)
    with pytest.raises(IntegrityError), state_engine.begin() as connection:
        connection.execute(update(OutboxOp).values(state="lost"))
    with pytest.raises(IntegrityError), state_engine.begin() as connection:
        connection.execute(
            insert(OutboxOp).values(
                run_id=run.id + 1000, connection="c", idempotency_key="k2", kind="x", payload={}
            )
        )


def ready_ops(session: Session, connection: str, now: datetime) -> list[str]:
    """The claim query the worker needs: due, runnable, and every dependency done."""
    dependency = aliased(OutboxOp)
    unmet = (
        select(OutboxDep.op_id)
        .join(
            dependency,
            and_(
                dependency.connection == OutboxDep.connection,
                dependency.idempotency_key == OutboxDep.depends_on,
            ),
        )
        .where(OutboxDep.op_id == OutboxOp.id, dependency.state != OutboxState.DONE.value)
    )
    return list(
        session.scalars(
            select(OutboxOp.idempotency_key)
            .where(
                OutboxOp.connection == connection,
                OutboxOp.state.in_([OutboxState.PENDING.value, OutboxState.RETRY.value]),
                OutboxOp.next_attempt_at <= now,
                ~exists(unmet),
            )
            .order_by(OutboxOp.id)
        )
    )


def enqueue(session: Session, run: Run, key: str, *deps: str, connection: str = "c", **values):
    op = OutboxOp(
        run_id=run.id,
        connection=connection,
        idempotency_key=key,
        kind=key.split(":")[0],
        payload={"key": key},
        **{"next_attempt_at": T0, **values},
    )
    session.add(op)
    session.flush()
    session.add_all(OutboxDep(op_id=op.id, depends_on=d, connection=connection) for d in deps)
    return op


def test_dependency_table_answers_which_ops_are_ready(state_engine):
    with session_factory(state_engine).begin() as session:
        run = add_run(session)
        enqueue(session, run, "create_user:E1")
        enqueue(session, run, "create_group:G1", state="done")
        enqueue(session, run, "add_members:G1", "create_user:E1", "create_group:G1")
        enqueue(session, run, "assign_courses:E2", "create_user:E2-done-and-forgotten")
        enqueue(session, run, "assign_courses:E1", "create_user:E1")
        enqueue(
            session, run, "update_user:E3", state="retry", next_attempt_at=T0 + timedelta(hours=1)
        )
        enqueue(session, run, "create_user:E1", connection="other", state="done")
        enqueue(session, run, "add_members:G9", "create_user:E1", connection="other")
    with session_factory(state_engine).begin() as session:
        assert ready_ops(session, "c", T0) == ["create_user:E1", "assign_courses:E2"]
        assert ready_ops(session, "other", T0) == ["add_members:G9"]
        assert ready_ops(session, "c", T0 + timedelta(hours=1))[-1] == "update_user:E3"
        session.execute(
            update(OutboxOp)
            .where(OutboxOp.connection == "c", OutboxOp.idempotency_key == "create_user:E1")
            .values(state="done")
        )
        assert ready_ops(session, "c", T0) == [
            "add_members:G1",
            "assign_courses:E2",
            "assign_courses:E1",
        ]
        dependents = session.scalars(
            select(OutboxOp.idempotency_key)
            .join(OutboxDep, OutboxDep.op_id == OutboxOp.id)
            .where(OutboxDep.connection == "c", OutboxDep.depends_on == "create_user:E1")
            .order_by(OutboxOp.id)
        ).all()
        assert dependents == ["add_members:G1", "assign_courses:E1"]


def test_deleting_an_op_deletes_its_dependency_rows(state_engine):
    with session_factory(state_engine).begin() as session:
        op = enqueue(session, add_run(session), "add_members:G1", "create_user:E1")
    with state_engine.begin() as connection:
        connection.execute(OutboxOp.__table__.delete().where(OutboxOp.__table__.c.id == op.id))
        assert connection.execute(select(OutboxDep)).all() == []


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(state_engine):
    """Two writers that each read a counter and write it back: no lost update, no error.

    On SQLite this needs BEGIN IMMEDIATE (a deferred transaction would fail with "database
    is locked" on its upgrade); on PostgreSQL, SELECT ... FOR UPDATE.
    """
    with state_engine.begin() as connection:
        connection.execute(
            insert(Cursor).values(connection="c", name="n", value="0", updated_at=T0)
        )
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def bump() -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with session_factory(state_engine).begin() as session:
                    value = session.scalars(
                        select(Cursor.value).where(Cursor.name == "n").with_for_update()
                    ).one()
                    session.execute(
                        update(Cursor).where(Cursor.name == "n").values(value=str(int(value) + 1))
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with state_engine.connect() as connection:
        assert connection.execute(select(Cursor.value)).scalar() == "40"
