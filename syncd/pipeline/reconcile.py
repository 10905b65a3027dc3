"""The reconcile stage: read -> plan -> safeguards -> enqueue -> drain, one connection at a time.

``reconcile()`` is what ``syncd reconcile`` (and the service's roster job) runs. Per
connection it:

1. takes the connection's lease (two processes never plan or drain one connection at once)
   and frees claims left by a process that died;
2. finishes the work earlier runs left in the outbox first, so the mirror the plan reads
   holds every effect already achieved (DESIGN: pending work before a new plan);
3. plans as `syncd plan` does (:mod:`syncd.pipeline.plan`: the export read while the
   mirror loads in one read transaction, only the fields the diff compares fetched); with
   ``full`` the mirror is loaded whole and corrected to the LMS's listing first; rejected
   rows go to the quarantine;
4. records the source file, the run and the plan's ops in ONE transaction, or, when a
   safeguard refuses the plan, the source file and a refused run with nothing enqueued;
5. drains the outbox until it is empty or only retries further out than the worker's
   wait remain, then closes the run with its counts.

A ``sandbox:`` connection runs against the vendor's simulator
(:mod:`syncd.pipeline.connection`). Without its account file the simulator starts from its
seed, and the connection's mirror and outbox are emptied too (the mirror is what the LMS
holds): that run is a first sync, and its plan warns when the mirror held users. Delete the
file to start over.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from syncd.config import SANDBOX_URL, Config, ConnectionConfig
from syncd.errors import ConfigError, ExitCode, SafeguardTripped, SyncdError
from syncd.hris import read_roster
from syncd.hris.ingest import file_warnings
from syncd.log import get_logger
from syncd.pipeline import gate
from syncd.pipeline import plan as planning
from syncd.pipeline.connection import (
    connected,
    owned,
    pacing,
    restore_pacing,
    sandboxed,
    save_pacing,
)
from syncd.pipeline.drain import recover
from syncd.pipeline.links import LinksReport, checked, needs_groups, sync_links
from syncd.plan import Listing, Mirror, Plan
from syncd.plan.drift import Drift
from syncd.plan.integrity import ExportFacts
from syncd.plan.safeguards import listed_share
from syncd.queue.worker import (
    DrainStats,
    Event,
    LeaseKeeper,
    Worker,
    WorkerSettings,
    utcnow,
    worker_identity,
)
from syncd.sandbox.account_file import account_path, missing_warning
from syncd.state import absence as absences
from syncd.state import holds, runs
from syncd.state.db import open_state, session_factory
from syncd.state.drift import correct as correct_mirror
from syncd.state.drift import record as record_drift
from syncd.state.machine import QueueCounts
from syncd.state.mirror import clear as clear_mirror
from syncd.state.mirror import load_mirror
from syncd.state.models import RunStatus
from syncd.state.outbox import EnqueueReport, OutboxRow, OutboxStore
from syncd.state.pacing import clear_history
from syncd.vendors.base import Connector

if TYPE_CHECKING:
    from syncd.hris import Roster, SourceInfo
    from syncd.plan.desired import Desired

log = get_logger("syncd.pipeline.reconcile")

_LOGGED_SKIPS = 20
"""Skipped people named in the ``plan.skipped`` log line (all of them: `syncd plan`)."""


class Progress(Protocol):
    """Where the stage reports progress (a rich display, or the log)."""

    def phase(self, connection: str, name: str, total: int) -> None: ...

    def event(self, connection: str, event: Event, stats: DrainStats) -> None: ...

    def note(self, connection: str, text: str) -> None: ...


class LogProgress:
    """Progress as structured log lines: one per phase, plus one per dead op (worker)."""

    def phase(self, connection: str, name: str, total: int) -> None:
        log.info("reconcile.phase", connection=connection, phase=name, ops=total)

    def event(self, connection: str, event: Event, stats: DrainStats) -> None:
        return None

    def note(self, connection: str, text: str) -> None:
        log.info("reconcile.note", connection=connection, message=text)


@dataclass
class ConnectionResult:
    """What reconciling one connection did; ``exit_code`` says how it ended."""

    name: str
    vendor: str
    dry_run: bool = False
    plan: Plan | None = None
    run_id: int | None = None
    rows_read: int = 0
    rows_rejected: int = 0
    enqueued: EnqueueReport | None = None
    earlier: DrainStats = field(default_factory=DrainStats)
    drained: DrainStats = field(default_factory=DrainStats)
    counts: QueueCounts = field(default_factory=QueueCounts)
    dead: list[OutboxRow] = field(default_factory=list)
    refusal: str | None = None
    error: str | None = None
    listing_calls: int = 0
    """Vendor calls the ``--full`` listing made (before any op)."""
    links: LinksReport | None = None
    """The declared signup links after the drain (a dry run: as declared, not checked);
    None without declared links, or when nothing was sent (a refused plan)."""
    gate: str | None = None
    """The integrity check that refused the export (``refusal`` says why)."""
    nothing_new: str | None = None
    """The export was already processed: nothing was planned (exit 0)."""
    overridable: bool = True
    """Whether ``--allow-mass-change`` would pass the refusal (not a stale saved plan)."""

    @property
    def calls(self) -> int:
        """Every vendor call this run made: the listing's, the ops' (earlier and new), then
        the signup links'."""
        links = self.links.calls if self.links is not None else 0
        return self.listing_calls + self.earlier.calls + self.drained.calls + links

    @property
    def links_failed(self) -> int:
        return self.links.failed if self.links is not None else 0

    @property
    def waiting(self) -> int:
        return self.counts["retry"] + self.counts["pending"] + self.counts["claimed"]

    @property
    def held(self) -> int:
        """Ops of this run held for an operator (`syncd held`)."""
        return self.counts["held"]

    @property
    def exit_code(self) -> ExitCode:
        """How this connection ended; a dry run answers as `syncd plan` does (2: changes
        pending), since it sent nothing."""
        if self.error is not None:
            return ExitCode.ERROR
        if self.refusal is not None:
            return ExitCode.REFUSED
        if self.dry_run and self.plan is not None:
            return planning.plan_exit(self.plan)
        if self.held or (self.plan is not None and self.plan.tripped):
            return ExitCode.HELD
        if self.counts["dead"] or self.counts["blocked"] or self.links_failed:
            return ExitCode.DEAD
        if self.waiting:
            return ExitCode.WAITING
        if self.plan is not None and self.plan.incomplete:
            return ExitCode.SKIPPED
        return ExitCode.OK


def exit_code(results: list[ConnectionResult]) -> ExitCode:
    """The most serious ending among the connections."""
    return ExitCode.most_serious(r.exit_code for r in results)


def reconcile(
    config: Config,
    *,
    connection: str | None = None,
    dry_run: bool = False,
    full: bool = False,
    allow_mass_change: bool = False,
    today: date | None = None,
    settings: WorkerSettings | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    executor: Executor | None = None,
    accept_file: frozenset[str] = frozenset(),
) -> list[ConnectionResult]:
    """Reconcile the named connection (or every one); see the module docstring.

    Each plan is made by :mod:`syncd.pipeline.plan`, as `syncd plan` makes it, on
    ``executor`` (two threads of this call's own when None). Each export passes the
    integrity gate first (:mod:`syncd.pipeline.gate`); ``accept_file`` names checks to
    pass for this run.
    """
    chosen = config.connection(connection)
    if not chosen:
        raise ConfigError(f"{config.path}: no connections configured")
    settings = settings or WorkerSettings.from_env()
    progress = progress or LogProgress()
    stop = stop or threading.Event()
    today = today or date.today()
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    with planning.own_executor(executor) as pool:
        try:
            # A dry run only reads: it neither holds off a worker nor waits for one.
            sessions = session_factory(engine, read_only=dry_run)
            results = []
            exports = _Exports(config, chosen, today)
            for name, conn in chosen.items():
                result = ConnectionResult(name=name, vendor=conn.vendor, dry_run=dry_run)
                results.append(result)
                run = _ConnectionRun(
                    config,
                    name,
                    conn,
                    sessions,
                    settings,
                    progress,
                    stop,
                    today,
                    exports,
                    session_factory(engine, read_only=True),
                    pool,
                )
                run.accept = accept_file
                try:
                    run.run(result, dry_run=dry_run, full=full, allow_mass_change=allow_mass_change)
                except SafeguardTripped as exc:
                    result.refusal = str(exc)
                    result.gate = exc.check if isinstance(exc, gate.ExportRefused) else None
                except SyncdError as exc:
                    result.error = str(exc)
                    fields = {**exc.fields, "connection": name, "error": str(exc)}
                    log.error("reconcile.failed", **fields)
                    run.fail(result, str(exc))
                if stop.is_set():
                    break
            return results
        finally:
            engine.dispose()


class _Exports:
    """Each source's export, read once per reconcile (connections may share it) and let go
    as soon as the last connection it feeds has its desired state, as `syncd plan` does: a
    Roster of a million people is hundreds of megabytes, and the diff and the drain need
    none of it. What the run records of the export (its file, counts, rejected rows) is
    kept."""

    def __init__(
        self, config: Config, connections: Mapping[str, ConnectionConfig], today: date
    ) -> None:
        self.config = config
        self.today = today
        self.uses = Counter(conn.source for conn in connections.values())
        self.rosters: dict[str, Roster] = {}
        self.recorded: dict[str, tuple[runs.SourceRecord, list[dict[str, Any]]]] = {}
        self.infos: dict[str, SourceInfo] = {}

    def desired(
        self, name: str, conn: ConnectionConfig, pool: Executor, progress: Progress
    ) -> Desired:
        """``conn``'s desired state from its source's export."""
        roster = self._roster(conn.source, name, progress)
        try:
            return planning.desire_for(self.config, name, conn, roster, today=self.today, pool=pool)
        finally:
            del roster
            self.uses[conn.source] -= 1
            if self.uses[conn.source] <= 0:
                self.rosters.pop(conn.source, None)

    def facts(self, source_name: str) -> tuple[runs.SourceRecord, list[dict[str, Any]]]:
        """The export's record for the run and its rejected rows."""
        return self.recorded[source_name]

    def _roster(self, source_name: str, name: str, progress: Progress) -> Roster:
        if source_name in self.rosters:
            return self.rosters[source_name]
        source = self.config.sources[source_name]
        roster = read_roster(self.config.source_path(source_name), source, today=self.today)
        for warning in file_warnings(roster):
            log.warning("source.warning", source=source_name, message=warning)
            progress.note(name, warning)
        info = roster.source
        record = runs.SourceRecord(
            source=source_name,
            path=str(info.path),
            sha256=info.sha256,
            size=int(info.size),
            mtime=runs.as_utc(info.mtime),
            rows_read=int(info.rows_read),
            rows_accepted=roster.rows_accepted,
            rows_rejected=roster.rows_rejected,
        )
        rejected = roster.rejected.to_dict("records") if len(roster.rejected) else []
        self.recorded[source_name] = (record, rejected)
        self.infos[source_name] = info
        self.rosters[source_name] = roster
        return roster


class _ConnectionRun:
    """One connection's reconcile; split out so each step reads as one method."""

    accept: frozenset[str] = frozenset()
    """Integrity checks passed for this run (``--accept-file``)."""
    same_file: bool = True
    """Whether the same export again means "nothing new" (not for a dry run, ``--full``,
    or a sandbox account starting over: those plan the file again on purpose)."""
    dry_run: bool = False

    def __init__(
        self,
        config: Config,
        name: str,
        conn: ConnectionConfig,
        sessions: Any,
        settings: WorkerSettings,
        progress: Progress,
        stop: threading.Event,
        today: date,
        exports: _Exports,
        reads: Any,
        pool: Executor,
    ) -> None:
        self.config = config
        self.name = name
        self.conn = conn
        self.sessions = sessions
        self.settings = settings
        self.progress = progress
        self.stop = stop
        self.today = today
        self.exports = exports
        self.reads = reads
        """Sessions in read transactions: planning never holds off a worker."""
        self.pool = pool
        """Where planning overlaps its parts (as `syncd plan` does)."""
        self.store = OutboxStore(sessions, name)
        self.worker_id = worker_identity()
        self.rate_waited = 0.0
        """Seconds this run's drains waited for the vendor's rate window (one budget)."""
        self.corrected: tuple[Mirror, Drift] | None = None
        """The mirror corrected to a ``--full`` listing, and the drift found."""

    def run(
        self, result: ConnectionResult, *, dry_run: bool, full: bool, allow_mass_change: bool
    ) -> None:
        with ExitStack() as stack:
            conn = self.conn
            fresh = False
            lost: str | None = None
            if conn.base_url.startswith(SANDBOX_URL):
                running = sandboxed(self.config, self.name, conn, keep=not dry_run)
                conn, restored = stack.enter_context(running)
                fresh = not restored
                lost = self._lost_account() if fresh else None
            connector = stack.enter_context(connected(conn))
            restore_pacing(self.sessions, self.name, connector)
            keeper: LeaseKeeper | None = None
            if not dry_run:
                keeper = stack.enter_context(
                    owned(self.sessions, self.name, self.worker_id, self.settings)
                )
                stack.callback(save_pacing, self.sessions, self.name, connector, clean=True)
                if fresh:
                    self._forget()
                self._recover()
                result.earlier = self._drain(connector, keeper, "earlier runs")
                if result.earlier.stopped == "stopped":
                    result.counts = self.store.counts()
                    return
            self.dry_run = dry_run
            self.same_file = not (dry_run or full or fresh)
            planned = self._plan(conn, connector, full, allow_mass_change, fresh, result)
            if planned is None:
                return
            plan, record, rejected = planned
            if lost is not None:
                plan = replace(plan, warnings=(lost, *plan.warnings))
            if full and not dry_run:
                save_pacing(self.sessions, self.name, connector, clean=False)
            result.plan = plan
            result.rows_read = record.rows_read
            result.rows_rejected = record.rows_rejected
            if dry_run:
                if plan.refusal is not None:
                    result.refusal = plan.refusal.message
                elif conn.signup_links:
                    result.links = checked(conn.signup_links)
                return
            self._record_run(plan, record, rejected, result)
            if plan.refusal is not None:
                return
            result.drained = self._drain(connector, keeper, "sync", run_id=result.run_id)
            if conn.signup_links and result.drained.stopped != "stopped":
                result.links = self._links(connector)
            self._finish(result)

    # ----------------------------------------------------------------------- steps

    def _lost_account(self) -> str | None:
        """Say so when a ``sandbox:`` account file is gone while the mirror holds users.

        The run then starts the simulated account over (it cannot be told apart from a
        deliberate "delete the file to start over"), but never silently: the warning leads
        the plan, so neither a dry run nor a real one reads as "in sync" over it.
        """
        with self.sessions() as db:
            synced = len(load_mirror(db, self.name, attrs=False).users)
        if not synced:
            return None
        warning = missing_warning(account_path(self.name), synced)
        log.warning("sandbox.account_missing", connection=self.name, synced_users=synced)
        self.progress.note(self.name, warning)
        return warning

    def _forget(self) -> None:
        """Empty the mirror, outbox and send history of a connection whose LMS starts empty."""
        with self.sessions.begin() as db:
            clear_mirror(db, self.name)
            self.store.clear(db)
            clear_history(db, self.name)

    def _recover(self) -> None:
        """Free what a dead process left: its claims, and its runs marked running."""
        freed, stale = recover(self.store, self.sessions, self.name)
        if freed or stale:
            self.progress.note(
                self.name,
                f"recovered from an interrupted run: {freed} claimed op(s) released, "
                f"{stale} run(s) closed",
            )

    def _drain(
        self,
        connector: Connector,
        keeper: LeaseKeeper | None,
        phase: str,
        *,
        run_id: int | None = None,
    ) -> DrainStats:
        counts = self.store.counts(run_id=run_id)
        if not counts.open:
            return DrainStats()
        self.progress.phase(self.name, phase, counts.open)
        budget = max(self.conn.max_rate_wait_seconds - self.rate_waited, 0.0)
        worker = Worker(
            self.store,
            connector,
            worker_id=self.worker_id,
            settings=replace(self.settings, max_rate_wait_seconds=budget),
            on_event=lambda event, stats: self.progress.event(self.name, event, stats),
            lease_lost=keeper.lost if keeper else None,
            pacing=pacing(connector),
        )
        stats = worker.drain(self.stop)
        self.rate_waited += stats.rate_wait_seconds
        return stats

    def _plan(
        self,
        conn: ConnectionConfig,
        connector: Connector,
        full: bool,
        allow_mass_change: bool,
        fresh: bool,
        result: ConnectionResult,
    ) -> tuple[Plan, runs.SourceRecord, list[dict[str, Any]]] | None:
        """The plan, or None when the export was already processed (see :meth:`_gate`)."""
        source_name = conn.source
        listing, drift, synced = None, None, 0
        if full:
            desired = self._desired(conn)
            facts = self._gate(source_name, result)
            if facts is None:
                return None
            with self.reads() as db:
                mirror = Mirror.empty() if fresh else load_mirror(db, self.name)
                previous = runs.previous_rows(db, source_name)
                absent = {} if fresh else absences.load(db, self.name)
                kept = {} if fresh else holds.kept(db, self.name, now=utcnow())
                done = None if fresh else planning.load_completions(db, self.name, conn.deprovision)
            synced = int((mirror.users["remote_id"].astype("str") != "").sum())
            listing, mirror, drift = self._listed(connector, conn, mirror, result)
            loaded = planning.LoadedMirror(
                mirror, previous, absent=absent, kept=kept, completions=done
            )
        else:
            loaded, desired = self._loaded(conn, fresh)
            facts = self._gate(source_name, result)
            if facts is None:
                return None
        record, rejected = self.exports.facts(source_name)
        record = replace(record, facts=facts)
        plan = planning.plan_loaded(
            self.name,
            conn,
            loaded,
            desired,
            today=self.today,
            allow_mass_change=allow_mass_change,
            pool=self.pool,
            listing=listing,
            export=record.sha256,
            now=utcnow(),
        )
        if drift is not None:
            plan = replace(plan, drift=drift)
            allowed = allow_mass_change or conn.safeguards.allow_mass_change
            plan = _with_listing_check(plan, conn, synced, drift, allowed=allowed)
        for warning in plan.warnings:
            log.warning("plan.warning", connection=self.name, message=warning)
        if plan.incomplete:
            shown = plan.skipped.head(_LOGGED_SKIPS)
            log.warning(
                "plan.skipped",
                connection=self.name,
                skipped=len(plan.skipped),
                people=dict(zip(shown["external_id"], shown["reason"], strict=True)),
            )
        if plan.pending:
            log.info("plan.pending_deactivations", connection=self.name, people=len(plan.pending))
        return plan, record, rejected

    def _gate(self, source_name: str, result: ConnectionResult) -> ExportFacts | None:
        """The export's integrity gate, before any plan (and before a ``--full`` listing).

        Refused: the file (with the failing check) and a refused run are recorded (not in a
        dry run) and :class:`~syncd.pipeline.gate.ExportRefused` ends the connection's run,
        whatever ``--allow-mass-change`` says. Already processed: a succeeded run saying so
        is recorded, nothing is planned, and None is returned. Else the facts to record.
        """
        record, _ = self.exports.facts(source_name)
        with self.reads() as db:
            last = runs.last_accepted(db, self.name, source_name)
        facts, verdict = gate.judge(
            self.config,
            self.name,
            self.exports.infos[source_name],
            None if last is None else last[1],
            today=self.today,
            same_file=self.same_file,
            accept=self.accept,
        )
        for check in verdict.accepted:
            log.warning("gate.accepted", connection=self.name, source=source_name, check=check)
        if verdict.nothing_new is None and not verdict.refused:
            return facts
        result.rows_read = record.rows_read
        result.rows_rejected = record.rows_rejected
        now = utcnow()
        if verdict.refused:
            error = gate.refusal(verdict, connection=self.name, source=source_name)
            log.warning(
                "reconcile.gate_refused",
                connection=self.name,
                source=source_name,
                check=verdict.check,
                reason=verdict.message,
            )
            if not self.dry_run:
                with self.sessions.begin() as db:
                    source_id = runs.record_source(
                        db,
                        replace(record, facts=facts),
                        (),
                        accepted=False,
                        now=now,
                        gate_check=verdict.check,
                    )
                    result.run_id = runs.start_run(
                        db,
                        connection=self.name,
                        kind="reconcile",
                        now=now,
                        source_file_id=source_id,
                        status=RunStatus.REFUSED,
                        message=str(error),
                    )
                result.counts = self.store.counts()
            raise error
        assert last is not None
        log.info("reconcile.nothing_new", connection=self.name, source=source_name)
        with self.sessions.begin() as db:
            result.run_id = runs.start_run(
                db,
                connection=self.name,
                kind="reconcile",
                now=now,
                source_file_id=last[0],
                status=RunStatus.SUCCEEDED,
                message=verdict.nothing_new,
            )
        result.nothing_new = verdict.nothing_new
        result.counts = self.store.counts()
        return None

    def _desired(self, conn: ConnectionConfig) -> Desired:
        return self.exports.desired(self.name, conn, self.pool, self.progress)

    def _loaded(self, conn: ConnectionConfig, fresh: bool) -> tuple[planning.LoadedMirror, Desired]:
        """The mirror as `syncd plan` loads it (in one read transaction, without the users'
        fields, then those the diff compares), loaded on the pool while the export is read.

        The read transaction ends here, before the plan is recorded in a write transaction.
        """
        with self.reads() as db:
            loading = self.pool.submit(
                planning.load_mirror, db, self.name, conn.source, fresh=fresh
            )
            try:
                desired = self._desired(conn)
            except BaseException:
                wait([loading])
                raise
            loaded = planning.complete_mirror(
                db, self.name, loading.result(), desired, self.pool, conn.deprovision
            )
        return loaded, desired

    def _listed(
        self, connector: Connector, conn: ConnectionConfig, mirror: Mirror, result: ConnectionResult
    ) -> tuple[Listing, Mirror, Drift]:
        """List the LMS and correct the mirror to it (the truth the plan diffs against).

        The listing's calls are counted in ``result`` even when it fails half-way: the
        vendor counted them. The correction is kept for :meth:`_record_run`.
        """
        before = connector.client.calls.total
        try:
            listing = _listing(connector, conn, mirror)
        finally:
            result.listing_calls = connector.client.calls.total - before
        corrected, drift = correct_mirror(mirror, listing)
        self.corrected = (corrected, drift)
        if not drift.empty:
            log.info(
                "reconcile.drift",
                connection=self.name,
                accounts_gone=len(drift.accounts_gone),
                deactivated=len(drift.deactivated),
                activated=len(drift.activated),
                fields=len(drift.fields),
                groups_gone=len(drift.groups_gone),
                groups_renamed=len(drift.groups_renamed),
                memberships_gone=len(drift.memberships_gone),
                assignments_gone=len(drift.assignments_gone),
            )
        return listing, corrected, drift

    def _record_run(
        self,
        plan: Plan,
        record: runs.SourceRecord,
        rejected: list[dict[str, Any]],
        result: ConnectionResult,
    ) -> None:
        """In ONE transaction: the source file, the run and (unless refused) the plan's ops,
        with the mirror's correction to a ``--full`` listing.

        A refused plan is recorded as a refused run with nothing enqueued and the mirror as
        it was (a listing that says most of the LMS is gone, e.g. the wrong account, must not
        rewrite it). Recorded with the ops, the correction outlives them: a repair whose op
        dies is planned again by the next plain run.
        """
        refusal = plan.refusal
        now = utcnow()
        with self.sessions.begin() as db:
            accepted = refusal is None and not plan.suspect_export
            source_id = runs.record_source(db, record, rejected, accepted=accepted, now=now)
            result.run_id = runs.start_run(
                db,
                connection=self.name,
                kind="reconcile",
                now=now,
                source_file_id=source_id,
                planned=len(plan.ops),
                status=RunStatus.RUNNING if refusal is None else RunStatus.REFUSED,
                message=None if refusal is None else refusal.message,
            )
            if refusal is None:
                result.enqueued = self.store.enqueue(
                    db,
                    result.run_id,
                    plan.ops,
                    now=now,
                    held=plan.held,
                    held_until=now + timedelta(hours=self.conn.safeguards.hold_hours),
                )
                absences.record(db, self.name, plan.absence)
                if self.corrected is not None and not self.corrected[1].empty:
                    record_drift(db, self.name, *self.corrected, now=now)
        if refusal is not None:
            result.refusal = refusal.message
            result.counts = self.store.counts()
            log.warning(
                "reconcile.refused",
                connection=self.name,
                limit=refusal.limit,
                reason=refusal.message,
            )
            return
        log.info(
            "reconcile.enqueued",
            connection=self.name,
            run_id=result.run_id,
            ops=len(plan.ops),
            held=len(plan.held),
            calls=plan.calls,
            repairs=plan.repairs,
            rejected_rows=record.rows_rejected,
            skipped=len(plan.skipped),
        )

    def _links(self, connector: Connector) -> LinksReport:
        """Make the vendor's signup links match the declaration, after the drain (a team
        target given as a group key needs the team the drain may just have created)."""
        groups: dict[str, str] = {}
        if needs_groups(self.conn.signup_links):
            with self.reads() as db:
                frame = load_mirror(db, self.name, attrs=False).groups
            keys, remotes = frame["key"].astype("str"), frame["remote_id"].astype("str")
            groups = {k: r for k, r in zip(keys, remotes, strict=True) if r}
        report = sync_links(connector, self.name, groups)
        log.info(
            "reconcile.links",
            connection=self.name,
            links=report.as_dicts(),
            failed=report.failed,
            calls=report.calls,
        )
        return report

    def _finish(self, result: ConnectionResult) -> None:
        close_run(self.sessions, self.store, result)

    def fail(self, result: ConnectionResult, message: str) -> None:
        """Close the run (if one was started) as failed; the error itself is reported."""
        fail_run(self.sessions, self.store, result, message)


def close_run(sessions: Any, store: OutboxStore, result: ConnectionResult) -> None:
    """Close ``result``'s run with its counts and the sentence that explains its ending:
    one way for every stage that enqueues and drains (reconcile, apply, undo)."""
    assert result.run_id is not None
    counts = store.counts(run_id=result.run_id)
    result.counts = counts
    result.dead = store.rows(states=["dead", "blocked"], limit=None)
    tripped = result.plan is not None and bool(result.plan.tripped)
    if (
        counts["dead"]
        or counts["blocked"]
        or result.waiting
        or result.links_failed
        or result.held
        or tripped
    ):
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    message = None
    if result.held or tripped:
        message = describe_held(result)
    elif result.drained.stopped == "waiting" and result.drained.next_due is not None:
        message = f"retries waiting; next due {result.drained.next_due.isoformat()}"
    elif result.drained.stopped == "stopped":
        message = "stopped before the outbox was drained"
    elif result.drained.stopped == "rate_wait":
        message = describe_rate_waits(result)
    elif result.plan is not None and result.plan.incomplete:
        message = f"{len(result.plan.skipped)} people skipped (`syncd plan` shows why)"
    elif result.links_failed:
        message = f"{result.links_failed} signup link(s) failed"
    with sessions.begin() as db:
        runs.finish_run(
            db,
            result.run_id,
            status=status,
            now=utcnow(),
            done=counts["done"],
            retried=result.drained.retried,
            dead=counts["dead"],
            blocked=counts["blocked"],
            calls=result.calls,
            message=message,
        )


def fail_run(sessions: Any, store: OutboxStore, result: ConnectionResult, message: str) -> None:
    """Close a started run as failed (its enqueued ops stay for the next drain); the error
    itself is reported by the caller. A database that fails again is logged, not raised."""
    if result.run_id is None:
        return
    try:
        with sessions.begin() as db:
            runs.finish_run(
                db, result.run_id, status=RunStatus.FAILED, now=utcnow(), message=message
            )
        result.counts = store.counts(run_id=result.run_id)
    except SyncdError:
        log.warning("run.fail_not_recorded", connection=result.name, run_id=result.run_id)


# --------------------------------------------------------------------------- helpers


def _listing(connector: Connector, conn: ConnectionConfig, mirror: Mirror) -> Listing:
    """The LMS's own listing, for adoption and drift.

    Every user and team (adoption, and accounts or teams deleted or changed by hand), then
    the members of each team the mirror holds memberships in and the holders of each course
    or learning path it holds assignments of (memberships and courses removed by hand).
    Per team and item, not per person: U users, G teams, T such teams and C such items cost
    ceil(U/1000) + ceil(G/1000) + T + C calls (one more per further 1,000 members or
    holders of one team or item, and one more wherever a count is an exact multiple of
    1,000: the page after a full one is asked for). Those are Litmos's figures; each
    connector pages its own way (Enabley reads members, when asked to, from each active
    user's groups: one call per active user, once, for all teams).
    """
    users = list(connector.list_users())
    groups = list(connector.list_groups())
    listed = {g.remote_id for g in groups}
    teams = [team for team in _held_teams(mirror) if team in listed]
    members, member_scope = _listed_pairs(connector.list_members, [(t,) for t in teams])
    holders, assignment_scope = _listed_pairs(connector.list_holders, _held_items(mirror))
    return Listing(
        users=pd.DataFrame(
            {
                "remote_id": pd.Series([u.remote_id for u in users], dtype="str"),
                "match_value": pd.Series(
                    [u.match_value(conn.match_key) for u in users], dtype="str"
                ),
                "active": pd.Series([u.active for u in users], dtype="bool"),
                "attrs": pd.Series([dict(u.attrs) for u in users], dtype="object"),
            }
        ),
        groups=pd.DataFrame(
            {
                "remote_id": pd.Series([g.remote_id for g in groups], dtype="str"),
                "name": pd.Series([g.name for g in groups], dtype="str"),
                "parent_remote_id": pd.Series([g.parent_remote_id for g in groups], dtype="str"),
            }
        ),
        memberships=pd.DataFrame(
            [(team, user) for (team,), user in members],
            columns=["group_remote_id", "user_remote_id"],
            dtype="str",
        ),
        assignments=pd.DataFrame(
            [(user, kind, item) for (kind, item), user in holders],
            columns=["user_remote_id", "kind", "item_id"],
            dtype="str",
        ),
        member_scope=frozenset(team for (team,) in member_scope),
        assignment_scope=frozenset((kind, item) for kind, item in assignment_scope),
    )


def _held_teams(mirror: Mirror) -> list[str]:
    """Remote ids of the teams the mirror holds memberships in, sorted."""
    held = set(mirror.memberships["group_key"].astype("str"))
    return sorted(
        {
            remote
            for key, remote in zip(
                mirror.groups["key"].astype("str"),
                mirror.groups["remote_id"].astype("str"),
                strict=True,
            )
            if key in held and remote
        }
    )


def _held_items(mirror: Mirror) -> list[tuple[str, ...]]:
    """(kind, item_id) of the courses and learning paths the mirror holds, sorted."""
    frame = mirror.assignments
    items = zip(frame["kind"].astype("str"), frame["item_id"].astype("str"), strict=True)
    return sorted(set(items))


def _listed_pairs(
    lister: Callable[..., Iterator[str]], subjects: list[tuple[str, ...]]
) -> tuple[list[tuple[tuple[str, ...], str]], list[tuple[str, ...]]]:
    """(subject, remote user id) for each subject ``lister`` lists, and the subjects listed.

    A connector that cannot list them (``NotImplementedError``) lists none: the mirror's
    memberships or assignments are then left unchecked, never taken for missing.
    """
    pairs: list[tuple[tuple[str, ...], str]] = []
    done: list[tuple[str, ...]] = []
    for subject in subjects:
        try:
            pairs.extend((subject, user) for user in lister(*subject))
        except NotImplementedError:
            return [], []
        done.append(subject)
    return pairs, done


def _with_listing_check(
    plan: Plan, conn: ConnectionConfig, synced: int, drift: Drift, *, allowed: bool
) -> Plan:
    """The plan with the ``--full`` listing's own check: refused when most synced accounts
    are missing from the listing (another LMS account), unless a mass change was allowed."""
    check = listed_share(conn.safeguards, synced, len(drift.accounts_gone))
    if not check.tripped:
        return replace(plan, checks=(*plan.checks, check))
    if allowed:
        return replace(plan, checks=(*plan.checks, check), overridden=True)
    return replace(plan, checks=(*plan.checks, check), refusal=plan.refusal or check, held={})


def describe_held(result: ConnectionResult) -> str | None:
    """A sentence about tripped limits and the ops held for an operator, or None."""
    plan = result.plan
    tripped = plan.tripped if plan is not None else ()
    if not result.held and not tripped:
        return None
    limits = ", ".join(dict.fromkeys(check.label for check in tripped))
    by = f" ({limits} tripped)" if limits else ""
    if result.held:
        text = (
            f"{result.held} op(s) held for approval{by}; the rest went out "
            f"(`syncd held list --connection {result.name}`)"
        )
    else:
        text = f"safeguard tripped{by}; nothing needed holding"
    if plan is not None and plan.pending:
        text += f"; {len(plan.pending)} absent people stay pending deactivation"
    if plan is not None and plan.suspect_export:
        text += (
            "; the export looks truncated: it is not the next run's baseline and its "
            "absences do not count towards deactivating anyone"
        )
    return text


def describe_wait(result: ConnectionResult) -> str | None:
    """A sentence about retries still waiting, or None."""
    if not result.waiting:
        return None
    due = result.drained.next_due or result.earlier.next_due
    when = f" (next due {due.isoformat(timespec='seconds')})" if due else ""
    return f"{result.waiting} op(s) still waiting to be retried{when}; run reconcile again"


def describe_rate_waits(result: ConnectionResult) -> str | None:
    """A sentence about the vendor's rate refusals and the waiting they cost, or None."""
    stats = result.earlier.add(result.drained)
    if not stats.rate_refusals:
        return None
    text = (
        f"the vendor refused {stats.rate_refusals} request(s) as too fast; "
        f"{stats.rate_wait_seconds:.0f} s spent waiting for its rate window"
    )
    if "rate_wait" in (result.earlier.stopped, result.drained.stopped):
        text += (
            "; stopped at the connection's max_rate_wait_seconds with the ops left waiting, "
            "none dead-lettered (is the connection's `rate` more than the vendor allows?)"
        )
    return text
