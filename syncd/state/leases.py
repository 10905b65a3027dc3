"""Leases: "holder H owns NAME until T", one row each, on SQLite and PostgreSQL alike.

A lease guards something only one process may drive at a time: a connection's worker
(``connection:litmos-main``) or a vendor credential's rate budget (``credential:<hash>``).
It dies with its holder without any cleanup: a holder that stops renewing loses the lease
when ``expires_at`` passes, and the next caller takes it over ("steals" it).

Every change is one conditional statement, atomic on both databases: an insert that does
nothing if the row exists, then an update whose WHERE re-checks "free, expired or mine"
(PostgreSQL re-evaluates it on the locked row under READ COMMITTED, SQLite serialises
writers), so two racing callers can never both win.

PostgreSQL advisory locks are deliberately not used: they belong to one database session,
so they are lost silently when a pooled connection is recycled, and they are invisible to
``syncd`` status output. A row lease works the same on both databases and can be shown.

Times are passed in (``now``) so that tests need no sleeps; production callers pass
:func:`~syncd.state.models.utcnow`. Holders on different machines rely on synchronised
clocks (NTP); keep ``ttl`` far above any plausible skew (a minute or more).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

from syncd.state.db import changed_rows, dialect_insert
from syncd.state.models import Lease


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """The current owner of a lease and until when."""

    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime


def acquire(
    db: Session | Connection, name: str, holder: str, *, ttl: timedelta, now: datetime
) -> bool:
    """Take ``name`` for ``holder`` until ``now + ttl`` if it is free, expired or already ours.

    Returns False, changing nothing, when someone else holds an unexpired lease. Taking an
    expired lease over from another holder resets ``acquired_at``; re-acquiring one's own
    lease extends it and keeps ``acquired_at``.
    """
    expires = now + ttl
    inserted = db.execute(
        dialect_insert(db, Lease)
        .values(name=name, holder=holder, expires_at=expires, acquired_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    if changed_rows(inserted) == 1:
        return True
    mine = db.execute(
        update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=expires)
    )
    if changed_rows(mine) == 1:
        return True
    stolen = db.execute(
        update(Lease)
        .where(Lease.name == name, Lease.expires_at <= now)
        .values(holder=holder, expires_at=expires, acquired_at=now)
    )
    return changed_rows(stolen) == 1


def renew(
    db: Session | Connection, name: str, holder: str, *, ttl: timedelta, now: datetime
) -> bool:
    """Extend a lease ``holder`` still holds; False if it expired or someone else has it.

    A holder whose renewal fails must stop the guarded work at once: even if nobody has
    taken the lease yet, someone may be about to.
    """
    result = db.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder, Lease.expires_at > now)
        .values(expires_at=now + ttl)
    )
    return changed_rows(result) == 1


def release(db: Session | Connection, name: str, holder: str) -> bool:
    """Give a lease up (on graceful shutdown); False if ``holder`` did not hold it."""
    result = db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
    return changed_rows(result) == 1


def current(db: Session | Connection, name: str) -> LeaseInfo | None:
    """Who holds ``name`` (possibly expired: compare ``expires_at`` with your ``now``)."""
    row = db.execute(
        select(Lease.name, Lease.holder, Lease.expires_at, Lease.acquired_at).where(
            Lease.name == name
        )
    ).one_or_none()
    return None if row is None else LeaseInfo(*row)


def listed(db: Session | Connection, prefix: str) -> list[LeaseInfo]:
    """Every lease whose name starts with ``prefix`` (expired ones included), by name."""
    rows = db.execute(
        select(Lease.name, Lease.holder, Lease.expires_at, Lease.acquired_at)
        .where(Lease.name.startswith(prefix, autoescape=True))
        .order_by(Lease.name)
    )
    return [LeaseInfo(*row) for row in rows]
