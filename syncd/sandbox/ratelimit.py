"""Rolling-window rate limiting per credential, the way the vendors count.

A fixed "per minute" bucket would let a client send twice the allowance across a minute
boundary; the vendors document "N requests in any rolling window", so every accepted request
is remembered with its time and a new one is refused while ``requests`` of them are younger
than ``per_seconds``. The clock is injected so unit tests can walk time by hand.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class RateRule:
    """At most ``requests`` accepted requests in any rolling ``per_seconds`` window."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError(f"rate rule: requests must be at least 1, got {self.requests}")
        if self.per_seconds <= 0:
            raise ValueError(f"rate rule: per_seconds must be positive, got {self.per_seconds}")


class RollingWindowLimiter:
    """One rolling window per credential key; thread-safe.

    A request made at time ``t`` occupies its slot until ``t + per_seconds`` (exclusive):
    the window is half-open, so at exactly ``per_seconds`` after the oldest accepted request
    a new one is accepted again. Rejected requests do not occupy a slot unless
    ``count_rejected`` says the vendor counts them too.
    """

    def __init__(
        self, rule: RateRule, *, clock: Clock = time.monotonic, count_rejected: bool = False
    ) -> None:
        self._rule = rule
        self._clock = clock
        self._count_rejected = count_rejected
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def rule(self) -> RateRule:
        return self._rule

    @property
    def count_rejected(self) -> bool:
        return self._count_rejected

    def set_rule(self, rule: RateRule, *, count_rejected: bool | None = None) -> None:
        """Change the rule at runtime; windows start empty so a test begins from a clean slate."""
        with self._lock:
            self._rule = rule
            if count_rejected is not None:
                self._count_rejected = count_rejected
            self._hits.clear()

    def acquire(self, key: str) -> float | None:
        """Take a slot for ``key``: None when accepted, else seconds until one frees up."""
        with self._lock:
            now = self._clock()
            rule = self._rule
            window = self._hits.setdefault(key, deque())
            while window and now - window[0] >= rule.per_seconds:
                window.popleft()
            if len(window) < rule.requests:
                window.append(now)
                return None
            wait = window[-rule.requests] + rule.per_seconds - now
            if self._count_rejected:
                window.append(now)
            return max(wait, 0.0)

    def in_window(self, key: str) -> int:
        """How many requests of ``key`` the current window holds (for the admin API)."""
        with self._lock:
            now = self._clock()
            window = self._hits.get(key, deque())
            return sum(1 for hit in window if now - hit < self._rule.per_seconds)

    def reset(self) -> None:
        """Forget every window."""
        with self._lock:
            self._hits.clear()
