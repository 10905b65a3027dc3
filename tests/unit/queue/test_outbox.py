"""What an outcome does to an op: backoff, retry policy, outcome decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from syncd.plan.ops import CreateUser
from syncd.queue.outbox import RetryPolicy, backoff_seconds, decide
from syncd.state.machine import OpState
from syncd.vendors.base import Outcome

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OP = CreateUser(external_id="E1", match_value="e1@x.test", attrs=(("UserName", "e1@x.test"),))


def test_backoff_doubles_with_bounded_jitter():
    policy = RetryPolicy(base_seconds=2, cap_seconds=100, max_attempts=20)
    rng = random.Random(7)
    for attempts in range(1, 12):
        step = min(100, 2 * 2 ** (attempts - 1))
        for _ in range(50):
            delay = backoff_seconds(attempts, policy, rng)
            assert step / 2 <= delay <= step


def test_backoff_jitter_spreads_ops_failing_together():
    rng = random.Random(1)
    delays = {round(backoff_seconds(4, RetryPolicy(), rng), 6) for _ in range(20)}
    assert len(delays) == 20


def test_retry_after_is_a_floor_not_shortened_by_jitter():
    policy = RetryPolicy(base_seconds=1, cap_seconds=10)
    rng = random.Random(3)
    assert backoff_seconds(1, policy, rng, retry_after=45.0) == 45.0
    assert backoff_seconds(5, policy, rng, retry_after=0.1) >= 5


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_seconds=5, cap_seconds=1)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def decide_now(outcome, attempts=0, policy=None):
    policy = policy or RetryPolicy()
    return decide(outcome, attempts=attempts, now=NOW, policy=policy, rng=random.Random(0))


def test_done_keeps_remote_id_and_detail():
    outcome = Outcome.done(OP, calls=1, remote_id="r-1", adopted=True, detail={"active": True})
    t = decide_now(outcome)
    assert t.state is OpState.DONE
    assert t.attempts == 1
    assert t.result == {
        "remote_id": "r-1",
        "adopted": True,
        "calls": 1,
        "detail": {"active": True},
    }
    assert t.next_attempt_at is None


def test_dead_keeps_the_vendor_reason():
    t = decide_now(Outcome.dead(OP, "409 Invalid email address", calls=1), attempts=2)
    assert (t.state, t.attempts, t.error) == (OpState.DEAD, 3, "409 Invalid email address")


def test_retry_waits_at_least_retry_after():
    t = decide_now(Outcome.retry(OP, "503 busy", calls=1, retry_after=30))
    assert t.state is OpState.RETRY
    assert t.error == "503 busy"
    assert t.next_attempt_at == NOW + timedelta(seconds=30)


def test_retry_backoff_grows_with_attempts():
    policy = RetryPolicy(base_seconds=1, cap_seconds=1000, max_attempts=50)
    first = decide_now(Outcome.retry(OP, "x", calls=1), attempts=0, policy=policy)
    later = decide_now(Outcome.retry(OP, "x", calls=1), attempts=8, policy=policy)
    assert first.next_attempt_at is not None and later.next_attempt_at is not None
    assert first.next_attempt_at - NOW <= timedelta(seconds=1)
    assert later.next_attempt_at - NOW >= timedelta(seconds=128)


def test_untried_op_is_not_charged_an_attempt():
    t = decide_now(Outcome.retry(OP, "paused", calls=0, attempted=False), attempts=4)
    assert (t.state, t.attempts) == (OpState.RETRY, 4)


def test_retry_past_max_attempts_is_dead_lettered_with_last_reason():
    policy = RetryPolicy(max_attempts=3)
    t = decide_now(Outcome.retry(OP, "504 gateway", calls=1), attempts=2, policy=policy)
    assert t.state is OpState.DEAD
    assert t.error == "gave up after 3 attempts; last error: 504 gateway"
