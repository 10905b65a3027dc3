"""The service's Prometheus metrics: what it did (counted as it happens) and what the
database holds (read when scraped).

Counted as it happens: ops by connection, op type and outcome (:class:`MetricsProgress`,
the pipeline's ``Progress`` the service hands to ``reconcile``), and vendor calls and
their latencies by vendor, endpoint class and status (:meth:`ServiceMetrics.observe_http`,
an observer of :mod:`syncd.http`). Read when scraped (:class:`_StateCollector`): queue
depth by state, the age of the oldest waiting op, dead letters, the last successful sync
and result pull, rows rejected from the last export, ownership and rate-limit use. Read
at scrape time because the database is the truth several replicas share: a counter of
one process cannot say how deep a shared queue is.

An endpoint class is the method and the path with every segment that is not a known word
of a vendor API replaced by ``{id}`` (``GET /users/{id}``): never a raw id, a user name or
a query string, which would leak people's names into a monitoring system and give each
person a time series of their own. Each service has its own registry (never the
process-wide default), so tests build several side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from syncd import http
from syncd.config import Config
from syncd.limiter import limiters
from syncd.log import get_logger
from syncd.service.view import ServiceView
from syncd.state import health, runs
from syncd.state.db import Engine, read_session
from syncd.state.pacing import PREFIX as PACING_PREFIX
from syncd.state.pacing import cursor_name

if TYPE_CHECKING:
    from syncd.queue.worker import DrainStats, Event

log = get_logger("syncd.service.metrics")

PATH_WORDS = frozenset(
    {
        # Litmos v1.svc
        "users", "teams", "courses", "learningpaths", "results", "details", "org",
        "achievements", "tokens",
        # SCORM Cloud v2
        "registrations", "learner", "updateInfo", "invitations", "private", "public",
        "jobStatus", "tags", "ping", "about", "oauth", "authenticate", "application", "token",
        # Enabley
        "api", "v1", "v2", "v3", "groups", "hierarchy", "list", "identityManagement",
        "channels", "master", "masters", "instance", "members", "count", "catalog",
        "catalogItem", "events", "performance", "certificates", "compliance", "entitlements",
    }
)  # fmt: skip
"""Path segments shown as themselves; every other segment is an id (``{id}``)."""

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def endpoint_class(method: str, path: str) -> str:
    """``GET /users/jdoe%40corp.test?x=1`` -> ``GET /users/{id}``."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    segments = [s if s in PATH_WORDS or not s else "{id}" for s in bare.split("/")]
    return f"{method.upper()} {'/'.join(segments) or '/'}"


class ServiceMetrics:
    """One service's registry: event counters plus the collector that reads the database."""

    def __init__(self, config: Config, engine: Engine, view: ServiceView | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.ops = Counter(
            "syncd_ops",
            "Ops the worker recorded, by connection, op type and outcome (done, retry, dead).",
            ["connection", "type", "outcome"],
            registry=self.registry,
        )
        self.vendor_calls = Counter(
            "syncd_vendor_calls",
            "Vendor API calls by vendor, endpoint class and HTTP status (error: no answer).",
            ["vendor", "endpoint", "status"],
            registry=self.registry,
        )
        self.vendor_latency = Histogram(
            "syncd_vendor_call_duration_seconds",
            "Vendor API call time (limiter wait excluded) by vendor, endpoint class, status.",
            ["vendor", "endpoint", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.state = _StateCollector(config, engine, view)
        self.registry.register(self.state)
        self._attached = False
        self._lock = threading.Lock()

    def reconfigure(self, config: Config) -> None:
        """Scrape the connections of a reloaded configuration from now on."""
        self.state.config = config

    def observe_http(
        self, vendor: str, method: str, path: str, status: int | None, seconds: float
    ) -> None:
        """The :data:`syncd.http.Observer` this service adds (:meth:`attach`)."""
        labels = (vendor, endpoint_class(method, path), "error" if status is None else str(status))
        self.vendor_calls.labels(*labels).inc()
        self.vendor_latency.labels(*labels).observe(seconds)

    def attach(self) -> None:
        """Start counting every vendor call of this process (once; :meth:`detach` undoes)."""
        with self._lock:
            if not self._attached:
                http.add_observer(self.observe_http)
                self._attached = True

    def detach(self) -> None:
        with self._lock:
            if self._attached:
                http.remove_observer(self.observe_http)
                self._attached = False

    def progress(self, inner: _Progress | None = None) -> MetricsProgress:
        """A pipeline ``Progress`` that counts ops, passing everything on to ``inner``."""
        return MetricsProgress(self, inner)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry in the format the scraper's ``Accept`` header asks for (Prometheus
        text 0.0.4 by default, OpenMetrics on request) and that format's content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class _Progress(Protocol):
    """The pipeline's ``Progress`` protocol (``syncd.pipeline.reconcile``), restated so
    that this module needs no import of the pipeline's heavy modules."""

    def phase(self, connection: str, name: str, total: int) -> None: ...

    def event(self, connection: str, event: Event, stats: DrainStats) -> None: ...

    def note(self, connection: str, text: str) -> None: ...


class MetricsProgress:
    """Counts every recorded op into ``syncd_ops_total``; forwards all calls to ``inner``."""

    def __init__(self, metrics: ServiceMetrics, inner: _Progress | None = None) -> None:
        self._metrics = metrics
        self._inner = inner

    def phase(self, connection: str, name: str, total: int) -> None:
        if self._inner is not None:
            self._inner.phase(connection, name, total)

    def event(self, connection: str, event: Event, stats: DrainStats) -> None:
        self._metrics.ops.labels(connection, event.kind, event.status).inc()
        if self._inner is not None:
            self._inner.event(connection, event, stats)

    def note(self, connection: str, text: str) -> None:
        if self._inner is not None:
            self._inner.note(connection, text)


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class _StateCollector(Collector):
    """Reads the state database (and the live service) at each scrape."""

    def __init__(self, config: Config, engine: Engine, view: ServiceView | None) -> None:
        self.config = config
        self.engine = engine
        self.view = view

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not query the database."""
        return []

    def collect(self) -> Iterable[Metric]:
        up = _gauge("syncd_database_up", "1 when the state database answered this scrape.")
        try:
            families = self._from_database(datetime.now(UTC))
        except Exception as exc:  # a scrape reports the outage, it does not fail
            log.warning("metrics.database_failed", error=type(exc).__name__)
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        return [up, *families, *self._from_service()]

    def _from_service(self) -> list[Metric]:
        if self.view is None:
            return []
        running = _gauge("syncd_scheduler_running", "1 while the scheduler runs.")
        running.add_metric([], 1 if self.view.scheduler_running() else 0)
        stuck = _gauge("syncd_stuck_connections", "Connections whose run is over its budget.")
        stuck.add_metric([], len(self.view.stuck()))
        owned = _gauge(
            "syncd_connection_owned", "1 when this replica owns the connection.", ["connection"]
        )
        for name, mine in sorted(self.view.owned().items()):
            owned.add_metric([name], 1 if mine else 0)
        return [running, stuck, owned]

    def _from_database(self, now: datetime) -> list[Metric]:
        depth = _gauge("syncd_queue_ops", "Outbox ops by state.", ["connection", "state"])
        oldest = _gauge(
            "syncd_queue_oldest_waiting_age_seconds",
            "Age of the oldest op that can still move (pending, retry, claimed), by the run "
            "that queued it.",
            ["connection"],
        )
        dead = _gauge("syncd_dead_letters", "Dead ops awaiting a person.", ["connection"])
        synced = _gauge(
            "syncd_last_sync_success_timestamp_seconds",
            "When the last reconcile that ended succeeded finished (Unix time).",
            ["connection"],
        )
        pulled = _gauge(
            "syncd_last_results_pull_timestamp_seconds",
            "When a result pull last completed a window (the watermark moved; Unix time).",
            ["connection"],
        )
        rejected = _gauge(
            "syncd_export_rejected_rows",
            "Rows the newest export of the connection's source had rejected.",
            ["connection"],
        )
        use = _gauge(
            "syncd_rate_limit_utilization",
            "Share of the credential's rate allowance this process holds now (1: full).",
            ["connection", "credential"],
        )
        flight = _gauge(
            "syncd_rate_limit_in_flight",
            "Requests of the credential sent and not yet answered.",
            ["connection", "credential"],
        )
        live = {cursor_name(key): limiter for key, limiter in limiters().items()}
        with read_session(self.engine) as db:
            health.ping(db)
            for name, conn in self.config.connections.items():
                queue = health.queue_depth(db, name)
                for state in ("pending", "claimed", "retry", "blocked", "dead", "done"):
                    depth.add_metric([name, state], queue.by_state.get(state, 0))
                dead.add_metric([name], queue.by_state.get("dead", 0))
                since = queue.oldest_waiting_since
                oldest.add_metric([name], 0 if since is None else _age(now, since))
                _stamp(synced, name, health.last_success(db, name))
                _stamp(pulled, name, health.results_freshness(db, name).pulled_at)
                count = health.rejected_in_last_export(db, conn.source)
                if count is not None:
                    rejected.add_metric([name], count)
                for saved in health.saved_pacing(db, name):
                    limiter = live.get(saved.name)
                    if limiter is None:
                        continue
                    credential = saved.name.removeprefix(PACING_PREFIX)[:12]
                    use.add_metric([name, credential], limiter.utilization())
                    flight.add_metric([name, credential], limiter.in_flight)
            gated = CounterMetricFamily(
                "syncd_export_gate_failures",
                "Exports the integrity gate refused, by connection, source and check (alert "
                "on any increase: the run stopped before planning).",
                labels=["connection", "source", "check"],
            )
            for labels, count in sorted(runs.gate_failures(db).items()):
                gated.add_metric(list(labels), count)
        return [depth, oldest, dead, synced, pulled, rejected, use, flight, gated]


def _age(now: datetime, since: datetime) -> float:
    aware = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    return max((now - aware).total_seconds(), 0.0)


def _stamp(family: GaugeMetricFamily, name: str, moment: datetime | None) -> None:
    """A time as Unix seconds; no sample at all when it never happened (not a 1970 one)."""
    if moment is not None:
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        family.add_metric([name], aware.timestamp())
