"""The journal of applied ops on a real database (SQLite file and PostgreSQL): before-images
written with the done outcome that changes the mirror, nothing for a retry or a dead op."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syncd.plan.ops import (
    AssignCourses,
    DeactivateUser,
    RemoveMember,
    ReplaceMemberships,
    UpdateGroup,
    UpdateUser,
)
from syncd.state import journal
from syncd.state.models import AppliedOp
from syncd.vendors.base import Outcome
from tests.integration.kit import (
    LEASE,
    T0,
    company,
    enqueue,
    mirror_groups,
    mirror_users,
    new_store,
    record,
)


@pytest.fixture
def store(state_engine):
    store = new_store(state_engine)
    run = enqueue(store, company(2))
    while claimed := store.claim("w1", limit=100, lease=LEASE, now=T0):
        for c in claimed:
            record(store, c, Outcome.done(c.op, calls=1, remote_id=f"R-{c.op.subject}"))
    store.first_run = run
    return store


def drain(store, ops, outcome, *, now):
    run = enqueue(store, ops, now=now)
    claimed = store.claim("w1", limit=100, lease=LEASE, now=now)
    assert {c.key for c in claimed} == {op.key for op in ops}
    for c in claimed:
        assert record(store, c, outcome(c.op), now=now)
    return run, claimed


def journaled(store, run):
    with store.sessions() as db:
        return {entry.key: entry for entry in journal.entries(db, "lms", run)}


def test_the_first_run_is_journaled_op_by_op(store):
    entries = journaled(store, store.first_run)
    assert set(entries) == {op.key for op in company(2)}
    assert all(entry.before == {} for entry in entries.values())


def test_before_images_are_what_the_mirror_held_before_the_op(store):
    later = T0 + timedelta(minutes=5)
    ops = [
        DeactivateUser(external_id="E000", reason="terminated"),
        UpdateUser(
            external_id="E001",
            changes=(("FirstName", "First1", "Una"),),
            match_value="una@corp.test",
        ),
        UpdateGroup(group_key="dept:Sales", name="Sales EMEA"),
        RemoveMember(group_key="dept:Ops", external_id="E001"),
    ]
    run, _ = drain(store, ops, lambda op: Outcome.done(op, calls=1), now=later)
    entries = journaled(store, run)
    by_kind = {entry.op.kind: entry for entry in entries.values()}
    assert by_kind["deactivate_user"].before == {"active": True}
    assert by_kind["update_user"].before == {"match_value": "user001@corp.test"}
    assert by_kind["update_group"].before == {"name": "Sales", "parent_key": ""}
    assert by_kind["remove_member"].before == {}
    assert by_kind["update_user"].op == ops[1]
    # ... and the mirror took the change in the same transaction.
    assert mirror_users(store)["E000"] == ("R-E000", False)
    assert mirror_groups(store)["dept:Sales"] == "R-dept:Sales"
    with store.sessions() as db:
        done_at = db.scalars(select(AppliedOp.done_at).where(AppliedOp.run_id == run)).all()
    assert set(done_at) == {later}


def test_ops_carrying_their_own_before_image_cost_no_read(store, state_engine):
    from sqlalchemy import event

    ops = [
        ReplaceMemberships(external_id="E000", group_key="dept:Ops", removed=("dept:Sales",)),
        AssignCourses(external_id="E001", course_ids=("C-NEW",)),
    ]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(state_engine, "before_cursor_execute", seen)
    try:
        run, _ = drain(store, ops, lambda op: Outcome.done(op, calls=1), now=T0)
    finally:
        event.remove(state_engine, "before_cursor_execute", seen)
    assert all(entry.before == {} for entry in journaled(store, run).values())
    assert not [s for s in statements if "FROM mirror_users" in s and "active" in s]


def test_retry_and_dead_outcomes_journal_nothing(store):
    ops = [
        DeactivateUser(external_id="E000"),
        DeactivateUser(external_id="E001"),
    ]
    outcomes = {
        ops[0].key: lambda op: Outcome.retry(op, "503", calls=1),
        ops[1].key: lambda op: Outcome.dead(op, "refused", calls=1),
    }
    run, _ = drain(store, ops, lambda op: outcomes[op.key](op), now=T0)
    assert journaled(store, run) == {}
    assert mirror_users(store)["E000"] == ("R-E000", True)


def test_a_done_outcome_recorded_twice_is_journaled_once(store):
    op = DeactivateUser(external_id="E000")
    run, (claimed,) = drain(store, [op], lambda o: Outcome.done(o, calls=1), now=T0)
    assert not record(store, claimed, Outcome.done(op, calls=1))
    with store.sessions() as db:
        count = db.scalar(
            select(func.count()).select_from(AppliedOp).where(AppliedOp.run_id == run)
        )
    assert count == 1
