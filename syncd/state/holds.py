"""Held and rejected outbox ops: what waits for an operator, and the operator's answers.

A plan's risky ops (:mod:`syncd.plan.hold`) are stored ``held`` by
:meth:`syncd.state.outbox.OutboxStore.enqueue`; this module is everything else about them:

- :func:`kept`: the holds and rejections a new plan must keep (a hold lasts until an
  operator decides or it expires, whatever the next plan's safeguards say);
- :func:`expire`: holds past ``held_until`` are dropped (the next plan decides again, with
  its safeguards, from the export it reads then: a truncated file fixed meanwhile plans
  nothing destructive at all);
- :func:`approve` (back to ``pending``: the next drain sends them) and :func:`reject`
  (``rejected``: kept while plans ask for the same op, so it is never sent; dropped when a
  plan no longer asks for it, e.g. the person is back in the export). Ops held only
  because they wait on held ones follow: released once nothing they wait on is held,
  rejected with what they wait on.
- :func:`mark_rejected`: done ops an operator undid (``syncd undo``), so that a plan over
  the same export does not make the same change again.

Each function works inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from syncd.plan.hold import DEPENDENCY, PREREQUISITE, REJECTED, Hold
from syncd.state.db import changed_rows, in_chunks
from syncd.state.machine import OpState, dependents
from syncd.state.models import MirrorMembership, OutboxDep, OutboxOp

UNDONE = "undone"
"""The ``held_check`` of a done op an operator undid."""


@dataclass(frozen=True, slots=True)
class HeldOp:
    """One held (or rejected) op as `syncd held list` shows it."""

    id: int
    run_id: int
    key: str
    kind: str
    state: str
    check: str
    reason: str
    until: datetime | None
    payload: Mapping[str, Any]
    updated_at: datetime | None = None
    member_of: tuple[str, ...] = ()
    """The groups the mirror holds the op's people in (approving "the leavers of Sales")."""

    @property
    def people(self) -> tuple[str, ...]:
        """The HRIS keys of the people the op is about."""
        found = [self.payload.get("external_id"), self.payload.get("previous_id")]
        found += list(self.payload.get("external_ids") or ())
        return tuple(str(p) for p in found if p)

    @property
    def groups(self) -> tuple[str, ...]:
        """The group keys the op is about (the team joined or left, teams removed), then
        those its people are members of."""
        found = [self.payload.get("group_key"), *(self.payload.get("removed") or ())]
        return tuple(dict.fromkeys(str(g) for g in [*found, *self.member_of] if g))

    def matches(
        self,
        *,
        people: Iterable[str] = (),
        groups: Iterable[str] = (),
        kinds: Iterable[str] = (),
        checks: Iterable[str] = (),
    ) -> bool:
        """Whether the op fits every filter given (an empty filter fits all)."""
        people, groups, kinds, checks = set(people), set(groups), set(kinds), set(checks)
        return (
            (not people or bool(people & set(self.people)))
            and (not groups or bool(groups & set(self.groups)))
            and (not kinds or self.kind in kinds)
            and (not checks or self.check in checks or self.check.split("[")[0] in checks)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "key": self.key,
            "kind": self.kind,
            "state": self.state,
            "check": self.check,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "people": list(self.people),
            "groups": list(self.groups),
        }


def columns(hold: Hold, until: datetime | None) -> dict[str, Any]:
    """The columns of an op stored held by ``hold`` until ``until`` (None: no expiry)."""
    return {
        "state": OpState.HELD.value,
        "held_check": hold.check,
        "held_reason": hold.reason,
        "held_until": until,
        "claimed_by": None,
        "claimed_until": None,
    }


def fresh(now: datetime) -> dict[str, Any]:
    """The columns of an op (re)armed as never tried: pending now, no claim, no history, no
    hold (an enqueued op re-armed, or a held one approved)."""
    return {
        "state": OpState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_by": None,
        "claimed_until": None,
        "last_error": None,
        "result": None,
        "held_check": None,
        "held_reason": None,
        "held_until": None,
        "updated_at": now,
    }


def _delete(db: Session, ids: Sequence[int]) -> None:
    for chunk in in_chunks(ids):
        db.execute(delete(OutboxDep).where(OutboxDep.op_id.in_(chunk)))
        db.execute(delete(OutboxOp).where(OutboxOp.id.in_(chunk)))


def expire(db: Session, connection: str, *, now: datetime) -> int:
    """Drop the holds that ran out; returns how many."""
    ids = list(
        db.scalars(
            select(OutboxOp.id).where(
                OutboxOp.connection == connection,
                OutboxOp.state == OpState.HELD.value,
                OutboxOp.held_until.is_not(None),
                OutboxOp.held_until <= now,
            )
        )
    )
    _delete(db, ids)
    return len(ids)


def rows(
    db: Session,
    connection: str,
    *,
    states: Sequence[OpState] = (OpState.HELD,),
    members: bool = False,
) -> list[HeldOp]:
    """The connection's held (or rejected) ops, oldest first; with ``members``, each with
    the groups the mirror holds its people in (for an operator's ``--group``: one more
    query, which planning and the operator's own transitions do not need)."""
    found = db.execute(
        select(
            OutboxOp.id,
            OutboxOp.run_id,
            OutboxOp.idempotency_key,
            OutboxOp.kind,
            OutboxOp.state,
            OutboxOp.held_check,
            OutboxOp.held_reason,
            OutboxOp.held_until,
            OutboxOp.payload,
            OutboxOp.updated_at,
        )
        .where(OutboxOp.connection == connection, OutboxOp.state.in_([s.value for s in states]))
        .order_by(OutboxOp.id)
    ).all()
    held = [
        HeldOp(row_id, run_id, key, kind, state, check or "", reason or "", until, payload, at)
        for row_id, run_id, key, kind, state, check, reason, until, payload, at in found
    ]
    if not members:
        return held
    groups = _member_groups(db, connection, {p for row in held for p in row.people})
    return [
        replace(row, member_of=tuple(sorted({g for p in row.people for g in groups.get(p, ())})))
        for row in held
    ]


def _member_groups(db: Session, connection: str, people: set[str]) -> dict[str, set[str]]:
    """Person -> the groups the mirror holds them in."""
    found: dict[str, set[str]] = {}
    for chunk in in_chunks(sorted(people)):
        pairs = db.execute(
            select(MirrorMembership.external_id, MirrorMembership.group_key).where(
                MirrorMembership.connection == connection,
                MirrorMembership.external_id.in_(chunk),
            )
        ).all()
        for person, group in pairs:
            found.setdefault(person, set()).add(group)
    return found


def kept(db: Session, connection: str, *, now: datetime) -> dict[str, Hold]:
    """Op key -> hold, for every op a new plan must keep out of the LMS: held ops whose
    hold has not expired, and rejected ones."""
    found: dict[str, Hold] = {}
    for row in rows(db, connection, states=(OpState.HELD, OpState.REJECTED)):
        if row.state == OpState.REJECTED.value:
            found[row.key] = Hold(check=REJECTED, reason=row.reason or "rejected by an operator")
        elif row.until is None or row.until > now:
            found[row.key] = Hold(check=row.check, reason=row.reason)
    return found


def _deps(db: Session, connection: str, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for chunk in in_chunks(ids):
        pairs = db.execute(
            select(OutboxDep.op_id, OutboxDep.depends_on).where(
                OutboxDep.connection == connection, OutboxDep.op_id.in_(chunk)
            )
        ).all()
        for op_id, need in pairs:
            found.setdefault(op_id, []).append(need)
    return found


def approve(db: Session, connection: str, ids: Sequence[int], *, now: datetime) -> int:
    """Release the chosen held ops to ``pending`` (the next drain sends them) with the
    held prerequisites they wait on (a leaver's unassignments), and the ops held only
    because they waited on held ones once nothing they wait on is held. Returns how many
    ops were released."""
    held = rows(db, connection)
    wanted = set(ids)
    needs = _deps(db, connection, [row.id for row in held if row.id in wanted])
    before = {need for row_needs in needs.values() for need in row_needs}
    chosen = [
        row.id
        for row in held
        if row.id in wanted or (row.check == PREREQUISITE and row.key in before)
    ]
    released = _set(db, chosen, fresh(now))
    while True:
        waiting = [row for row in rows(db, connection) if row.check == DEPENDENCY]
        if not waiting:
            break
        still = {row.key for row in rows(db, connection, states=(OpState.HELD, OpState.REJECTED))}
        needs = _deps(db, connection, [row.id for row in waiting])
        free = [row.id for row in waiting if not set(needs.get(row.id, ())) & still]
        if not free:
            break
        released += _set(db, free, fresh(now))
    return released


def reject(
    db: Session, connection: str, ids: Sequence[int], *, now: datetime, who: str = "an operator"
) -> int:
    """Mark the chosen held ops rejected, with the held ops that wait on them; returns how
    many. A rejected op stays in the outbox (never sent) while plans ask for it."""
    held = rows(db, connection)
    chosen = [row for row in held if row.id in set(ids)]
    needs = _deps(db, connection, [row.id for row in held])
    by_key = {row.key: row for row in held}
    graph = {row.key: needs.get(row.id, []) for row in held}
    follow = dependents(graph, [row.key for row in chosen])
    victims = chosen + [by_key[key] for key in follow if by_key[key] not in chosen]
    count = 0
    for row in victims:
        count += _set(
            db,
            [row.id],
            {
                "state": OpState.REJECTED.value,
                "held_reason": f"rejected by {who}: {row.reason}",
                "held_until": None,
                "updated_at": now,
            },
        )
    return count


def mark_rejected(
    db: Session, connection: str, keys: Sequence[str], *, check: str, reason: str, now: datetime
) -> int:
    """Mark done or held ops rejected (an operator undid them); returns how many."""
    count = 0
    for chunk in in_chunks(keys):
        count += changed_rows(
            db.execute(
                update(OutboxOp)
                .where(
                    OutboxOp.connection == connection,
                    OutboxOp.idempotency_key.in_(chunk),
                    OutboxOp.state.in_([OpState.DONE.value, OpState.HELD.value]),
                )
                .values(
                    state=OpState.REJECTED.value,
                    held_check=check,
                    held_reason=reason,
                    held_until=None,
                    updated_at=now,
                )
            )
        )
    return count


def _set(db: Session, ids: Sequence[int], values: Mapping[str, Any]) -> int:
    count = 0
    for chunk in in_chunks(ids):
        count += changed_rows(
            db.execute(
                update(OutboxOp)
                .where(OutboxOp.id.in_(chunk), OutboxOp.state == OpState.HELD.value)
                .values(**values)
            )
        )
    return count
