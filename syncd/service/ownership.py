"""Which replica runs which connection: one lease row per connection, shared fairly.

Every ``syncd run`` process (a replica) keeps two kinds of lease rows
(:mod:`syncd.state.leases`, on SQLite and PostgreSQL alike):

- ``replica:<id>``: "this replica is alive", so each one knows how many share the work;
- ``own:<connection>``: "this replica runs this connection's jobs".

Each :meth:`Ownership.tick` (every third of the lease's life, at most every few seconds)
renews what this replica holds, then moves toward a fair share, ``ceil(connections /
live replicas)``: it takes free or expired connections while under it and lets go of idle
ones while over it (never one whose run is in flight). A replica that dies stops renewing:
its rows expire within ``ownership_seconds`` (at once when its process is provably gone on
this host) and the others take its connections over. A replica whose renewal fails (the
database away longer than the lease) stops counting itself the owner when the lease runs
out, whatever the database says later.

Ownership decides who *schedules* a connection; the runs themselves still take the
connection's own lease (``connection:<name>``) and the outbox claims its ops, so even a
replica that lost ownership mid-run can never drive a connection beside another.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syncd.log import get_logger
from syncd.queue.worker import holder_is_dead, utcnow
from syncd.state import leases

log = get_logger("syncd.service.ownership")

OWN = "own:"
REPLICA = "replica:"


@dataclass(frozen=True)
class Decision:
    """What one tick does: connections to try to take, and owned ones to let go."""

    take: tuple[str, ...]
    shed: tuple[str, ...]


def fair_share(connections: int, replicas: int) -> int:
    """Connections each replica should own at most."""
    return math.ceil(connections / max(replicas, 1))


def decide(
    connections: Iterable[str],
    mine: Iterable[str],
    held_by_others: Iterable[str],
    *,
    replicas: int,
    busy: Callable[[str], bool],
    order_key: str = "",
) -> Decision:
    """Move toward the fair share: take free connections while under it, shed idle ones
    while over it. ``order_key`` spreads replicas over different free connections first, so
    that racing replicas rarely contend for the same row."""
    names = sorted(set(connections))
    owned = [n for n in names if n in set(mine)]
    others = set(held_by_others)
    share = fair_share(len(names), replicas)
    free = [n for n in names if n not in owned and n not in others]
    free.sort(key=lambda n: hashlib.sha256(f"{order_key}/{n}".encode()).hexdigest())
    if len(owned) < share:
        return Decision(take=tuple(free[: share - len(owned)]), shed=())
    if len(owned) > share:
        idle = [n for n in reversed(owned) if not busy(n)]
        return Decision(take=(), shed=tuple(idle[: len(owned) - share]))
    return Decision(take=(), shed=())


class Ownership:
    """This replica's ownership of connections, kept through lease rows."""

    def __init__(
        self,
        sessions: Any,
        replica: str,
        *,
        ttl_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        is_dead: Callable[[str], bool] = holder_is_dead,
    ) -> None:
        self.sessions = sessions
        self.replica = replica
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock
        self.is_dead = is_dead
        self.connections: frozenset[str] = frozenset()
        self._valid_until: dict[str, datetime] = {}
        """Owned connections and until when this replica may count on the lease."""

    @property
    def every_seconds(self) -> float:
        """How often to tick: a third of the lease's life, and at least every 5 s."""
        return min(self.ttl.total_seconds() / 3, 5.0)

    def owns(self, name: str) -> bool:
        until = self._valid_until.get(name)
        return until is not None and self.clock() < until

    def owned(self) -> Mapping[str, bool]:
        return {name: self.owns(name) for name in sorted(self.connections)}

    def set_connections(self, names: Iterable[str]) -> list[str]:
        """The configured connections (at start and on reload); owned ones no longer
        configured are released. Returns those released."""
        self.connections = frozenset(names)
        gone = [n for n in self._valid_until if n not in self.connections]
        self._release(gone)
        return gone

    def tick(self, busy: Callable[[str], bool]) -> tuple[list[str], list[str]]:
        """Renew, then take or shed toward the fair share; (gained, lost) connections."""
        now = self.clock()
        ttl = self.ttl
        lost: list[str] = []
        gained: list[str] = []
        with self.sessions.begin() as db:
            leases.acquire(db, REPLICA + self.replica, self.replica, ttl=ttl, now=now)
            replicas = self._live(db, leases.listed(db, REPLICA), now, forget=True)
            for name in sorted(self._valid_until):
                if leases.renew(db, OWN + name, self.replica, ttl=ttl, now=now):
                    self._valid_until[name] = now + ttl
                else:
                    lost.append(name)
            for name in lost:
                del self._valid_until[name]
            held = leases.listed(db, OWN)
            others = {
                info.name.removeprefix(OWN)
                for info in self._live(db, held, now, forget=False)
                if info.holder != self.replica
            }
            decision = decide(
                self.connections,
                self._valid_until,
                others,
                replicas=len(replicas),
                busy=busy,
                order_key=self.replica,
            )
            for name in decision.take:
                current = leases.current(db, OWN + name)
                if (
                    current is not None
                    and current.expires_at > now
                    and self.is_dead(current.holder)
                ):
                    leases.release(db, OWN + name, current.holder)
                if leases.acquire(db, OWN + name, self.replica, ttl=ttl, now=now):
                    self._valid_until[name] = now + ttl
                    gained.append(name)
            for name in decision.shed:
                leases.release(db, OWN + name, self.replica)
                self._valid_until.pop(name, None)
        for name in gained:
            log.info("service.owned", connection=name, replica=self.replica)
        for name in decision.shed:
            log.info("service.released", connection=name, replica=self.replica, reason="share")
        for name in lost:
            log.warning("service.ownership_lost", connection=name, replica=self.replica)
        return gained, lost

    def release_all(self) -> None:
        """Give everything up (graceful stop): the other replicas take over at once."""
        self._release(list(self._valid_until))
        with self.sessions.begin() as db:
            leases.release(db, REPLICA + self.replica, self.replica)

    def _release(self, names: list[str]) -> None:
        if not names:
            return
        with self.sessions.begin() as db:
            for name in names:
                leases.release(db, OWN + name, self.replica)
        for name in names:
            self._valid_until.pop(name, None)

    def _live(
        self, db: Any, rows: list[leases.LeaseInfo], now: datetime, *, forget: bool
    ) -> list[leases.LeaseInfo]:
        """The rows of holders still alive; with ``forget``, dead ones are deleted."""
        alive = []
        for info in rows:
            if info.expires_at > now and not self.is_dead(info.holder):
                alive.append(info)
            elif forget:
                leases.release(db, info.name, info.holder)
        return alive
