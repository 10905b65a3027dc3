"""`syncd run`: the long-running service, as one object the CLI starts and signals stop.

Per configured connection it schedules the roster sync (:func:`syncd.pipeline.reconcile.
reconcile` for that connection, what `syncd reconcile --connection N` runs), a drain of its
outbox (:func:`syncd.pipeline.drain.drain_connection`) and the result pull
(:func:`syncd.pipeline.results.pull_connection`) on APScheduler 3's background scheduler
(:mod:`syncd.service.scheduler` builds the triggers). Rules every run follows:

- only while this replica owns the connection (:mod:`syncd.service.ownership`); a replica
  runs a connection's roster sync and result pull as soon as it gains it (at start, or
  on taking over from a dead replica), then on schedule;
- one run per connection at a time, across its kinds: a per-connection lock; a roster
  sync or pull that finds the connection busy is queued and runs right after, a drain is
  simply skipped (the running run drains too); misfires are coalesced into one run;
- a run longer than ``service.budget`` is logged when it passes the budget, reported as
  stuck while it lasts and finishes as ``over budget``.

The main thread waits for signals (:mod:`syncd.service.runtime`), renews ownership, polls
watched exports and pings the systemd watchdog. SIGHUP reloads the configuration: a valid
one reschedules (added, removed and changed connections; the queued work is in the
database and untouched), an invalid one is logged and the old one kept. SIGTERM stops
scheduling, asks the runs in flight to stop after their vendor call, waits up to
``service.stop_grace``, releases ownership and returns 0.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from syncd import config as config_mod
from syncd.config import Config
from syncd.errors import ConfigError, ExitCode, SyncdError
from syncd.log import get_logger
from syncd.queue.worker import worker_identity
from syncd.service.ownership import Ownership
from syncd.service.runtime import Notifier, Signals
from syncd.service.scheduler import DRAIN, KINDS, RESULTS, ROSTER, JobSpec, jobs_for, over_budget
from syncd.service.view import JobState
from syncd.service.watch import Watcher
from syncd.state.db import open_state, session_factory

log = get_logger("syncd.service")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Job:
    """What the service knows of one (connection, kind) between runs."""

    running_since: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_outcome: str | None = None
    reported: bool = False
    """The current run's passing of the budget was logged."""


@dataclass
class _Connection:
    """A connection's lock, its run's stop event and its queued kinds."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event | None = None
    queued: set[str] = field(default_factory=set)


def _readable() -> frozenset[str]:
    from syncd.pipeline.results import readable

    return frozenset(v for v in ("litmos", "scormcloud", "enabley") if readable(v))


class Service:
    """The running service; also the :class:`~syncd.service.view.ServiceView` the HTTP
    endpoint reads."""

    def __init__(self, config_path: Path, config: Config, *, http: str | None = None) -> None:
        self.path = config_path
        self.config = config
        self.http = http if http is not None else config.service.http
        self.readable = _readable()
        self.specs = jobs_for(config, readable=self.readable)
        self.replica = worker_identity()
        self.signals = Signals()
        self.abandoned = False
        """True when :meth:`run` returned with runs still in flight (grace over, or a
        second signal): the process must end without waiting for their threads."""
        self.notifier = Notifier()
        self._lock = threading.RLock()
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._connections: dict[str, _Connection] = {}
        self._stopping = threading.Event()
        self._one_off = count()
        self._scheduler: BackgroundScheduler | None = None
        self._engine: Any = None
        self.sessions: Any = None
        self.ownership: Ownership | None = None
        self._served: Any = None
        self._metrics: Any = None
        """The HTTP endpoint's metrics (None without an endpoint)."""
        self._progress: Any = None
        """Where runs report their progress (the metrics), or None: log lines only."""
        self.watcher = Watcher(self._watched(config))

    # ------------------------------------------------------------------ ServiceView

    def scheduler_running(self) -> bool:
        scheduler = self._scheduler
        return scheduler is not None and scheduler.running and not self._stopping.is_set()

    def jobs(self) -> list[JobState]:
        with self._lock:
            specs = list(self.specs)
            states = {key: _Job(**vars(job)) for key, job in self._jobs.items()}
        found = []
        for spec in specs:
            job = states.get((spec.connection, spec.kind), _Job())
            found.append(
                JobState(
                    connection=spec.connection,
                    kind=spec.kind,
                    next_run=self._next_run(spec),
                    running_since=job.running_since,
                    last_started=job.last_started,
                    last_finished=job.last_finished,
                    last_outcome=job.last_outcome,
                )
            )
        return found

    def owned(self) -> Mapping[str, bool]:
        if self.ownership is None:
            return {name: False for name in sorted(self.config.connections)}
        return self.ownership.owned()

    def stuck(self) -> list[str]:
        budget = self.config.service.seconds("budget")
        now = _now()
        lines = []
        with self._lock:
            for (name, kind), job in sorted(self._jobs.items()):
                since = job.running_since
                if since is not None and over_budget((now - since).total_seconds(), budget):
                    lines.append(
                        f"{name}: {kind} running since {since.isoformat(timespec='seconds')}, "
                        f"over its budget of {self.config.service.budget}"
                    )
        return lines

    # ------------------------------------------------------------------ life cycle

    def run(self) -> int:
        """Start, serve until a stop signal, stop; the process's exit code."""
        self.signals.install()
        try:
            self._start()
            self.notifier.ready(self._status_line())
            self._loop()
            return self._stop()
        finally:
            if self._scheduler is not None and self._scheduler.running:
                self._scheduler.shutdown(wait=False)
            if self._served is not None:
                self._served.stop()
            self.signals.restore()
            if self._engine is not None:
                self._engine.dispose()

    def _serve(self) -> None:
        """Start the HTTP endpoint when an address is set (before any run starts, so a
        refused address ends the start cleanly); it logs the address it listens on."""
        if not self.http:
            return
        from syncd.service.http import serve

        self._served = serve(self, self.config, self.http, engine=self._engine)
        self._metrics = self._served.metrics
        self._progress = self._served.metrics.progress()

    def _start(self) -> None:
        config = self.config
        self._engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
        self.sessions = session_factory(self._engine)
        self.ownership = Ownership(
            self.sessions, self.replica, ttl_seconds=config.service.ownership_seconds
        )
        self.ownership.set_connections(config.connections)
        self._serve()
        workers = max(4, min(32, 3 * len(config.connections)))
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=datetime.now().astimezone().tzinfo,
        )
        self._scheduler.start()
        self._schedule(self.specs)
        log.info(
            "service.started",
            replica=self.replica,
            config=str(self.path),
            connections=sorted(config.connections),
        )
        self._log_schedule()
        self._tick_ownership()

    def _loop(self) -> None:
        ownership_every = self.ownership.every_seconds if self.ownership else 5.0
        watch_every = self.config.service.seconds("watch_every")
        ping_every = self.notifier.ping_every
        next_owner = time.monotonic() + ownership_every
        next_watch = time.monotonic() + watch_every
        next_ping = time.monotonic()
        while True:
            self.signals.wake.wait(timeout=1.0)
            self.signals.wake.clear()
            if self.signals.stop_requested.is_set():
                return
            if self.signals.take_reload():
                self.reload()
                watch_every = self.config.service.seconds("watch_every")
            now = time.monotonic()
            if ping_every is not None and now >= next_ping and self.scheduler_running():
                self.notifier.watchdog()
                next_ping = now + ping_every
            if now >= next_owner:
                self._tick_ownership()
                next_owner = time.monotonic() + ownership_every
            if now >= next_watch:
                self._poll_watch()
                next_watch = time.monotonic() + watch_every
            self._check_budgets()

    def _stop(self) -> int:
        grace = self.config.service.seconds("stop_grace")
        log.info("service.stopping", grace_seconds=grace)
        self.notifier.stopping("stopping: finishing the runs in flight")
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        with self._lock:
            for conn in self._connections.values():
                if conn.stop is not None:
                    conn.stop.set()
        deadline = time.monotonic() + grace
        while self._running() and time.monotonic() < deadline and not self.signals.forced:
            time.sleep(0.1)
        left = self._running()
        if self.ownership is not None:
            try:
                self.ownership.release_all()
            except SyncdError as exc:
                log.warning("service.release_failed", error=str(exc))
        if left:
            log.warning(
                "service.stopped",
                still_running=left,
                note="exiting with runs in flight; the next start releases their claimed ops",
            )
            self.abandoned = True
            return self.signals.forced or int(ExitCode.OK)
        log.info("service.stopped")
        return self.signals.forced or int(ExitCode.OK)

    # ------------------------------------------------------------------ reload

    def reload(self) -> bool:
        """Apply the configuration file again (SIGHUP); False when it was refused."""
        try:
            new = config_mod.load(self.path, runs_service=True)
            specs = jobs_for(new, readable=self.readable)
        except SyncdError as exc:
            log.error("service.reload_failed", config=str(self.path), error=str(exc))
            self.notifier.status(f"reload refused, running the previous configuration: {exc}")
            return False
        old = self.config
        if new.state != old.state:
            log.warning("service.reload_ignored", key="state", reason="needs a restart")
            new = new.model_copy(update={"state": old.state})
        if new.service.http != old.service.http:
            log.warning("service.reload_ignored", key="service.http", reason="needs a restart")
        with self._lock:
            self.config = new
            previous = {s.job_id: s for s in self.specs}
            self.specs = specs
            wanted = {s.job_id for s in specs}
            for key in [k for k in self._jobs if f"{k[0]}:{k[1]}" not in wanted]:
                del self._jobs[key]
        assert self._scheduler is not None
        for job_id in set(previous) - wanted:
            self._remove_job(job_id)
        self._schedule([s for s in specs if previous.get(s.job_id) != s])
        if self.ownership is not None:
            self.ownership.set_connections(new.connections)
        if self._served is not None:
            self._served.reconfigure(new)
        self.watcher.update(self._watched(new))
        added = sorted(set(new.connections) - set(old.connections))
        removed = sorted(set(old.connections) - set(new.connections))
        changed = sorted(
            n
            for n in set(new.connections) & set(old.connections)
            if new.connections[n] != old.connections[n]
        )
        log.info("service.reloaded", added=added, removed=removed, changed=changed)
        self._log_schedule()
        self.notifier.status(self._status_line())
        return True

    # ------------------------------------------------------------------ scheduling

    def _schedule(self, specs: list[JobSpec]) -> None:
        assert self._scheduler is not None
        for spec in specs:
            self._scheduler.add_job(
                self._run_job,
                trigger=spec.trigger(),
                args=(spec.connection, spec.kind, "schedule"),
                id=spec.job_id,
                name=spec.job_id,
                replace_existing=True,
            )

    def _remove_job(self, job_id: str) -> None:
        assert self._scheduler is not None
        try:
            self._scheduler.remove_job(job_id)
        except JobLookupError:
            return

    def request(self, connection: str, kind: str, reason: str) -> None:
        """Run ``kind`` of ``connection`` as soon as the connection is free."""
        if self._stopping.is_set() or self._scheduler is None:
            return
        with self._lock:
            self._connection(connection).queued.add(kind)
        self._scheduler.add_job(
            self._run_job,
            args=(connection, kind, reason),
            id=f"{connection}:{kind}:now:{next(self._one_off)}",
        )

    def _next_run(self, spec: JobSpec) -> datetime | None:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return None
        job = scheduler.get_job(spec.job_id)
        when: datetime | None = getattr(job, "next_run_time", None)
        return when.astimezone(UTC) if when is not None else None

    def _log_schedule(self) -> None:
        for spec in self.specs:
            log.info(
                "service.schedule",
                connection=spec.connection,
                job=spec.kind,
                when=spec.when,
                next_run=(n.isoformat(timespec="seconds") if (n := self._next_run(spec)) else None),
            )

    # ------------------------------------------------------------------ one run

    def _run_job(self, connection: str, kind: str, reason: str) -> None:
        """One run of ``kind`` for ``connection`` (the scheduler's job function)."""
        if self._stopping.is_set():
            return
        with self._lock:
            if connection not in self.config.connections:
                return
            conn = self._connection(connection)
            key = (connection, kind)
            if self.ownership is None or not self.ownership.owns(connection):
                self._jobs.setdefault(key, _Job()).last_outcome = "skipped: not owned"
                conn.queued.discard(kind)
                return
            if not conn.lock.acquire(blocking=False):
                if kind != DRAIN:
                    conn.queued.add(kind)
                return
            conn.queued.discard(kind)
            stop = threading.Event()
            conn.stop = stop
            job = self._jobs.setdefault(key, _Job())
            started = _now()
            job.running_since = job.last_started = started
            job.reported = False
            config = self.config
        log.info("service.run_started", connection=connection, job=kind, reason=reason)
        outcome = "failed: did not finish"
        try:
            outcome = self._stage(config, connection, kind, stop)
        except SyncdError as exc:
            outcome = f"failed: {_one_line(str(exc))}"
        except Exception as exc:  # a bug must not kill the scheduler's thread silently
            log.exception("service.run_crashed", connection=connection, job=kind)
            outcome = f"failed: {type(exc).__name__}: {_one_line(str(exc))}"
        finally:
            finished = _now()
            seconds = (finished - started).total_seconds()
            if over_budget(seconds, config.service.seconds("budget")) and not outcome.startswith(
                "failed"
            ):
                outcome = "over budget"
            with self._lock:
                job.running_since = None
                job.last_finished = finished
                job.last_outcome = outcome
                conn.stop = None
                conn.lock.release()
                queued = [k for k in KINDS if k in conn.queued]
            level = log.info if outcome == "ok" else log.warning
            level(
                "service.run_finished",
                connection=connection,
                job=kind,
                outcome=outcome,
                seconds=round(seconds, 2),
            )
        if queued and not self._stopping.is_set():
            self.request(connection, queued[0], "queued")

    def _stage(self, config: Config, connection: str, kind: str, stop: threading.Event) -> str:
        """Run one stage; its outcome in a few words."""
        if kind == ROSTER:
            from syncd.pipeline.reconcile import reconcile

            (result,) = reconcile(config, connection=connection, stop=stop, progress=self._progress)
            if result.error is not None:
                return f"failed: {_one_line(result.error)}"
            if result.refusal is not None:
                return f"refused: {_one_line(result.refusal)}"
            if stop.is_set():
                return "stopped"
            if result.counts["dead"] or result.counts["blocked"]:
                return (
                    f"ok: {result.counts['dead'] + result.counts['blocked']} op(s) dead or blocked"
                )
            if result.waiting:
                return f"ok: {result.waiting} op(s) waiting"
            return "ok"
        if kind == DRAIN:
            from syncd.pipeline.drain import drain_connection

            report = drain_connection(
                config, connection, sessions=self.sessions, stop=stop, progress=self._progress
            )
            return "stopped" if report.stats.stopped == "stopped" else "ok"
        if kind == RESULTS:
            from syncd.pipeline.results import pull_connection

            pulled = pull_connection(config, connection, sessions=self.sessions, stop=stop)
            if pulled.error:
                return f"failed: {_one_line(pulled.error)}"
            return "stopped" if pulled.stopped else "ok"
        raise ConfigError(f"unknown job kind {kind}")

    # ------------------------------------------------------------------ main-thread chores

    def _tick_ownership(self) -> None:
        if self.ownership is None:
            return
        try:
            gained, lost = self.ownership.tick(self._busy)
        except SyncdError as exc:
            log.warning("service.ownership_failed", error=str(exc))
            return
        except Exception as exc:  # the database away: keep going, leases run out
            log.warning("service.ownership_failed", error=_one_line(str(exc)))
            return
        with self._lock:
            for name in lost:
                conn = self._connections.get(name)
                if conn is not None and conn.stop is not None:
                    conn.stop.set()
        for name in gained:
            self.request(name, ROSTER, "owned")
            if any(s.connection == name and s.kind == RESULTS for s in self.specs):
                self.request(name, RESULTS, "owned")

    def _poll_watch(self) -> None:
        for source in self.watcher.poll():
            names = sorted(n for n, c in self.config.connections.items() if c.source == source)
            log.info("service.export_seen", source=source, connections=names)
            for name in names:
                if self.ownership is not None and self.ownership.owns(name):
                    self.request(name, ROSTER, "watch")

    def _check_budgets(self) -> None:
        budget = self.config.service.seconds("budget")
        now = _now()
        with self._lock:
            late = [
                (key, job)
                for key, job in self._jobs.items()
                if job.running_since is not None
                and not job.reported
                and over_budget((now - job.running_since).total_seconds(), budget)
            ]
            for _key, job in late:
                job.reported = True
        for (name, kind), job in late:
            log.warning(
                "service.over_budget",
                connection=name,
                job=kind,
                running_since=job.running_since.isoformat() if job.running_since else None,
                budget=self.config.service.budget,
            )

    # ------------------------------------------------------------------ helpers

    def _connection(self, name: str) -> _Connection:
        return self._connections.setdefault(name, _Connection())

    def _busy(self, name: str) -> bool:
        with self._lock:
            conn = self._connections.get(name)
            return conn is not None and conn.lock.locked()

    def _running(self) -> list[str]:
        with self._lock:
            return sorted(n for n, c in self._connections.items() if c.lock.locked())

    def _status_line(self) -> str:
        owned = [n for n, mine in self.owned().items() if mine]
        return f"running {len(self.config.connections)} connection(s), {len(owned)} owned here"

    @staticmethod
    def _watched(config: Config) -> dict[str, str]:
        return {name: config.source_path(name) for name, s in config.sources.items() if s.watch}


def _one_line(text: str) -> str:
    return " ".join(text.split())
