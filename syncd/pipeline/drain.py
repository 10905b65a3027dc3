"""The drain stage: one connection's outbox, worked off without planning.

What the service runs between roster syncs, so retries go out when they fall due instead
of waiting for the next plan. The connection is opened as `syncd reconcile` opens it
(:mod:`syncd.pipeline.connection`: its simulator for a ``sandbox:`` URL, connector, lease,
send history), claims a dead process left are freed first (:func:`recover`, which
reconcile uses too), then the worker drains until nothing is ready or only retries further
out than its wait remain.

A connection with nothing ready is not opened at all: the service asks every minute, and
starting a connector (or a simulator) for an empty queue would be waste.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from syncd.config import SANDBOX_URL, Config
from syncd.log import get_logger
from syncd.pipeline.connection import (
    connected,
    owned,
    pacing,
    restore_pacing,
    sandboxed,
    save_pacing,
)
from syncd.queue.worker import (
    DrainStats,
    Event,
    Worker,
    WorkerSettings,
    holder_is_dead,
    utcnow,
    worker_identity,
)
from syncd.state import runs
from syncd.state.models import RunStatus
from syncd.state.outbox import OutboxStore

log = get_logger("syncd.pipeline.drain")


class DrainProgress(Protocol):
    """Where each recorded outcome is reported (reconcile's ``Progress`` fits)."""

    def event(self, connection: str, event: Event, stats: DrainStats) -> None: ...


@dataclass
class DrainReport:
    """What one drain of one connection did; ``idle``: nothing was ready, nothing opened."""

    connection: str
    idle: bool = False
    freed: int = 0
    closed_runs: int = 0
    stats: DrainStats = field(default_factory=DrainStats)


def recover(store: OutboxStore, sessions: Any, connection: str) -> tuple[int, int]:
    """Free what a dead process left: its claims, and its runs still marked running.

    Call only while holding the connection's lease. On SQLite nobody else can hold claims
    then, so all are freed; on PostgreSQL only those of holders proven dead (the rest run
    out with their claim lease). Returns (claims freed, runs closed).
    """
    now = utcnow()
    if store.dialect == "sqlite":
        freed = store.release_claims(now=now)
    else:
        dead = [h for h in store.claim_holders() if holder_is_dead(h)]
        freed = store.release_claims(now=now, holders=dead) if dead else 0
    with sessions.begin() as db:
        stale = runs.unfinished_runs(db, connection)
        for run_id in stale:
            runs.finish_run(
                db,
                run_id,
                status=RunStatus.FAILED,
                now=now,
                message="interrupted before it finished; later runs finish its ops",
            )
    return freed, len(stale)


def drain_connection(
    config: Config,
    name: str,
    *,
    sessions: Any,
    settings: WorkerSettings | None = None,
    stop: threading.Event | None = None,
    progress: DrainProgress | None = None,
) -> DrainReport:
    """Drain ``name``'s outbox (see the module docstring); errors propagate as SyncdError
    (the connection busy with another process's run is a StateError)."""
    conn = config.connection(name)[name]
    settings = settings or WorkerSettings.from_env()
    report = DrainReport(connection=name)
    store = OutboxStore(sessions, name)
    now = utcnow()
    counts = store.counts()
    ready = counts["pending"] or counts["claimed"]
    due = store.next_due(now=now)
    if not ready and (due is None or due > now):
        report.idle = True
        return report
    worker_id = worker_identity()
    with ExitStack() as stack:
        if conn.base_url.startswith(SANDBOX_URL):
            conn, restored = stack.enter_context(sandboxed(config, name, conn, keep=True))
            if not restored:
                # A simulator back at its seed: the next roster sync starts it over (and
                # empties this outbox); ops sent to it now would only fail.
                report.idle = True
                return report
        connector = stack.enter_context(connected(conn))
        restore_pacing(sessions, name, connector)
        keeper = stack.enter_context(owned(sessions, name, worker_id, settings))
        stack.callback(save_pacing, sessions, name, connector, clean=True)
        report.freed, report.closed_runs = recover(store, sessions, name)
        worker = Worker(
            store,
            connector,
            worker_id=worker_id,
            settings=replace(settings, max_rate_wait_seconds=conn.max_rate_wait_seconds),
            lease_lost=keeper.lost,
            pacing=pacing(connector),
            on_event=(
                (lambda event, stats: progress.event(name, event, stats))
                if progress is not None
                else None
            ),
        )
        report.stats = worker.drain(stop)
    stats = report.stats
    log.info(
        "drain.finished",
        connection=name,
        done=stats.done,
        retried=stats.retried,
        dead=stats.dead,
        calls=stats.calls,
        stopped=stats.stopped,
        freed=report.freed,
    )
    return report
