"""The result-pull stage: each connection opened as `syncd reconcile` opens it (its
simulator for a ``sandbox:`` URL, its connector, its lease, its send history), then
:func:`syncd.results.pull.pull`.

:func:`pull_connection` is the hook the service's scheduler calls: a plain function of
(config, connection, time). Holding the connection's lease means a pull never runs beside
a reconcile of the same connection, so the two never share the vendor's rate limit
unawares; the send history is restored before and saved after, as a reconcile does.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from syncd.config import SANDBOX_URL, Config
from syncd.errors import ConfigError, SyncdError
from syncd.log import get_logger
from syncd.pipeline.connection import connected, owned, restore_pacing, sandboxed, save_pacing
from syncd.queue.worker import WorkerSettings, worker_identity
from syncd.results.pull import PullProgress, PullReport, pull
from syncd.state.db import open_state, session_factory
from syncd.vendors import connector_class
from syncd.vendors.base import Connector

log = get_logger("syncd.pipeline.results")


def readable(vendor: str) -> bool:
    """Whether syncd can pull results from this vendor's connector."""
    return connector_class(vendor).results is not Connector.results


def pull_connection(
    config: Config,
    name: str,
    *,
    sessions: Any,
    now: datetime | None = None,
    settings: WorkerSettings | None = None,
    progress: PullProgress | None = None,
    stop: threading.Event | None = None,
) -> PullReport:
    """Pull one connection's results (see the module docstring); a vendor or state error
    ends this connection's pull with ``report.error`` set and the watermark where the
    last finished window left it."""
    conn = config.connection(name)[name]
    report = PullReport(connection=name, vendor=conn.vendor)
    if not readable(conn.vendor):
        report.skipped = f"{conn.vendor}: syncd cannot read results from it yet"
        return report
    settings = settings or WorkerSettings.from_env()
    now = now or datetime.now(UTC)
    try:
        with ExitStack() as stack:
            if conn.base_url.startswith(SANDBOX_URL):
                conn, _ = stack.enter_context(sandboxed(config, name, conn, keep=False))
            connector = stack.enter_context(connected(conn))
            restore_pacing(sessions, name, connector)
            stack.enter_context(owned(sessions, name, worker_identity(), settings))
            stack.callback(save_pacing, sessions, name, connector, clean=True)
            return pull(
                connector, sessions, name, config.results, now=now, progress=progress, stop=stop
            )
    except SyncdError as exc:
        report.error = str(exc)
        log.error("results.failed", connection=name, error=str(exc), **exc.fields)
        return report


def pull_results(
    config: Config,
    *,
    connection: str | None = None,
    now: datetime | None = None,
    settings: WorkerSettings | None = None,
    progress: PullProgress | None = None,
    stop: threading.Event | None = None,
) -> list[PullReport]:
    """Pull the named connection's results, or every connection's, one after another."""
    chosen = config.connection(connection)
    if not chosen:
        raise ConfigError(f"{config.path}: no connections configured")
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    try:
        sessions = session_factory(engine)
        reports = []
        for name in chosen:
            reports.append(
                pull_connection(
                    config,
                    name,
                    sessions=sessions,
                    now=now,
                    settings=settings,
                    progress=progress,
                    stop=stop,
                )
            )
            if stop is not None and stop.is_set():
                break
        return reports
    finally:
        engine.dispose()
