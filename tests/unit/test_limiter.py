"""The rolling-window limiter: never more than N arrivals in any window, and close to N."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.limiter import (
    Limiter,
    RateRule,
    credential_key,
    forget_limiters,
    limiter_for,
)


class FakeTime:
    """A clock that only moves when someone sleeps (or a request 'takes' time)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + 1_700_000_000.0

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def make(rule: RateRule, fake: FakeTime, margin: float = 0.0) -> Limiter:
    return Limiter(rule, margin=margin, clock=fake.clock, wall=fake.wall, sleep=fake.sleep)


def max_in_window(arrivals: list[float], window: float) -> int:
    """Most arrivals in any half-open window [t, t + window), t an arrival (the vendor's count)."""
    arrivals = sorted(arrivals)
    return max((bisect_left(arrivals, t + window) - i for i, t in enumerate(arrivals)), default=0)


def drive(limiter: Limiter, fake: FakeTime, latencies: list[float], arrive_at: list[float]):
    """Send sequentially; a request arrives at a share ``arrive_at`` of its round trip."""
    sends, arrivals = [], []
    for latency, share in zip(latencies, arrive_at, strict=True):
        limiter.acquire()
        sends.append(fake.now)
        arrivals.append(fake.now + latency * share)
        fake.sleep(latency)
        limiter.release()
    return sends, arrivals


def test_first_n_requests_go_at_once_then_the_window_gates():
    fake = FakeTime()
    limiter = make(RateRule(5, 10.0), fake)
    sends, _ = drive(limiter, fake, [0.0] * 6, [0.0] * 6)
    assert sends[:5] == [1000.0] * 5
    assert sends[5] == pytest.approx(1010.0)


def test_slot_is_held_one_window_after_the_answer_not_after_the_send():
    fake = FakeTime()
    limiter = make(RateRule(2, 10.0), fake)
    sends, _ = drive(limiter, fake, [1.0, 1.0, 0.0], [1.0, 1.0, 1.0])
    # first answer seen at 1001: the third request may leave at 1011, not 1010
    assert sends[2] == pytest.approx(1011.0)


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(min_value=1, max_value=12),
    window=st.floats(min_value=0.5, max_value=60.0),
    latencies=st.lists(st.floats(min_value=0.0, max_value=3.0), min_size=1, max_size=80),
    data=st.data(),
)
def test_no_rolling_window_ever_holds_more_than_n_arrivals(requests, window, latencies, data):
    shares = data.draw(
        st.lists(
            st.floats(min_value=0.0, max_value=1.0),
            min_size=len(latencies),
            max_size=len(latencies),
        )
    )
    fake = FakeTime()
    limiter = make(RateRule(requests, window), fake)
    _, arrivals = drive(limiter, fake, latencies, shares)
    assert max_in_window(arrivals, window) <= requests


def test_long_drain_sustains_over_99_percent_of_the_allowed_rate():
    fake = FakeTime()
    rule = RateRule(20, 2.0)
    limiter = make(rule, fake, margin=0.005)
    latencies = [0.004] * 2000
    sends, arrivals = drive(limiter, fake, latencies, [0.5] * 2000)
    assert max_in_window(arrivals, rule.per_seconds) <= rule.requests
    elapsed = sends[-1] - sends[0]
    achieved = (len(sends) - rule.requests) / elapsed
    assert achieved >= 0.99 * rule.requests / rule.per_seconds


def test_pause_stops_every_caller_until_it_ends():
    fake = FakeTime()
    limiter = make(RateRule(100, 60.0), fake)
    assert limiter.pause(7.5) == pytest.approx(7.5)
    assert limiter.paused_for() == pytest.approx(7.5)
    limiter.acquire()
    assert fake.now == pytest.approx(1007.5)
    limiter.release()
    assert limiter.paused_for() == 0.0


def test_pause_without_hint_is_a_full_window_and_never_shortens():
    fake = FakeTime()
    limiter = make(RateRule(10, 30.0), fake)
    limiter.pause()
    limiter.pause(1.0)
    assert limiter.paused_for() == pytest.approx(30.0)


def test_delay_reports_none_while_only_in_flight_requests_fill_the_window():
    fake = FakeTime()
    limiter = make(RateRule(1, 5.0), fake)
    limiter.acquire()
    assert limiter.delay() is None
    limiter.release()
    assert limiter.delay() == pytest.approx(5.0)


def test_history_survives_a_restart_through_recent_and_preload():
    fake = FakeTime()
    first = make(RateRule(3, 10.0), fake)
    drive(first, fake, [0.0] * 3, [0.0] * 3)
    fake.sleep(4.0)
    saved = first.recent()
    assert len(saved) == 3
    second = make(RateRule(3, 10.0), fake)
    second.preload(saved)
    second.acquire()
    assert fake.now == pytest.approx(1010.0)


def test_snapshot_restores_in_a_new_process_and_never_frees_a_slot_early():
    fake = FakeTime()
    rule = RateRule(50, 10.0)
    first = make(rule, fake)
    arrivals = []
    for step in range(50):
        first.acquire()
        arrivals.append(fake.now)
        fake.sleep(0.013 * (step % 7))
        first.release()
    text = first.snapshot(clean=True)
    assert len(text) <= 500, "fits a cursor row"
    second = make(rule, fake)
    assert second.restore([text]) == 50
    second.acquire()
    later = fake.now
    assert later >= arrivals[0] + rule.per_seconds, "the earliest saved slot must have expired"
    assert later <= arrivals[0] + rule.per_seconds + rule.per_seconds / 24 + 0.01


def test_a_dirty_snapshot_counts_the_unrecorded_requests_of_the_dead_process():
    fake = FakeTime()
    rule = RateRule(5, 10.0)
    first = make(rule, fake)
    drive(first, fake, [0.0], [0.0])
    text = first.snapshot(clean=False)
    fake.sleep(2.0)
    second = make(rule, fake)
    assert second.restore([text], unrecorded=4) == 5
    second.acquire()
    assert fake.now == pytest.approx(1010.0), "one saved + four unrecorded fill the window"


def test_restore_is_once_per_process_ignores_stale_and_garbled_snapshots():
    fake = FakeTime()
    rule = RateRule(2, 10.0)
    old = make(rule, fake)
    drive(old, fake, [0.0, 0.0], [0.0, 0.0])
    stale = old.snapshot(clean=False)
    fake.sleep(30.0)
    limiter = make(rule, fake)
    assert limiter.restore([stale, "garbage", "v9;1;1;1;", "v1;x;1;2;3:4"]) == 2
    assert limiter.delay() == 0.0, "older than a window: nothing left to wait for"
    assert limiter.restore([old.snapshot(clean=False)]) == 0


def test_preload_ignores_times_older_than_a_window():
    fake = FakeTime()
    limiter = make(RateRule(1, 10.0), fake)
    limiter.preload([fake.wall() - 11.0])
    assert limiter.delay() == 0.0


def test_threads_sharing_a_limiter_stay_within_the_rule():
    rule = RateRule(10, 0.25)
    limiter = Limiter(rule, margin=0.002)
    arrivals: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with limiter.slot():
                with lock:
                    arrivals.append(time.monotonic())
                time.sleep(0.001)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arrivals) == 40
    assert max_in_window(arrivals, rule.per_seconds) <= rule.requests


def test_registry_shares_one_limiter_per_credential_and_keeps_no_secret():
    forget_limiters()
    try:
        rule = RateRule(100, 60.0)
        a = limiter_for("litmos", "http://x/v1.svc", "key-123456", rule)
        b = limiter_for("litmos", "http://x/v1.svc/", "key-123456", rule)
        c = limiter_for("litmos", "http://x/v1.svc", "another-key", rule)
        assert a is b
        assert a is not c
        assert "key-123456" not in credential_key("litmos", "http://x/v1.svc", "key-123456")
        stricter = limiter_for("litmos", "http://x/v1.svc", "key-123456", RateRule(50, 60.0))
        assert stricter is a and a.rule == RateRule(50, 60.0)
        limiter_for("litmos", "http://x/v1.svc", "key-123456", RateRule(200, 60.0))
        assert a.rule == RateRule(50, 60.0)
    finally:
        forget_limiters()


def test_rule_must_be_positive():
    with pytest.raises(ValueError):
        RateRule(0, 60.0)
    with pytest.raises(ValueError):
        RateRule(10, 0.0)
