"""The read-only queries behind `syncd status`, the status page and the metrics scrape.

Each answers one question an operator asks of a connection (is the queue moving, when did
the last sync succeed, how fresh are the results, who drives it) in one small indexed
query, so a Prometheus scrape every 15 s costs the database next to nothing. Nothing here
writes; callers pass a session from :func:`syncd.state.db.read_session`, so a scrape never
holds off a worker's writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from syncd.state import leases
from syncd.state import results as results_store
from syncd.state.machine import OpState
from syncd.state.models import Cursor, OutboxDep, OutboxOp, Result, Run, RunStatus, SourceFile
from syncd.state.pacing import PREFIX as PACING_PREFIX

WAITING_STATES = (OpState.PENDING.value, OpState.RETRY.value, OpState.CLAIMED.value)
"""Ops with work ahead that can move (blocked ones wait on a dead op, a person's call)."""


def ping(db: Session) -> None:
    """A trivial query: raises when the database does not answer."""
    db.execute(text("SELECT 1")).scalar()


@dataclass(frozen=True, slots=True)
class RunRow:
    """One recorded run, as status output shows it."""

    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    planned: int
    done: int
    retried: int
    dead: int
    blocked: int
    calls: int
    message: str | None


def last_runs(db: Session, connection: str, *, limit: int) -> list[RunRow]:
    """The connection's newest runs first."""
    rows = db.execute(
        select(
            Run.id,
            Run.kind,
            Run.status,
            Run.started_at,
            Run.finished_at,
            Run.planned,
            Run.done,
            Run.retried,
            Run.dead,
            Run.blocked,
            Run.calls,
            Run.message,
        )
        .where(Run.connection == connection)
        .order_by(Run.id.desc())
        .limit(limit)
    ).all()
    return [RunRow(**row._mapping) for row in rows]


def last_success(db: Session, connection: str, kind: str = "reconcile") -> datetime | None:
    """When the newest run of ``kind`` that ended ``succeeded`` finished."""
    value: datetime | None = db.scalar(
        select(func.max(Run.finished_at)).where(
            Run.connection == connection,
            Run.kind == kind,
            Run.status == RunStatus.SUCCEEDED.value,
        )
    )
    return value


def last_started(db: Session, connection: str, kind: str = "reconcile") -> datetime | None:
    """When the newest run of ``kind`` started (whatever its outcome)."""
    value: datetime | None = db.scalar(
        select(func.max(Run.started_at)).where(Run.connection == connection, Run.kind == kind)
    )
    return value


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Ops per state, and since when the oldest op that can still move has been waiting."""

    by_state: dict[str, int]
    oldest_waiting_since: datetime | None


def queue_depth(db: Session, connection: str) -> QueueDepth:
    """Ops per state; the oldest waiting op is dated by the run that queued it.

    An op's own ``created_at`` is not used: an op re-armed by a later plan keeps the row
    (and its first date), while its ``run_id`` moves to the run that asked for it again.
    """
    counts = {
        str(state): int(n)
        for state, n in db.execute(
            select(OutboxOp.state, func.count())
            .where(OutboxOp.connection == connection)
            .group_by(OutboxOp.state)
        ).all()
    }
    oldest: datetime | None = db.scalar(
        select(func.min(Run.started_at))
        .select_from(OutboxOp)
        .join(Run, Run.id == OutboxOp.run_id)
        .where(OutboxOp.connection == connection, OutboxOp.state.in_(WAITING_STATES))
    )
    return QueueDepth(counts, oldest)


def rejected_in_last_export(db: Session, source: str) -> int | None:
    """Rows the newest export of ``source`` read had rejected (None before the first)."""
    rows: int | None = db.scalar(
        select(SourceFile.rows_rejected)
        .where(SourceFile.source == source)
        .order_by(SourceFile.id.desc())
        .limit(1)
    )
    return rows


@dataclass(frozen=True, slots=True)
class ResultsFreshness:
    """How far result pulls have come for a connection."""

    watermark: datetime | None
    """The end of the last fully committed results window."""
    pulled_at: datetime | None
    """When the watermark last moved: the last pull that completed a window."""
    last_seen_at: datetime | None
    """When the newest result record was written."""
    revision: int
    exported_revision: int


def results_freshness(db: Session, connection: str) -> ResultsFreshness:
    """The watermark and revisions of a connection's result pulls."""
    pulled_at: datetime | None = db.scalar(
        select(Cursor.updated_at).where(
            Cursor.connection == connection, Cursor.name == results_store.WATERMARK
        )
    )
    seen: datetime | None = db.scalar(
        select(func.max(Result.seen_at)).where(Result.connection == connection)
    )
    return ResultsFreshness(
        watermark=results_store.watermark(db, connection),
        pulled_at=pulled_at,
        last_seen_at=seen,
        revision=results_store.last_revision(db, connection),
        exported_revision=results_store.exported_revision(db, connection),
    )


@dataclass(frozen=True, slots=True)
class SavedPacing:
    """One credential's send history as a connection last saved it (``syncd.state.pacing``)."""

    name: str
    """The cursor's name: a hash of the limiter's key, never the credential."""
    snapshot: str
    saved_at: datetime


def saved_pacing(db: Session, connection: str) -> list[SavedPacing]:
    """The send histories a connection saved, one per credential it used."""
    rows = db.execute(
        select(Cursor.name, Cursor.value, Cursor.updated_at)
        .where(Cursor.connection == connection, Cursor.name.startswith(PACING_PREFIX))
        .order_by(Cursor.name)
    ).all()
    return [SavedPacing(*row) for row in rows]


def owner(db: Session, connection: str) -> leases.LeaseInfo | None:
    """Who holds the connection's lease (possibly expired: compare with your ``now``)."""
    return leases.current(db, f"connection:{connection}")


def blocked_on(db: Session, connection: str, op_ids: list[int]) -> dict[int, list[str]]:
    """Per blocked op: the keys of the dead ops it waits on (its reason to wait)."""
    if not op_ids:
        return {}
    dead = aliased(OutboxOp)
    rows = db.execute(
        select(OutboxDep.op_id, OutboxDep.depends_on)
        .join(
            dead,
            (dead.idempotency_key == OutboxDep.depends_on) & (dead.connection == connection),
        )
        .where(OutboxDep.op_id.in_(op_ids), dead.state == OpState.DEAD.value)
        .order_by(OutboxDep.op_id, OutboxDep.depends_on)
    ).all()
    found: dict[int, list[str]] = {}
    for op_id, key in rows:
        found.setdefault(int(op_id), []).append(str(key))
    return found
