"""What an operator looks at: per connection, the state of its syncs as one plain value.

:func:`collect` answers, from the state database (and the live service when there is
one), the questions asked of a sync daemon before reading any log: did the last runs
work, is the queue moving, what is dead or held and why, how close is each credential to
its vendor's limit, how fresh are the results, who drives the connection and when it
runs next. `syncd status` prints it, the status page renders it, ``/status`` returns
:meth:`StatusReport.as_json`: one value, so the three never disagree.

Without a running service (`syncd status` from a shell) the next runs come from the
configured schedule: a cron's next time (APScheduler's trigger, local time zone, as the
scheduler reads it) or, for an interval, the last run plus the interval. Every text that
came from a vendor or a file passes through the log redactor, and a credential is only
ever named by a hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncd.config import Config, ConnectionConfig, parse_interval
from syncd.limiter import Limiter, RateRule, history_use, limiters
from syncd.log import redact
from syncd.service.view import JobState, ServiceView
from syncd.state import absence, health, holds
from syncd.state.db import Engine, Session, read_session, session_factory
from syncd.state.outbox import OutboxStore
from syncd.state.pacing import PREFIX as PACING_PREFIX
from syncd.state.pacing import cursor_name

RUNS_SHOWN = 5
"""Runs listed per connection."""

OPS_SHOWN = 20
"""Dead and blocked ops listed per connection (the counts are always complete)."""


@dataclass(frozen=True)
class RunInfo:
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    planned: int
    done: int
    retried: int
    dead: int
    blocked: int
    calls: int
    message: str | None


@dataclass(frozen=True)
class QueueInfo:
    by_state: dict[str, int]
    waiting: int
    """Ops that can still move: pending, retry, claimed."""
    dead: int
    blocked: int
    held: int
    """Ops a safeguard or the seat budget holds for an operator (`syncd held`)."""
    oldest_waiting_since: datetime | None
    oldest_waiting_seconds: float | None


@dataclass(frozen=True)
class OpInfo:
    """A dead (dead letter), held (for approval) or blocked (behind a dead op) op and why."""

    id: int
    key: str
    kind: str
    state: str
    attempts: int
    reason: str
    updated_at: datetime


@dataclass(frozen=True)
class RateInfo:
    """One credential a connection uses, against its rule."""

    credential: str
    """A short hash naming the credential (never the credential)."""
    limit: int
    window_seconds: float
    saved_held: int | None
    """Requests the saved send history still counts in the window (None: unreadable)."""
    saved_at: datetime
    live_utilization: float | None = None
    """Share of the allowance this process holds now (None: no live limiter here)."""
    live_in_flight: int | None = None
    paused_seconds: float | None = None


@dataclass(frozen=True)
class ResultsInfo:
    scheduled: bool
    watermark: datetime | None
    pulled_at: datetime | None
    last_seen_at: datetime | None
    revision: int
    exported_revision: int


@dataclass(frozen=True)
class JobInfo:
    kind: str
    schedule: str | None
    next_run: datetime | None
    running_since: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_outcome: str | None = None


@dataclass(frozen=True)
class OwnerInfo:
    holder: str | None
    expires_at: datetime | None
    live: bool
    """The lease had not expired at the time of the report."""
    here: bool | None
    """This service owns it (None: no running service to ask)."""


@dataclass(frozen=True)
class ConnectionStatus:
    name: str
    vendor: str
    runs: list[RunInfo]
    last_success: datetime | None
    rejected_rows: int | None
    """Rows the newest export of the connection's source had rejected."""
    queue: QueueInfo
    problems: list[OpInfo]
    rate: list[RateInfo]
    results: ResultsInfo
    jobs: list[JobInfo]
    owner: OwnerInfo
    pending_deactivations: int = 0
    """People missing from the last accepted export whose deprovisioning waits for the
    absence to be confirmed (``deprovision.absent_exports``/``absent_hours``)."""


@dataclass(frozen=True)
class StatusReport:
    generated_at: datetime
    service: bool
    """A running service answered (the report carries its jobs and ownership)."""
    scheduler_running: bool | None
    stuck: list[str]
    connections: list[ConnectionStatus] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values: times as ISO 8601 in UTC, nothing else transformed."""
        plain: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return plain


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat(timespec="seconds")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: str | None) -> str | None:
    return None if value is None else redact(value)


# --------------------------------------------------------------------------- collect


def collect(
    engine: Engine,
    config: Config,
    view: ServiceView | None,
    now: datetime,
    *,
    connection: str | None = None,
) -> StatusReport:
    """The status of every configured connection (or the one named), read now."""
    now = _utc(now)
    chosen = config.connection(connection)
    jobs = view.jobs() if view is not None else []
    owned = view.owned() if view is not None else {}
    sessions = session_factory(engine, read_only=True)
    live = {cursor_name(key): limiter for key, limiter in limiters().items()}
    report = StatusReport(
        generated_at=now,
        service=view is not None,
        scheduler_running=view.scheduler_running() if view is not None else None,
        stuck=list(view.stuck()) if view is not None else [],
    )
    with read_session(engine) as db:
        for name, conn in chosen.items():
            store = OutboxStore(sessions, name)
            report.connections.append(
                _connection(db, store, name, conn, now, jobs, owned, live, view is not None)
            )
    return report


def _connection(
    db: Session,
    store: OutboxStore,
    name: str,
    conn: ConnectionConfig,
    now: datetime,
    jobs: list[JobState],
    owned: Mapping[str, bool],
    live: Mapping[str, Limiter],
    service: bool,
) -> ConnectionStatus:
    depth = health.queue_depth(db, name)
    freshness = health.results_freshness(db, name)
    runs = [_run(row) for row in health.last_runs(db, name, limit=RUNS_SHOWN)]
    lease = health.owner(db, name)
    schedule_jobs = (
        [_job(job, conn) for job in jobs if job.connection == name]
        if service
        else _planned_jobs(db, name, conn, freshness.pulled_at, now)
    )
    return ConnectionStatus(
        name=name,
        vendor=conn.vendor,
        runs=runs,
        last_success=health.last_success(db, name),
        rejected_rows=health.rejected_in_last_export(db, conn.source),
        queue=_queue(depth, now),
        problems=_problems(db, store, name),
        rate=_rates(db, name, conn, now, live),
        results=ResultsInfo(
            scheduled=conn.schedule.results is not None,
            watermark=freshness.watermark,
            pulled_at=freshness.pulled_at,
            last_seen_at=freshness.last_seen_at,
            revision=freshness.revision,
            exported_revision=freshness.exported_revision,
        ),
        jobs=schedule_jobs,
        owner=OwnerInfo(
            holder=lease.holder if lease else None,
            expires_at=lease.expires_at if lease else None,
            live=bool(lease and _utc(lease.expires_at) > now),
            here=owned.get(name) if service else None,
        ),
        pending_deactivations=absence.pending_count(db, name),
    )


def _run(row: health.RunRow) -> RunInfo:
    duration = (
        (_utc(row.finished_at) - _utc(row.started_at)).total_seconds()
        if row.finished_at is not None
        else None
    )
    return RunInfo(
        id=row.id,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=duration,
        planned=row.planned,
        done=row.done,
        retried=row.retried,
        dead=row.dead,
        blocked=row.blocked,
        calls=row.calls,
        message=_text(row.message),
    )


def _queue(depth: health.QueueDepth, now: datetime) -> QueueInfo:
    since = depth.oldest_waiting_since
    return QueueInfo(
        by_state=dict(sorted(depth.by_state.items())),
        waiting=sum(depth.by_state.get(state, 0) for state in health.WAITING_STATES),
        dead=depth.by_state.get("dead", 0),
        blocked=depth.by_state.get("blocked", 0),
        held=depth.by_state.get("held", 0),
        oldest_waiting_since=since,
        oldest_waiting_seconds=None if since is None else (now - _utc(since)).total_seconds(),
    )


def _problems(db: Session, store: OutboxStore, name: str) -> list[OpInfo]:
    """Dead letters first (they need a person), then the ops held for approval, then the
    ops blocked behind dead ones."""
    dead = store.rows(states=["dead"], limit=OPS_SHOWN)
    held = holds.rows(db, name)[: max(OPS_SHOWN - len(dead), 0)]
    blocked = store.rows(states=["blocked"], limit=max(OPS_SHOWN - len(dead) - len(held), 0))
    waits_on = health.blocked_on(db, name, [row.id for row in blocked])
    found = [
        OpInfo(
            row.id,
            row.key,
            row.kind,
            row.state,
            row.attempts,
            redact(row.last_error or ""),
            row.updated_at,
        )
        for row in dead
    ]
    found += [
        OpInfo(
            row.id,
            row.key,
            row.kind,
            row.state,
            0,
            redact(f"held by {row.check}: {row.reason}"),
            row.updated_at or datetime.min.replace(tzinfo=UTC),
        )
        for row in held
    ]
    for row in blocked:
        keys = waits_on.get(row.id)
        reason = (
            "waits on dead op " + ", ".join(keys)
            if keys
            else "waits on an op that cannot run (blocked or dead)"
        )
        found.append(
            OpInfo(
                row.id, row.key, row.kind, row.state, row.attempts, redact(reason), row.updated_at
            )
        )
    return found


def _rule(conn: ConnectionConfig) -> RateRule:
    from syncd.vendors import connector_class

    return connector_class(conn.vendor).rate_rule(conn)


def _rates(
    db: Session, name: str, conn: ConnectionConfig, now: datetime, live: Mapping[str, Limiter]
) -> list[RateInfo]:
    saved = health.saved_pacing(db, name)
    if not saved:
        return []
    rule = _rule(conn)
    found = []
    for row in saved:
        use = history_use(row.snapshot, rule, now.timestamp())
        limiter = live.get(row.name)
        found.append(
            RateInfo(
                credential=row.name.removeprefix(PACING_PREFIX)[:12],
                limit=limiter.rule.requests if limiter else rule.requests,
                window_seconds=limiter.rule.per_seconds if limiter else rule.per_seconds,
                saved_held=None if use is None else use.held,
                saved_at=row.saved_at,
                live_utilization=None if limiter is None else round(limiter.utilization(), 4),
                live_in_flight=None if limiter is None else limiter.in_flight,
                paused_seconds=None if limiter is None else round(limiter.paused_for(), 3),
            )
        )
    return found


# --------------------------------------------------------------------------- schedules


def _job(job: JobState, conn: ConnectionConfig) -> JobInfo:
    schedule = {"roster": conn.schedule.roster, "results": conn.schedule.results}.get(job.kind)
    return JobInfo(
        kind=job.kind,
        schedule=schedule,
        next_run=job.next_run,
        running_since=job.running_since,
        last_started=job.last_started,
        last_finished=job.last_finished,
        last_outcome=_text(job.last_outcome),
    )


def _planned_jobs(
    db: Session, name: str, conn: ConnectionConfig, pulled_at: datetime | None, now: datetime
) -> list[JobInfo]:
    """The next runs a service started with this configuration would make."""
    jobs = []
    if conn.schedule.roster is not None:
        last = health.last_started(db, name)
        jobs.append(
            JobInfo(
                "roster",
                conn.schedule.roster,
                next_run(conn.schedule.roster, last, now),
                last_started=last,
            )
        )
    if conn.schedule.results is not None:
        jobs.append(
            JobInfo(
                "results",
                conn.schedule.results,
                next_run(conn.schedule.results, pulled_at, now),
                last_finished=pulled_at,
            )
        )
    return jobs


def next_run(schedule: str, last: datetime | None, now: datetime) -> datetime | None:
    """When a schedule fires next: a cron from ``now`` (local time zone, as APScheduler
    reads it); an interval from the last run (``now`` when never run or overdue)."""
    interval = parse_interval(schedule)
    if interval is not None:
        if last is None:
            return now
        return max(_utc(last) + interval, now)
    from apscheduler.triggers.cron import CronTrigger

    fire = CronTrigger.from_crontab(schedule).get_next_fire_time(None, now)
    return _utc(fire) if fire is not None else None
