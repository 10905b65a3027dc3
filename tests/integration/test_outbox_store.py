"""The outbox store on a real database (SQLite file and PostgreSQL): no vendor involved."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syncd.errors import StateError
from syncd.plan.ops import AddMembers, AssignCourses, DeactivateUser
from syncd.queue.outbox import RetryPolicy, decide
from syncd.state import runs
from syncd.state.models import Cursor, OutboxDep, OutboxOp, Run
from syncd.state.ownership import ConnectionLease
from syncd.state.pacing import clear_history, load_history, save_history
from syncd.vendors.base import Outcome
from tests.integration.kit import (
    LEASE,
    T0,
    company,
    enqueue,
    mirror_groups,
    mirror_members,
    mirror_users,
    new_store,
    record,
    states,
    user,
)


@pytest.fixture
def store(state_engine):
    return new_store(state_engine)


def claim_all(store, worker="w1", now=T0, limit=100):
    return store.claim(worker, limit=limit, lease=LEASE, now=now)


def done(claimed, remote="R"):
    return Outcome.done(claimed.op, calls=1, remote_id=f"{remote}-{claimed.op.subject}")


def test_plan_and_run_are_written_together_or_not_at_all(store):
    ops = company(4)
    with pytest.raises(RuntimeError), store.sessions.begin() as db:
        run_id = runs.start_run(db, connection="lms", kind="reconcile", now=T0)
        store.enqueue(db, run_id, ops, now=T0)
        raise RuntimeError("crash before commit")
    with store.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Run)) == 0
        assert db.scalar(select(func.count()).select_from(OutboxOp)) == 0
    run_id = enqueue(store, ops)
    assert store.counts(run_id=run_id)["pending"] == len(ops)
    with store.sessions() as db:
        deps = db.scalar(select(func.count()).select_from(OutboxDep))
    assert deps == sum(len(op.depends_on) for op in ops)


def test_only_ops_whose_dependencies_are_done_are_claimed_in_fifo_order(store):
    ops = company(4)
    enqueue(store, ops)
    first = claim_all(store)
    assert [c.key for c in first] == [op.key for op in ops[:6]]
    assert claim_all(store, worker="w2") == []
    for claimed in first:
        assert record(store, claimed, done(claimed))
    second = claim_all(store)
    assert {c.key for c in second} == {op.key for op in ops[6:]}


def test_done_updates_the_mirror_in_the_same_transaction(store):
    enqueue(store, company(2))
    for claimed in claim_all(store):
        record(store, claimed, done(claimed))
    assert mirror_users(store) == {"E000": ("R-E000", True), "E001": ("R-E001", True)}
    assert mirror_groups(store) == {"dept:Sales": "R-dept:Sales", "dept:Ops": "R-dept:Ops"}
    refs = store.refs([op for op in company(2) if op.kind == "add_members"])
    assert refs.users == {"E000": "R-E000", "E001": "R-E001"}
    assert refs.groups == {"dept:Sales": "R-dept:Sales", "dept:Ops": "R-dept:Ops"}
    for claimed in claim_all(store):
        record(store, claimed, done(claimed))
    assert mirror_members(store) == {("dept:Sales", "E000"), ("dept:Ops", "E001")}
    assert store.counts()["done"] == 8


def test_a_dead_op_blocks_only_what_depends_on_it(store):
    enqueue(store, company(4))
    for claimed in claim_all(store):
        if claimed.key == "create_user:E002":
            record(store, claimed, Outcome.dead(claimed.op, "409 Invalid email address", calls=1))
        else:
            record(store, claimed, done(claimed))
    while batch := claim_all(store):
        for claimed in batch:
            record(store, claimed, done(claimed))
    final = states(store)
    assert final["create_user:E002"] == "dead"
    blocked = {key for key, state in final.items() if state == "blocked"}
    only_e002 = AddMembers(group_key="dept:Sales", external_ids=("E002",)).key
    assert blocked == {only_e002, next(k for k in final if k.startswith("assign_courses:E002"))}
    assert all(
        state == "done" for key, state in final.items() if key not in blocked | {"create_user:E002"}
    )
    dead = store.rows(states=["dead"])
    assert [(r.key, r.last_error) for r in dead] == [
        ("create_user:E002", "409 Invalid email address")
    ]


def test_retry_waits_for_its_time_and_reports_it(store):
    enqueue(store, [user(1)])
    (claimed,) = claim_all(store)
    record(store, claimed, Outcome.retry(claimed.op, "503", calls=1, retry_after=30))
    assert claim_all(store) == []
    due = store.next_due(now=T0)
    assert due == T0 + timedelta(seconds=30)
    assert claim_all(store, now=due - timedelta(seconds=1)) == []
    (again,) = claim_all(store, now=due)
    assert again.attempts == 1


def test_an_expired_claim_is_reclaimed_and_the_late_worker_cannot_overwrite_it(store):
    enqueue(store, [user(1)])
    (stale,) = claim_all(store, worker="dead-worker")
    assert claim_all(store, worker="w2", now=T0 + LEASE - timedelta(seconds=1)) == []
    (taken,) = claim_all(store, worker="w2", now=T0 + LEASE + timedelta(seconds=1))
    assert taken.id == stale.id
    late_retry = Outcome.retry(stale.op, "timeout", calls=1)
    assert not record(store, stale, late_retry, worker="dead-worker")
    assert states(store) == {"create_user:E001": "claimed"}
    assert record(store, taken, done(taken), worker="w2")
    assert states(store) == {"create_user:E001": "done"}


def test_a_late_done_is_still_recorded_because_the_vendor_did_it(store):
    enqueue(store, [user(1)])
    (stale,) = claim_all(store, worker="slow")
    claim_all(store, worker="w2", now=T0 + LEASE * 2)
    assert record(store, stale, done(stale), worker="slow")
    assert states(store) == {"create_user:E001": "done"}
    assert mirror_users(store) == {"E001": ("R-E001", True)}


def test_release_gives_ops_back_at_once(store):
    enqueue(store, [user(1), user(2)])
    batch = claim_all(store)
    assert store.release([c.id for c in batch], "w1", now=T0) == 2
    assert len(claim_all(store, worker="w2")) == 2


def test_release_claims_of_dead_holders_only(store):
    enqueue(store, [user(1), user(2)])
    claim_all(store, worker="gone", limit=1)
    claim_all(store, worker="alive", limit=1)
    assert store.claim_holders() == {"gone", "alive"}
    assert store.release_claims(now=T0, holders=["gone"]) == 1
    assert [c.key for c in claim_all(store, worker="w3")] == ["create_user:E001"]


def test_enqueue_keeps_rearms_and_supersedes(store):
    first = company(2)
    enqueue(store, first)
    batch = claim_all(store)
    for claimed in batch:
        if claimed.key == "create_user:E001":
            record(store, claimed, Outcome.dead(claimed.op, "409 Invalid email", calls=1))
        else:
            record(store, claimed, done(claimed))
    waiting = {k for k, s in states(store).items() if s in ("pending", "blocked")}
    assert len(waiting) == 4
    deactivate = DeactivateUser(external_id="E000")
    # The next plan: E001 unchanged (stays dead: same request, same refusal), E000
    # deactivated, and a create that was done before but is needed again (the mirror lost
    # it) back to pending. Memberships and courses it no longer asks for are superseded.
    run_id = enqueue(store, [first[2], user(1), deactivate])
    final = states(store)
    assert final["create_user:E000"] == "pending"
    assert final["create_user:E001"] == "dead"
    assert final[deactivate.key] == "pending"
    assert final["create_group:dept:Sales"] == "done"
    assert not waiting & set(final), "ops the new plan no longer wants are superseded"
    assert store.counts(run_id=run_id).total == 3


def test_a_dead_op_with_a_new_payload_is_rearmed(store):
    enqueue(store, [user(1, email="bad")])
    (claimed,) = claim_all(store)
    record(store, claimed, Outcome.dead(claimed.op, "409 Invalid email", calls=1))
    enqueue(store, [user(1)])
    assert states(store) == {"create_user:E001": "pending"}
    (again,) = claim_all(store)
    assert dict(again.op.attrs)["Email"] == "user001@corp.test"


def test_requeue_and_drop_from_the_dead_letter_list(store):
    ops = company(2)
    enqueue(store, ops)
    while batch := claim_all(store):
        for claimed in batch:
            if claimed.key == "create_user:E000":
                record(store, claimed, Outcome.dead(claimed.op, "refused", calls=1))
            else:
                record(store, claimed, done(claimed))
    blocked = {k for k, s in states(store).items() if s == "blocked"}
    assert len(blocked) == 2
    assert store.requeue(states=["dead"], now=T0) == 1
    after = states(store)
    assert after["create_user:E000"] == "pending"
    assert all(after[k] == "pending" for k in blocked), "dependents are released with it"
    (claimed,) = claim_all(store)
    record(store, claimed, Outcome.dead(claimed.op, "refused", calls=1))
    dropped, dependents = store.drop(keys=["create_user:E000"], now=T0)
    assert (dropped, dependents) == (3, 2)
    assert set(states(store).values()) <= {"done", "pending"}


def test_claims_are_disjoint_under_concurrent_workers(store):
    enqueue(store, [user(n) for n in range(60)])
    taken: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        barrier.wait()
        mine = taken.setdefault(name, [])
        while batch := store.claim(name, limit=3, lease=LEASE, now=T0):
            mine.extend(c.id for c in batch)
            for claimed in batch:
                record(store, claimed, done(claimed), worker=name)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [op_id for ids in taken.values() for op_id in ids]
    assert len(everything) == 60
    assert len(set(everything)) == 60
    assert store.counts()["done"] == 60


def test_an_op_whose_payload_no_longer_matches_its_key_is_refused(store):
    enqueue(store, [AssignCourses(external_id="E1", course_ids=("A",))])
    with store.sessions.begin() as db:
        db.execute(
            OutboxOp.__table__.update().values(
                payload={"external_id": "E1", "course_ids": ["B"], "depends_on": []}
            )
        )
    with pytest.raises(StateError, match="no longer matches its key"):
        claim_all(store)


def test_connection_lease_is_exclusive_and_taken_over_from_a_dead_holder(state_engine):
    sessions = new_store(state_engine).sessions
    clock = lambda: T0  # noqa: E731
    first = ConnectionLease(sessions, "lms", "host-a:1:x", ttl=LEASE, clock=clock)
    second = ConnectionLease(sessions, "lms", "host-b:2:y", ttl=LEASE, clock=clock)
    first.acquire()
    with pytest.raises(StateError, match="being synced by host-a:1:x"):
        second.acquire()
    second.acquire(is_dead=lambda holder: holder == "host-a:1:x")
    assert not first.renew()
    assert second.renew()
    second.release()
    first.acquire()


def test_send_history_rides_with_each_recorded_op_and_is_read_across_connections(store):
    """A restart paces against what the vendor still counts: the history is in the DB."""
    enqueue(store, company(1))
    (first, *_) = claim_all(store)
    outcome = done(first)
    transition = decide(outcome, attempts=0, now=T0, policy=RetryPolicy(), rng=random.Random(0))
    assert store.record(
        first, outcome, transition, worker_id="w1", now=T0, pacing=("key-1", "v1;1;0;1;0:1")
    )
    other = new_store(store.sessions.kw["bind"], "lms-eu")
    with other.sessions.begin() as db:
        save_history(db, "lms-eu", "key-1", "v1;2;1;2;0:2", now=T0)
        save_history(db, "lms-eu", "key-1", "v1;3;1;3;0:3", now=T0)
        save_history(db, "lms-eu", "key-2", "v1;4;1;4;0:4", now=T0)
    with store.sessions() as db:
        assert sorted(load_history(db, "key-1")) == ["v1;1;0;1;0:1", "v1;3;1;3;0:3"]
        assert all("key" not in name for name in db.scalars(select(Cursor.name)))
    with other.sessions.begin() as db:
        clear_history(db, "lms-eu")
    with store.sessions() as db:
        assert load_history(db, "key-1") == ["v1;1;0;1;0:1"] and load_history(db, "key-2") == []
