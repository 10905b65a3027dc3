"""`syncd run` as a real process against the Litmos sandbox: it syncs on schedule, applies
a changed schedule on SIGHUP (and keeps running on an invalid one), picks up an export
dropped into a watched folder, stops on SIGTERM mid-drain without losing or repeating an
op, and refuses a bad configuration at start with one plain error."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.kit import (
    ROOT,
    ServiceProcess,
    Setup,
    company,
    finished_runs,
    in_sync,
    make_setup,
    schedule_toml,
    service_toml,
    write_export,
)

TOKEN_ENV = "SYNCD_E2E_STATUS_TOKEN"
TOKEN = "status-token-that-must-never-be-logged"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def start(setup: Setup, *argv: str, **env: str) -> ServiceProcess:
    service = ServiceProcess(
        ["--config", str(setup.config), *argv],
        env=setup.env(SYNCD_QUEUE_BATCH_SIZE="2", **{TOKEN_ENV: TOKEN}, **env),
        cwd=setup.folder,
    )
    return service


def configure(setup: Setup, text: str, *, roster: str, **service: str | int) -> None:
    base = setup.config.read_text(encoding="utf-8").split("\n[service]\n")[0]
    base = base.split("\n[connections.lms.schedule]\n")[0]
    settings: dict[str, str | int] = {
        "token": f"${{{TOKEN_ENV}}}",
        "drain_every": "1s",
        "watch_every": "1s",
        "ownership_seconds": 6,
        **service,
    }
    setup.config.write_text(
        base + text + schedule_toml("lms", roster=roster, results="1h") + service_toml(**settings),
        encoding="utf-8",
    )


def test_syncs_on_schedule_and_applies_a_reloaded_one(litmos_sandbox, sqlite_url, tmp_path):
    rows = company(12)
    setup = make_setup(litmos_sandbox, tmp_path, sqlite_url, rows)
    configure(setup, "", roster="1h")
    service = start(setup)
    try:
        service.wait_for(lambda: finished_runs(service, "roster"), timeout=30, what="first sync")
        assert in_sync(setup, rows)

        # A changed export and, on SIGHUP, a roster schedule of 2 s instead of 1 h: only
        # the new schedule can sync it (no watch, the hourly run is far away).
        grown = company(15)
        write_export(setup.export, grown)
        configure(setup, "", roster="2s")
        service.signal(signal.SIGHUP)
        service.wait_for(lambda: service.events("service.reloaded"), timeout=10, what="reload")
        service.wait_for(lambda: in_sync(setup, grown), timeout=30, what="the scheduled sync")
        schedules = [e for e in service.events("service.schedule") if e["job"] == "roster"]
        assert [e["when"] for e in schedules] == ["1h", "2s"]

        # An invalid configuration is refused and the service keeps its schedule.
        # ([service] is the file's last table: the line lands in it.)
        setup.config.write_text(setup.config.read_text() + 'budget = "soon"\n', encoding="utf-8")
        service.signal(signal.SIGHUP)
        failed = service.wait_for(
            lambda: service.events("service.reload_failed"), timeout=10, what="refused reload"
        )
        assert "service.budget" in failed[0]["error"]
        later = company(17)
        write_export(setup.export, later)
        service.wait_for(lambda: in_sync(setup, later), timeout=30, what="sync after refusal")

        service.signal(signal.SIGTERM)
        assert service.finish(timeout=30) == 0
    finally:
        service.close()
    assert TOKEN not in service.text()
    assert litmos_sandbox.admin.counters()["rate_limited"] == 0
    creates = litmos_sandbox.admin.counters()["creates"]
    assert set(creates.values()) == {1} and len(creates) == 17


def test_picks_up_an_export_dropped_into_a_watched_folder(litmos_sandbox, sqlite_url, tmp_path):
    rows = company(10)
    setup = make_setup(litmos_sandbox, tmp_path, sqlite_url, rows)
    drop = tmp_path / "exports"
    drop.mkdir()
    write_export(drop / "roster-1.csv", rows)
    setup.config.write_text(
        setup.config.read_text().replace(
            'path = "export.csv"', 'path = "exports/roster-*.csv"\nwatch = true'
        ),
        encoding="utf-8",
    )
    configure(setup, "", roster="1h")
    service = start(setup, "--http", "127.0.0.1:0")
    try:
        served = service.wait_for(lambda: service.events("service.http"), timeout=30, what="http")
        with urllib.request.urlopen(f"http://{served[0]['address']}/healthz", timeout=10) as answer:
            assert answer.status == 200
        service.wait_for(lambda: in_sync(setup, rows), timeout=30, what="the first sync")
        grown = company(13)
        write_export(drop / "roster-2.csv", grown)
        service.wait_for(lambda: in_sync(setup, grown), timeout=30, what="the dropped export")
        seen = service.events("service.export_seen")
        assert seen and seen[0]["connections"] == ["lms"]
        reasons = [
            e["reason"] for e in service.events("service.run_started") if e["job"] == "roster"
        ]
        # The first run comes from gaining the connection (or queued behind its first pull).
        assert len(reasons) == 2 and reasons[0] in ("owned", "queued") and reasons[1] == "watch"
        service.signal(signal.SIGTERM)
        assert service.finish(timeout=30) == 0
    finally:
        service.close()


def test_sigterm_mid_drain_loses_nothing_and_repeats_nothing(litmos_sandbox, sqlite_url, tmp_path):
    rows = company(20)
    # 5 requests a second: the first sync's ~50 calls take about ten seconds.
    setup = make_setup(litmos_sandbox, tmp_path, sqlite_url, rows, requests=5, per_seconds=1.0)
    configure(setup, "", roster="1h", stop_grace="20s")
    service = start(setup)
    try:
        mark = 0
        service.wait_for(lambda: len(setup.writes_since(mark)) >= 8, timeout=30, what="writes")
        service.signal(signal.SIGTERM)
        assert service.finish(timeout=30) == 0
    finally:
        service.close()
    stopped = [e for e in service.events("service.run_finished") if e["job"] == "roster"]
    assert [e["outcome"] for e in stopped] == ["stopped"], service.text()[-3000:]
    assert not in_sync(setup, rows), "the stop came mid-drain"
    rerun = setup.reconcile(**{TOKEN_ENV: TOKEN})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert in_sync(setup, rows)
    counters = litmos_sandbox.admin.counters()
    assert set(counters["creates"].values()) == {1} and len(counters["creates"]) == 20
    assert counters["rate_limited"] == 0


def test_invalid_configuration_exits_1_with_one_plain_error(tmp_path):
    config = tmp_path / "syncd.toml"
    config.write_text(
        '[sources.hris]\npath = "x.csv"\ncolumns = { employee_id = "ID" }\n'
        '[service]\nstop_grace = "whenever"\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:")
    assert "service.stop_grace: must be an interval" in proc.stderr


def ready(address: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{address}/readyz", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_a_run_over_its_budget_fails_readiness_until_it_ends(litmos_sandbox, sqlite_url, tmp_path):
    """A first sync of 20 people at 5 requests a second takes several seconds: with a 1 s
    budget /readyz answers 503 naming the connection while it runs, then 200 again, and
    the run is recorded as over budget (it is reported, not stopped: everyone is synced)."""
    rows = company(20)
    setup = make_setup(litmos_sandbox, tmp_path, sqlite_url, rows, requests=5, per_seconds=1.0)
    configure(setup, "", roster="1h", budget="1s")
    service = start(setup, "--http", "127.0.0.1:0")
    try:
        served = service.wait_for(lambda: service.events("service.http"), timeout=30, what="http")
        address = served[0]["address"]
        _, body = service.wait_for(
            lambda: (answer := ready(address))[0] == 503 and answer, timeout=30, what="503"
        )
        assert "lms" in body and "budget" in body
        service.wait_for(
            lambda: finished_runs(service, "roster", "over budget"), timeout=60, what="the sync"
        )
        assert in_sync(setup, rows), "a run over budget is reported, not stopped"
        assert service.wait_for(lambda: ready(address)[0] == 200, timeout=15, what="ready again")
        assert service.events("service.over_budget")
    finally:
        service.signal(signal.SIGTERM)
        assert service.finish(timeout=60) == 0, service.text()[-3000:]
