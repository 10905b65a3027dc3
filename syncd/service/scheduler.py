"""What the service schedules: per connection a roster sync, a drain and a result pull.

Pure: the schedule strings of the configuration become APScheduler 3 triggers here, with
the defaults for what a connection leaves unset, and every problem is a ConfigError naming
the key, found at start (and at a reload) instead of when the job would first run.

Defaults (a connection without ``schedule``): the roster is synced hourly (exports
usually change daily; an unchanged export costs a read and no vendor call) and results are
pulled every six hours (pulls are incremental, so a results file HR takes once a day is
never more than six hours behind). A connection's outbox is drained every
``service.drain_every`` so retries go out when due. A vendor syncd cannot read results
from gets no result job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.config import Config, parse_interval
from syncd.errors import ConfigError

DEFAULT_ROSTER = "1h"
DEFAULT_RESULTS = "6h"

ROSTER, DRAIN, RESULTS = "roster", "drain", "results"
KINDS = (ROSTER, DRAIN, RESULTS)
"""Job kinds, in the order queued work of one connection runs."""


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: what runs, when (as written, and as a trigger), and from which key."""

    connection: str
    kind: str
    when: str
    key: str

    @property
    def job_id(self) -> str:
        return f"{self.connection}:{self.kind}"

    def trigger(self) -> BaseTrigger:
        return trigger_for(self.when, self.key)


def trigger_for(when: str, key: str) -> BaseTrigger:
    """An interval (`15m`) or a 5-field cron (in local time) as a trigger; a ConfigError
    naming ``key`` when it is neither."""
    interval = parse_interval(when)
    if interval is not None:
        if interval <= timedelta(0):
            raise ConfigError(f"{key}: `{when}` must be longer than zero")
        return IntervalTrigger(seconds=interval.total_seconds())
    try:
        return CronTrigger.from_crontab(when)
    except ValueError as exc:
        raise ConfigError(f"{key}: `{when}` is not a valid cron expression: {exc}") from None


def jobs_for(config: Config, *, readable: frozenset[str]) -> list[JobSpec]:
    """Every job of every connection; ``readable``: the vendors results can be pulled from.

    Each trigger is built once here, so a bad expression fails the start or the reload.
    """
    specs: list[JobSpec] = []
    drain_every = config.service.drain_every
    for name, conn in sorted(config.connections.items()):
        where = f"connections.{name}.schedule"
        specs.append(
            JobSpec(name, ROSTER, conn.schedule.roster or DEFAULT_ROSTER, f"{where}.roster")
        )
        specs.append(JobSpec(name, DRAIN, drain_every, "service.drain_every"))
        if conn.vendor in readable:
            when = conn.schedule.results or DEFAULT_RESULTS
            specs.append(JobSpec(name, RESULTS, when, f"{where}.results"))
    for spec in specs:
        spec.trigger()
    return specs


def over_budget(elapsed_seconds: float, budget_seconds: float) -> bool:
    """Whether a run has taken longer than the budget (a zero budget: never)."""
    return budget_seconds > 0 and elapsed_seconds > budget_seconds
