"""Run bookkeeping: the source file read, its quarantined rows, and the run itself.

A reconcile records what it read and decided in the same transaction as the ops it
enqueues (``OutboxStore.enqueue``), so the database never shows a plan without its run or
a run without its source. A refused plan is recorded too (status ``refused``, the reason in
``message``, the source file not ``accepted``), so the source-shrink safeguard keeps
comparing against the last export that was actually used. A file the integrity gate refuses
is recorded with the check (``gate_check``) and a refused run, without its quarantined rows
(a rerun on a stale file must not copy them again and again).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from syncd.state.models import QuarantinedRow, Run, RunStatus, SourceFile

if TYPE_CHECKING:
    from syncd.plan.integrity import ExportFacts


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
    facts: ExportFacts | None = None
    """What the integrity gate compares with the next export (None: not recorded)."""


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


def last_accepted(db: Session, connection: str, source: str) -> tuple[int, ExportFacts] | None:
    """The newest export of ``source`` a run of ``connection`` accepted (its id and facts),
    or None before the first: what the integrity gate compares a new export with.

    Per connection, not per source: two connections fed by one export each accept it once.
    """
    row = db.execute(
        select(SourceFile)
        .join(Run, Run.source_file_id == SourceFile.id)
        .where(
            Run.connection == connection,
            SourceFile.source == source,
            SourceFile.accepted.is_(True),
        )
        .order_by(SourceFile.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    # Here, not at the top: `syncd plan` imports this module before pandas (syncd.plan's).
    from syncd.plan.integrity import ExportFacts

    facts = ExportFacts(
        path=row.path,
        sha256=row.sha256,
        mtime=row.mtime,
        rows=row.rows_read,
        header=tuple(str(h) for h in row.header or ()),
        encoding=row.encoding or "",
        delimiter=row.delimiter or "",
        empty_share={str(k): float(v) for k, v in (row.empty_share or {}).items()},
        inputs=row.inputs or "",
        accepted_at=row.read_at,
    )
    return int(row.id), facts


def record_source(
    db: Session,
    record: SourceRecord,
    rejected: Iterable[Mapping[str, Any]],
    *,
    accepted: bool,
    now: datetime,
    gate_check: str | None = None,
) -> int:
    """Store the export (with the gate's facts) and its quarantined rows; returns the source
    file's id. ``gate_check``: the integrity check that refused it."""
    facts = record.facts
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
            header=None if facts is None else list(facts.header),
            encoding=None if facts is None else facts.encoding,
            delimiter=None if facts is None else facts.delimiter,
            empty_share=None if facts is None else dict(facts.empty_share),
            inputs=None if facts is None else facts.inputs,
            gate_check=gate_check,
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


def gate_failures(db: Session) -> dict[tuple[str, str, str], int]:
    """(connection, source, check) -> exports the integrity gate refused, ever: the
    ``syncd_export_gate_failures_total`` counter, read from the database at each scrape so
    a CronJob's refusal counts as much as the service's own."""
    rows = db.execute(
        select(Run.connection, SourceFile.source, SourceFile.gate_check, func.count())
        .join(Run, Run.source_file_id == SourceFile.id)
        .where(SourceFile.gate_check.is_not(None))
        .group_by(Run.connection, SourceFile.source, SourceFile.gate_check)
    ).all()
    return {(str(c or ""), str(s), str(g)): int(n) for c, s, g, n in rows}
