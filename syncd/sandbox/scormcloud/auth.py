"""Who is calling: HTTP basic (app id : secret key) or an OAuth bearer token, and its scopes.

Basic auth with an application's id and secret key is ``APP_NORMAL`` and may call every
endpoint. ``POST /oauth/authenticate/application/token`` (itself basic-authenticated) issues
bearer tokens limited to the requested scopes, for ``expiration`` seconds. A request with no
credentials or wrong ones gets 401 ``{"error": "Authorization Required."}`` (notes A1). A
valid token without the scope an endpoint needs gets 403 (a ``MessageSchema``; the exact
answer is not documented, notes A1). Secret keys and tokens are compared and kept here only,
never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request

from syncd.sandbox.scormcloud.model import Clock


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: its application and, for a token, the scopes granted."""

    app_id: str
    scopes: frozenset[str] | None  # None: basic auth, every scope

    def allows(self, needed: str | None) -> bool:
        """``needed`` is a fine scope like ``read:registration``; the coarse ``read`` covers
        it too (the reference lists both on each operation)."""
        if needed is None or self.scopes is None:
            return True
        action = needed.split(":", 1)[0]
        return needed in self.scopes or action in self.scopes


@dataclass(frozen=True)
class _Token:
    app_id: str
    scopes: frozenset[str]
    expires: datetime


class Authenticator:
    """Checks basic credentials against the configured apps and keeps issued tokens."""

    def __init__(self, apps: Mapping[str, str], clock: Clock) -> None:
        self._apps = dict(apps)
        self._clock = clock
        self._tokens: dict[str, _Token] = {}

    def basic(self, request: Request) -> str | None:
        """The app id of valid basic credentials, else None."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        app_id, sep, secret = decoded.partition(":")
        expected = self._apps.get(app_id)
        if not sep or expected is None:
            return None
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            return None
        return app_id

    def caller(self, request: Request) -> Caller | None:
        """Who the request authenticates as, by basic credentials or a live bearer token."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            token = self._tokens.get(value.strip())
            if token is None:
                return None
            if self._clock() >= token.expires:
                del self._tokens[value.strip()]
                return None
            return Caller(token.app_id, token.scopes)
        app_id = self.basic(request)
        return None if app_id is None else Caller(app_id, None)

    def knows(self, app_id: str) -> bool:
        """Whether ``app_id`` is one of the configured applications."""
        return app_id in self._apps

    def issue(self, app_id: str, scopes: frozenset[str], seconds: int) -> str:
        """A new opaque bearer token for ``app_id``."""
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Token(app_id, scopes, self._clock() + timedelta(seconds=seconds))
        return token

    def reset(self) -> None:
        """Forget every issued token."""
        self._tokens.clear()
