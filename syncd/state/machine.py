"""The outbox state machine as pure values: the states an op moves through, never how it is stored.

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

It lives with the store, below ``queue``, so the store never imports the worker's package:
which transition an outcome causes (retry policy, backoff) is ``syncd.queue.outbox``; why an
op may be executed more than once, and why that is harmless, is the worker's story
(``syncd.queue.worker``). Pure, so it is tested without a database and reused by every store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from syncd.state.models import OutboxState

OpState = OutboxState
"""The states an outbox row can be in: the stored strings, defined once with the table's
check constraint (``syncd.state.models``; importing it needs no database)."""

OPEN_STATES = frozenset({OpState.PENDING, OpState.CLAIMED, OpState.RETRY, OpState.BLOCKED})
"""States whose op still has work ahead of it."""

RUNNABLE_STATES = frozenset({OpState.PENDING, OpState.RETRY, OpState.CLAIMED})
"""States a worker may claim from (retry once due, claimed once its lease expired)."""

TRANSITIONS: Mapping[OpState, frozenset[OpState]] = {
    OpState.PENDING: frozenset({OpState.CLAIMED, OpState.BLOCKED, OpState.HELD}),
    OpState.RETRY: frozenset({OpState.CLAIMED, OpState.BLOCKED, OpState.PENDING, OpState.HELD}),
    OpState.CLAIMED: frozenset(
        {OpState.DONE, OpState.RETRY, OpState.DEAD, OpState.PENDING, OpState.CLAIMED}
    ),
    OpState.DONE: frozenset({OpState.PENDING, OpState.HELD, OpState.REJECTED}),
    OpState.DEAD: frozenset({OpState.PENDING, OpState.HELD}),
    OpState.BLOCKED: frozenset({OpState.PENDING, OpState.HELD}),
    OpState.HELD: frozenset({OpState.PENDING, OpState.REJECTED}),
    OpState.REJECTED: frozenset({OpState.PENDING, OpState.HELD}),
}
"""Every allowed move; ``claimed -> claimed`` is a reclaim after an expired lease.

``held`` waits for an operator (a tripped safeguard, a seat budget): approved it goes back
to ``pending``, rejected to ``rejected``, expired it is dropped. ``rejected`` is kept while
plans keep asking for the same op (the same request stays refused, as with ``dead``); a
``done`` op becomes ``rejected`` when an operator undoes it (``syncd undo``)."""


class IllegalTransition(ValueError):
    """A state change the machine does not allow: a bug in the caller, never user input."""


def check_transition(current: OpState | str, target: OpState | str) -> OpState:
    """Return ``target`` as an OpState, or raise if the machine forbids the move."""
    source, dest = OpState(current), OpState(target)
    if dest not in TRANSITIONS[source]:
        raise IllegalTransition(f"an outbox op cannot go from {source} to {dest}")
    return dest


@dataclass(frozen=True, slots=True)
class Transition:
    """What to write on an op after one outcome: the new state and its columns."""

    state: OpState
    attempts: int
    next_attempt_at: datetime | None = None
    error: str | None = None
    result: Mapping[str, Any] | None = None


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
    """What enqueuing a planned op does to the outbox row with the same key, if any.

    A planned op the plan holds is stored ``held`` where it is inserted or re-armed, and an
    open row not yet in flight is moved to ``held`` (HOLD); a row already held stays held
    whatever the new plan says (KEEP): only an operator, or the hold's expiry, ends it,
    unless the hold was derived (a seat, a held dependency) and the new plan no longer
    makes it (REARM: it goes out).
    """

    INSERT = "insert"  # no row with this key: add it
    KEEP = "keep"  # already open (pending/claimed/retry/blocked) or held: leave it, attach
    REARM = "rearm"  # done before, needed again (or dead with a new payload): back to pending
    KEEP_DEAD = "keep_dead"  # dead with the same payload: the same request gets the same no
    KEEP_REJECTED = "keep_rejected"  # rejected by an operator, the same request again
    HOLD = "hold"  # open and not in flight, and the plan holds it now


@dataclass(frozen=True, slots=True)
class Existing:
    """The parts of an existing outbox row that enqueuing needs to decide."""

    state: OpState
    payload: Mapping[str, Any]
    derived: bool = False
    """Held for a reason each plan works out again (a seat, a held dependency)."""


def enqueue_action(
    existing: Existing | None, payload: Mapping[str, Any], *, hold: bool = False
) -> EnqueueAction:
    """Decide what a newly planned op (``hold``: one the plan holds) does to an existing row
    with its key."""
    if existing is None:
        return EnqueueAction.INSERT
    if existing.state is OpState.HELD:
        # A derived hold the new plan no longer makes is over: the op goes out.
        return EnqueueAction.REARM if existing.derived and not hold else EnqueueAction.KEEP
    if existing.state in OPEN_STATES:
        if hold and existing.state is not OpState.CLAIMED:
            return EnqueueAction.HOLD
        return EnqueueAction.KEEP
    same = _same(existing.payload, payload)
    if existing.state is OpState.DEAD and same:
        return EnqueueAction.KEEP_DEAD
    if existing.state is OpState.REJECTED and same:
        return EnqueueAction.KEEP_REJECTED
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
