"""One person's rows in the state database, for `syncd explain`: read-only queries.

Everything here reads inside the caller's session (one read transaction, so the mirror,
the queue and the results are one snapshot) and writes nothing. People are named by their
HRIS key exactly, as everywhere; :func:`near_keys` finds keys that differ only in case, as
a hint for a mistyped key, never as a match.

A person's queued ops are found by their idempotency key (which carries the person's key
as its subject) plus the few op kinds whose subject is a group or a course and that list
people (a team's ``AddMembers``); each candidate is read back as its op and kept only when
it names the person exactly (``concerns``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syncd.plan.ops import Op, from_payload
from syncd.state.machine import OpState
from syncd.state.models import (
    MirrorAssignment,
    MirrorGroup,
    MirrorMembership,
    MirrorUser,
    OutboxOp,
    Result,
)

LISTING_KINDS = ("add_members", "assign_group_courses", "assign_course_people", "rekey_user")
"""Op kinds that may name a person other than by their key's subject: lists of people, and
a rekey's previous key."""

NEAR_SHOWN = 5
"""Case-insensitive near matches offered as a hint, at most."""


def concerns(op: Op, external_id: str) -> bool:
    """Whether ``op`` is about the person ``external_id`` (exactly): as its subject, a
    member of its list of people, or the previous key of a rekey."""
    if getattr(op, "external_id", None) == external_id:
        return True
    if getattr(op, "previous_id", None) == external_id:
        return True
    return external_id in getattr(op, "external_ids", ())


@dataclass(frozen=True)
class MirrorPerson:
    """The person's account as syncd last confirmed it in the LMS."""

    remote_id: str | None
    match_value: str
    active: bool
    attrs: dict[str, Any]
    updated_at: datetime | None
    groups: list[tuple[str, str]]  # (group key, name as the mirror knows it)
    items: list[tuple[str, str]]  # (kind, item id)


def mirror_person(db: Session, connection: str, external_id: str) -> MirrorPerson | None:
    """The person's mirror rows, or None when syncd holds no account for them."""
    user = db.execute(
        select(
            MirrorUser.remote_id,
            MirrorUser.match_value,
            MirrorUser.active,
            MirrorUser.attrs,
            MirrorUser.updated_at,
        ).where(MirrorUser.connection == connection, MirrorUser.external_id == external_id)
    ).first()
    groups = db.execute(
        select(MirrorMembership.group_key, func.coalesce(MirrorGroup.name, ""))
        .outerjoin(
            MirrorGroup,
            and_(
                MirrorGroup.connection == MirrorMembership.connection,
                MirrorGroup.key == MirrorMembership.group_key,
            ),
        )
        .where(
            MirrorMembership.connection == connection,
            MirrorMembership.external_id == external_id,
        )
        .order_by(MirrorMembership.group_key)
    ).all()
    items = db.execute(
        select(MirrorAssignment.kind, MirrorAssignment.item_id)
        .where(
            MirrorAssignment.connection == connection,
            MirrorAssignment.external_id == external_id,
        )
        .order_by(MirrorAssignment.kind, MirrorAssignment.item_id)
    ).all()
    if user is None and not groups and not items:
        return None
    remote_id, match_value, active, attrs, updated_at = user if user is not None else (None,) * 5
    return MirrorPerson(
        remote_id=remote_id,
        match_value=match_value or "",
        active=bool(active),
        attrs=dict(attrs or {}),
        updated_at=updated_at,
        groups=[(str(k), str(n)) for k, n in groups],
        items=[(str(k), str(i)) for k, i in items],
    )


def near_keys(db: Session, connection: str, external_id: str) -> list[str]:
    """Mirror keys equal to ``external_id`` ignoring case (ASCII case on SQLite), not it."""
    rows = db.scalars(
        select(MirrorUser.external_id)
        .where(
            MirrorUser.connection == connection,
            func.lower(MirrorUser.external_id) == external_id.lower(),
            MirrorUser.external_id != external_id,
        )
        .order_by(MirrorUser.external_id)
        .limit(NEAR_SHOWN)
    ).all()
    return list(rows)


@dataclass(frozen=True)
class QueuedOp:
    """One of the person's ops in the outbox that is not done."""

    id: int
    key: str
    kind: str
    state: str
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    last_error: str | None
    op: Op
    held: str | None = None
    """Why a held or rejected op waits (its check and reason)."""


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, its wildcards escaped with ``\\``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def queued_ops(db: Session, connection: str, external_id: str) -> list[QueuedOp]:
    """The person's ops that are not done (pending, retry, claimed, blocked, dead, held,
    rejected), oldest first."""
    rows = db.execute(
        select(
            OutboxOp.id,
            OutboxOp.idempotency_key,
            OutboxOp.kind,
            OutboxOp.state,
            OutboxOp.attempts,
            OutboxOp.next_attempt_at,
            OutboxOp.claimed_until,
            OutboxOp.last_error,
            OutboxOp.payload,
            OutboxOp.held_check,
            OutboxOp.held_reason,
        )
        .where(
            OutboxOp.connection == connection,
            OutboxOp.state != OpState.DONE.value,
            or_(
                OutboxOp.idempotency_key.like(_like(external_id), escape="\\"),
                OutboxOp.kind.in_(LISTING_KINDS),
            ),
        )
        .order_by(OutboxOp.id)
    ).all()
    found = []
    for row_id, key, kind, state, attempts, next_at, until, error, payload, check, why in rows:
        op = from_payload(kind, payload)
        if concerns(op, external_id):
            held = f"{check}: {why}" if check else None
            found.append(
                QueuedOp(row_id, key, kind, state, attempts, next_at, until, error, op, held)
            )
    return found


def _before(row: QueuedOp) -> ColumnElement[bool]:
    """Rows of the same class that the claim takes before ``row``: earlier next attempt,
    or the same time and a lower id (the claim's own order)."""
    return or_(
        OutboxOp.next_attempt_at < row.next_attempt_at,
        and_(OutboxOp.next_attempt_at == row.next_attempt_at, OutboxOp.id < row.id),
    )


def ahead_of(db: Session, connection: str, row: QueuedOp, *, now: datetime) -> dict[str, int]:
    """Ops the worker will send before ``row``, counted by kind, in the claim's order
    (``OutboxStore.claim``): claimed ops (in flight, or a dead worker's, taken first), then
    due retries, then due pending ops, each by next attempt time and id; ops not yet due
    follow in time order. Blocked and dead ops never run and are not counted; an op
    waiting for a dependency is counted as if it were ready."""
    state = OpState(row.state)
    if state not in (OpState.PENDING, OpState.RETRY):
        return {}
    claimed = OutboxOp.state == OpState.CLAIMED.value
    due = OutboxOp.next_attempt_at <= now
    retry = and_(OutboxOp.state == OpState.RETRY.value, due)
    pending = and_(OutboxOp.state == OpState.PENDING.value, due)
    later = and_(OutboxOp.state.in_([OpState.PENDING.value, OpState.RETRY.value]), ~due)
    earlier = _before(row)
    if row.next_attempt_at > now:
        ahead = or_(claimed, retry, pending, and_(later, earlier))
    elif state is OpState.RETRY:
        ahead = or_(claimed, and_(retry, earlier))
    else:
        ahead = or_(claimed, retry, and_(pending, earlier))
    counted = db.execute(
        select(OutboxOp.kind, func.count())
        .where(OutboxOp.connection == connection, OutboxOp.id != row.id, ahead)
        .group_by(OutboxOp.kind)
    ).all()
    return {str(kind): int(n) for kind, n in counted}


@dataclass(frozen=True)
class ResultRow:
    """One of the person's results as the last pull recorded it."""

    item_kind: str
    item_id: str
    item_name: str | None
    status: str
    completed: bool
    passed: bool | None
    percentage: float | None
    score: float | None
    completed_at: datetime | None
    updated_at: datetime | None
    seen_at: datetime


def results_of(db: Session, connection: str, external_id: str) -> list[ResultRow]:
    """The person's result rows (by HRIS key), newest vendor change first."""
    rows = db.execute(
        select(
            Result.item_kind,
            Result.item_id,
            Result.item_name,
            Result.status,
            Result.completed,
            Result.passed,
            Result.percentage,
            Result.score,
            Result.completed_at,
            Result.updated_at,
            Result.seen_at,
        )
        .where(Result.connection == connection, Result.external_id == external_id)
        .order_by(Result.seen_at.desc(), Result.item_kind, Result.item_id)
    ).all()
    return [ResultRow(*row) for row in rows]
