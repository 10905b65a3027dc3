"""Who drives a connection: the lease a worker holds while it plans and drains one.

Planning must see a quiet outbox (a plan computed while another process is half-way
through the same connection's ops would repeat them), and on SQLite only one process can
drain a connection at a time anyway, so every reconcile first takes the lease
``connection:<name>`` (``syncd.state.leases``) and renews it while it works. On
PostgreSQL further workers may help drain without it (their claims use ``SKIP LOCKED``).

A holder that died without releasing its lease (kill -9, power loss) blocks the next run
only until the lease expires, unless the caller can prove the holder dead sooner
(``is_dead``: same host, process gone), in which case the lease is taken over at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from syncd.errors import StateError
from syncd.state import leases


class ConnectionLease:
    """The lease on one connection, for one holder."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        connection: str,
        holder: str,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.connection = connection
        self.name = f"connection:{connection}"
        self.holder = holder
        self.ttl = ttl
        self.clock = clock

    def acquire(self, *, is_dead: Callable[[str], bool] = lambda holder: False) -> None:
        """Take the lease or raise StateError naming who holds it and until when."""
        with self.sessions.begin() as db:
            if leases.acquire(db, self.name, self.holder, ttl=self.ttl, now=self.clock()):
                return
            current = leases.current(db, self.name)
            if current is not None and is_dead(current.holder):
                leases.release(db, self.name, current.holder)
                if leases.acquire(db, self.name, self.holder, ttl=self.ttl, now=self.clock()):
                    return
                current = leases.current(db, self.name)
        until = current.expires_at.isoformat(timespec="seconds") if current else "?"
        raise StateError(
            f"connection {self.connection} is being synced by {current.holder if current else '?'}"
            f" (lease until {until}); try again later",
            connection=self.connection,
        )

    def renew(self) -> bool:
        """Extend the lease; False when it was lost (expired and taken, or released)."""
        with self.sessions.begin() as db:
            return leases.renew(db, self.name, self.holder, ttl=self.ttl, now=self.clock())

    def release(self) -> None:
        """Give the lease up; harmless if it was already lost."""
        with self.sessions.begin() as db:
            leases.release(db, self.name, self.holder)
