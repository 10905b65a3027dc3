"""Rate refusals are waits, not failures: the worker against a Litmos sandbox slower than
the connection's configured rule (a contract that promised more, or another process on the
same key taking half the allowance).

The retry policy allows ONE attempt, so before the fix every refused op was dead-lettered;
now refusals cost no attempt, and only the separate bound on rate waiting stops the drain,
leaving the ops waiting, never dead.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from syncd.queue.outbox import RetryPolicy
from syncd.queue.worker import Worker, WorkerSettings
from syncd.sandbox.running import RunningSandbox
from syncd.state.outbox import OutboxStore
from syncd.vendors import connect
from tests.integration.kit import enqueue, litmos_connection, new_store, states, user

WINDOW = 0.5
"""The configured rule's window: a refusal pauses the credential this long."""

ONE_TRY = RetryPolicy(base_seconds=0.05, cap_seconds=0.2, max_attempts=1)


def settings(max_rate_wait_seconds: float) -> WorkerSettings:
    return WorkerSettings(
        batch_size=5,
        claim_lease_seconds=30,
        max_wait_seconds=5,
        max_rate_wait_seconds=max_rate_wait_seconds,
        retry=ONE_TRY,
    )


@pytest.fixture
def store(state_engine) -> OutboxStore:
    return new_store(state_engine)


def drain(store: OutboxStore, sandbox: RunningSandbox, *, vendor_allows: int, bound: float):
    """Drain with the connection configured for 100 a window and the vendor allowing fewer."""
    connection = litmos_connection(sandbox, requests=100, per_seconds=WINDOW)
    assert sandbox.admin is not None
    sandbox.admin.set_rate(vendor_allows, WINDOW if vendor_allows > 1 else 60.0)
    with connect(connection) as connector:
        worker = Worker(store, connector, settings=settings(bound), rng=random.Random(1))
        return worker.drain()


def test_a_slower_vendor_refuses_repeatedly_and_every_op_still_ends_done(store, litmos_sandbox):
    ops = [user(n) for n in range(12)]
    enqueue(store, ops, now=datetime.now(UTC))
    stats = drain(store, litmos_sandbox, vendor_allows=4, bound=60)
    refused = litmos_sandbox.admin.counters()["rate_limited"]
    assert refused >= 2, "the vendor did refuse, more than once"
    assert stats.dead == 0 and set(states(store).values()) == {"done"}
    assert stats.stopped == "complete"
    assert stats.rate_refusals == refused, "every refusal is counted"
    assert stats.rate_wait_seconds > 0
    assert {row.attempts for row in store.rows()} == {1}, "only the successful try counts"


def test_the_rate_wait_bound_stops_the_drain_with_ops_waiting_and_none_dead(store, litmos_sandbox):
    ops = [user(n) for n in range(8)]
    enqueue(store, ops, now=datetime.now(UTC))
    stats = drain(store, litmos_sandbox, vendor_allows=1, bound=2.5 * WINDOW)
    assert stats.dead == 0
    assert stats.stopped == "rate_wait"
    assert stats.rate_refusals == litmos_sandbox.admin.counters()["rate_limited"] >= 2
    assert stats.rate_wait_seconds <= 2.5 * WINDOW, "no wait past the bound is counted"
    assert stats.next_due is not None
    left = states(store)
    assert "dead" not in left.values()
    assert sorted(left.values()).count("done") == 1, "the vendor allowed one request"
    assert set(left.values()) <= {"done", "retry", "pending"}
    assert all(row.attempts == 0 for row in store.rows() if row.state != "done")
