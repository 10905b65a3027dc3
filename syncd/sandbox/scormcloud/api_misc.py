"""``/ping``, ``/about`` and the OAuth application token (authentication_api)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syncd.sandbox.scormcloud.web import (
    API,
    ApiRoute,
    Call,
    Fallback,
    Services,
    error_response,
    json_response,
    route,
    unauthorized,
)
from syncd.sandbox.scormcloud.wire import ApiError, format_datetime

MAX_TOKEN_SECONDS = 86_400


def ping_app_id(call: Call) -> Response:
    """``PingSchema``: proves the credentials work."""
    return json_response({"apiMessage": "pong", "currentTime": format_datetime(call.store.stamp())})


def get_about(call: Call) -> Response:
    """``AboutSchema``."""
    return json_response({"version": "2.0", "distribution": "syncd sandbox"})


def token_endpoint(services: Services) -> Route:
    """``POST /oauth/authenticate/application/token`` (GetAppToken).

    Form fields ``scope`` (required, space-separated) and ``expiration`` (seconds), basic
    auth with the application's own credentials: a bearer token cannot mint tokens.
    Answers ``ApplicationToken{access_token, expires_in, token_type}``.
    """

    async def get_app_token(request: Request) -> Response:
        app_id = services.auth.basic(request)
        if app_id is None:
            return unauthorized()
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        scope = " ".join(form.get("scope", [])).split()
        if not scope:
            return error_response(ApiError(400, "'scope' is required"))
        raw_expiration = (form.get("expiration") or [""])[0]
        try:
            seconds = int(raw_expiration) if raw_expiration else services.settings.token_seconds
        except ValueError:
            return error_response(ApiError(400, "'expiration' must be a number of seconds"))
        if not 0 < seconds <= MAX_TOKEN_SECONDS:
            return error_response(
                ApiError(400, f"'expiration' must be between 1 and {MAX_TOKEN_SECONDS} seconds")
            )
        token = services.auth.issue(app_id, frozenset(scope), seconds)
        return json_response({"access_token": token, "expires_in": seconds, "token_type": "Bearer"})

    return ApiRoute(API + "/oauth/authenticate/application/token", get_app_token, methods=["POST"])


def routes(services: Services) -> list[BaseRoute]:
    """The simulator's first routes: :class:`Fallback` must come before all others."""
    return [
        Fallback(),
        route(services, "GET", "/ping", ping_app_id, None),
        route(services, "GET", "/about", get_about, None),
        token_endpoint(services),
    ]
