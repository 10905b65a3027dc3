"""The outbox state machine as pure functions: what happens to an op, never how it is stored.

Every op a plan produces lives in the outbox (``syncd.state.outbox`` stores it) and moves
through named states::

    pending ──claim──▶ claimed ──done──▶ done
       ▲                  │ ├──retry──▶ retry ──(next_attempt_at reached)──▶ claimed
       │                  │ └──dead───▶ dead  ──(dependents)──▶ blocked
       │                  └──release (crash, lease expired, worker bug)──▶ pending
       └── re-armed: by ``syncd queue retry``, or by a new plan that needs the op again

``done`` and ``dead`` are terminal for the run; ``blocked`` waits on a dead dependency.
Dependencies are per member for a team's batched ``add_members``: when only some members'
own ops (create, link, reactivation) are dead, the store splits the op, so the others go in
and only those members wait, blocked (``AddMembers.split``, ``OutboxStore._free_members``).
A new plan that contains the key of a ``done`` op re-arms it (the mirror says the effect is
needed again: a user deactivated, reactivated and deactivated again gets the same key
twice); a ``dead`` op is re-armed only when its payload changed (the same request would get
the same refusal, so it stays on the dead-letter list until a person says otherwise).

Why an op may be executed more than once, and why that is harmless, is the worker's story
(``syncd.queue.worker``); this module decides states and times only, so it can be tested
without a database and reused by every store.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from syncd.state.models import OutboxState
from syncd.vendors.base import Outcome, Status

OpState = OutboxState
"""The states an outbox row can be in: the stored strings, defined once with the table's
check constraint (``syncd.state.models``; importing it needs no database)."""

OPEN_STATES = frozenset({OpState.PENDING, OpState.CLAIMED, OpState.RETRY, OpState.BLOCKED})
"""States whose op still has work ahead of it."""

RUNNABLE_STATES = frozenset({OpState.PENDING, OpState.RETRY, OpState.CLAIMED})
"""States a worker may claim from (retry once due, claimed once its lease expired)."""

TRANSITIONS: Mapping[OpState, frozenset[OpState]] = {
    OpState.PENDING: frozenset({OpState.CLAIMED, OpState.BLOCKED}),
    OpState.RETRY: frozenset({OpState.CLAIMED, OpState.BLOCKED, OpState.PENDING}),
    OpState.CLAIMED: frozenset(
        {OpState.DONE, OpState.RETRY, OpState.DEAD, OpState.PENDING, OpState.CLAIMED}
    ),
    OpState.DONE: frozenset({OpState.PENDING}),
    OpState.DEAD: frozenset({OpState.PENDING}),
    OpState.BLOCKED: frozenset({OpState.PENDING}),
}
"""Every allowed move; ``claimed -> claimed`` is a reclaim after an expired lease."""


class IllegalTransition(ValueError):
    """A state change the machine does not allow: a bug in the caller, never user input."""


def check_transition(current: OpState | str, target: OpState | str) -> OpState:
    """Return ``target`` as an OpState, or raise if the machine forbids the move."""
    source, dest = OpState(current), OpState(target)
    if dest not in TRANSITIONS[source]:
        raise IllegalTransition(f"an outbox op cannot go from {source} to {dest}")
    return dest


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


@dataclass(frozen=True, slots=True)
class Transition:
    """What to write on an op after one outcome: the new state and its columns."""

    state: OpState
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    result: Mapping[str, Any] | None = None


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


def dependents(deps: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every key that depends, directly or through others, on one of ``roots``.

    ``deps`` maps an op's key to the keys it depends on. Used to block the dependents of a
    dead op (and to unblock them when it is re-armed or dropped).
    """
    reverse: dict[str, list[str]] = {}
    for key, needs in deps.items():
        for need in needs:
            reverse.setdefault(need, []).append(key)
    found: set[str] = set()
    stack = list(roots)
    while stack:
        for child in reverse.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class EnqueueAction(StrEnum):
    """What enqueuing a planned op does to the outbox row with the same key, if any."""

    INSERT = "insert"  # no row with this key: add it
    KEEP = "keep"  # already open (pending/claimed/retry/blocked): leave it, attach to the run
    REARM = "rearm"  # done before, needed again (or dead with a new payload): back to pending
    KEEP_DEAD = "keep_dead"  # dead with the same payload: the same request gets the same no


@dataclass(frozen=True, slots=True)
class Existing:
    """The parts of an existing outbox row that enqueuing needs to decide."""

    state: OpState
    payload: Mapping[str, Any]


def enqueue_action(existing: Existing | None, payload: Mapping[str, Any]) -> EnqueueAction:
    """Decide what a newly planned op does to an existing row with its key."""
    if existing is None:
        return EnqueueAction.INSERT
    if existing.state in OPEN_STATES:
        return EnqueueAction.KEEP
    if existing.state is OpState.DEAD and _same(existing.payload, payload):
        return EnqueueAction.KEEP_DEAD
    return EnqueueAction.REARM


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Payload equality that ignores list-vs-tuple differences from the JSON round trip."""
    return bool(_plain(a) == _plain(b))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How many ops of a run (or connection) are in each state."""

    by_state: Mapping[str, int] = field(default_factory=dict)

    def __getitem__(self, state: OpState | str) -> int:
        return int(self.by_state.get(str(state), 0))

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def open(self) -> int:
        return sum(self[s] for s in OPEN_STATES)
