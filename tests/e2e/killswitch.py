"""SIGKILL a client process at an exact point of its traffic to the sandbox.

A crash test that kills after a random wall-clock delay mostly kills between calls, or not
at all once the machine is fast. The dangerous instants are tied to one request: the
vendor has not seen it yet, the vendor applied it but the client never heard back, or the
client has the answer but has not committed it. :class:`KillSwitch` wraps the simulator's
ASGI app (without changing what the simulator does) and, at the ``target``-th vendor
request of the armed process, kills that process at one of these points:

``before``
    the request reached the server but is never passed to the simulator: the vendor never
    sees it (a worker that marked the op done before calling would lose it here);
``unanswered``
    the simulator applies the request in full, then the client dies before a byte of the
    answer is sent (a create's 201 lost: the rerun must adopt on 409, never create twice);
``answered``
    the whole answer is sent, then the client dies while reading it, committing it or
    starting its next call.

The kill is sent from the server's event loop and the switch waits until the process is
really gone before it lets anything else happen, so "the client never saw the answer" is
exact, not a race. Admin requests (``/_sandbox``) are never counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.sandbox.core import ADMIN_PREFIX

POINTS = ("before", "unanswered", "answered")


@dataclass
class _Armed:
    pid: int
    target: int
    point: str
    seen: int = 0


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


class KillSwitch:
    """ASGI wrapper that kills the armed process at its ``target``-th vendor request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._armed: _Armed | None = None
        self.fired = threading.Event()
        """Set once the kill was sent (the test then expects exit -9, not a finished run)."""
        self.requests = 0
        """Vendor requests seen while armed (all processes), for the test's own checks."""

    def arm(self, pid: int, target: int, point: str) -> None:
        """Kill ``pid`` at its ``target``-th vendor request (1-based), at ``point``."""
        if point not in POINTS or target < 1:
            raise ValueError(f"bad kill point {point!r} / target {target}")
        with self._lock:
            self._armed = _Armed(pid, target, point)
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def _due(self) -> _Armed | None:
        """Count one vendor request; return the armed plan when this one is the target."""
        with self._lock:
            armed = self._armed
            if armed is None:
                return None
            self.requests += 1
            armed.seen += 1
            if armed.seen < armed.target:
                return None
            self._armed = None
            return armed

    async def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        self.fired.set()
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        armed = self._due()
        if armed is None:
            await self.app(scope, receive, send)
            return
        if armed.point == "before":
            await self._kill(armed.pid)
            await _until_disconnect(receive)
            return
        killed = False

        async def watch(message: Message) -> None:
            nonlocal killed
            if armed.point == "unanswered":
                if message["type"] == "http.response.start" and not killed:
                    killed = True
                    await self._kill(armed.pid)
                return
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                killed = True
                await self._kill(armed.pid)

        await self.app(scope, receive, watch)
        if not killed:  # an injected fault closed the connection without an answer
            await self._kill(armed.pid)
        if armed.point == "unanswered" or not killed:
            await _until_disconnect(receive)


async def _until_disconnect(receive: Receive) -> None:
    """Wait until the server notices the dead client's socket closed (bounded)."""
    try:
        async with asyncio.timeout(10):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return
