"""The service's HTTP endpoint: health, readiness, Prometheus metrics and the status page.

Served by uvicorn in a background thread (:class:`~syncd.sandbox.server.SandboxServer`,
the project's one way of doing that: the socket bound before uvicorn starts, so port 0
yields a free port known at once), beside the scheduler, from :func:`serve`.

- ``/healthz``: 200 while the process serves (the liveness probe);
- ``/readyz``: 200 when the database answers a trivial query, the scheduler runs and no
  connection is stuck; otherwise 503 with the reasons as JSON (the readiness probe);
- ``/metrics``: the service's registry in Prometheus' text format;
- ``/`` and ``/status``: the status page and the same data as JSON.

Bound to loopback by default. Bound elsewhere, ``/`` and ``/status`` (which name people's
op keys and vendor reasons) need ``Authorization: Bearer <token>``, compared in constant
time, and without a token the endpoint refuses to start; a token configured for a
loopback bind is required too (other users of the machine reach loopback). Health and
metrics stay open, as probes and Prometheus scrapes expect. Only 127.0.0.0/8 and ::1
count as loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from syncd.config import Config, split_address
from syncd.errors import ConfigError
from syncd.log import get_logger
from syncd.sandbox.server import SandboxServer
from syncd.service import page, status
from syncd.service.metrics import ServiceMetrics
from syncd.service.view import ServiceView
from syncd.state import health
from syncd.state.db import Engine, create_engine_for, read_session

log = get_logger("syncd.service.http")

DEFAULT_HOST = "127.0.0.1"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[::1]:PORT`` or ``:PORT`` (loopback) -> (host, port)."""
    text = address.strip()
    try:
        return split_address(DEFAULT_HOST + text if text.startswith(":") else text)
    except ValueError as exc:
        raise ConfigError(f"service.http: {exc}") from None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only: 127.0.0.0/8 and ::1; a host name
    only when every address it resolves to is one of those."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return False
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return bool(addresses) and all(_loopback(a) for a in addresses)


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.IPv4Network("127.0.0.0/8")
    return address == ipaddress.IPv6Address("::1")


def configured_token(config: Config) -> str | None:
    """``service.token`` (a ``${ENV}`` SecretStr), or None when unset or empty."""
    token = config.service.token
    return (token.get_secret_value() or None) if token is not None else None


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


_UNAUTHORIZED = PlainTextResponse(
    "a bearer token is required (service.token)\n",
    status_code=401,
    headers={"WWW-Authenticate": 'Bearer realm="syncd"', **SECURITY_HEADERS},
)


@dataclass
class Endpoint:
    """What the routes read: the live service, the configuration, the database, metrics."""

    view: ServiceView
    config: Config
    engine: Engine
    metrics: ServiceMetrics
    token: str | None
    """Required on ``/`` and ``/status`` (None: open; only on a loopback bind)."""

    def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n", headers=SECURITY_HEADERS)

    def readyz(self, request: Request) -> Response:
        reasons = []
        try:
            with read_session(self.engine) as db:
                health.ping(db)
        except Exception as exc:  # any failure to answer is "not ready", said plainly
            reasons.append(f"database: not answering ({type(exc).__name__})")
        if not self.view.scheduler_running():
            reasons.append("scheduler: not running")
        reasons += [f"stuck: {line}" for line in self.view.stuck()]
        code = 503 if reasons else 200
        return JSONResponse(
            {"ready": not reasons, "reasons": reasons}, status_code=code, headers=SECURITY_HEADERS
        )

    def metrics_page(self, request: Request) -> Response:
        body, content_type = self.metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={**SECURITY_HEADERS, "Content-Type": content_type})

    def _report(self) -> status.StatusReport:
        return status.collect(self.engine, self.config, self.view, datetime.now(UTC))

    def status_json(self, request: Request) -> Response:
        if not _authorized(request, self.token):
            return _UNAUTHORIZED
        try:
            report = self._report()
        except Exception as exc:
            log.warning("status.failed", error=type(exc).__name__)
            return JSONResponse(
                {"error": f"status unavailable: database not answering ({type(exc).__name__})"},
                status_code=503,
                headers=SECURITY_HEADERS,
            )
        body = json.dumps(report.as_json(), indent=2)
        return Response(body, media_type="application/json", headers=SECURITY_HEADERS)

    def status_page(self, request: Request) -> Response:
        if not _authorized(request, self.token):
            return _UNAUTHORIZED
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": page.CSP}
        try:
            report = self._report()
        except Exception as exc:
            log.warning("status.failed", error=type(exc).__name__)
            return HTMLResponse(
                page.unavailable(f"database not answering ({type(exc).__name__})"),
                status_code=503,
                headers=headers,
            )
        return HTMLResponse(page.render(report), headers=headers)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/healthz", self.healthz, methods=["GET", "HEAD"]),
                Route("/readyz", self.readyz, methods=["GET", "HEAD"]),
                Route("/metrics", self.metrics_page, methods=["GET"]),
                Route("/status", self.status_json, methods=["GET"]),
                Route("/", self.status_page, methods=["GET", "HEAD"]),
            ]
        )


@dataclass
class Served:
    """The running endpoint: where it listens, its metrics; :meth:`stop` ends it."""

    host: str
    port: int
    metrics: ServiceMetrics
    _server: SandboxServer = field(repr=False)
    _endpoint: Endpoint = field(repr=False)
    _own_engine: Engine | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reconfigure(self, config: Config) -> None:
        """Show and scrape the connections of a reloaded configuration from now on."""
        self._endpoint.config = config
        self.metrics.reconfigure(config)

    def stop(self) -> None:
        """Stop serving (open requests finish, bounded) and stop counting vendor calls."""
        self._server.stop()
        self.metrics.detach()
        if self._own_engine is not None:
            self._own_engine.dispose()


def serve(
    view: ServiceView,
    config: Config,
    address: str,
    *,
    engine: Engine | None = None,
    metrics: ServiceMetrics | None = None,
    token: str | None = None,
) -> Served:
    """Start the endpoint on ``address`` (``HOST:PORT``; port 0 picks a free one).

    ``engine``: the service's state database engine (one of its own is made, and disposed
    on stop, when not given). ``metrics``: the service's (one is made when not given; the
    service feeds it through ``served.metrics.progress(...)``). The vendor-call observer
    is attached here and detached by :meth:`Served.stop`. ``token`` overrides
    ``service.token``; it is required when ``address`` is not loopback.
    """
    host, port = parse_address(address)
    token = token or configured_token(config)
    protected = not is_loopback(host)
    if protected and not token:
        raise ConfigError(
            f"service.http {host}:{port} is not a loopback address: set service.token "
            "(a ${ENV} reference) so the status page needs a bearer token, or bind 127.0.0.1"
        )
    own = None
    if engine is None:
        engine = own = create_engine_for(config.state.url)
    metrics = metrics or ServiceMetrics(config, engine, view)
    endpoint = Endpoint(view, config, engine, metrics, token)
    server = SandboxServer(endpoint.app(), host=host, port=port)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        if own is not None:
            own.dispose()
        cause = exc.__cause__ or exc
        raise ConfigError(f"service.http: cannot listen on {host}:{port}: {cause}") from None
    metrics.attach()
    log.info("service.http", address=f"{host}:{server.port}", protected=protected)
    return Served(
        host=host,
        port=server.port,
        metrics=metrics,
        _server=server,
        _endpoint=endpoint,
        _own_engine=own,
    )
