"""Several `syncd run` replicas on one PostgreSQL database share three Litmos connections
(each its own sandbox and API key): every connection is owned by one live replica, a
replica killed with SIGKILL has its connections taken over within a bound, every
connection keeps syncing, no op is executed twice and no vendor limit is exceeded."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from syncd.state import leases
from syncd.state.db import create_engine_for
from syncd.state.models import Run
from tests.e2e.kit import (
    ROOT,
    SOURCE_CONFIG,
    ServiceProcess,
    company,
    lms,
    mirror,
    schedule_toml,
    service_toml,
    write_export,
)

pytestmark = pytest.mark.postgres

CONNECTIONS = ("lms1", "lms2", "lms3")
OWNERSHIP_SECONDS = 6
TAKEOVER_BOUND = OWNERSHIP_SECONDS + 10
"""Seconds within which a killed replica's connections have a live owner again: its
leases run out (or its process is seen gone) and a survivor's next tick takes them."""

CONNECTION = """
[connections.{name}]
vendor = "litmos"
base_url = "{base_url}/v1.svc"
credentials = {{ api_key = "${{{key_env}}}" }}
options = {{ source = "syncd-e2e" }}
rate = {{ requests = 30, per_seconds = 1 }}
groups = ["org"]
timeout_seconds = 2

[[connections.{name}.rules]]
name = "everyone"
assign = {{ courses = ["{course}"] }}
"""


@pytest.fixture
def three_lms(sandbox):
    """Three Litmos sandboxes, each seeded with the course the rule assigns."""
    found = {}
    for name in CONNECTIONS:
        running = sandbox("litmos")
        seeded = running.admin.seed({"courses": [{"code": "SAFE101", "name": "Safety"}]})
        running.admin.set_rate(30, 1.0)
        found[name] = (running, seeded["courses"]["SAFE101"])
    return found


def synced(db_url: str, sandboxes, rows: Sequence[dict[str, str]]) -> bool:
    """Every connection's LMS holds exactly the export's people, as its mirror says."""
    wanted = {r["Username"] for r in rows}
    try:
        for name, (running, _course) in sandboxes.items():
            held = lms(running)
            if {u[0] for u in held.users.values()} != wanted or held != mirror(db_url, name):
                return False
    except Exception:  # the mirror's tables may not exist yet
        return False
    return True


def owners(db_url: str) -> dict[str, str]:
    """connection -> holder of its unexpired ownership lease."""
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as db:
            rows = leases.listed(db, "own:")
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    return {r.name.removeprefix("own:"): r.holder for r in rows if r.expires_at > now}


def pid_of(holder: str) -> int:
    return int(holder.split(":")[1])


def overlapping_runs(db_url: str) -> list[tuple[str, int, int]]:
    """Reconcile runs of one connection that overlapped in time (must be none)."""
    engine = create_engine_for(db_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(Run.connection, Run.id, Run.started_at, Run.finished_at)
                .where(Run.kind == "reconcile")
                .order_by(Run.connection, Run.started_at)
            ).all()
    finally:
        engine.dispose()
    clashes = []
    for before, after in itertools.pairwise(rows):
        if before.connection == after.connection:
            end = before.finished_at or datetime.max.replace(tzinfo=UTC)
            if after.started_at < end:
                clashes.append((before.connection, before.id, after.id))
    return clashes


@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_share_connections_and_take_over_from_a_killed_one(
    replicas, three_lms, fresh_pg_database, tmp_path
):
    db_url = fresh_pg_database
    rows = company(10)
    write_export(tmp_path / "export.csv", rows)
    text = SOURCE_CONFIG.format(db_url=db_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env.update({"PYTHONPATH": str(ROOT), "SYNCD_QUEUE_MAX_WAIT_SECONDS": "2"})
    for name, (running, course) in three_lms.items():
        key_env = f"SYNCD_E2E_KEY_{name.upper()}"
        env[key_env] = running.credentials["apikey"]
        text += CONNECTION.format(
            name=name, base_url=running.base_url, key_env=key_env, course=course
        )
        text += schedule_toml(name, roster="3s", results="1h")
    text += service_toml(drain_every="2s", ownership_seconds=OWNERSHIP_SECONDS, stop_grace="10s")
    config = tmp_path / "syncd.toml"
    config.write_text(text, encoding="utf-8")

    started = [
        ServiceProcess(["--config", str(config)], env=env, cwd=tmp_path) for _ in range(replicas)
    ]
    try:
        first = started[0]
        first.wait_for(lambda: synced(db_url, three_lms, rows), timeout=60, what="first syncs")
        live = {p.pid for p in started}
        held = first.wait_for(
            lambda: (o := owners(db_url)) and len(o) == 3 and o, timeout=20, what="owners"
        )
        assert {pid_of(h) for h in held.values()} <= live

        # Kill the replica that owns the most connections, without warning.
        counts = {p.pid: sum(pid_of(h) == p.pid for h in held.values()) for p in started}
        victim = max(started, key=lambda p: counts[p.pid])
        assert counts[victim.pid] >= 1
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        killed_at = time.monotonic()
        survivors = [p for p in started if p is not victim]
        live = {p.pid for p in survivors}

        def taken_over() -> bool:
            now = owners(db_url)
            return len(now) == 3 and {pid_of(h) for h in now.values()} <= live

        survivors[0].wait_for(taken_over, timeout=TAKEOVER_BOUND, what="takeover")
        assert time.monotonic() - killed_at <= TAKEOVER_BOUND

        grown = company(13)
        write_export(tmp_path / "export.csv", grown)
        survivors[0].wait_for(
            lambda: synced(db_url, three_lms, grown), timeout=60, what="syncs after the kill"
        )
        for process in survivors:
            process.signal(signal.SIGTERM)
        assert [p.finish(timeout=30) for p in survivors] == [0] * len(survivors)
    finally:
        for process in started:
            process.close()

    assert overlapping_runs(db_url) == []
    for name, (running, _course) in three_lms.items():
        counters = running.admin.counters()
        assert set(counters["creates"].values()) == {1}, name
        assert len(counters["creates"]) == 13, name
        assert counters["rate_limited"] == 0, name
