"""The request log and counters a test reads to prove what a client actually sent.

"Created each user exactly once" or "never exceeded the rate limit" are claims about the
traffic, so the simulator keeps it: one entry per request (secrets in the query string are
masked, headers are never kept, the credential appears only as a short fingerprint) and
counters by endpoint template and status, creates per username and rate-limit rejections.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

MASK = "***"


def fingerprint(credential: str) -> str:
    """A short stable label for a credential, so logs can tell keys apart without holding one."""
    return hashlib.sha256(credential.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LogEntry:
    """One request as the simulator saw and answered it; ``status`` 0 = connection dropped."""

    seq: int
    at: str
    method: str
    path: str
    template: str
    query: str
    credential: str | None
    status: int
    fault: str | None
    rate_limited: bool
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestRecorder:
    """Thread-safe log (bounded, oldest dropped first) and counters (never dropped)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._entries: deque[LogEntry] = deque(maxlen=self._max_entries)
            self._seq = 0
            self._by_endpoint: dict[str, Counter[int]] = {}
            self._creates: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._rate_limited = 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            key = f"{entry.method} {entry.template}"
            self._by_endpoint.setdefault(key, Counter())[entry.status] += 1
            if entry.fault:
                self._faults[entry.fault] += 1
            if entry.rate_limited:
                self._rate_limited += 1

    def record_create(self, username: str) -> None:
        """Called by a vendor route each time it really creates a user (or learner)."""
        with self._lock:
            self._creates[username] += 1

    def entries(self, since: int = 0, limit: int | None = None) -> list[LogEntry]:
        """Entries with ``seq`` greater than ``since``, oldest first."""
        with self._lock:
            found = [entry for entry in self._entries if entry.seq > since]
        return found if limit is None else found[:limit]

    def counters(self) -> dict[str, Any]:
        """Plain-JSON counters: requests by "METHOD template" then status, totals, creates."""
        with self._lock:
            by_status: Counter[int] = Counter()
            for statuses in self._by_endpoint.values():
                by_status.update(statuses)
            return {
                "total": sum(by_status.values()),
                "requests": {
                    key: {str(status): n for status, n in sorted(statuses.items())}
                    for key, statuses in sorted(self._by_endpoint.items())
                },
                "by_status": {str(status): n for status, n in sorted(by_status.items())},
                "creates": dict(sorted(self._creates.items())),
                "rate_limited": self._rate_limited,
                "faults": dict(sorted(self._faults.items())),
            }
