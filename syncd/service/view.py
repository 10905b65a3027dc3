"""What the service's HTTP endpoint and status page may ask of the running service.

The scheduler side (:mod:`syncd.service.service`) implements it; the HTTP side
(:mod:`syncd.service.http`) reads it. Kept apart so the two are written, and tested,
without each other: a test of the endpoint gives it a small view of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class JobState:
    """One scheduled job of a connection (``kind``: roster, drain, results)."""

    connection: str
    kind: str
    next_run: datetime | None
    running_since: datetime | None
    last_started: datetime | None
    last_finished: datetime | None
    last_outcome: str | None
    """"ok", "failed: <one line>", "over budget", "skipped: not owned", ..."""


class ServiceView(Protocol):
    """The live service, as the endpoint sees it."""

    def scheduler_running(self) -> bool:
        """The scheduler is started and not shutting down."""

    def jobs(self) -> list[JobState]:
        """Every scheduled job of every configured connection."""

    def owned(self) -> Mapping[str, bool]:
        """Per configured connection: whether this replica owns it now."""

    def stuck(self) -> list[str]:
        """One line per connection whose run is over its time budget (empty: none)."""
