"""The sandbox core over real HTTP, with a toy vendor: rate limit, faults, log, admin API."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Message

from syncd.sandbox.core import SandboxServer, build_app
from syncd.sandbox.running import RunningSandbox, start_sandbox
from tests.unit.sandbox.kit import ToySimulator


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def toy(clock: FakeClock) -> Iterator[RunningSandbox]:
    with start_sandbox(ToySimulator(), clock=clock) as running:
        yield running


@pytest.fixture
def client(toy: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=toy.base_url, headers={"key": "toy-key"}, timeout=5) as http:
        yield http


def test_vendor_routes_and_admin_seed_work(toy: RunningSandbox, client: httpx.Client) -> None:
    assert toy.admin is not None
    assert toy.admin.seed({"users": ["ann", "bob"]}) == {"users": 2}
    assert client.get("/api/users").json() == [{"name": "ann"}, {"name": "bob"}]
    assert client.post("/api/users", json={"name": "cy"}).status_code == 201
    assert client.post("/api/users", json={"name": "cy"}).status_code == 409
    assert toy.admin.get("toy/count") == {"users": 3}
    assert toy.admin.counters()["creates"] == {"cy": 1}


def test_rate_limit_at_the_boundary_with_the_vendor_refusal(
    toy: RunningSandbox, client: httpx.Client, clock: FakeClock
) -> None:
    assert toy.admin is not None
    toy.admin.set_rate(5, 1.0)
    assert [client.get("/api/users").status_code for _ in range(5)] == [200] * 5
    refused = client.get("/api/users")
    assert (refused.status_code, refused.text) == (429, "slow down")
    other_key = client.get("/api/users", headers={"key": "other"})
    assert other_key.status_code == 200, "the window is per credential"
    clock.now = 0.999
    assert client.get("/api/users").status_code == 429
    clock.now = 1.0
    assert [client.get("/api/users").status_code for _ in range(6)] == [200] * 5 + [429]
    counters = toy.admin.counters()
    assert counters["rate_limited"] == 3
    assert counters["requests"]["GET /api/users"] == {"200": 11, "429": 3}


def test_requests_without_a_credential_are_not_limited(toy: RunningSandbox) -> None:
    assert toy.admin is not None
    toy.admin.set_rate(1, 60)
    statuses = [httpx.get(f"{toy.base_url}/api/users").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_dropped_connection_is_a_transport_error_for_the_client(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.set_faults(drop_rate=1.0, max_faults=1)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get("/api/users")
    assert client.get("/api/users").status_code == 200
    dropped = toy.admin.log()[0]
    assert (dropped["status"], dropped["fault"]) == (0, "drop")


def test_slow_answer_exceeds_the_client_timeout_then_the_server_recovers(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.set_faults(slow_rate=1.0, slow_seconds=30, max_faults=1)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/api/users", timeout=0.2)
    assert client.get("/api/users").status_code == 200


def test_slow_answer_within_the_timeout_arrives_with_the_request_body(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.set_faults(slow_rate=1.0, slow_seconds=0.2, max_faults=1)
    started = time.monotonic()
    echoed = client.post("/api/echo", content=b"payload")
    assert (echoed.status_code, echoed.content) == (200, b"payload")
    assert time.monotonic() - started >= 0.2


def test_malformed_bodies_are_truncated_json_and_xml_with_a_2xx(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.seed({"users": ["ann", "bob"]})
    toy.admin.set_faults(malformed_rate=1.0)
    broken = client.get("/api/users")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert '[{"name":"ann"},{"name":"bob"}]'.startswith(broken.text)
    created = client.post("/api/users", json={"name": "cy"})
    assert created.status_code == 201
    xml = client.get("/api/xml")
    assert xml.status_code == 200
    assert xml.text.startswith("<Users>")
    assert not xml.text.endswith("</Users>")


def test_error_faults_use_the_seeded_statuses_and_the_vendor_body(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.set_faults(error_rate=1.0, seed=7, max_faults=20)
    first = [client.get("/api/users") for _ in range(20)]
    toy.admin.set_faults(error_rate=1.0, seed=7, max_faults=20)
    second = [client.get("/api/users").status_code for _ in range(20)]
    assert [r.status_code for r in first] == second
    assert set(second) == {500, 502, 503, 504}
    assert all(r.text == f"toy error {r.status_code}" for r in first)
    assert client.get("/api/users").status_code == 200


def test_faults_only_hit_matching_requests(toy: RunningSandbox, client: httpx.Client) -> None:
    assert toy.admin is not None
    toy.admin.set_faults(error_rate=1.0, error_statuses=[503], methods=["POST"])
    assert client.get("/api/users").status_code == 200
    assert client.post("/api/users", json={"name": "x"}).status_code == 503


def test_log_masks_secret_query_params_and_counts_templates(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    httpx.get(f"{toy.base_url}/api/users/ann", params={"key": "s3cr3t-value", "q": "1"})
    entry = toy.admin.log()[-1]
    assert entry["query"] == "key=***&q=1"
    assert entry["template"] == "/api/users/{name}"
    assert entry["credential"] and "s3cr3t" not in str(toy.admin.log())
    assert toy.admin.counters()["requests"] == {"GET /api/users/{name}": {"404": 1}}
    assert toy.admin.log(since=entry["seq"]) == []


def test_admin_refuses_bad_settings_with_a_reason(toy: RunningSandbox) -> None:
    assert toy.admin is not None
    for path, body in (
        ("/faults", {"error_rate": 2}),
        ("/rate", {"requests": 0, "per_seconds": 1}),
        ("/rate", {"per_seconds": 1}),
        ("/seed", {"users": "ann"}),
    ):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            toy.admin.post(path, body)
        assert caught.value.response.status_code == 422
        assert caught.value.response.json()["error"]


def test_reset_restores_the_vendor_rule_and_clears_everything(
    toy: RunningSandbox, client: httpx.Client
) -> None:
    assert toy.admin is not None
    toy.admin.seed({"users": ["ann"]})
    toy.admin.set_rate(1, 1)
    toy.admin.set_faults(error_rate=0.5)
    client.get("/api/users")
    info = toy.admin.reset(data=False)
    assert info["rate"]["requests"] == 100
    assert info["faults"]["error_rate"] == 0
    assert toy.admin.log() == []
    assert toy.admin.get("toy/count") == {"users": 1}
    toy.admin.reset()
    assert toy.admin.get("toy/count") == {"users": 0}


def test_a_request_is_logged_before_its_answer_completes() -> None:
    """The entry is in the log and counters before the last byte of the answer is handed to
    the server, so a client holding its answer can read them at once (a test once saw the
    counters lag behind: the entry used to be written after the answer had gone)."""
    app = build_app(ToySimulator(), admin=False)
    state = app.state.sandbox
    totals_at_last_byte: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            totals_at_last_byte.append(state.recorder.counters()["total"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/users",
        "raw_path": b"/api/users",
        "root_path": "",
        "query_string": b"key=toy-key",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    for _ in range(3):
        asyncio.run(app(scope, receive, send))
    assert totals_at_last_byte == [1, 2, 3]
    assert [entry.status for entry in state.recorder.entries(0, None)] == [200, 200, 200]


def test_admin_api_is_absent_unless_enabled() -> None:
    with start_sandbox(ToySimulator(), admin=False) as running:
        assert running.admin is None
        answer = httpx.get(f"{running.base_url}/_sandbox/counters")
        assert answer.status_code == 404
        assert running.state.recorder.counters()["total"] == 1, "it was a vendor request"


def test_server_reports_a_taken_port_and_stops_cleanly() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            SandboxServer(build_app(ToySimulator()), port=port).start()
    server = SandboxServer(build_app(ToySimulator())).start()
    url = server.base_url
    assert httpx.get(f"{url}/api/users").status_code == 200
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/users")
