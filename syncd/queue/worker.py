"""The drain loop: claim ready ops, run them through the connector, record each outcome.

Why a crash at any instant loses nothing and applies nothing twice
------------------------------------------------------------------
Each step is its own short transaction: claim (ops become ``claimed`` with a lease), the
vendor call (no transaction open), then one transaction per outcome that marks the op and
changes the mirror together. A process killed anywhere leaves each op in one of three
places: still pending (never claimed, or the claim was rolled back), claimed (the vendor
may or may not have acted), or recorded (done with its mirror change, or retry/dead).
Claimed ops come back when their lease expires, or at once when the next run proves their
worker dead (same host, process gone). So the only op ever sent twice is one whose effect
reached the vendor but whose commit did not, and every op kind is safe to send again:

- ``create_user``/``create_group``: the repeat gets ``409 ... already exists``; the
  connector looks the object up by exact name and adopts it (done, ``adopted=True``). One
  account per person however often a create is repeated.
- ``update_user``/``update_group``, ``deactivate_user``/``reactivate_user``: the connector
  reads the object and writes absolute values; a repeat writes the same values (or finds
  nothing to change and writes nothing).
- ``add_members``, ``assign_courses``/``assign_learning_paths``: the vendor ignores members
  and assignments it already has, so a repeat adds nothing.
- ``remove_member``, ``unassign_*``, ``delete_user``: removing what is already gone is
  answered as done by the connector (a 404 on an object we meant to remove).
- ``link_user``/``link_group``: no vendor call at all; the mirror change is an upsert.

The mirror changes are idempotent too (upserts and set-membership), so a done outcome that
is recorded twice (by a worker whose lease expired mid-call and by the one that took over)
leaves the mirror as one recording would.

On a rate-limit answer the transport pauses the whole credential and the connector returns
the rest of the batch untried; this loop never sleeps to pace calls. It sleeps only when
nothing is ready and the next retry is near (``max_wait_seconds``); further out, it stops
and reports what is still waiting.

A rate refusal (the vendor slower than the configured rule, or another process on the same
key) is not an op's failure: it costs the op no attempt (``syncd.queue.outbox.decide``), and
the loop waits out the credential's pause however long it is. What bounds it is the total
rate waiting of the drain (``max_rate_wait_seconds``, :class:`RateWaits`): a refusal that
would take it past the bound is not waited for, the drain stops (``stopped ==
"rate_wait"``) and its ops stay waiting for the next run, never dead.

With ``pacing`` it saves the credential's send history in each outcome's transaction, so
that a process started after this one dies paces itself against what the vendor still
counts (``syncd.limiter``).
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from syncd.errors import StateError
from syncd.log import get_logger
from syncd.plan.model import VendorProfile
from syncd.plan.ops import Op, Refs
from syncd.queue.outbox import RetryPolicy, decide
from syncd.state.machine import OpState, Transition
from syncd.state.outbox import ClaimedOp, OutboxStore
from syncd.vendors.base import Outcome, Status

log = get_logger("syncd.queue.worker")


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- settings

_ENV: Mapping[str, str] = {
    "batch_size": "SYNCD_QUEUE_BATCH_SIZE",
    "claim_lease_seconds": "SYNCD_QUEUE_CLAIM_LEASE_SECONDS",
    "connection_lease_seconds": "SYNCD_QUEUE_CONNECTION_LEASE_SECONDS",
    "max_wait_seconds": "SYNCD_QUEUE_MAX_WAIT_SECONDS",
}


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Knobs of the drain loop; the defaults suit a 100-requests-a-minute vendor."""

    batch_size: int = 10
    """Ops claimed at once. Small: the rate limit, not the database, is the bottleneck."""
    claim_lease_seconds: float = 120.0
    """How long a claim lasts without progress before another worker may take the op."""
    connection_lease_seconds: float = 60.0
    """TTL of the connection lease, renewed every third of it while the worker lives."""
    max_wait_seconds: float = 60.0
    """Wait for a retry due within this long; stop and report if the next is further."""
    max_rate_wait_seconds: float = 600.0
    """Longest total wait for the vendor's rate window after its refusals in one drain (the
    connection's ``max_rate_wait_seconds``); past it the drain stops, ops left waiting."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        """Defaults, overridden by ``SYNCD_QUEUE_*`` / ``SYNCD_RETRY_*`` variables.

        ``SYNCD_QUEUE_BATCH_SIZE``, ``SYNCD_QUEUE_CLAIM_LEASE_SECONDS``,
        ``SYNCD_QUEUE_CONNECTION_LEASE_SECONDS``, ``SYNCD_QUEUE_MAX_WAIT_SECONDS``,
        ``SYNCD_RETRY_BASE_SECONDS``, ``SYNCD_RETRY_CAP_SECONDS``,
        ``SYNCD_RETRY_MAX_ATTEMPTS``. A malformed value is a StateError naming it.
        """
        env = os.environ if env is None else env
        base = cls()
        values: dict[str, Any] = {}
        for name, var in _ENV.items():
            if var in env:
                values[name] = _number(env, var, int if name == "batch_size" else float)
        retry = {
            name: _number(env, var, kind)
            for name, var, kind in (
                ("base_seconds", "SYNCD_RETRY_BASE_SECONDS", float),
                ("cap_seconds", "SYNCD_RETRY_CAP_SECONDS", float),
                ("max_attempts", "SYNCD_RETRY_MAX_ATTEMPTS", int),
            )
            if var in env
        }
        try:
            if retry:
                values["retry"] = replace(base.retry, **retry)
            return replace(base, **values)
        except ValueError as exc:
            raise StateError(f"queue settings from the environment: {exc}") from None


def _number(env: Mapping[str, str], var: str, kind: type[int] | type[float]) -> Any:
    try:
        value = kind(env[var])
    except ValueError:
        raise StateError(f"environment variable {var}={env[var]!r} is not a number") from None
    if value <= 0:
        raise StateError(f"environment variable {var} must be positive")
    return value


# --------------------------------------------------------------------------- identity


def worker_identity() -> str:
    """``host:pid:random``: unique per process, and tells a later run on the same host
    whether this process is still alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_dead(holder: str) -> bool:
    """True only when ``holder`` names a process on this host that no longer exists.

    Anything else (another host, a live or unknown process, a foreign format) is presumed
    alive: its lease then simply runs out.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --------------------------------------------------------------------------- progress


class Executor(Protocol):
    """What the worker needs of a connector."""

    @property
    def profile(self) -> VendorProfile:
        """Whether the connector needs the users' fields with the refs (``accounts``)."""
        ...

    def execute(self, batch: Sequence[Op], refs: Refs) -> Iterator[Outcome]: ...


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded outcome, for progress displays and logs."""

    key: str
    kind: str
    status: str
    calls: int
    error: str
    adopted: bool


@dataclass(slots=True)
class DrainStats:
    """What one drain did, and why it stopped."""

    done: int = 0
    adopted: int = 0
    retried: int = 0
    dead: int = 0
    calls: int = 0
    seconds: float = 0.0
    stopped: str = "complete"
    next_due: datetime | None = None
    rate_refusals: int = 0
    """Requests the vendor refused for going too fast (429, Litmos' 503)."""
    rate_wait_seconds: float = 0.0
    """Time the credential was paused by those refusals: the drain's waiting for the vendor."""

    def add(self, other: DrainStats) -> DrainStats:
        return DrainStats(
            done=self.done + other.done,
            adopted=self.adopted + other.adopted,
            retried=self.retried + other.retried,
            dead=self.dead + other.dead,
            calls=self.calls + other.calls,
            seconds=self.seconds + other.seconds,
            stopped=other.stopped,
            next_due=other.next_due,
            rate_refusals=self.rate_refusals + other.rate_refusals,
            rate_wait_seconds=self.rate_wait_seconds + other.rate_wait_seconds,
        )


@dataclass(slots=True)
class RateWaits:
    """One drain's waiting for the vendor's rate window, kept within ``bound`` seconds.

    A refusal pauses the whole credential until its op is due again; overlapping pauses
    count once. A refusal whose pause would take the total past ``bound`` is counted but
    not waited for: ``exhausted`` tells the drain to stop.
    """

    bound: float
    until: datetime | None = None
    exhausted: bool = False

    def refused(self, now: datetime, due: datetime, stats: DrainStats) -> None:
        """The vendor refused a request at ``now``; its op is due again at ``due``."""
        stats.rate_refusals += 1
        start = now if self.until is None else max(now, self.until)
        extra = max((due - start).total_seconds(), 0.0)
        if stats.rate_wait_seconds + extra > self.bound:
            self.exhausted = True
            return
        stats.rate_wait_seconds += extra
        self.until = due if self.until is None else max(due, self.until)

    def covers(self, due: datetime, slack: timedelta) -> bool:
        """Whether ``due`` falls within an accepted pause (give or take ``slack``)."""
        return self.until is not None and due <= self.until + slack


class LeaseLost(StateError):
    """The connection lease could not be renewed: another process may be driving it."""


# --------------------------------------------------------------------------- the loop


class Worker:
    """Drains one connection's outbox through one connector."""

    def __init__(
        self,
        store: OutboxStore,
        connector: Executor,
        *,
        worker_id: str | None = None,
        settings: WorkerSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        on_event: Callable[[Event, DrainStats], None] | None = None,
        lease_lost: threading.Event | None = None,
        pacing: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.connector = connector
        self.worker_id = worker_id or worker_identity()
        self.settings = settings or WorkerSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_event = on_event
        self.lease_lost = lease_lost
        self.pacing = pacing
        """(limiter key, history snapshot) saved with every recorded op, for a restart."""
        self.log = log.bind(connection=store.connection, worker=self.worker_id)
        self._rate = RateWaits(self.settings.max_rate_wait_seconds)

    def drain(self, stop: threading.Event | None = None) -> DrainStats:
        """Run ready ops until none is left, or only retries further out than the wait."""
        stop = stop or threading.Event()
        stats = DrainStats()
        started = time.monotonic()
        lease = timedelta(seconds=self.settings.claim_lease_seconds)
        slack = timedelta(seconds=self.settings.max_wait_seconds)
        self._rate = RateWaits(self.settings.max_rate_wait_seconds)
        try:
            while True:
                if stop.is_set():
                    stats.stopped = "stopped"
                    break
                self._check_lease()
                # One reading of the clock for both questions: with two, an op falling due
                # between them is neither claimable at the first nor "later" at the second,
                # and the drain would call itself complete with that op still waiting.
                now = self.clock()
                batch = self.store.claim(
                    self.worker_id, limit=self.settings.batch_size, lease=lease, now=now
                )
                if batch:
                    self._run(batch, stats, lease)
                    if self._rate.exhausted:
                        self._stop_rate_wait(stats)
                        break
                    continue
                due = self.store.next_due(now=now)
                if due is None:
                    stats.stopped = "complete"
                    break
                wait = (due - self.clock()).total_seconds()
                if wait > self.settings.max_wait_seconds and not self._rate.covers(due, slack):
                    stats.stopped = "waiting"
                    stats.next_due = due
                    break
                if wait > 0:
                    stop.wait(min(wait + 0.01, self.settings.max_wait_seconds))
        finally:
            stats.seconds = time.monotonic() - started
        return stats

    def _stop_rate_wait(self, stats: DrainStats) -> None:
        stats.stopped = "rate_wait"
        stats.next_due = self.store.next_due(now=self.clock())
        self.log.warning(
            "drain.rate_wait_exhausted",
            rate_refusals=stats.rate_refusals,
            rate_wait_seconds=round(stats.rate_wait_seconds, 1),
            max_rate_wait_seconds=self.settings.max_rate_wait_seconds,
        )

    def _check_lease(self) -> None:
        if self.lease_lost is not None and self.lease_lost.is_set():
            raise LeaseLost(
                f"lost the lease on connection {self.store.connection}; stopping so that "
                "two processes never drive it at once",
                connection=self.store.connection,
            )

    def _run(self, batch: list[ClaimedOp], stats: DrainStats, lease: timedelta) -> None:
        refs = self.store.refs([c.op for c in batch], attrs=not self.connector.profile.accounts)
        by_key = {c.key: c for c in batch}
        remaining = [c.id for c in batch]
        try:
            for outcome in self.connector.execute([c.op for c in batch], refs):
                claimed = by_key[outcome.key]
                remaining.remove(claimed.id)
                self._record(claimed, outcome, stats, remaining, lease)
                self._check_lease()
        finally:
            if remaining:
                self.store.release(remaining, self.worker_id, now=self.clock())

    def _record(
        self,
        claimed: ClaimedOp,
        outcome: Outcome,
        stats: DrainStats,
        remaining: list[int],
        lease: timedelta,
    ) -> None:
        now = self.clock()
        transition = decide(
            outcome,
            attempts=claimed.attempts,
            now=now,
            policy=self.settings.retry,
            rng=self.rng,
        )
        if outcome.rate_limited and transition.next_attempt_at is not None:
            self._rate.refused(now, transition.next_attempt_at, stats)
        try:
            self.store.record(
                claimed,
                outcome,
                transition,
                worker_id=self.worker_id,
                now=now,
                extend=remaining,
                lease=lease,
                pacing=self.pacing() if self.pacing is not None else None,
            )
        except StateError as exc:
            reason = f"the vendor confirmed it but the mirror could not record it: {exc}"
            self.store.fail(claimed, reason, worker_id=self.worker_id, now=now)
            transition = Transition(OpState.DEAD, transition.attempts, error=reason)
        self._count(claimed, outcome, transition, stats)

    def _count(
        self, claimed: ClaimedOp, outcome: Outcome, transition: Transition, stats: DrainStats
    ) -> None:
        stats.calls += outcome.calls
        status = transition.state
        if status is OpState.DONE:
            stats.done += 1
            stats.adopted += int(outcome.adopted)
            self.log.debug("op.done", key=claimed.key, calls=outcome.calls, adopted=outcome.adopted)
        elif status is OpState.DEAD:
            stats.dead += 1
            self.log.warning("op.dead", key=claimed.key, error=transition.error)
        else:
            stats.retried += 1
            self.log.info(
                "op.retry",
                key=claimed.key,
                error=transition.error,
                next_attempt_at=transition.next_attempt_at.isoformat()
                if transition.next_attempt_at
                else None,
                attempted=outcome.attempted,
                rate_limited=outcome.rate_limited,
            )
        if self.on_event is not None:
            event = Event(
                key=claimed.key,
                kind=claimed.op.kind,
                status=str(status),
                calls=outcome.calls,
                error=transition.error or "",
                adopted=outcome.adopted and outcome.status is Status.DONE,
            )
            self.on_event(event, stats)


class LeaseKeeper:
    """Renews a lease from a background thread; sets ``lost`` if a renewal fails."""

    def __init__(self, renew: Callable[[], bool], *, every_seconds: float) -> None:
        self._renew = renew
        self._every = every_seconds
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="syncd-lease", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                ok = self._renew()
            except Exception as exc:  # a database hiccup: try again, lose it only on expiry
                log.warning("lease.renew_failed", error=str(exc))
                continue
            if not ok:
                self.lost.set()
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
