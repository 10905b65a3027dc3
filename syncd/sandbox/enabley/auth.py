"""Client credentials in, JWT bearer tokens out, and the bearer check on every other call.

``POST /api/v1/token?clientKey=...&secret=...`` (empty body, as the public clients send it)
answers ``TokenResponse{access_token, expires_in, token_type: "bearer"}`` with
``expires_in`` in milliseconds as the reference says. The token is an HS256 JWT whose
``sub`` is the client key, which is also the rate-limit credential. Refusals:

- no ``clientKey``/``secret`` in the query: 400 ``invalid_request``;
- unknown client or wrong secret: 401 ``invalid_client``;
- on API calls, a missing, malformed, badly signed, expired or orphaned token: 401
  ``access_denied`` (the reference's "Invalid JWT token").
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request

from syncd.sandbox.enabley import jwt
from syncd.sandbox.enabley.errors import EnableyError, invalid
from syncd.sandbox.enabley.state import Account

DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0


class TokenIssuer:
    """Signs and verifies the account's tokens with a key that lives as long as the sandbox."""

    def __init__(
        self, account: Account, *, lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME_SECONDS
    ) -> None:
        self.account = account
        self.lifetime_seconds = lifetime_seconds
        self._key = secrets.token_bytes(32)

    def issue(self, client_key: str | None, secret: str | None) -> dict[str, Any]:
        """A ``TokenResponse`` for valid client credentials."""
        if not client_key or not secret:
            raise invalid("clientKey and secret query parameters are required")
        expected = self.account.clients.get(client_key)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            raise EnableyError(401, "invalid_client", "Invalid client credentials")
        now = self.account.clock()
        claims = {
            "sub": client_key,
            "iat": int(now),
            "exp": now + self.lifetime_seconds,
            "jti": secrets.token_hex(8),
        }
        return {
            "access_token": jwt.encode(claims, self._key),
            "expires_in": round(self.lifetime_seconds * 1000),
            "token_type": "bearer",
        }

    def client_of(self, token: str) -> str | None:
        """The client key a valid token was issued to, else None."""
        try:
            claims = jwt.decode(token, self._key, now=self.account.clock())
        except jwt.InvalidToken:
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or subject not in self.account.clients:
            return None
        return subject


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (scheme case-insensitive)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(issuer: TokenIssuer, request: Request) -> str:
    """The calling client's key, or 401 ``access_denied``."""
    token = bearer(request)
    client = issuer.client_of(token) if token is not None else None
    if client is None:
        detail = "Invalid JWT token" if token is not None else "Missing bearer token"
        raise EnableyError(401, "access_denied", detail)
    return client
