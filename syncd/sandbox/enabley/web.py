"""What every Enabley endpoint shares: bearer check, error mapping, bodies and answers.

Handlers are written as plain ``async`` functions that raise :class:`EnableyError`; the
:func:`endpoint` wrapper checks the token first (401 comes before any validation, as with
an authenticating gateway) and turns refusals into ``ErrorResponse`` answers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.sandbox.enabley.auth import TokenIssuer, authenticate
from syncd.sandbox.enabley.errors import EnableyError, invalid
from syncd.sandbox.enabley.fields import flag
from syncd.sandbox.enabley.paging import Paginator
from syncd.sandbox.enabley.state import Account

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Context:
    """The parts of one simulator the endpoints need."""

    account: Account
    issuer: TokenIssuer
    paginator: Paginator
    written: Callable[[], None] = field(default=lambda: None)
    """Runs after every request that may change the account, before its answer leaves."""


def endpoint(context: Context, handler: Handler, *, public: bool = False) -> Handler:
    """Wrap ``handler``: authenticate (unless ``public``) and answer refusals; after any
    request but a GET or a public one (the token), whatever its outcome, call
    ``context.written`` so a kept account holds what the client was told is done."""

    async def handle(request: Request) -> Response:
        try:
            if not public:
                authenticate(context.issuer, request)
            return await handler(request)
        except EnableyError as exc:
            return exc.response()
        finally:
            if request.method != "GET" and not public:
                context.written()

    handle.__name__ = handler.__name__
    handle.__doc__ = handler.__doc__
    return handle


async def json_body(request: Request) -> Any:
    """The parsed JSON body; a missing or unparsable body is 400 ``invalid_request``."""
    raw = await request.body()
    if not raw.strip():
        raise invalid("request body is required")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid(f"request body is not valid JSON: {exc}") from exc


def ok(payload: Any, status: int = 200) -> JSONResponse:
    """A JSON answer."""
    return JSONResponse(payload, status_code=status)


def done() -> Response:
    """200 with an empty body, what the void operations answer."""
    return Response(status_code=200)


def query(request: Request, name: str) -> str | None:
    """A query parameter, with an empty value treated as absent."""
    value = request.query_params.get(name)
    return value if value else None


def query_flag(request: Request, name: str, *, default: bool) -> bool:
    """A boolean query parameter (``true``/``false``)."""
    value = flag(query(request, name), name=name, default=default)
    assert value is not None
    return value


def query_list(request: Request, name: str) -> list[str]:
    """A multi-valued query parameter: repeated (``a=1&a=2``) or comma separated."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values
