"""Which windows of vendor time a pull reads, from the watermark: plain functions.

A pull reads from the watermark minus the overlap (a vendor whose clock runs behind ours
may stamp a change earlier than our last window's end: the overlap reads it again, and the
upsert makes the repeat harmless) up to the pull's start, cut into the longest windows the
vendor accepts. A first pull starts at the configured backfill date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from syncd.vendors.base import Window


def span(
    watermark: datetime | None, *, backfill_from: datetime, overlap: timedelta, now: datetime
) -> Window | None:
    """The span this pull covers; None when there is nothing to read (``now`` is not past
    its start, e.g. a backfill date in the future)."""
    since = backfill_from if watermark is None else max(watermark - overlap, backfill_from)
    return Window(since, now) if since < now else None


def cut(window: Window, longest: timedelta | None) -> list[Window]:
    """``window`` as consecutive windows of at most ``longest`` (None: itself), the last
    one the shortest, so every read but the last is as long as the vendor allows."""
    if longest is None or window.until - window.since <= longest:
        return [window]
    if longest <= timedelta(0):
        raise ValueError(f"a results window must be positive, not {longest}")
    pieces = []
    start = window.since
    while start < window.until:
        end = min(start + longest, window.until)
        pieces.append(Window(start, end))
        start = end
    return pieces
