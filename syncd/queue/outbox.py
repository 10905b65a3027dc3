"""What an outcome does to an op: the retry policy, its backoff, and the transition it causes.

The states themselves and the moves between them are ``syncd.state.machine`` (below this
package, beside the store that writes them); this module only turns a connector's
:class:`~syncd.vendors.base.Outcome` into a :class:`~syncd.state.machine.Transition`. Why an
op may be executed more than once, and why that is harmless, is the worker's story
(``syncd.queue.worker``). Pure: tested without a database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncd.state.machine import OpState, Transition
from syncd.vendors.base import Outcome, Status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before trying a failed op again, and when to give up.

    The delay doubles per attempt from ``base_seconds`` up to ``cap_seconds``, with "equal
    jitter" (half fixed, half random) so that ops failing together do not all come back in
    the same instant, yet every retry still waits at least half its step. A vendor's
    Retry-After is a floor, never shortened by jitter.
    """

    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("retry policy needs 0 < base_seconds <= cap_seconds")
        if self.max_attempts < 1:
            raise ValueError("retry policy needs max_attempts >= 1")


def backoff_seconds(
    attempts: int,
    policy: RetryPolicy,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first failure)."""
    step = min(policy.cap_seconds, policy.base_seconds * 2 ** max(0, attempts - 1))
    delay = step / 2 + rng.uniform(0, step / 2)
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return float(delay)


def decide(
    outcome: Outcome,
    *,
    attempts: int,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Transition:
    """The transition of a claimed op given the connector's outcome.

    ``attempts`` is the count before this outcome. An op that was not attempted (the
    connector returned it untouched) is not charged an attempt, nor is one the vendor
    refused for going too fast: waiting for its window is not the op's failure (the
    worker bounds the rate waiting of a drain instead). A retryable failure past
    ``max_attempts`` is dead-lettered with the last reason, so a broken op cannot keep a
    run waiting forever.
    """
    charged = outcome.attempted and not outcome.rate_limited
    tried = attempts + (1 if charged else 0)
    if outcome.status is Status.DONE:
        result: dict[str, Any] = {
            "remote_id": outcome.remote_id,
            "adopted": outcome.adopted,
            "calls": outcome.calls,
            "detail": dict(outcome.detail),
        }
        return Transition(OpState.DONE, tried, result=result)
    if outcome.status is Status.DEAD:
        return Transition(OpState.DEAD, tried, error=outcome.error or "refused by the vendor")
    if tried >= policy.max_attempts and not outcome.rate_limited:
        return Transition(
            OpState.DEAD,
            tried,
            error=f"gave up after {tried} attempts; last error: {outcome.error}",
        )
    if outcome.rate_limited and outcome.retry_after is not None:
        wait = outcome.retry_after  # the vendor's window reopens then: no failure to back off
    else:
        wait = backoff_seconds(max(tried, 1), policy, rng, outcome.retry_after)
    return Transition(
        OpState.RETRY,
        tried,
        next_attempt_at=now + timedelta(seconds=wait),
        error=outcome.error or "temporary failure",
    )
