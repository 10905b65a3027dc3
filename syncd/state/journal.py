"""The journal of applied ops (``applied_ops``): what each confirmed op changed, as the
mirror held it before, so that ``syncd undo`` can invert a run.

:func:`record` runs in the transaction that marks an op done, before the mirror is changed
(``OutboxStore.record``), so the before-image is read from the very state the op changed
and the journal never names an op the mirror does not reflect. It stays cheap: most ops
carry their own before-image (an update's old values, a removal's group, a replacement's
dropped groups, a rekey's previous key), and only the few that do not cost one indexed
read of one mirror row (a deactivation's or reactivation's previous state, a group
update's old name and parent, an update's or rekey's old match value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from syncd.plan.ops import (
    DeactivateUser,
    Op,
    ReactivateUser,
    RekeyUser,
    UpdateGroup,
    UpdateUser,
    from_payload,
)
from syncd.plan.undo import Applied
from syncd.state.models import AppliedOp, MirrorGroup, MirrorUser, Run


def before_image(db: Session, connection: str, op: Op) -> dict[str, Any]:
    """What ``op`` is about to change and its payload does not hold, from the mirror.

    Empty for ops whose payload is enough (and when the subject is not in the mirror: the
    inverse then finds nothing to restore).
    """
    match op:
        case DeactivateUser() | ReactivateUser():
            active = db.scalar(
                select(MirrorUser.active).where(
                    MirrorUser.connection == connection, MirrorUser.external_id == op.external_id
                )
            )
            return {} if active is None else {"active": bool(active)}
        case UpdateUser() if op.match_value is not None:
            return _match_value(db, connection, op.external_id)
        case RekeyUser() if op.match_value is not None:
            return _match_value(db, connection, op.previous_id)
        case UpdateGroup():
            row = db.execute(
                select(MirrorGroup.name, MirrorGroup.parent_key).where(
                    MirrorGroup.connection == connection, MirrorGroup.key == op.group_key
                )
            ).one_or_none()
            if row is None:
                return {}
            return {"name": row.name, "parent_key": row.parent_key or ""}
    return {}


def _match_value(db: Session, connection: str, external_id: str) -> dict[str, Any]:
    value = db.scalar(
        select(MirrorUser.match_value).where(
            MirrorUser.connection == connection, MirrorUser.external_id == external_id
        )
    )
    return {} if value is None else {"match_value": str(value)}


def record(db: Session, connection: str, run_id: int, op: Op, *, now: datetime) -> None:
    """Journal ``op`` of ``run_id`` as done, inside the caller's transaction (call it before
    the mirror takes the op's effect)."""
    db.execute(
        insert(AppliedOp).values(
            connection=connection,
            run_id=run_id,
            idempotency_key=op.key,
            kind=op.kind,
            payload=op.to_payload(),
            before=before_image(db, connection, op),
            done_at=now,
        )
    )


def entries(db: Session, connection: str, run_id: int) -> list[Applied]:
    """The ops of ``run_id`` on ``connection`` the LMS confirmed, in the order they were."""
    rows = db.execute(
        select(AppliedOp.idempotency_key, AppliedOp.kind, AppliedOp.payload, AppliedOp.before)
        .where(AppliedOp.connection == connection, AppliedOp.run_id == run_id)
        .order_by(AppliedOp.id)
    ).all()
    return [
        Applied(key=key, op=from_payload(kind, payload), before=dict(before or {}))
        for key, kind, payload, before in rows
    ]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What ``syncd undo`` needs to know of the run it is asked to undo."""

    id: int
    connection: str | None
    kind: str
    status: str
    started_at: datetime


def run_of(db: Session, run_id: int) -> RunInfo | None:
    """The run with this id, or None when there is none."""
    row = db.execute(
        select(Run.id, Run.connection, Run.kind, Run.status, Run.started_at).where(Run.id == run_id)
    ).one_or_none()
    return None if row is None else RunInfo(*row)
