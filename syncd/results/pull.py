"""One connection's result pull: windows from the watermark, records streamed into the
results table in batches, the watermark moved after each window's records are committed.

The connector reads (:meth:`syncd.vendors.base.Connector.results`); this module decides
which windows, writes what changed and keeps the watermark honest: a crash mid-window
leaves the watermark at the last finished window, so the rerun reads that window again and
the upsert turns the repeat into nothing. A vendor with no changed-since filter
(``result_scan``) is read whole each pull, and only its real changes are written.
Memory stays flat in the number of records: one batch at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from typing import Any, Protocol

from syncd.config import ResultsConfig
from syncd.log import get_logger
from syncd.results import windows
from syncd.results.rows import row
from syncd.state import results as store
from syncd.vendors.base import Connector, ResultRecord, Window

log = get_logger("syncd.results.pull")

BATCH = 5000
"""Records per transaction: large enough that commits cost little, small enough that
memory stays flat and a crash repeats little."""

FIRST_PULL_DAYS = 90
"""How far back a first pull reads when the config names no ``results.start``."""

AHEAD = timedelta(days=1)
"""How far past our own clock a pull reads: a vendor whose clock runs ahead of ours
stamps a change in our future, and a read ending at our "now" would pass over it for
good. The watermark still stops at our "now", so such a record is read again by the next
pull (the upsert makes that nothing). Litmos asks for it too ("`to` in the future to
include today"); a daily pull's window stays one 7-day read."""


class PullProgress(Protocol):
    def window(self, connection: str, index: int, count: int, window: Window) -> None: ...

    def records(self, connection: str, read: int, changed: int) -> None: ...


class _Quiet:
    def window(self, connection: str, index: int, count: int, window: Window) -> None:
        return None

    def records(self, connection: str, read: int, changed: int) -> None:
        return None


@dataclass
class PullReport:
    """What one connection's pull did; ``reads`` counts vendor requests."""

    connection: str
    vendor: str
    windows: int = 0
    records: int = 0
    changed: int = 0
    reads: int = 0
    since: datetime | None = None
    watermark: datetime | None = None
    stopped: bool = False
    skipped: str | None = None
    error: str | None = None


def backfill_start(settings: ResultsConfig, now: datetime) -> datetime:
    """Where a first pull starts: the configured date at UTC midnight, else 90 days back."""
    if settings.start is not None:
        return datetime.combine(settings.start, time(), tzinfo=UTC)
    return now - timedelta(days=FIRST_PULL_DAYS)


def backfills(connector: Connector) -> bool:
    """Whether the connector has a cheaper form for a first pull than its windows."""
    return type(connector).results_backfill is not Connector.results_backfill


def plan_windows(
    connector: Connector, watermark: datetime | None, settings: ResultsConfig, now: datetime
) -> list[Window]:
    """The windows this pull reads, in order (empty: nothing to read): the whole span as
    one when the vendor has no changed-since filter, or when this is a first pull and the
    vendor has a backfill form (:meth:`Connector.results_backfill`)."""
    start = backfill_start(settings, now)
    if start >= now:
        return []
    if connector.result_scan or (watermark is None and backfills(connector)):
        return [Window(start, now + AHEAD)]
    covered = windows.span(
        watermark, backfill_from=start, overlap=settings.overlap_delta, now=now + AHEAD
    )
    return windows.cut(covered, connector.result_span) if covered else []


def _batches(records: Iterator[ResultRecord]) -> Iterator[list[dict[str, Any]]]:
    while batch := [row(record) for record in islice(records, BATCH)]:
        yield batch


def pull(
    connector: Connector,
    sessions: Any,
    connection: str,
    settings: ResultsConfig,
    *,
    now: datetime | None = None,
    progress: PullProgress | None = None,
    stop: threading.Event | None = None,
) -> PullReport:
    """Pull ``connection``'s results changed since its watermark (see the module docstring).

    ``now`` is the pull's start: no window reaches past it, so the watermark never runs
    ahead of what the vendor had when it was read. ``stop`` ends the pull between batches,
    at a committed point.
    """
    # Whole seconds: the vendors' filters are to the second, so a window of exactly the
    # longest span stays one read instead of being widened past it.
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    progress = progress or _Quiet()
    report = PullReport(connection=connection, vendor=connector.vendor)
    with sessions() as db:
        mark = store.watermark(db, connection)
    plan = plan_windows(connector, mark, settings, now)
    backfill = mark is None and not connector.result_scan and backfills(connector)
    report.since = plan[0].since if plan else None
    report.watermark = mark
    before = connector.client.calls.total
    try:
        for index, window in enumerate(plan):
            progress.window(connection, index, len(plan), window)
            reading = (
                connector.results_backfill(window.since, window.until)
                if backfill
                else connector.results(window)
            )
            for batch in _batches(iter(reading)):
                with sessions.begin() as db:
                    revision = store.next_revision(db, connection)
                    report.changed += store.upsert(
                        db, connection, batch, revision=revision, now=datetime.now(UTC)
                    )
                report.records += len(batch)
                progress.records(connection, report.records, report.changed)
                if stop is not None and stop.is_set():
                    report.stopped = True
                    return report
            reached = min(window.until, now)
            with sessions.begin() as db:
                store.set_watermark(db, connection, reached)
            report.windows += 1
            report.watermark = reached
    finally:
        report.reads = connector.client.calls.total - before
        log.info(
            "results.pulled",
            connection=connection,
            windows=report.windows,
            records=report.records,
            changed=report.changed,
            reads=report.reads,
            stopped=report.stopped,
        )
    return report
