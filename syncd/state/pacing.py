"""A credential's recent send history, kept in the state database across processes.

The vendor counts our requests over a rolling window that outlives any one process: a
reconcile started right after another (a CronJob) or after a crash must not send a whole
window's worth on top of what the vendor still counts. The limiter writes its history as a
short text (``syncd.limiter.Limiter.snapshot``); this module stores it as one small
``cursors`` row per connection and credential, and reads back every connection's row for a
credential (connections that share an API key share the vendor's allowance).

The row name holds a hash of the limiter's key, which is itself built from a hash of the
credential: no secret is ever stored.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncd.state.db import dialect_insert
from syncd.state.models import Cursor

PREFIX = "ratelimit:"


def cursor_name(limiter_key: str) -> str:
    """The ``cursors.name`` of a credential's history (short and secret-free)."""
    return PREFIX + hashlib.sha256(limiter_key.encode()).hexdigest()[:32]


def save_history(
    db: Session, connection: str, limiter_key: str, snapshot: str, *, now: datetime
) -> None:
    """Upsert the history row, inside the caller's transaction."""
    name = cursor_name(limiter_key)
    statement = dialect_insert(db, Cursor).values(
        connection=connection, name=name, value=snapshot, updated_at=now
    )
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["connection", "name"],
            set_={"value": snapshot, "updated_at": now},
        )
    )


def load_history(db: Session, limiter_key: str) -> list[str]:
    """Every connection's saved history for one credential."""
    return list(db.scalars(select(Cursor.value).where(Cursor.name == cursor_name(limiter_key))))


def clear_history(db: Session, connection: str) -> None:
    """Forget a connection's saved histories (its LMS is a fresh simulator each run)."""
    db.execute(
        delete(Cursor).where(Cursor.connection == connection, Cursor.name.startswith(PREFIX))
    )
