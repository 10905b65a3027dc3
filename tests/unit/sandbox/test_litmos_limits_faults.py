"""Litmos simulator: the 100 requests / rolling 60 s rule per API key, and injected faults."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.litmos import LitmosSimulator
from syncd.sandbox.running import RunningSandbox, start_sandbox
from tests.unit.sandbox.kit import client


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def litmos(clock: FakeClock) -> Iterator[RunningSandbox]:
    with start_sandbox(LitmosSimulator(), clock=clock) as running:
        yield running


def test_documented_rule_100_per_rolling_60_seconds(
    litmos: RunningSandbox, clock: FakeClock
) -> None:
    with client(litmos) as api:
        for second in range(100):
            clock.now = second * 0.5
            assert api.get("/users").status_code == 200
        clock.now = 59.999
        refused = api.get("/users")
        assert refused.status_code == 503
        assert refused.json() == {"Detail": "Rating Limit Exceeded"}
        assert "retry-after" not in refused.headers
        clock.now = 60.0
        assert api.get("/users").status_code == 200, "the first request left the window"
        assert api.get("/users").status_code == 503
        clock.now = 60.5
        assert api.get("/users").status_code == 200
    assert litmos.admin is not None
    assert litmos.admin.counters()["rate_limited"] == 2


def test_shortened_window_exact_boundary_and_per_key(
    litmos: RunningSandbox, clock: FakeClock
) -> None:
    assert litmos.admin is not None
    litmos.admin.seed({"api_keys": [{"key": "second-key"}]})
    litmos.admin.set_rate(5, 1.0)
    with client(litmos, fmt=None) as api:
        assert [api.get("/users").status_code for _ in range(5)] == [200] * 5
        refused = api.get("/users")
        assert refused.status_code == 503
        assert "<Detail>Rating Limit Exceeded</Detail>" in refused.text
        other = api.get("/users", headers={"apikey": "second-key"})
        assert other.status_code == 200
        clock.now = 0.999
        assert api.get("/users").status_code == 503
        clock.now = 1.0
        assert [api.get("/users").status_code for _ in range(6)] == [200] * 5 + [503]


def test_refused_requests_do_not_use_up_the_window(
    litmos: RunningSandbox, clock: FakeClock
) -> None:
    assert litmos.admin is not None
    litmos.admin.set_rate(2, 10)
    with client(litmos) as api:
        api.get("/users")
        api.get("/users")
        for _ in range(5):
            assert api.get("/users").status_code == 503
        clock.now = 10
        assert [api.get("/users").status_code for _ in range(3)] == [200, 200, 503]


def test_requests_without_a_valid_key_are_not_counted(
    litmos: RunningSandbox, clock: FakeClock
) -> None:
    assert litmos.admin is not None
    litmos.admin.set_rate(1, 60)
    url = f"{litmos.base_url}/v1.svc/users"
    assert [httpx.get(url, params={"source": "x"}).status_code for _ in range(3)] == [401] * 3
    with client(litmos) as api:
        assert api.get("/users").status_code == 200


def test_injected_5xx_are_iis_style_html_pages(litmos: RunningSandbox) -> None:
    assert litmos.admin is not None
    litmos.admin.set_faults(error_rate=1.0, error_statuses=[502, 504], seed=1, max_faults=4)
    with client(litmos) as api:
        answers = [api.get("/users") for _ in range(5)]
    assert {a.status_code for a in answers[:4]} == {502, 504}
    assert all(a.headers["content-type"] == "text/html" for a in answers[:4])
    assert answers[4].status_code == 200


def test_truncated_answer_to_a_create_then_409_on_retry(litmos: RunningSandbox) -> None:
    """A create whose answer is unreadable: the retry meets the user created the first time."""
    assert litmos.admin is not None
    litmos.admin.set_faults(malformed_rate=1.0, methods=["POST"], max_faults=1)
    body = {"Id": "", "UserName": "lost.answer@example.com", "FirstName": "L", "LastName": "A"}
    with client(litmos) as api:
        cut = api.post("/users", json=body)
        assert cut.status_code == 201
        with pytest.raises(ValueError):
            cut.json()
        assert api.post("/users", json=body).status_code == 409
    assert litmos.admin.counters()["creates"] == {"lost.answer@example.com": 1}


def test_drop_and_slow_faults(litmos: RunningSandbox) -> None:
    assert litmos.admin is not None
    litmos.admin.set_faults(drop_rate=1.0, max_faults=1)
    with client(litmos) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.get("/users")
        assert api.get("/users").status_code == 200
        litmos.admin.set_faults(slow_rate=1.0, slow_seconds=20, max_faults=1)
        with pytest.raises(httpx.ReadTimeout):
            api.get("/users", timeout=0.2)
        assert api.get("/users").status_code == 200
    faults = litmos.admin.counters()["faults"]
    assert faults == {"drop": 1, "slow": 1}


def test_log_never_holds_the_api_key(litmos: RunningSandbox) -> None:
    assert litmos.admin is not None
    key = litmos.credentials["apikey"]
    httpx.get(f"{litmos.base_url}/v1.svc/users", params={"apikey": key, "source": "x"})
    log = litmos.admin.log()
    assert log[-1]["query"] == "apikey=***&source=x"
    assert key not in str(log) and key not in str(litmos.admin.counters())
