"""The service's pure parts: schedules to triggers (with defaults), the budget, ownership
decisions and lease takeover by expiry (as between replicas on different hosts), the
export watcher, and sd_notify datagrams."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.config import Config
from syncd.errors import ConfigError
from syncd.service.ownership import Ownership, decide, fair_share
from syncd.service.runtime import Notifier
from syncd.service.scheduler import (
    DEFAULT_RESULTS,
    DEFAULT_ROSTER,
    jobs_for,
    over_budget,
    trigger_for,
)
from syncd.service.watch import Watcher
from syncd.state.db import create_engine_for, session_factory, upgrade


def config(**schedule: str) -> Config:
    return Config.model_validate(
        {
            "sources": {"hris": {"path": "x.csv", "columns": {"employee_id": "ID"}}},
            "connections": {
                "a": {
                    "vendor": "litmos",
                    "base_url": "sandbox:",
                    "credentials": {},
                    "schedule": schedule,
                },
                "b": {"vendor": "litmos", "base_url": "sandbox:", "credentials": {}},
            },
            "service": {"drain_every": "30s"},
        }
    )


def test_intervals_and_crons_become_triggers():
    assert isinstance(trigger_for("15m", "k"), IntervalTrigger)
    assert trigger_for("15m", "k").interval == timedelta(minutes=15)
    assert isinstance(trigger_for("0 6 * * 1-5", "k"), CronTrigger)


@pytest.mark.parametrize("when", ["0 25 * * *", "0s"])
def test_a_bad_schedule_is_a_config_error_naming_the_key(when):
    with pytest.raises(ConfigError, match=r"connections\.a\.schedule\.roster"):
        jobs_for(config(roster=when), readable=frozenset({"litmos"}))


def test_unset_schedules_take_the_defaults_and_unreadable_vendors_get_no_pull():
    specs = jobs_for(config(roster="0 6 * * *"), readable=frozenset({"litmos"}))
    table = {(s.connection, s.kind): s.when for s in specs}
    assert table == {
        ("a", "roster"): "0 6 * * *",
        ("a", "drain"): "30s",
        ("a", "results"): DEFAULT_RESULTS,
        ("b", "roster"): DEFAULT_ROSTER,
        ("b", "drain"): "30s",
        ("b", "results"): DEFAULT_RESULTS,
    }
    specs = jobs_for(config(), readable=frozenset())
    assert {s.kind for s in specs} == {"roster", "drain"}


def test_budget():
    assert over_budget(61, 60) and not over_budget(60, 60) and not over_budget(10**6, 0)


def test_ownership_moves_toward_a_fair_share_and_never_sheds_a_busy_connection():
    names = ["a", "b", "c"]
    assert fair_share(3, 2) == 2 and fair_share(3, 0) == 3
    alone = decide(names, [], [], replicas=1, busy=lambda n: False)
    assert sorted(alone.take) == names
    crowded = decide(names, names, [], replicas=3, busy=lambda n: n != "a")
    assert crowded.shed == ("a",)
    none_idle = decide(names, names, [], replicas=3, busy=lambda n: True)
    assert none_idle.shed == ()
    nothing_free = decide(names, ["a"], ["b", "c"], replicas=2, busy=lambda n: False)
    assert nothing_free.take == () and nothing_free.shed == ()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_replica_that_stops_renewing_loses_its_connections_to_another(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    try:
        sessions = session_factory(engine)
        clock = Clock()
        alive = {"host-a:1:x", "host-b:2:y"}

        def replica(name: str) -> Ownership:
            return Ownership(
                sessions, name, ttl_seconds=30, clock=clock, is_dead=lambda h: h not in alive
            )

        a, b = replica("host-a:1:x"), replica("host-b:2:y")
        for r in (a, b):
            r.set_connections(["c1", "c2", "c3", "c4"])
        assert sorted(a.tick(lambda n: False)[0]) == ["c1", "c2", "c3", "c4"]
        assert b.tick(lambda n: False) == ([], [])
        a.tick(lambda n: False)  # sees two replicas: sheds to its share of two
        gained, _ = b.tick(lambda n: False)
        assert len(gained) == 2
        assert sum(a.owned().values()) == 2 and sum(b.owned().values()) == 2

        # host-a hangs (no renewal, process not provably gone: another host).
        clock.now += timedelta(seconds=31)
        assert not any(a.owned().values())
        gained, _ = b.tick(lambda n: False)
        assert sum(b.owned().values()) == 4
        _, lost = a.tick(lambda n: False)
        assert len(lost) == 2 and not any(a.owned().values())
    finally:
        engine.dispose()


def test_the_watcher_takes_a_new_export_once_it_has_settled(tmp_path: Path):
    (tmp_path / "roster-1.csv").write_text("a\n")
    watcher = Watcher({"hris": str(tmp_path / "roster-*.csv")})
    assert watcher.poll() == []
    newer = tmp_path / "roster-2.csv"
    newer.write_text("a\nb\n")
    os.utime(newer, (2_000_000_000, 2_000_000_000))
    assert watcher.poll() == []  # seen once: may still be being written
    assert watcher.poll() == ["hris"]
    assert watcher.poll() == []


def test_sd_notify_sends_datagrams_to_the_notify_socket(tmp_path: Path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"})
        assert notifier.ping_every == 10
        notifier.ready("running")
        notifier.watchdog()
        notifier.stopping("bye")
        got = [server.recv(4096).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=running", "WATCHDOG=1", "STOPPING=1\nSTATUS=bye"]
    assert not Notifier({}).enabled
    Notifier({}).ready("nothing happens")
