"""The worker draining real outboxes into the Litmos sandbox through the real connector."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest

from syncd.plan.ops import AddMembers
from syncd.queue.outbox import RetryPolicy
from syncd.queue.worker import DrainStats, Event, Worker, WorkerSettings
from syncd.vendors import connect
from tests.integration.kit import (
    company,
    mirror_groups,
    mirror_members,
    mirror_users,
    new_store,
    states,
    user,
)

FAST = WorkerSettings(
    batch_size=5,
    claim_lease_seconds=30,
    max_wait_seconds=5,
    retry=RetryPolicy(base_seconds=0.05, cap_seconds=0.2, max_attempts=25),
)


def enqueue(store, ops):
    from tests.integration import kit

    return kit.enqueue(store, ops, now=_now())


@pytest.fixture
def store(state_engine):
    return new_store(state_engine)


@pytest.fixture
def lms(litmos_sandbox):
    from tests.integration.kit import litmos_connection

    return litmos_connection(litmos_sandbox)


def drain(store, connection, *, settings=FAST, worker_id=None, events=None):
    def on_event(event: Event, stats: DrainStats) -> None:
        if events is not None:
            events.append(event)

    with connect(connection) as connector:
        worker = Worker(
            store,
            connector,
            worker_id=worker_id,
            settings=settings,
            rng=random.Random(1),
            on_event=on_event,
        )
        return worker.drain()


def remote_users(sandbox):
    with connect_to(sandbox) as connector:
        return {u.username: u for u in connector.list_users()}


def connect_to(sandbox):
    from tests.integration.kit import litmos_connection

    return connect(litmos_connection(sandbox))


def creates(sandbox) -> Counter[str]:
    return Counter(sandbox.admin.counters()["creates"])


def test_first_sync_of_a_small_company(store, lms, litmos_sandbox):
    ops = company(6)
    run_id = enqueue(store, ops)
    events: list[Event] = []
    stats = drain(store, lms, events=events)
    assert stats.stopped == "complete"
    assert (stats.done, stats.dead, stats.retried) == (len(ops), 0, 0)
    assert store.counts(run_id=run_id)["done"] == len(ops)
    assert stats.calls == len(ops), "one call per op: the plan's minimum"
    assert set(creates(litmos_sandbox).values()) == {1}
    remote = remote_users(litmos_sandbox)
    mirrored = mirror_users(store)
    assert {remote[f"user{n:03d}@corp.test"].remote_id for n in range(6)} == {
        remote_id for remote_id, _ in mirrored.values()
    }
    assert mirror_members(store) == {
        ("dept:Sales", "E000"),
        ("dept:Sales", "E002"),
        ("dept:Sales", "E004"),
        ("dept:Ops", "E001"),
        ("dept:Ops", "E003"),
        ("dept:Ops", "E005"),
    }
    assert all(mirror_groups(store).values())
    assert len(events) == len(ops)


def test_a_create_whose_commit_was_lost_is_adopted_not_repeated(store, lms, litmos_sandbox):
    """kill -9 between the vendor's 201 and our commit: the op is still claimed."""
    enqueue(store, [user(1), user(2)])
    claimed = store.claim("crashed", limit=10, lease=timedelta(seconds=0), now=_now())
    with connect(lms) as connector:
        outcomes = list(connector.execute([c.op for c in claimed], store.refs([])))
    assert all(o.status == "done" for o in outcomes)
    assert states(store) == {"create_user:E001": "claimed", "create_user:E002": "claimed"}
    stats = drain(store, lms)
    assert (stats.done, stats.adopted) == (2, 2)
    assert creates(litmos_sandbox) == Counter({"user001@corp.test": 1, "user002@corp.test": 1})
    remote = remote_users(litmos_sandbox)
    assert mirror_users(store) == {
        "E001": (remote["user001@corp.test"].remote_id, True),
        "E002": (remote["user002@corp.test"].remote_id, True),
    }


def test_an_existing_account_is_adopted_on_409(store, lms, litmos_sandbox):
    seeded = litmos_sandbox.admin.seed(
        {"users": [{"username": "user003@corp.test", "first_name": "Old", "last_name": "Name"}]}
    )
    enqueue(store, [user(3)])
    stats = drain(store, lms)
    assert (stats.done, stats.adopted) == (1, 1)
    assert creates(litmos_sandbox) == Counter(), "no account was created through the API"
    assert list(remote_users(litmos_sandbox)) == ["user003@corp.test"]
    (remote_id, active) = mirror_users(store)["E003"]
    assert remote_id and active
    assert remote_id in str(seeded)


def test_a_permanent_error_dead_letters_one_op_and_blocks_only_its_dependents(
    store, lms, litmos_sandbox
):
    ops = company(6, bad={2})
    enqueue(store, ops)
    stats = drain(store, lms)
    final = states(store)
    assert final["create_user:E002"] == "dead"
    blocked = {k for k, s in final.items() if s == "blocked"}
    assert blocked == {
        AddMembers(group_key="dept:Sales", external_ids=("E002",)).key,
        next(k for k in final if k.startswith("assign_courses:E002")),
    }
    assert {s for k, s in final.items() if k not in blocked | {"create_user:E002"}} == {"done"}
    assert (stats.dead, stats.stopped) == (1, "complete")
    (dead,) = store.rows(states=["dead"])
    assert "email" in (dead.last_error or "").lower()
    assert "user002@corp.test" not in creates(litmos_sandbox)


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.3},
        {"drop_rate": 0.25},
        {"malformed_rate": 0.25},
        {"slow_rate": 0.2, "slow_seconds": 0.5},
    ],
    ids=["5xx", "resets", "malformed", "timeouts"],
)
def test_retries_through_injected_faults_end_with_exactly_one_of_everything(
    tmp_path, litmos_sandbox, faults
):
    """Faults are the vendor's, not the database's: one database (SQLite) is enough here;
    the PostgreSQL variant runs under faults with several workers below."""
    from syncd.state.db import create_engine_for, upgrade
    from tests.integration.kit import litmos_connection

    engine = create_engine_for(f"sqlite:///{tmp_path / 'state.db'}")
    upgrade(engine)
    store = new_store(engine)
    lms = litmos_connection(litmos_sandbox, timeout=0.25)
    ops = company(8)
    enqueue(store, ops)
    litmos_sandbox.admin.set_faults(seed=7, **faults)
    stats = drain(store, lms)
    litmos_sandbox.admin.clear_faults()
    assert stats.stopped == "complete"
    assert set(states(store).values()) == {"done"}
    assert stats.retried > 0, "the faults must have been felt"
    assert set(creates(litmos_sandbox).values()) == {1}
    assert len(creates(litmos_sandbox)) == 8
    remote = remote_users(litmos_sandbox)
    assert {u.remote_id for u in remote.values()} == {r for r, _ in mirror_users(store).values()}
    engine.dispose()


def test_retries_left_for_later_are_reported_not_waited_for(store, lms, litmos_sandbox):
    enqueue(store, [user(1)])
    litmos_sandbox.admin.set_faults(error_rate=1.0, error_statuses=[500], seed=1)
    patient = WorkerSettings(
        max_wait_seconds=0.5, retry=RetryPolicy(base_seconds=30, cap_seconds=60)
    )
    stats = drain(store, lms, settings=patient)
    assert (stats.stopped, stats.retried, stats.done) == ("waiting", 1, 0)
    assert stats.next_due is not None
    assert states(store) == {"create_user:E001": "retry"}


@pytest.mark.postgres
def test_several_workers_share_one_outbox_on_postgresql(fresh_pg_database, litmos_sandbox):
    from syncd.state.db import create_engine_for, upgrade
    from tests.integration.kit import litmos_connection

    engine = create_engine_for(fresh_pg_database)
    upgrade(engine)
    store = new_store(engine)
    lms = litmos_connection(litmos_sandbox)
    ops = company(30)
    enqueue(store, ops)
    litmos_sandbox.admin.set_faults(seed=3, error_rate=0.15, drop_rate=0.05)
    results: list[DrainStats] = []
    barrier = threading.Barrier(3)

    def work(n: int) -> None:
        barrier.wait()
        results.append(drain(store, lms, worker_id=f"w{n}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    litmos_sandbox.admin.clear_faults()
    assert sum(r.done for r in results) == len(ops)
    assert sum(1 for r in results if r.done) >= 2, "the work was shared"
    assert sum(r.retried for r in results) > 0
    assert set(creates(litmos_sandbox).values()) == {1}
    assert len(creates(litmos_sandbox)) == 30
    assert set(states(store).values()) == {"done"}
    engine.dispose()


def _now():
    from syncd.queue.worker import utcnow

    return utcnow()


def test_an_op_falling_due_mid_pass_is_not_taken_for_the_end(store, lms, litmos_sandbox):
    """The drain asks "anything ready?" and then "anything later?": both at one time. Read
    twice, a retry falling due between the two readings was in neither answer, and the
    drain reported "complete" with that op left in the outbox."""
    from tests.integration import kit

    due = kit.T0
    kit.enqueue(store, [user(1)], now=due)
    readings = iter([due - timedelta(milliseconds=1), due + timedelta(milliseconds=1)])

    def clock():
        return next(readings, due + timedelta(seconds=1))

    with connect(lms) as connector:
        stats = Worker(store, connector, settings=FAST, rng=random.Random(1), clock=clock).drain()
    assert (stats.stopped, stats.done) == ("complete", 1)
    assert states(store) == {"create_user:E001": "done"}
