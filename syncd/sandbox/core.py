"""The shared core every vendor simulator plugs into.

A simulator is worth as much as it is faithful, and rate limits, faults, logging and the
admin API are the same job for every vendor, so they live here once and a vendor supplies
only what differs: its routes and how it answers. Composition only: a vendor is a plain
object with the attributes and methods of :class:`Simulator` (no base class to inherit);
:func:`build_app` wraps it into a Starlette app.

How a vendor plugs in::

    class LitmosSimulator:                      # any class; structural typing
        name = "litmos"
        default_rate = RateRule(requests=100, per_seconds=60)
        rate_counts_rejected = False            # does a refused request use up a slot?
        secret_params = frozenset({"apikey"})   # query params masked in the request log
        credentials = {"apikey": "...", "source": "..."}   # fixed demo values, printed by CLI
        api_root = "/v1.svc"                    # optional: printed after the base URL by CLI

        def __init__(self) -> None:
            self.routes = [Route("/v1.svc/users", self.list_users, methods=["GET"]), ...]
            self.admin_routes = [Route("/activity", self.activity, methods=["POST"])]

        def credential(self, request) -> str | None: ...   # rate-limit key; None = no limit
        def rate_limited(self, request, retry_after) -> Response: ...   # vendor's own refusal
        def error_response(self, status) -> Response: ...   # body of an injected 5xx
        def seed(self, data) -> dict: ...                   # POST /_sandbox/seed, CLI --seed
        def reset(self) -> None: ...                        # forget all vendor data

    app = build_app(LitmosSimulator(), admin=True)
    with SandboxServer(app) as server:                       # uvicorn, free loopback port
        admin = AdminClient(server.base_url)
        admin.set_rate(5, 1.0); admin.set_faults(drop_rate=1.0, max_faults=1)
        ...; admin.counters(); admin.log()

Rules for vendor code:

- ``routes`` must be flat :class:`starlette.routing.Route` objects: their ``path`` is the
  endpoint template the counters group by (``GET /v1.svc/users/{id}``).
- Write endpoints as ``async def``: they then all run on the server's one event-loop thread
  and in-memory state needs no locks (a sync endpoint would run in a worker thread).
- Call :func:`record_create` each time a user/learner is really created, so tests can prove
  "created once" from ``counters()["creates"]``.
- ``admin_routes`` are mounted under ``/_sandbox`` next to the common ones; all admin
  endpoints answer JSON and are never rate limited, faulted or logged.

Per vendor request the order is: rate limit (by ``credential``; a refusal is answered by
``rate_limited`` and never faulted), then fault injection, then the vendor route; every
request is logged with its endpoint template, status (0 when no answer was sent), fault
and duration. Common admin endpoints (mounted only with ``admin=True``):

    GET  /_sandbox/               vendor name, rate rule, fault settings
    GET  /_sandbox/log            ?since=SEQ&limit=N  -> {"entries": [...]}
    GET  /_sandbox/counters       requests by endpoint and status, creates, rejections, faults
    GET|POST /_sandbox/faults     FaultSettings as JSON (POST replaces all settings)
    GET|POST /_sandbox/rate       {"requests": 5, "per_seconds": 1, "count_rejected": false}
    POST /_sandbox/reset          {"data": true}: rule, faults, log, counters (and vendor data)
    POST /_sandbox/seed           vendor-specific JSON, passed to ``simulator.seed``
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.sandbox.admin import AdminClient
from syncd.sandbox.faults import Fault, FaultInjector, FaultSettings
from syncd.sandbox.ratelimit import Clock, RateRule, RollingWindowLimiter
from syncd.sandbox.recorder import MASK, LogEntry, RequestRecorder, fingerprint
from syncd.sandbox.server import SandboxServer

__all__ = [
    "ADMIN_PREFIX",
    "AdminClient",
    "FaultSettings",
    "RateRule",
    "SandboxServer",
    "SandboxState",
    "Simulator",
    "build_app",
    "record_create",
    "sandbox_state",
]

ADMIN_PREFIX = "/_sandbox"
_SCOPE_KEY = "syncd.sandbox"


class Simulator(Protocol):
    """What a vendor supplies; see the module docstring for an example."""

    name: str
    default_rate: RateRule
    rate_counts_rejected: bool
    secret_params: frozenset[str]
    credentials: Mapping[str, str]
    routes: Sequence[BaseRoute]
    admin_routes: Sequence[BaseRoute]

    def credential(self, request: Request) -> str | None:
        """The rate-limit key of a request (an API key, app id, token subject) or None."""
        ...

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        """The vendor's own answer to a request over its rate limit."""
        ...

    def error_response(self, status: int) -> Response:
        """The vendor's answer for an injected 5xx ``status``."""
        ...

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Load vendor data (courses, users, ...); raise ValueError saying what is wrong."""
        ...

    def reset(self) -> None:
        """Forget all vendor data."""
        ...


@dataclass
class SandboxState:
    """Everything one running simulator keeps besides the vendor's own data."""

    simulator: Simulator
    limiter: RollingWindowLimiter
    faults: FaultInjector
    recorder: RequestRecorder
    admin: bool

    def reset(self, *, data: bool = True) -> None:
        """Back to the vendor's rule, no faults, empty log; ``data`` also clears vendor data."""
        self.limiter.set_rule(
            self.simulator.default_rate, count_rejected=self.simulator.rate_counts_rejected
        )
        self.faults.configure(FaultSettings())
        self.recorder.reset()
        if data:
            self.simulator.reset()

    def template_for(self, scope: Scope) -> str:
        """The route template a request matches (``/v1.svc/users/{id}``), else its path.

        A route whose path and method both match wins over an earlier one that matches the
        path only: Litmos' ``GET /v1.svc/users/courses`` is answered by ``/users/{user_id}``
        (a user named "courses"), not by the POST-only ``/users/courses`` listed before it.
        """
        partial: str | None = None
        for route in self.simulator.routes:
            if not isinstance(route, Route):
                continue
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route.path
            if match is Match.PARTIAL and partial is None:
                partial = route.path
        return partial if partial is not None else str(scope["path"])

    def masked_query(self, raw: bytes) -> str:
        """The query string with the vendor's secret parameters replaced by a mask."""
        secret = {name.lower() for name in self.simulator.secret_params}
        parts = []
        for pair in raw.decode("latin-1").split("&"):
            if not pair:
                continue
            name, sep, _ = pair.partition("=")
            if unquote_plus(name).lower() in secret:
                parts.append(f"{name}{sep}{MASK}")
            else:
                parts.append(pair)
        return "&".join(parts)


def sandbox_state(request: Request) -> SandboxState | None:
    """The state of the sandbox serving ``request`` (None outside :func:`build_app`)."""
    state = request.scope.get(_SCOPE_KEY)
    return state if isinstance(state, SandboxState) else None


def record_create(request: Request, username: str) -> None:
    """Count one real create of ``username`` in the counters (vendor routes call this)."""
    state = sandbox_state(request)
    if state is not None:
        state.recorder.record_create(username)


def build_app(
    simulator: Simulator,
    *,
    admin: bool = True,
    clock: Clock = time.monotonic,
    max_log_entries: int = 10_000,
) -> Starlette:
    """Compose the vendor's routes, rate limit, faults, log and (optionally) the admin API.

    The returned app carries its :class:`SandboxState` as ``app.state.sandbox``.
    """
    state = SandboxState(
        simulator=simulator,
        limiter=RollingWindowLimiter(
            simulator.default_rate, clock=clock, count_rejected=simulator.rate_counts_rejected
        ),
        faults=FaultInjector(),
        recorder=RequestRecorder(max_log_entries),
        admin=admin,
    )
    routes: list[BaseRoute] = []
    if admin:
        routes.append(Mount(ADMIN_PREFIX, routes=_admin_routes(state, simulator.admin_routes)))
    routes.extend(simulator.routes)
    app = Starlette(routes=routes, middleware=[Middleware(_SandboxMiddleware, state=state)])
    app.state.sandbox = state
    return app


class _SandboxMiddleware:
    """Rate limit, faults and logging around every vendor request (pure ASGI)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.state.admin
            and (scope["path"] == ADMIN_PREFIX or scope["path"].startswith(ADMIN_PREFIX + "/"))
        ):
            await self.app(scope, receive, send)
            return
        state = self.state
        started = time.perf_counter()
        scope[_SCOPE_KEY] = state
        request = Request(scope)
        template = state.template_for(scope)
        credential = state.simulator.credential(request)
        status = 0
        fault: Fault | None = None
        limited = False
        logged = False

        def log() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            state.recorder.add(
                LogEntry(
                    seq=state.recorder.next_seq(),
                    at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                    method=scope["method"],
                    path=scope["path"],
                    template=template,
                    query=state.masked_query(scope.get("query_string", b"")),
                    credential=fingerprint(credential) if credential is not None else None,
                    status=status,
                    fault=fault.kind if fault else None,
                    rate_limited=limited,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                )
            )

        async def recording_send(message: Message) -> None:
            # The entry is written before the last byte of the answer leaves, so a client
            # that has its answer can rely on the log and counters holding it.
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()
            await send(message)

        try:
            wait = state.limiter.acquire(credential) if credential is not None else None
            if wait is not None:
                limited = True
                refusal = state.simulator.rate_limited(request, wait)
                await refusal(scope, receive, recording_send)
                return
            fault = state.faults.choose(scope["method"], scope["path"], template)
            await self._answer(fault, scope, receive, recording_send)
        finally:
            log()

    async def _answer(
        self, fault: Fault | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "error":
            assert fault.status is not None
            await self.state.simulator.error_response(fault.status)(scope, receive, send)
        elif fault.kind == "drop":
            await _drop_connection(receive)
        elif fault.kind == "slow":
            delayed = await _delay(receive, self.state.faults.settings.slow_seconds)
            if delayed is not None:
                await self.app(scope, delayed, send)
        else:
            await _truncated(self.app, scope, receive, send)


class _ConnectionDropped(Exception):
    """Raised when the ASGI server exposes no transport to abort (only uvicorn's does)."""


async def _drop_connection(receive: Receive) -> None:
    """Close the client's connection without sending a byte of answer.

    uvicorn's ``receive`` is a method of the request cycle, which holds the socket's
    transport: aborting it is exactly what a crashed upstream looks like to the client
    ("server disconnected without sending a response"). Yielding once lets uvicorn see the
    disconnect, so it does not try to send its own 500.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise _ConnectionDropped("sandbox fault: connection dropped")
    transport.abort()
    await asyncio.sleep(0)


async def _delay(receive: Receive, seconds: float) -> Receive | None:
    """Read the request, wait ``seconds`` (or until the client leaves), return a replay.

    Waiting on ``receive`` instead of a bare sleep ends the wait as soon as the client gives
    up (its timeout), so a slow fault never keeps the server from shutting down.
    """
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    try:
        async with asyncio.timeout(seconds):
            await receive()
        return None
    except TimeoutError:
        pass
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _truncated(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the first half of the real body (a 2xx status, 200 if it was not)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    if start is None:
        return
    body = b"".join(chunks)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    cut = body[: len(body) // 2] or (b"<" if b"xml" in content_type else b"{")
    status = int(start["status"])
    await send(
        {
            "type": "http.response.start",
            "status": status if 200 <= status < 300 else 200,
            "headers": [*headers, (b"content-length", str(len(cut)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": cut, "more_body": False})


def _admin_routes(state: SandboxState, extra: Sequence[BaseRoute]) -> list[BaseRoute]:
    """The common admin endpoints plus the vendor's own."""

    def info() -> dict[str, Any]:
        rule = state.limiter.rule
        return {
            "vendor": state.simulator.name,
            "rate": {
                "requests": rule.requests,
                "per_seconds": rule.per_seconds,
                "count_rejected": state.limiter.count_rejected,
            },
            "faults": state.faults.settings.model_dump(mode="json"),
            "faults_injected": state.faults.injected,
        }

    async def root(request: Request) -> Response:
        return JSONResponse(info())

    async def log(request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
            limit_text = request.query_params.get("limit")
            limit = int(limit_text) if limit_text is not None else None
        except ValueError:
            return _admin_error("since and limit must be integers")
        entries = state.recorder.entries(since, limit)
        return JSONResponse({"entries": [entry.as_dict() for entry in entries]})

    async def counters(request: Request) -> Response:
        return JSONResponse(state.recorder.counters())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.faults.configure(FaultSettings.model_validate(await _json(request)))
            except (ValidationError, ValueError) as exc:
                return _admin_error(f"fault settings: {exc}")
        return JSONResponse(state.faults.settings.model_dump(mode="json"))

    async def rate(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json(request)
                rule = RateRule(int(body["requests"]), float(body["per_seconds"]))
                count_rejected = body.get("count_rejected")
                if count_rejected is not None and not isinstance(count_rejected, bool):
                    raise ValueError("count_rejected must be true or false")
            except (KeyError, TypeError, ValueError) as exc:
                return _admin_error(f"rate: need requests and per_seconds ({exc})")
            state.limiter.set_rule(rule, count_rejected=count_rejected)
        return JSONResponse(info()["rate"])

    async def reset(request: Request) -> Response:
        try:
            body = await _json(request, default={})
        except ValueError as exc:
            return _admin_error(str(exc))
        state.reset(data=bool(body.get("data", True)))
        return JSONResponse(info())

    async def seed(request: Request) -> Response:
        try:
            result = state.simulator.seed(await _json(request))
        except (ValueError, TypeError, KeyError) as exc:
            return _admin_error(f"seed: {exc}")
        return JSONResponse(dict(result))

    return [
        Route("/", root, methods=["GET"]),
        Route("/log", log, methods=["GET"]),
        Route("/counters", counters, methods=["GET"]),
        Route("/faults", faults, methods=["GET", "POST"]),
        Route("/rate", rate, methods=["GET", "POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/seed", seed, methods=["POST"]),
        *extra,
    ]


async def _json(request: Request, default: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request's JSON object body; ``default`` when empty and allowed."""
    raw = await request.body()
    if not raw.strip() and default is not None:
        return default
    try:
        data = await request.json()
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _admin_error(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=422)
