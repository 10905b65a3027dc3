"""Which windows a pull reads: from the watermark minus the overlap, cut to the vendor's
longest window, never past the pull's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from syncd.results.windows import cut, span
from syncd.vendors.base import Window

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
START = datetime(2026, 9, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


def test_a_first_pull_reads_from_the_backfill_start_to_now():
    assert span(None, backfill_from=START, overlap=HOUR, now=NOW) == Window(START, NOW)


def test_a_later_pull_rereads_the_overlap_before_the_watermark():
    mark = NOW - timedelta(days=1)
    assert span(mark, backfill_from=START, overlap=HOUR, now=NOW) == Window(mark - HOUR, NOW)


def test_the_overlap_never_reaches_before_the_backfill_start():
    mark = START + timedelta(minutes=10)
    assert span(mark, backfill_from=START, overlap=HOUR, now=NOW) == Window(START, NOW)


def test_nothing_to_read_when_the_start_is_not_in_the_past():
    assert span(None, backfill_from=NOW, overlap=HOUR, now=NOW) is None
    assert span(None, backfill_from=NOW + HOUR, overlap=HOUR, now=NOW) is None


def test_a_span_within_the_longest_window_is_one_read():
    window = Window(NOW - WEEK, NOW)
    assert cut(window, WEEK) == [window]
    assert cut(window, None) == [window]


def test_a_long_span_is_cut_into_full_windows_and_a_shorter_last_one():
    window = Window(NOW - timedelta(days=16), NOW)
    pieces = cut(window, WEEK)
    assert [p.until - p.since for p in pieces] == [WEEK, WEEK, timedelta(days=2)]
    assert pieces[0].since == window.since and pieces[-1].until == window.until
    assert all(a.until == b.since for a, b in pairwise(pieces))


def test_an_exact_multiple_leaves_no_empty_window():
    pieces = cut(Window(NOW - 2 * WEEK, NOW), WEEK)
    assert len(pieces) == 2 and all(p.until - p.since == WEEK for p in pieces)


def test_a_ninety_day_backfill_in_seven_day_windows_is_thirteen_reads():
    assert len(cut(Window(NOW - timedelta(days=90), NOW), WEEK)) == 13


def test_a_window_length_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="positive"):
        cut(Window(NOW - WEEK, NOW), timedelta(0))
