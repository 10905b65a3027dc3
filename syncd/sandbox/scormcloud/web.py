"""The glue between Starlette and the vendor logic: auth, body parsing, errors, responses.

Every ``/api/v2`` endpoint is a plain synchronous handler ``(Call) -> Response`` declared
with the OAuth scope it needs; :func:`endpoint` turns it into an ``async`` Starlette endpoint
that authenticates (401 ``{"error": "Authorization Required."}``), checks the scope, reads
the JSON body, runs the handler under the store's lock with due background work applied,
and answers any :class:`ApiError` as a ``MessageSchema``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from syncd.sandbox.scormcloud.auth import Authenticator, Caller
from syncd.sandbox.scormcloud.model import AppData, Store
from syncd.sandbox.scormcloud.wire import AUTH_REQUIRED, ApiError, parse_bool

API = "/api/v2"


@dataclass
class Settings:
    """Simulator knobs that are not part of the vendor's contract (all undocumented there)."""

    page_size: int = 100
    token_seconds: int = 300
    learner_update_touches_updated: bool = True


@dataclass
class Call:
    """One authenticated request, its parsed body and the caller's application data."""

    request: Request
    caller: Caller
    store: Store
    app: AppData
    body: Any
    settings: Settings

    def param(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    @property
    def link_base(self) -> str:
        """Where links handed out (invitation and launch URLs) point: this server."""
        return str(self.request.base_url).rstrip("/")


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Services:
    """What every endpoint needs, shared by one simulator instance."""

    store: Store
    auth: Authenticator
    settings: Settings


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status_code=status, headers=headers)


def no_content() -> Response:
    """The answer of void operations (``returns: -`` in the reference)."""
    return Response(status_code=204)


def error_response(error: ApiError) -> Response:
    return JSONResponse(error.body(), status_code=error.status)


def unauthorized() -> Response:
    return JSONResponse(AUTH_REQUIRED, status_code=401)


def endpoint(services: Services, handler: Handler, scope: str | None) -> Callable[..., Any]:
    """Wrap ``handler`` with auth, scope check, body parsing and error mapping."""

    async def run(request: Request) -> Response:
        caller = services.auth.caller(request)
        if caller is None:
            return unauthorized()
        if not caller.allows(scope):
            return error_response(ApiError(403, f"The token is missing the scope '{scope}'"))
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return error_response(ApiError(400, "Could not parse the request body as JSON"))
        try:
            with services.store.app(caller.app_id) as app:
                call = Call(request, caller, services.store, app, body, services.settings)
                return handler(call)
        except ApiError as exc:
            return error_response(exc)

    run.__name__ = handler.__name__
    return run


class ApiRoute(Route):
    """A route that also matches when the path repeats slashes.

    The official client's default host is ``https://cloud.scorm.com/api/v2/`` and it appends
    paths that start with ``/``, so it calls ``/api/v2//registrations``; the real service
    answers those, so the simulator must too.
    """

    _SLASHES = re.compile(r"/{2,}")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if "//" in path:
            scope = {**scope, "path": self._SLASHES.sub("/", path)}
        return super().matches(scope)


def route(services: Services, method: str, path: str, handler: Handler, scope: str | None) -> Route:
    """An ``/api/v2`` route for one method."""
    return ApiRoute(
        API + path, endpoint(services, handler, scope), methods=[method], name=handler.__name__
    )


def bool_param(call: Call, name: str) -> bool:
    """A boolean query switch such as ``includeRegistrationCount``."""
    return parse_bool(call.param(name), field=name)


class Fallback(BaseRoute):
    """Unknown paths and methods answered as SCORM Cloud answers every error: a
    ``MessageSchema`` (JSON), never Starlette's ``text/plain`` "Not Found".

    It must come first among the routes: it only ever matches PARTIAL, which the router
    uses when no route matches in full, and then only the first partial match counts. A path
    that exists for other methods gets 405 with an ``Allow`` header, any other path 404.
    """

    path = "/{path:path}"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.PARTIAL, {}) if scope["type"] == "http" else (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        allowed: set[str] = set()
        for other in scope["router"].routes:
            if isinstance(other, Route) and other.methods:
                match, _ = other.matches({**scope, "method": "\x00"})
                if match is Match.PARTIAL:
                    allowed |= other.methods
        answer: Response
        if allowed:
            error = ApiError(405, f"Method [{method}] is not supported by [{path}]")
            headers = {"Allow": ", ".join(sorted(allowed))}
            answer = JSONResponse(error.body(), status_code=405, headers=headers)
        else:
            answer = error_response(ApiError(404, f"No API resource at [{path}]"))
        await answer(scope, receive, send)
