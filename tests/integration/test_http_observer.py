"""Observers of `syncd.http` (what the service's metrics count vendor calls with), against the
Litmos sandbox on loopback: every request reported once with its path and status, none
after removal, a failing observer never failing a request, adding from many threads."""

from __future__ import annotations

import threading

import pytest

from syncd import http
from syncd.errors import Permanent, Retryable
from syncd.http import HttpClient


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, int | None, float]] = []
        self._lock = threading.Lock()

    def __call__(self, vendor: str, method: str, path: str, status: int | None, s: float) -> None:
        with self._lock:
            self.calls.append((vendor, method, path, status, s))


@pytest.fixture
def client(litmos_sandbox):
    creds = litmos_sandbox.credentials
    made = HttpClient(
        vendor="litmos",
        base_url=f"{litmos_sandbox.base_url}/v1.svc",
        timeout=5,
        headers={"apikey": creds["apikey"]},
        params={"source": creds["source"], "format": "json"},
    )
    yield made
    made.close()


def test_every_request_is_reported_once_with_path_status_and_time(client):
    seen = Seen()
    http.add_observer(seen)
    try:
        client.request("GET", "/users", params={"limit": 1})
        with pytest.raises(Permanent):
            client.request("GET", "/users/no-such-user")
    finally:
        http.remove_observer(seen)
    client.request("GET", "/users", params={"limit": 1})
    assert [(v, m, p, s) for v, m, p, s, _ in seen.calls] == [
        ("litmos", "GET", "/users", 200),
        ("litmos", "GET", "/users/no-such-user", 404),
    ], "the path without its query; nothing after removal"
    assert all(seconds > 0 for *_, seconds in seen.calls)


def test_a_request_without_an_answer_is_reported_with_no_status():
    seen = Seen()
    http.add_observer(seen)
    dead = HttpClient(vendor="litmos", base_url="http://127.0.0.1:9", timeout=2)
    try:
        with pytest.raises(Retryable):
            dead.request("GET", "/users")
    finally:
        http.remove_observer(seen)
        dead.close()
    assert [(m, p, s) for _, m, p, s, _ in seen.calls] == [("GET", "/users", None)]


def test_a_failing_observer_never_fails_the_request_nor_hides_it_from_others(client):
    def broken(*_: object) -> None:
        raise RuntimeError("observer bug")

    seen = Seen()
    http.add_observer(broken)
    http.add_observer(seen)
    try:
        assert client.request("GET", "/users", params={"limit": 1}).status == 200
    finally:
        http.remove_observer(broken)
        http.remove_observer(seen)
    assert len(seen.calls) == 1
    http.remove_observer(seen)  # removing an unknown observer is harmless


def test_observers_added_and_removed_from_many_threads_all_take_effect(client):
    observers = [Seen() for _ in range(16)]
    threads = [threading.Thread(target=http.add_observer, args=(o,)) for o in observers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        client.request("GET", "/users", params={"limit": 1})
    finally:
        removers = [threading.Thread(target=http.remove_observer, args=(o,)) for o in observers]
        for thread in removers:
            thread.start()
        for thread in removers:
            thread.join()
    assert all(len(o.calls) == 1 for o in observers)
    client.request("GET", "/users", params={"limit": 1})
    assert all(len(o.calls) == 1 for o in observers), "all removed"
