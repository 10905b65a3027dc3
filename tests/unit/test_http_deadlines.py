"""``timeout_seconds`` is a deadline for the whole request, not a limit per socket read.

A loopback server drips its answer one byte at a time, each byte well within the timeout:
per-read timeouts never fire, and before the fix the client sat through the whole answer.
The server counts the bytes it sent before the client hung up; with the deadline that is a
small share of the answer, and the failure is the usual retryable timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from syncd.errors import Retryable
from syncd.http import HttpClient
from syncd.limiter import Limiter, RateRule

DRIP_SECONDS = 0.05
"""Between two bytes: far below the client's timeout, so no single read ever waits long."""
TIMEOUT = 0.5
"""The client's timeout_seconds: the whole answer takes ten times as long to drip."""
PAD = 100
"""Bytes dripped in the dripping part: 100 x 0.05 s = 5 s, ten deadlines."""


@dataclass
class Drip:
    """What the dripping server did: bytes sent, and whether the client hung up first."""

    sent: int = 0
    cut_off: bool = False
    done: threading.Event = field(default_factory=threading.Event)


def _answer(*, drip_headers: bool) -> tuple[bytes, bytes]:
    """The answer as (sent at once, dripped byte by byte)."""
    body = b"x" * PAD
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % PAD
    if drip_headers:
        padding = b"X-Padding: " + b"p" * PAD + b"\r\n"
        return b"", head + padding + b"\r\n" + body
    return head + b"\r\n", body


def _serve(listener: socket.socket, drip: Drip, *, drip_headers: bool) -> None:
    try:
        conn, _ = listener.accept()
    except OSError:
        drip.done.set()
        return
    with conn:
        conn.settimeout(10)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        at_once, dripped = _answer(drip_headers=drip_headers)
        try:
            if at_once:
                conn.sendall(at_once)
                drip.sent += len(at_once)
            for byte in dripped:
                time.sleep(DRIP_SECONDS)
                conn.sendall(bytes([byte]))
                drip.sent += 1
        except OSError:
            drip.cut_off = True
    drip.done.set()


@contextmanager
def dripping_server(*, drip_headers: bool = False) -> Iterator[tuple[str, Drip, int]]:
    """A one-request server; yields its base URL, its Drip record and the answer's size."""
    listener = socket.create_server(("127.0.0.1", 0))
    drip = Drip()
    thread = threading.Thread(
        target=_serve, args=(listener, drip), kwargs={"drip_headers": drip_headers}, daemon=True
    )
    thread.start()
    at_once, dripped = _answer(drip_headers=drip_headers)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", drip, len(at_once + dripped)
    finally:
        listener.close()
        thread.join(timeout=30)


def client_for(base_url: str, limiter: Limiter | None = None) -> HttpClient:
    return HttpClient(vendor="litmos", base_url=base_url, timeout=TIMEOUT, limiter=limiter)


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_answer_fails_at_the_deadline_as_a_retryable_timeout(drip_headers):
    with dripping_server(drip_headers=drip_headers) as (url, drip, size):
        client = client_for(url)
        try:
            with pytest.raises(Retryable, match=r"GET /users timed out \(ReadTimeout\)"):
                client.request("GET", "/users")
        finally:
            client.close()
        assert drip.done.wait(30), "the server saw the client hang up"
    assert drip.cut_off, "the client hung up before the answer was complete"
    assert drip.sent < size // 2, f"sent {drip.sent} of {size} bytes before the client gave up"


def test_waiting_for_a_rate_slot_is_not_part_of_the_deadline():
    """The deadline starts when the request is sent: pacing waits are the limiter's, not
    the vendor's, and must not turn into timeouts."""
    limiter = Limiter(RateRule(1, 2 * TIMEOUT))
    with limiter.slot():
        pass
    with dripping_server() as (url, drip, _):
        client = client_for(url, limiter)
        try:
            with pytest.raises(Retryable, match=r"timed out \(ReadTimeout\)"):
                client.request("GET", "/users")
        finally:
            client.close()
        assert drip.done.wait(30)
    assert drip.sent > len(_answer(drip_headers=False)[0]), "the request was sent and read"
    assert limiter.waited > 0, "the request did wait for its slot first"
