"""The apply stage: send exactly a given list of ops, not a fresh plan.

``syncd apply PLAN`` (a reviewed plan file) and ``syncd undo`` (an inverse plan) both
end here, in :func:`apply_ops`. Per connection it opens the connection as reconcile does
(:mod:`syncd.pipeline.connection`: simulator, connector, send history, lease), frees what
a dead process left (:func:`syncd.pipeline.drain.recover`), then in ONE transaction
re-checks the mirror version the ops were computed against, records the source file and
an ``apply`` run, enqueues the ops (held ones held) and the absence history; then drains
with the reconcile worker and closes the run with its counts.

Unlike reconcile it never drains earlier runs first: that would move the mirror the ops
were computed against. Earlier ops the given ones do not contain are superseded by the
enqueue, as a new plan supersedes them (the plan was computed from the mirror, which holds
every effect confirmed so far).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from syncd.config import SANDBOX_URL, Config, ConnectionConfig
from syncd.errors import SafeguardTripped, SyncdError
from syncd.log import get_logger
from syncd.pipeline.connection import (
    connected,
    owned,
    pacing,
    restore_pacing,
    sandboxed,
    save_pacing,
)
from syncd.pipeline.drain import recover
from syncd.pipeline.reconcile import ConnectionResult, Progress, close_run, fail_run
from syncd.plan import Plan
from syncd.plan.hold import Hold
from syncd.plan.ops import Op
from syncd.queue.worker import (
    DrainStats,
    LeaseKeeper,
    Worker,
    WorkerSettings,
    utcnow,
    worker_identity,
)
from syncd.sandbox.account_file import account_path
from syncd.state import absence as absences
from syncd.state import runs, versions
from syncd.state.db import open_state, session_factory
from syncd.state.mirror import load_mirror
from syncd.state.outbox import OutboxStore
from syncd.vendors import connector_class
from syncd.vendors.base import Connector

if TYPE_CHECKING:
    from syncd.plan.absence import Absence

log = get_logger("syncd.pipeline.apply")


class StalePlan(SafeguardTripped):
    """What a plan was computed against has changed since: nothing was enqueued or sent.
    ``limit`` names what changed (``mirror``, ``source``, ``sandbox``, ...)."""

    def __init__(self, message: str, *, changed: str, connection: str) -> None:
        super().__init__(message, limit=changed, connection=connection)


def apply_ops(
    config: Config,
    name: str,
    ops: Sequence[Op],
    *,
    kind: str,
    held: Mapping[str, Hold] | None = None,
    absence: Mapping[str, Absence] | None = None,
    source: runs.SourceRecord | None = None,
    accepted: bool = True,
    mirror_version: int | None = None,
    message: str | None = None,
    settings: WorkerSettings | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    supersede: bool = True,
) -> ConnectionResult:
    """Enqueue ``ops`` for connection ``name`` as one run of ``kind`` and drain them.

    ``held``: op key -> why it waits (stored ``held`` until an operator decides, or
    ``safeguards.hold_hours``); ``absence``: the absence history to store with the ops
    (None: keep the stored one); ``source``: the export the ops were planned from,
    recorded as accepted (the next run's baseline) unless ``accepted`` is False (it looked
    truncated); ``mirror_version``: refuse (``result.refusal``, exit 3, nothing
    enqueued, nothing sent) unless the connection's mirror is still at this version (None:
    no check); ``message``: the run's message; ``supersede``: the ops are a whole plan, so
    queued ops they do not contain are superseded (False for an undo: a few ops beside
    whatever waits, held ops included). Errors are in ``result.error``.
    """
    conn = config.connection(name)[name]
    result = ConnectionResult(name=name, vendor=conn.vendor)
    result.plan = Plan(
        connection=name,
        profile=connector_class(conn.vendor).profile_for(conn),
        ops=tuple(ops),
    )
    if source is not None:
        result.rows_read, result.rows_rejected = source.rows_read, source.rows_rejected
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    job = _Apply(
        config,
        name,
        conn,
        session_factory(engine),
        settings or WorkerSettings.from_env(),
        progress,
        stop or threading.Event(),
    )
    try:
        job.run(
            result,
            _Batch(
                tuple(ops),
                dict(held or {}),
                absence,
                source,
                mirror_version,
                kind,
                message,
                supersede,
                accepted,
            ),
        )
    except SafeguardTripped as exc:
        result.refusal = str(exc)
        result.overridable = not isinstance(exc, StalePlan)
        log.warning("apply.refused", connection=name, changed=exc.limit, reason=str(exc))
    except SyncdError as exc:
        result.error = str(exc)
        log.error("apply.failed", **{**exc.fields, "connection": name, "error": str(exc)})
        job.fail(result, str(exc))
    finally:
        engine.dispose()
    return result


@dataclass(frozen=True)
class _Batch:
    """What one apply enqueues, and what it must still hold true."""

    ops: tuple[Op, ...]
    held: dict[str, Hold]
    absence: Mapping[str, Absence] | None
    source: runs.SourceRecord | None
    mirror_version: int | None
    kind: str
    message: str | None
    supersede: bool
    accepted: bool


class _Apply:
    """One connection's apply; split out so each step reads as one method."""

    def __init__(
        self,
        config: Config,
        name: str,
        conn: ConnectionConfig,
        sessions: Any,
        settings: WorkerSettings,
        progress: Progress | None,
        stop: threading.Event,
    ) -> None:
        self.config = config
        self.name = name
        self.conn = conn
        self.sessions = sessions
        self.settings = settings
        self.progress = progress
        self.stop = stop
        self.store = OutboxStore(sessions, name)
        self.worker_id = worker_identity()

    def run(self, result: ConnectionResult, batch: _Batch) -> None:
        with ExitStack() as stack:
            conn = self.conn
            if conn.base_url.startswith(SANDBOX_URL):
                conn, restored = stack.enter_context(
                    sandboxed(self.config, self.name, conn, keep=True)
                )
                if not restored:
                    self._refuse_lost_account()
            connector = stack.enter_context(connected(conn))
            restore_pacing(self.sessions, self.name, connector)
            keeper = stack.enter_context(
                owned(self.sessions, self.name, self.worker_id, self.settings)
            )
            stack.callback(save_pacing, self.sessions, self.name, connector, clean=True)
            recover(self.store, self.sessions, self.name)
            self._enqueue(result, batch)
            result.drained = self._drain(connector, keeper, result)
            self._finish(result)

    def _refuse_lost_account(self) -> None:
        """A ``sandbox:`` account file that is gone while the mirror holds users: the
        simulator restarts from its seed, which the mirror (and so the plan) does not
        describe. A connection that never synced starts from the seed as reconcile does."""
        with self.sessions() as db:
            synced = len(load_mirror(db, self.name, attrs=False).users)
        if synced:
            raise StalePlan(
                f"connection {self.name}: the sandbox account file {account_path(self.name)} "
                f"is gone (the simulator would start over from its seed), so the mirror the "
                "plan was computed against no longer describes it; plan again",
                changed="sandbox",
                connection=self.name,
            )

    def _enqueue(self, result: ConnectionResult, batch: _Batch) -> None:
        """In ONE transaction: the mirror version re-checked, the source file and the run
        recorded, the ops enqueued (held ones held) and the absences recorded."""
        now = utcnow()
        hours = self.conn.safeguards.hold_hours
        with self.sessions.begin() as db:
            if batch.mirror_version is not None:
                found = versions.current(db, self.name)
                if found != batch.mirror_version:
                    raise StalePlan(
                        f"connection {self.name}: the mirror moved on since the plan was made "
                        f"(version {batch.mirror_version}, now {found}: another run, a drain "
                        "or a --full correction changed what syncd knows of the LMS); plan again",
                        changed="mirror",
                        connection=self.name,
                    )
            source_id = None
            if batch.source is not None:
                source_id = runs.record_source(
                    db, batch.source, (), accepted=batch.accepted, now=now
                )
            result.run_id = runs.start_run(
                db,
                connection=self.name,
                kind=batch.kind,
                now=now,
                source_file_id=source_id,
                planned=len(batch.ops),
                message=batch.message,
            )
            result.enqueued = self.store.enqueue(
                db,
                result.run_id,
                batch.ops,
                now=now,
                held=batch.held,
                held_until=now + timedelta(hours=hours),
                supersede=batch.supersede,
            )
            absences.record(db, self.name, batch.absence)
        log.info(
            "apply.enqueued",
            connection=self.name,
            run_id=result.run_id,
            kind=batch.kind,
            ops=len(batch.ops),
            held=len(batch.held),
        )

    def _drain(
        self, connector: Connector, keeper: LeaseKeeper, result: ConnectionResult
    ) -> DrainStats:
        counts = self.store.counts(run_id=result.run_id)
        if not counts.open:
            return DrainStats()
        progress = self.progress
        if progress is not None:
            progress.phase(self.name, "apply", counts.open)
        worker = Worker(
            self.store,
            connector,
            worker_id=self.worker_id,
            settings=replace(self.settings, max_rate_wait_seconds=self.conn.max_rate_wait_seconds),
            on_event=(
                (lambda event, stats: progress.event(self.name, event, stats))
                if progress is not None
                else None
            ),
            lease_lost=keeper.lost,
            pacing=pacing(connector),
        )
        return worker.drain(self.stop)

    def _finish(self, result: ConnectionResult) -> None:
        close_run(self.sessions, self.store, result)

    def fail(self, result: ConnectionResult, message: str) -> None:
        fail_run(self.sessions, self.store, result, message)
