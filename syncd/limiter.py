"""Pace requests to a vendor's rolling-window rule so the vendor never has to refuse one.

Vendors count a request when it *arrives*; we only know when we sent it and when its answer
came back. The arrival lies between the two, so a slot is held from the moment a request is
sent until ``per_seconds`` after its answer (or failure) was seen. Then for any two requests
``N`` apart, the later one is sent at least ``per_seconds`` after the earlier one arrived,
whatever the network latency: at most ``N`` arrivals fall in any rolling window. The price
is one round trip per window (a 5 ms round trip on a 60 s window costs 0.01 % of the rate),
far less than the 15-50 % margins other Litmos clients leave unused.

One :class:`Limiter` per credential, shared by every connection using it in this process
(:func:`limiter_for`, keyed by vendor, base URL and a hash of the credential, never the
credential itself). When the vendor still says "too fast" (another process on the same key,
a restart that forgot recent requests), :meth:`Limiter.pause` stops every caller of the
credential for the vendor's ``Retry-After`` or a full window.

The vendor's window outlives our process: a reconcile that starts right after another one
(a CronJob, or a restart after kill -9) would otherwise send a full window's worth at once
on top of what the vendor still counts from the last process, and be refused.
:meth:`Limiter.snapshot` writes the recent send history as a short text (the worker stores
it in the state database with every op it records) and :meth:`Limiter.restore` loads it
into the next process. A process that died did not save its last few requests, so a
history not marked clean also counts ``unrecorded`` requests as sent at restart time.

Pure and injectable: ``clock`` (monotonic seconds), ``wall`` (epoch seconds) and ``sleep``
are parameters, so tests walk time by hand.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]

DEFAULT_MARGIN = 0.005
"""Seconds added to every slot: covers clock granularity and float rounding, not latency."""

_IDLE_POLL = 0.05
"""Longest wait for an in-flight request to finish before re-checking (other threads)."""

HISTORY_BUCKETS = 24
"""A snapshot groups send times into this many slices of the window, each stamped with its
latest time: later than the truth, so a restored slot frees late, never early. 24 slices
keep the text within a cursor row (500 characters) whatever the rule."""

UNRECORDED_CALLS = 4
"""Requests a killed worker may have sent after its last snapshot: those of the op in
flight (a create answered 409, the exact lookup, the bring-in-line PUT, one more)."""


@dataclass(frozen=True, slots=True)
class RateRule:
    """A vendor's documented limit: at most ``requests`` in any rolling ``per_seconds``."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per_seconds <= 0:
            raise ValueError("a rate rule needs a positive request count and window")


class Limiter:
    """At most ``rule.requests`` arrivals in any rolling ``rule.per_seconds``; thread-safe."""

    def __init__(
        self,
        rule: RateRule,
        *,
        key: str = "",
        margin: float = DEFAULT_MARGIN,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.key = key
        """The credential's registry key (hash-based, no secret): names its saved history."""
        self._restored = False
        self._rule = rule
        self._margin = margin
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._cond = threading.Condition()
        self.waited = 0.0
        """Total seconds callers spent waiting for a slot (for metrics and benchmarks)."""

    @property
    def rule(self) -> RateRule:
        return self._rule

    def set_rule(self, rule: RateRule) -> None:
        """Change the rule; the recent history stays, so a stricter rule applies at once."""
        with self._cond:
            self._rule = rule
            self._cond.notify_all()

    def _hold(self) -> float:
        return self._rule.per_seconds + self._margin

    def _prune(self, now: float) -> None:
        hold = self._hold()
        while self._done and self._done[0] + hold <= now:
            self._done.popleft()

    def delay(self) -> float | None:
        """Seconds until a request may be sent; 0 now; None while only in-flight ones block."""
        with self._cond:
            return self._delay(self._clock())

    def _delay(self, now: float) -> float | None:
        self._prune(now)
        pause = self._paused_until - now
        busy = len(self._done) + self._in_flight
        if busy < self._rule.requests:
            return max(pause, 0.0)
        expiring = busy - self._rule.requests + 1
        if expiring > len(self._done):
            return None
        return max(self._done[expiring - 1] + self._hold() - now, pause, 0.0)

    def acquire(self) -> None:
        """Block until a request may be sent, then count it as in flight."""
        while True:
            with self._cond:
                now = self._clock()
                wait = self._delay(now)
                if wait == 0.0:
                    self._in_flight += 1
                    return
                if wait is None:
                    started = self._clock()
                    self._cond.wait(_IDLE_POLL)
                    self.waited += self._clock() - started
                    continue
            self._sleep(wait)
            self.waited += wait

    def release(self) -> None:
        """The request's answer (or failure) was seen now: its slot runs one window from here."""
        with self._cond:
            self._in_flight -= 1
            self._done.append(self._clock())
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``with limiter.slot(): send()`` -- acquire before sending, release after the answer."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def pause(self, seconds: float | None = None) -> float:
        """The vendor refused us: nobody sends for ``seconds`` (default: a full window)."""
        seconds = self._rule.per_seconds if seconds is None else max(seconds, 0.0)
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            return self._paused_until - self._clock()

    def paused_for(self) -> float:
        """Seconds left of a pause (0 when not paused)."""
        with self._cond:
            return max(self._paused_until - self._clock(), 0.0)

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered (read-only, for status and metrics)."""
        with self._cond:
            return self._in_flight

    def utilization(self) -> float:
        """Share of the rule's allowance held now (answered within the window, or in
        flight): 1.0 means the next caller waits. Read-only, for status and metrics."""
        with self._cond:
            self._prune(self._clock())
            return (len(self._done) + self._in_flight) / self._rule.requests

    def recent(self) -> list[float]:
        """Epoch times still holding a slot (in-flight ones as now), to persist over a restart."""
        with self._cond:
            now = self._clock()
            self._prune(now)
            offset = self._wall() - now
            return [t + offset for t in self._done] + [now + offset] * self._in_flight

    def preload(self, epoch_times: Iterable[float]) -> None:
        """Count requests an earlier process made (epoch times) as if this one had made them.

        A time in the future (a snapshot's millisecond rounding, a clock stepped back) is
        taken as now: it holds its slot a full window from here, never less.
        """
        with self._cond:
            now = self._clock()
            offset = self._wall() - now
            merged = sorted([*self._done, *(min(t - offset, now) for t in epoch_times)])
            self._done = deque(merged)
            self._prune(now)

    def snapshot(self, *, clean: bool) -> str:
        """The recent send history as a short text for :meth:`restore` in a later process.

        ``clean`` says the process is stopping with nothing in flight (every request it sent
        is in the text); a snapshot taken mid-drain is not clean.
        """
        with self._cond:
            now = self._clock()
            self._prune(now)
            offset = self._wall() - now
            times = [t + offset for t in self._done] + [now + offset] * self._in_flight
            saved = now + offset
            width = max(1, math.ceil(self._hold() * 1000 / HISTORY_BUCKETS))
        stamps = sorted(math.ceil(t * 1000) for t in times)
        base = stamps[0] if stamps else math.ceil(saved * 1000)
        slices: dict[int, list[int]] = {}
        for stamp in stamps:
            latest_count = slices.setdefault((stamp - base) // width, [0, 0])
            latest_count[0] = max(latest_count[0], stamp - base)
            latest_count[1] += 1
        body = ",".join(f"{latest}:{count}" for latest, count in slices.values())
        return f"v1;{math.ceil(saved * 1000)};{int(clean)};{base};{body}"

    def restore(self, snapshots: Iterable[str], *, unrecorded: int = UNRECORDED_CALLS) -> int:
        """Count the requests earlier processes saved (see :meth:`snapshot`); once per process.

        A snapshot that is not clean and was taken within the last window adds
        ``unrecorded`` requests sent now. An unreadable snapshot is skipped: pacing then
        relies on the vendor's refusal and the pause, as with no history at all. Returns
        how many requests were counted.
        """
        with self._cond:
            if self._restored:
                return 0
            self._restored = True
            now_epoch = self._wall()
        times: list[float] = []
        for text in snapshots:
            decoded = _decode_history(text)
            if decoded is None:
                continue
            saved, clean, stamps = decoded
            times += stamps
            if not clean and saved + self._hold() > now_epoch:
                times += [now_epoch] * unrecorded
        if times:
            self.preload(times)
        return len(times)


def _decode_history(text: str) -> tuple[float, bool, list[float]] | None:
    """``v1;saved_ms;clean;base_ms;latest:count,...`` -> (saved, clean, epoch times)."""
    try:
        version, saved, clean, base, body = text.split(";", 4)
        if version != "v1":
            return None
        stamps: list[float] = []
        for part in filter(None, body.split(",")):
            latest, count = part.split(":")
            stamps += [(int(base) + int(latest)) / 1000] * int(count)
        return int(saved) / 1000, clean == "1", stamps
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HistoryUse:
    """What a saved send history (:meth:`Limiter.snapshot`) still counts against a rule."""

    held: int
    """Requests whose slot had not run out at ``now`` (with ``unrecorded`` ones, as a
    restart would count them)."""
    clean: bool
    saved_at: float
    """Epoch seconds the snapshot was taken."""


def history_use(
    text: str, rule: RateRule, now_epoch: float, *, unrecorded: int = UNRECORDED_CALLS
) -> HistoryUse | None:
    """How much of ``rule`` a saved history holds at ``now_epoch``, counted as
    :meth:`Limiter.restore` would; None when the text is not a history this version reads."""
    decoded = _decode_history(text)
    if decoded is None:
        return None
    saved, clean, stamps = decoded
    hold = rule.per_seconds + DEFAULT_MARGIN
    held = sum(1 for stamp in stamps if stamp + hold > now_epoch)
    if not clean and saved + hold > now_epoch:
        held += unrecorded
    return HistoryUse(held=held, clean=clean, saved_at=saved)


def credential_key(vendor: str, base_url: str, credential: str) -> str:
    """Registry key for a credential: a hash stands in for it, so no secret is ever kept."""
    digest = hashlib.sha256(credential.encode()).hexdigest()[:16]
    return f"{vendor}|{base_url.rstrip('/')}|{digest}"


_REGISTRY: dict[str, Limiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(vendor: str, base_url: str, credential: str, rule: RateRule) -> Limiter:
    """The process-wide limiter of one credential, made on first use.

    Two connections sharing a credential must share its allowance; if they were configured
    with different rules, the stricter one (fewer requests per second) wins.
    """
    key = credential_key(vendor, base_url, credential)
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get(key)
        if limiter is None:
            limiter = _REGISTRY[key] = Limiter(rule, key=key)
        elif rule != limiter.rule and _per_second(rule) < _per_second(limiter.rule):
            limiter.set_rule(rule)
        return limiter


def limiters() -> dict[str, Limiter]:
    """The shared limiters made so far, by key (a copy: for status and metrics to read)."""
    with _REGISTRY_LOCK:
        return dict(_REGISTRY)


def forget_limiters() -> None:
    """Drop every shared limiter (tests; a process that reloads its configuration)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


def _per_second(rule: RateRule) -> float:
    return rule.requests / rule.per_seconds
