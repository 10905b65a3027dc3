"""Run bookkeeping: the source file read, its quarantined rows, and the run itself.

A reconcile records what it read and decided in the same transaction as the ops it
enqueues (``OutboxStore.enqueue``), so the database never shows a plan without its run or
a run without its source. A refused plan is recorded too (status ``refused``, the reason in
``message``, the source file not ``accepted``), so the source-shrink safeguard keeps
comparing against the last export that was actually used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from syncd.state.models import QuarantinedRow, Run, RunStatus, SourceFile


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """What is stored about one export as read (the Roster's ``source`` plus counts)."""

    source: str
    path: str
    sha256: str
    size: int
    mtime: datetime
    rows_read: int
    rows_accepted: int
    rows_rejected: int


def as_utc(value: Any) -> datetime:
    """A file time (epoch seconds or datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def previous_rows(db: Session, source: str) -> int | None:
    """Data rows of the newest accepted export of ``source`` (None before the first)."""
    rows: int | None = db.scalar(
        select(SourceFile.rows_read)
        .where(SourceFile.source == source, SourceFile.accepted.is_(True))
        .order_by(SourceFile.id.desc())
        .limit(1)
    )
    return rows


def record_source(
    db: Session,
    record: SourceRecord,
    rejected: Iterable[Mapping[str, Any]],
    *,
    accepted: bool,
    now: datetime,
) -> int:
    """Store the export and its quarantined rows; returns the source file's id."""
    source_id = db.scalar(
        insert(SourceFile)
        .values(
            source=record.source,
            path=record.path,
            sha256=record.sha256,
            size=record.size,
            mtime=record.mtime,
            rows_read=record.rows_read,
            rows_accepted=record.rows_accepted,
            rows_rejected=record.rows_rejected,
            read_at=now,
            accepted=accepted,
        )
        .returning(SourceFile.id)
    )
    assert source_id is not None
    rows = [
        {
            "source_file_id": source_id,
            "path": str(row.get("file") or record.path),
            "line": int(row.get("line") or 0),
            "column": _text(row.get("column")),
            "reason": str(row.get("reason") or ""),
            "key_value": _text(row.get("key")),
            "raw": _plain(row.get("raw")),
            "created_at": now,
        }
        for row in rejected
    ]
    if rows:
        db.execute(insert(QuarantinedRow), rows)
    return int(source_id)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value) or None


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): None if _text(v) is None else str(v) for k, v in value.items()}
    return {}


def start_run(
    db: Session,
    *,
    connection: str,
    kind: str,
    now: datetime,
    source_file_id: int | None = None,
    planned: int = 0,
    status: RunStatus = RunStatus.RUNNING,
    message: str | None = None,
) -> int:
    """Record a run (already finished when ``status`` is not ``running``)."""
    run_id = db.scalar(
        insert(Run)
        .values(
            connection=connection,
            kind=kind,
            started_at=now,
            finished_at=None if status is RunStatus.RUNNING else now,
            status=status.value,
            planned=planned,
            source_file_id=source_file_id,
            message=message,
        )
        .returning(Run.id)
    )
    assert run_id is not None
    return int(run_id)


def finish_run(
    db: Session,
    run_id: int,
    *,
    status: RunStatus,
    now: datetime,
    done: int = 0,
    retried: int = 0,
    dead: int = 0,
    blocked: int = 0,
    calls: int = 0,
    message: str | None = None,
) -> None:
    """Close a run with its counts."""
    db.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            status=status.value,
            finished_at=now,
            done=done,
            retried=retried,
            dead=dead,
            blocked=blocked,
            calls=calls,
            message=message,
        )
    )


def unfinished_runs(db: Session, connection: str) -> list[int]:
    """Runs of a connection still marked running (their process died)."""
    return list(
        db.scalars(
            select(Run.id).where(
                Run.connection == connection, Run.status == RunStatus.RUNNING.value
            )
        ).all()
    )
