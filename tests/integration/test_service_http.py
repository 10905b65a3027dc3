"""The service's HTTP endpoint served on a loopback port, over a real state database, with a
small ServiceView of the test's own: health and readiness, Prometheus metrics, the status
page and JSON, bearer-token enforcement, and no secret on any answer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from sqlalchemy import make_url

from syncd import config as config_mod
from syncd.errors import ConfigError, Permanent
from syncd.http import HttpClient
from syncd.limiter import RateRule, forget_limiters, limiter_for
from syncd.queue.worker import DrainStats, Event
from syncd.service.http import Served, serve
from syncd.service.view import JobState
from syncd.state import runs
from syncd.state.db import create_engine_for, upgrade
from syncd.state.models import RunStatus
from syncd.state.pacing import save_history
from syncd.vendors.base import Outcome
from tests.integration.kit import LEASE, T0, company, enqueue, new_store, record

HOSTILE = '<script>alert("pwned")</script> refused'
KEY_ENV = "SYNCD_TEST_STATUS_KEY"
API_KEY = "litmos-key-7f3a9c1e5b"
TOKEN = "status-token-4d2b8e6f0a"

CONFIG = """\
[state]
url = "{url}"

[sources.hris]
path = "export.csv"
key = "employee_id"
columns = {{ employee_id = "Employee ID", first_name = "First", last_name = "Last", \
email = "Email", username = "Username" }}

[connections.lms]
vendor = "litmos"
base_url = "https://api.litmos.com/v1.svc"
credentials = {{ api_key = "${{{key_env}}}" }}
options = {{ source = "syncd-test" }}
rate = {{ requests = 100, per_seconds = 60 }}
schedule = {{ roster = "15m", results = "1h" }}
"""


@dataclass
class View:
    """The running service as the endpoint sees it, set by the test."""

    running: bool = True
    stuck_lines: list[str] = field(default_factory=list)

    def scheduler_running(self) -> bool:
        return self.running

    def jobs(self) -> list[JobState]:
        soon = datetime.now(UTC) + timedelta(minutes=10)
        return [JobState("lms", "roster", soon, None, T0, T0, "ok")]

    def owned(self) -> dict[str, bool]:
        return {"lms": True}

    def stuck(self) -> list[str]:
        return list(self.stuck_lines)


def populate(url: str) -> None:
    """A finished run whose one user was refused (dead, its reason hostile markup), what
    depends on it blocked, and a credential's saved send history."""
    engine = create_engine_for(url)
    try:
        store = new_store(engine)
        run_id = enqueue(store, company(4))
        while batch := store.claim("w1", limit=100, lease=LEASE, now=T0):
            for claimed in batch:
                outcome = (
                    Outcome.dead(claimed.op, HOSTILE, calls=1)
                    if claimed.key == "create_user:E002"
                    else Outcome.done(claimed.op, calls=1, remote_id=f"R-{claimed.op.subject}")
                )
                record(store, claimed, outcome)
        with store.sessions.begin() as db:
            runs.finish_run(db, run_id, status=RunStatus.PARTIAL, now=T0, done=10, dead=1)
            done_run = runs.start_run(db, connection="lms", kind="reconcile", now=T0)
            runs.finish_run(db, done_run, status=RunStatus.SUCCEEDED, now=T0 + timedelta(1))
            limiter = limiter_for(
                "litmos", "https://api.litmos.com/v1.svc", API_KEY, RateRule(100, 60)
            )
            with limiter.slot():
                pass
            save_history(db, "lms", limiter.key, limiter.snapshot(clean=True), now=T0)
    finally:
        engine.dispose()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> config_mod.Config:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(url)
    forget_limiters()
    populate(url)
    monkeypatch.setenv(KEY_ENV, API_KEY)
    path = tmp_path / "syncd.toml"
    path.write_text(CONFIG.format(url=url, key_env=KEY_ENV), encoding="utf-8")
    yield config_mod.load(path)
    forget_limiters()


@pytest.fixture
def view() -> View:
    return View()


@pytest.fixture
def served(cfg: config_mod.Config, view: View) -> Iterator[Served]:
    running = serve(view, cfg, "127.0.0.1:0")
    yield running
    running.stop()


def get(served: Served, path: str, **headers: str) -> httpx.Response:
    return httpx.get(served.url + path, headers=headers, timeout=10)


def test_port_0_picks_a_free_port_and_stop_frees_it(cfg, view):
    running = serve(view, cfg, "127.0.0.1:0")
    assert running.host == "127.0.0.1" and running.port > 0
    assert get(running, "/healthz").text == "ok\n"
    running.stop()
    with pytest.raises(httpx.ConnectError):
        get(running, "/healthz")


def test_health_is_200_and_readiness_names_every_reason_it_is_not(served, view):
    assert get(served, "/healthz").status_code == 200
    ready = get(served, "/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "reasons": []}
    view.stuck_lines = ["lms: roster run over its 30m budget (running 41m)"]
    view.running = False
    ready = get(served, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["reasons"] == [
        "scheduler: not running",
        "stuck: lms: roster run over its 30m budget (running 41m)",
    ]
    assert get(served, "/healthz").status_code == 200, "alive though not ready"


def test_metrics_parse_and_carry_every_family(served, cfg):
    progress = served.metrics.progress()
    progress.event(
        "lms", Event("create_user:E009", "create_user", "done", 1, "", False), DrainStats()
    )
    progress.event(
        "lms", Event("create_user:E010", "create_user", "dead", 1, "no", False), DrainStats()
    )
    client = HttpClient(vendor="litmos", base_url=served.url, timeout=5)
    with pytest.raises(Permanent):
        client.request("GET", "/users/jane.doe%40corp.test", params={"source": "x"})
    client.close()
    answer = get(served, "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert {
        "syncd_database_up",
        "syncd_queue_ops",
        "syncd_queue_oldest_waiting_age_seconds",
        "syncd_dead_letters",
        "syncd_last_sync_success_timestamp_seconds",
        "syncd_export_rejected_rows",
        "syncd_rate_limit_utilization",
        "syncd_rate_limit_in_flight",
        "syncd_scheduler_running",
        "syncd_stuck_connections",
        "syncd_connection_owned",
        "syncd_ops",
        "syncd_vendor_calls",
        "syncd_vendor_call_duration_seconds",
    } <= set(families)

    def value(family: str, suffix: str = "", **labels: str) -> float:
        (sample,) = [
            s
            for s in families[family].samples
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return float(sample.value)

    assert value("syncd_database_up") == 1
    assert value("syncd_dead_letters", connection="lms") == 1
    assert value("syncd_queue_ops", connection="lms", state="blocked") == 2
    assert value("syncd_queue_ops", connection="lms", state="done") == 10
    assert value("syncd_last_sync_success_timestamp_seconds", connection="lms") == (
        (T0 + timedelta(1)).timestamp()
    )
    assert value("syncd_connection_owned", connection="lms") == 1
    assert value("syncd_rate_limit_utilization", connection="lms") == pytest.approx(0.01)
    assert value("syncd_ops", "_total", connection="lms", type="create_user", outcome="dead") == 1
    assert families["syncd_vendor_calls"].samples[0].labels == {
        "vendor": "litmos",
        "endpoint": "GET /users/{id}",
        "status": "404",
    }
    assert "jane" not in answer.text and "source=" not in answer.text, "no ids, no queries"
    assert "syncd_last_results_pull_timestamp_seconds{" not in answer.text, (
        "no sample for a pull that never happened"
    )


def test_status_json_and_page_show_the_dead_letter_and_its_reason_as_text(served):
    data = get(served, "/status").json()
    (conn,) = data["connections"]
    assert conn["name"] == "lms" and data["service"] is True
    assert conn["queue"]["dead"] == 1 and conn["queue"]["blocked"] == 2
    dead = [op for op in conn["problems"] if op["state"] == "dead"]
    assert [(op["key"], op["reason"]) for op in dead] == [("create_user:E002", HOSTILE)]
    held = [op["reason"] for op in conn["problems"] if op["state"] == "blocked"]
    assert held and all("create_user:E002" in reason for reason in held)
    assert conn["jobs"][0]["kind"] == "roster" and conn["owner"]["here"] is True
    (rate,) = conn["rate"]
    assert (rate["limit"], rate["window_seconds"], rate["saved_held"]) == (100, 60.0, 1)
    assert rate["live_utilization"] == 0.01 and rate["live_in_flight"] == 0
    page = get(served, "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; refused" in page.text


def test_a_configured_token_guards_page_and_status_but_not_health_or_metrics(cfg, view):
    running = serve(view, cfg, "127.0.0.1:0", token=TOKEN)
    try:
        for path in ("/", "/status"):
            assert get(running, path).status_code == 401
            assert get(running, path, Authorization="Bearer wrong").status_code == 401
            assert get(running, path, Authorization=f"Basic {TOKEN}").status_code == 401
            assert get(running, path, Authorization=f"Bearer {TOKEN}").status_code == 200
        for path in ("/healthz", "/readyz", "/metrics"):
            assert get(running, path).status_code == 200, path
    finally:
        running.stop()


def test_a_non_loopback_bind_needs_a_token_and_then_enforces_it(cfg, view):
    with pytest.raises(ConfigError) as refused:
        serve(view, cfg, "0.0.0.0:0")
    assert "\n" not in str(refused.value) and "service.token" in str(refused.value)
    running = serve(view, cfg, "0.0.0.0:0", token=TOKEN)
    try:
        url = f"http://127.0.0.1:{running.port}"
        assert httpx.get(url + "/status", timeout=10).status_code == 401
        assert httpx.get(url + "/metrics", timeout=10).status_code == 200
        authorized = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(url + "/status", headers=authorized, timeout=10).status_code == 200
    finally:
        running.stop()


def test_a_taken_port_is_one_plain_error(cfg, view):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(view, cfg, f"127.0.0.1:{port}")


def test_no_secret_appears_on_any_answer(cfg, view):
    running = serve(view, cfg, "127.0.0.1:0", token=TOKEN)
    try:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/", "/status", "/metrics", "/readyz", "/healthz"):
            answer = get(running, path, **bearer)
            assert answer.status_code == 200, path
            assert API_KEY not in answer.text and TOKEN not in answer.text, path
            assert API_KEY not in str(answer.headers) and TOKEN not in str(answer.headers)
        for path in ("/", "/status"):
            assert TOKEN not in get(running, path).text
    finally:
        running.stop()


@pytest.mark.postgres
def test_a_database_gone_makes_readiness_and_status_503_while_metrics_say_so(
    fresh_pg_database, pg_server_url, tmp_path, monkeypatch, view
):
    upgrade(fresh_pg_database)
    monkeypatch.setenv(KEY_ENV, API_KEY)
    path = tmp_path / "syncd.toml"
    path.write_text(CONFIG.format(url=fresh_pg_database, key_env=KEY_ENV), encoding="utf-8")
    running = serve(view, config_mod.load(path), "127.0.0.1:0")
    try:
        assert get(running, "/readyz").status_code == 200
        name = make_url(fresh_pg_database).database
        server = make_url(pg_server_url).set(drivername="postgresql")
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        ready = get(running, "/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"][0].startswith("database: not answering (")
        assert get(running, "/status").status_code == 503
        assert get(running, "/").status_code == 503
        assert get(running, "/healthz").status_code == 200
        metrics = get(running, "/metrics")
        assert metrics.status_code == 200 and "syncd_database_up 0.0" in metrics.text
    finally:
        running.stop()


def test_the_token_comes_from_the_service_table_and_a_reload_shows_new_connections(
    cfg, view, tmp_path, monkeypatch
):
    monkeypatch.setenv("SYNCD_TEST_STATUS_TOKEN", TOKEN)
    path = tmp_path / "reloaded.toml"
    text = CONFIG.format(url=cfg.state.url, key_env=KEY_ENV)
    second = text.split("[connections.lms]", 1)[1].replace("schedule = ", "# ")
    path.write_text(
        text
        + "\n[connections.other]"
        + second
        + '\n[service]\ntoken = "${SYNCD_TEST_STATUS_TOKEN}"\n',
        encoding="utf-8",
    )
    reloaded = config_mod.load(path)
    running = serve(view, reloaded, "0.0.0.0:0")
    try:
        assert get(running, "/status").status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert [c["name"] for c in get(running, "/status", **bearer).json()["connections"]] == [
            "lms",
            "other",
        ]
        running.reconfigure(cfg)
        assert [c["name"] for c in get(running, "/status", **bearer).json()["connections"]] == [
            "lms"
        ]
        assert 'connection="other"' not in get(running, "/metrics").text
    finally:
        running.stop()
