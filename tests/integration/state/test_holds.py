"""Held and rejected ops in the outbox on a real database (SQLite file and PostgreSQL):
stored held, never claimed, kept across plans, released or rejected by an operator (with
what waits on them), expired, and derived holds released by a plan that no longer makes
them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from syncd.plan.hold import DEPENDENCY, PREREQUISITE, REJECTED, SEAT_BUDGET, Hold
from syncd.plan.ops import AddMembers, AssignCourses, DeactivateUser, Op, UnassignCourse
from syncd.state import holds, runs
from syncd.state.outbox import OutboxStore
from tests.integration.kit import LEASE, T0, new_store, states, user

RISKY = Hold(check="max_deactivations", reason="12 deactivations/deletions, limit 5")


@pytest.fixture
def store(state_engine):
    return new_store(state_engine)


def enqueue(
    store: OutboxStore,
    ops: list[Op],
    held: dict[str, Hold],
    *,
    now: datetime = T0,
    until: datetime | None = None,
):
    with store.sessions.begin() as db:
        run_id = runs.start_run(db, connection=store.connection, kind="reconcile", now=now)
        report = store.enqueue(
            db, run_id, ops, now=now, held=held, held_until=until or now + timedelta(days=7)
        )
    return run_id, report


def leavers(n: int) -> list[Op]:
    return [DeactivateUser(external_id=f"E{i:03d}", reason="absent") for i in range(n)]


def ids_of(store: OutboxStore, keys: list[str]) -> list[int]:
    return [row.id for row in store.rows(keys=keys)]


def test_held_ops_are_stored_held_and_never_claimed(store):
    ops = [user(1), *leavers(3)]
    run_id, report = enqueue(store, ops, {op.key: RISKY for op in ops[1:]})
    assert report.inserted == 4
    assert store.counts(run_id=run_id)["held"] == 3
    claimed = store.claim("w1", limit=10, lease=LEASE, now=T0)
    assert [c.key for c in claimed] == [ops[0].key]
    with store.sessions() as db:
        listed = holds.rows(db, "lms")
    assert [(row.kind, row.check, row.people) for row in listed] == [
        ("deactivate_user", "max_deactivations", ("E000",)),
        ("deactivate_user", "max_deactivations", ("E001",)),
        ("deactivate_user", "max_deactivations", ("E002",)),
    ]
    assert listed[0].until == T0 + timedelta(days=7)


def test_a_hold_outlives_a_plan_that_trips_nothing_until_an_operator_decides(store):
    ops = leavers(4)
    enqueue(store, ops, {op.key: RISKY for op in ops})
    _, report = enqueue(store, ops, {}, now=T0 + timedelta(hours=1))
    assert report.kept == 4
    assert set(states(store).values()) == {"held"}
    approved, rejected = ids_of(store, [ops[0].key, ops[1].key]), ids_of(store, [ops[2].key])
    with store.sessions.begin() as db:
        assert holds.approve(db, "lms", approved, now=T0) == 2
        assert holds.reject(db, "lms", rejected, now=T0) == 1
    found = states(store)
    assert [found[op.key] for op in ops] == ["pending", "pending", "rejected", "held"]
    claimed = store.claim("w1", limit=10, lease=LEASE, now=T0 + timedelta(seconds=1))
    assert {c.key for c in claimed} == {ops[0].key, ops[1].key}
    with store.sessions() as db:
        kept = holds.kept(db, "lms", now=T0)
    assert kept[ops[2].key].check == REJECTED and kept[ops[3].key] == RISKY
    # The same plan again: the rejection stands, the hold stands.
    _, report = enqueue(store, ops[2:], {}, now=T0 + timedelta(hours=2))
    assert report.kept_rejected == 1 and report.kept == 1
    # The person of the rejected op is back in the export: the plan no longer asks for it.
    _, report = enqueue(store, ops[3:], {}, now=T0 + timedelta(hours=3))
    assert ops[2].key not in states(store)


def test_expired_holds_are_dropped_and_the_next_plan_decides_again(store):
    ops = leavers(2)
    enqueue(store, ops, {op.key: RISKY for op in ops}, until=T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=2)
    _, report = enqueue(store, ops, {}, now=later)
    assert report.expired == 2
    assert set(states(store).values()) == {"pending"}, "this plan tripped nothing"


def test_approving_a_deactivation_releases_its_prerequisites_and_dependents_follow(store):
    unassign = UnassignCourse(external_id="E001", course_id="C1")
    leave = DeactivateUser(external_id="E001", depends_on=(unassign.key,))
    create = user(7)
    assign = AssignCourses(external_id="E007", course_ids=("C1",), depends_on=(create.key,))
    held = {
        unassign.key: Hold(check=PREREQUISITE, reason="before the held deactivate_user"),
        leave.key: RISKY,
        create.key: Hold(check=SEAT_BUDGET, reason="seat budget: 1 over"),
        assign.key: Hold(check=DEPENDENCY, reason="waits on the held create_user of E007"),
    }
    enqueue(store, [unassign, leave, create, assign], held)
    chosen = ids_of(store, [leave.key])
    with store.sessions.begin() as db:
        assert holds.approve(db, "lms", chosen, now=T0) == 2
    found = states(store)
    assert (found[unassign.key], found[leave.key]) == ("pending", "pending")
    assert (found[create.key], found[assign.key]) == ("held", "held")
    chosen = ids_of(store, [create.key])
    with store.sessions.begin() as db:
        assert holds.approve(db, "lms", chosen, now=T0) == 2
    assert states(store)[assign.key] == "pending"


def test_rejecting_a_held_op_rejects_what_waits_on_it(store):
    create = user(7)
    assign = AssignCourses(external_id="E007", course_ids=("C1",), depends_on=(create.key,))
    enqueue(
        store,
        [create, assign],
        {
            create.key: Hold(check=SEAT_BUDGET, reason="1 over"),
            assign.key: Hold(check=DEPENDENCY, reason="waits"),
        },
    )
    chosen = ids_of(store, [create.key])
    with store.sessions.begin() as db:
        assert holds.reject(db, "lms", chosen, now=T0) == 2
    assert set(states(store).values()) == {"rejected"}


def test_a_derived_hold_the_next_plan_does_not_make_goes_out(store):
    create = user(7)
    enqueue(store, [create], {create.key: Hold(check=SEAT_BUDGET, reason="1 over")})
    _, report = enqueue(store, [create], {}, now=T0 + timedelta(hours=1))
    assert report.rearmed == 1
    assert states(store)[create.key] == "pending"
    with store.sessions() as db:
        assert holds.rows(db, "lms") == []


def test_an_open_op_a_new_plan_holds_is_held_and_an_undone_op_is_rejected(store):
    ops = leavers(2)
    enqueue(store, ops, {})
    enqueue(store, ops, {ops[0].key: RISKY}, now=T0 + timedelta(minutes=5))
    assert states(store) == {ops[0].key: "held", ops[1].key: "pending"}
    claimed = store.claim("w1", limit=10, lease=LEASE, now=T0 + timedelta(minutes=6))
    assert [c.key for c in claimed] == [ops[1].key]
    with store.sessions.begin() as db:
        count = holds.mark_rejected(
            db, "lms", [ops[0].key], check="undone", reason="undone by run 9", now=T0
        )
    assert count == 1 and states(store)[ops[0].key] == "rejected"


def test_an_undo_queued_beside_held_ops_does_not_supersede_them(store):
    ops = leavers(2)
    enqueue(store, ops, {op.key: RISKY for op in ops})
    with store.sessions.begin() as db:
        run_id = runs.start_run(db, connection="lms", kind="undo", now=T0)
        store.enqueue(db, run_id, [user(9)], now=T0, supersede=False)
    assert sorted(states(store).values()) == ["held", "held", "pending"]


def test_a_held_team_add_is_split_so_only_the_people_named_are_decided(store):
    create = user(7)
    add = AddMembers(
        group_key="dept:Sales",
        external_ids=("E001", "E002", "E007"),
        depends_on=("create_group:dept:Sales", create.key),
    )
    moving = Hold(check="max_field_change_percent[groups]", reason="30 of 30 change groups")
    enqueue(store, [create, add], {add.key: moving})
    [row_id] = ids_of(store, [add.key])
    with store.sessions.begin() as db:
        part = store.split_held(db, row_id, ["E002", "E007"], now=T0)
        assert part is not None and part != row_id
        listed = {row.id: row for row in holds.rows(db, "lms")}
    assert listed[part].people == ("E002", "E007") and listed[row_id].people == ("E001",)
    assert listed[part].check == listed[row_id].check == moving.check
    assert listed[part].until == listed[row_id].until
    with store.sessions() as db:
        needs = {
            op_id: sorted(n for n in keys)
            for op_id, keys in holds._deps(db, "lms", [part, row_id]).items()
        }
    assert needs[part] == sorted(["create_group:dept:Sales", create.key])
    assert needs[row_id] == ["create_group:dept:Sales"]
    with store.sessions.begin() as db:
        assert store.split_held(db, row_id, ["E001"], now=T0) == row_id, "the whole row"
        assert store.split_held(db, row_id, ["E999"], now=T0) is None
        assert holds.approve(db, "lms", [part], now=T0) == 1
    found = {row.key: row.state for row in store.rows()}
    assert sorted(found.values()) == ["held", "pending", "pending"]
