"""The stored absence history of each connection (``absences``; ``syncd.plan.absence``).

Read with the mirror in the plan's read transaction (:func:`load`), written only by a
reconcile whose plan was accepted, in the transaction that enqueues its ops (:func:`record`):
never by `syncd plan`, a dry run or a refused run, so only an export that was acted on
counts. The rows are the people absent from the latest such export; whoever is back is
deleted, so a person who returns before being deprovisioned leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from syncd.state.models import Absentee

if TYPE_CHECKING:
    from syncd.plan.absence import Absence


class AbsenceRow(NamedTuple):
    """One stored absence, the fields of ``syncd.plan.absence.Absence`` in its order (plain,
    so `syncd plan` reads it before the plan package and pandas are imported)."""

    exports: int
    since: datetime
    export: str
    pending: bool


def load(db: Session, connection: str) -> dict[str, AbsenceRow]:
    """external_id -> AbsenceRow for the connection's people absent from its last accepted
    export (as few rows as people missing: loaded whole)."""
    rows = db.execute(
        select(
            Absentee.external_id,
            Absentee.exports,
            Absentee.since,
            Absentee.export,
            Absentee.pending,
        ).where(Absentee.connection == connection)
    )
    return {
        str(key): AbsenceRow(int(exports), since, str(export), bool(pending))
        for key, exports, since, export, pending in rows
    }


def record(db: Session, connection: str, absent: Mapping[str, Absence] | None) -> None:
    """Store the plan's absence history as the connection's whole history (None: keep it
    as it is, the export proved nobody absent)."""
    if absent is None:
        return
    db.execute(delete(Absentee).where(Absentee.connection == connection))
    rows = [
        {
            "connection": connection,
            "external_id": key,
            "exports": absence.exports,
            "since": absence.since,
            "export": absence.export,
            "pending": absence.pending,
        }
        for key, absence in absent.items()
    ]
    if rows:
        db.execute(insert(Absentee), rows)


def pending_count(db: Session, connection: str) -> int:
    """People of the connection whose deprovisioning waits for their absence to be confirmed."""
    count = db.scalar(
        select(func.count())
        .select_from(Absentee)
        .where(Absentee.connection == connection, Absentee.pending.is_(True))
    )
    return int(count or 0)
