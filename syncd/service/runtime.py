"""What the service process says to, and hears from, its supervisor: signals and sd_notify.

Signals (:class:`Signals`): the handlers only record what arrived and wake the main loop,
which acts on it outside the handler. SIGTERM or SIGINT asks for a graceful stop; the same
again while stopping exits at once (the outbox keeps that consistent: claims a killed
process held are released on the next start). SIGHUP asks for a configuration reload.

sd_notify (:class:`Notifier`): systemd's ``Type=notify`` protocol is a few text lines in
datagrams to the unix socket named by ``NOTIFY_SOCKET`` (``@`` = the abstract namespace),
so it needs no library: ``READY=1`` once scheduling runs, ``STATUS=...`` lines,
``WATCHDOG=1`` pings at half of ``WATCHDOG_USEC``, ``STOPPING=1``. Without the variable
every call does nothing, so the same code runs under Docker, Kubernetes or a terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from types import FrameType

from syncd.log import get_logger

log = get_logger("syncd.service.runtime")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Signals:
    """Stop and reload requests from signals, as flags the main loop reads."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        """Set whenever a signal arrived: the main loop's wait ends early."""
        self.stop_requested = threading.Event()
        self.forced: int | None = None
        """Set by a second stop signal (128 + its number): stop waiting for runs in flight."""
        self._reload = threading.Event()
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        """Handle SIGTERM, SIGINT and SIGHUP (call from the main thread)."""
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def take_reload(self) -> bool:
        """Whether a reload was asked for since the last call."""
        asked = self._reload.is_set()
        self._reload.clear()
        return asked

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload.set()
        elif self.stop_requested.is_set():
            self.forced = 128 + signum
        else:
            self.stop_requested.set()
        self.wake.set()


class Notifier:
    """sd_notify over ``NOTIFY_SOCKET``; silent when the service is not run by systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if address.startswith("@"):
            self.address = "\0" + address[1:]
        elif address.startswith("/"):
            self.address = address
        self.watchdog_seconds = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def ping_every(self) -> float | None:
        """Seconds between watchdog pings (half the watchdog's timeout), or None."""
        return self.watchdog_seconds / 2 if self.watchdog_seconds else None

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self.send(f"STOPPING=1\nSTATUS={status}")

    def send(self, message: str) -> None:
        """One datagram; a failure is logged, never raised (the service keeps running)."""
        if self.address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode())
        except OSError as exc:
            log.warning("service.notify_failed", error=str(exc))


def _watchdog_seconds(env: dict[str, str]) -> float | None:
    """``WATCHDOG_USEC`` in seconds, when it is meant for this process (``WATCHDOG_PID``)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000
