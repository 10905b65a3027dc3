"""Run one simulator app under uvicorn in a background thread, on loopback.

Tests and the ``syncd sandbox`` command need real HTTP on a real socket, started and stopped
from ordinary synchronous code. The socket is bound here before uvicorn starts, so
``port=0`` yields a free port whose number is known at once and a taken port fails with a
clear message; startup is awaited on an event, not polled.

ASGI gives an app no way to choose the reason phrase of the status line, and some vendors
put their message there (Litmos: ``409 UserName already exists``). A simulator sets the
:data:`REASON_HEADER` response header instead; the server moves it into the status line
and never puts the header itself on the wire.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any, Self

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

REASON_HEADER = "x-sandbox-reason"
_REASON_KEY = REASON_HEADER.encode()


class _ReasonConnection:
    """An h11 connection that takes :data:`REASON_HEADER` off a response as its reason."""

    def __init__(self, conn: h11.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def send(self, event: h11.Event) -> bytes | None:
        if isinstance(event, h11.Response):
            reason = next((v for k, v in event.headers if k == _REASON_KEY), None)
            if reason is not None:
                headers = [(k, v) for k, v in event.headers if k != _REASON_KEY]
                event = h11.Response(status_code=event.status_code, headers=headers, reason=reason)
        return self._conn.send(event)


class _ReasonH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose status lines honour :data:`REASON_HEADER`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _ReasonConnection(self.conn)  # type: ignore[assignment]  # same interface


class _Server(uvicorn.Server):
    """uvicorn's server with a thread-safe "started" event and no signal handling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class SandboxServer:
    """One ASGI app served on ``host:port`` (``port=0``: a free port) until :meth:`stop`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        shutdown_timeout: int = 2,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Bind, start serving in a daemon thread, and return once requests are accepted."""
        if self.running:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections;
        # without it every keep-alive answer waits ~40 ms on delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"sandbox: cannot listen on {self.host}:{self.port}: {exc}") from exc
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http=_ReasonH11Protocol,
            loop="asyncio",
            timeout_graceful_shutdown=self._shutdown_timeout,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not self._server.ready.wait(self._startup_timeout):
            self.stop()
            raise RuntimeError(f"sandbox: server on port {self.port} did not start")
        return self

    def stop(self) -> None:
        """Stop accepting, let open requests finish (bounded), and join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self._shutdown_timeout + 5)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
