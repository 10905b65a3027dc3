"""The bearer token every Enabley call carries: fetched once, reused, renewed early.

``POST /api/v1/token?clientKey=...&secret=...`` with an empty body (how the public clients
call it; the body form did not work for them) answers ``TokenResponse{access_token,
expires_in, token_type}``. The reference gives ``expires_in`` in milliseconds but nothing
confirms the unit, so the token is renewed when :data:`RENEW_AT` of that lifetime has
passed, and once more whenever the API answers 401 with the cached one (the connector's
call wrapper does that). The token and the secret live only in this object and in the one
request header and query that need them: never in a log line, an error or an outcome.

Token requests go through their own client on the credential's shared limiter, so they are
paced with the rest but not counted as any op's calls (the plan cannot price them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncd.errors import CredentialRefused, Permanent, Retryable
from syncd.log import get_logger

if TYPE_CHECKING:
    from syncd.http import HttpClient

log = get_logger("syncd.vendors.enabley")

PATH = "/api/v1/token"
RENEW_AT = 0.8
"""Share of the announced lifetime after which the token is renewed before it is used."""


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_after: float
    """Monotonic time after which the token is renewed before its next use."""


class TokenSource:
    """One credential's current token; thread-safe, fetched lazily (a run with nothing to
    send never asks for one)."""

    def __init__(
        self,
        client: HttpClient,
        client_key: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._key = client_key
        self._secret = secret
        self.clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        """Token requests sent so far (not counted against any op)."""
        return self.client.calls.total

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header, with a token renewed first if it is due."""
        with self._lock:
            token = self._token
            if token is None or self.clock() >= token.renew_after:
                token = self._token = self._fetch()
            return {"Authorization": f"Bearer {token.value}"}

    def renew(self, refused: str) -> None:
        """Drop the token the API refused (``refused``: its Authorization header), unless
        another thread already replaced it; the next :meth:`headers` fetches a new one."""
        with self._lock:
            if self._token is not None and refused.endswith(self._token.value):
                self._token = None

    def _fetch(self) -> _Token:
        started = self.clock()
        try:
            response = self.client.request(
                "POST", PATH, params={"clientKey": self._key, "secret": self._secret}
            )
        except Permanent as exc:
            # 400 invalid_request: the key or secret is missing or malformed.
            raise CredentialRefused(
                f"enabley: the token request was refused ({exc.message}); check "
                "credentials.client_id and credentials.client_secret",
                status=exc.status,
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        value = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise Retryable(f"enabley: POST {PATH} answered without an access_token")
        lifetime = _lifetime_seconds(data.get("expires_in") if isinstance(data, dict) else None)
        log.info("enabley.token", lifetime_seconds=lifetime)
        return _Token(value.strip(), started + lifetime * RENEW_AT)


def _lifetime_seconds(expires_in: object) -> float:
    """``expires_in`` (milliseconds, per the reference) as seconds; a missing or bad value
    means the token is used once only and renewed before the next request."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return 0.0
    return max(float(expires_in) / 1000.0, 0.0)
