"""Enabley's HTTP client: the shared client with its ``ErrorResponse`` answers mapped at the
edge (:data:`syncd.vendors.enabley.wire.ERRORS`), so the connector sees syncd's errors.

Its own module, imported only when a connector is built, so that planning (which asks the
vendor's profile but calls nobody) never loads httpx.
"""

from __future__ import annotations

from typing import Any

from syncd.errors import (
    Conflict,
    CredentialRefused,
    Permanent,
    RateLimited,
    Retryable,
    VendorError,
)
from syncd.http import REASON_CHARS, HttpClient, Response, retry_after_seconds, vendor_reason
from syncd.log import redact
from syncd.vendors.enabley.wire import ERRORS, Meaning, Missing, error_code, status_meaning


class EnableyClient(HttpClient):
    """The shared HTTP client with Enabley's error answers mapped by :data:`ERRORS`."""

    def error_for(self, method: str, path: str, response: Response) -> VendorError:
        code, description = error_code(response)
        meaning = ERRORS.get(code) or status_meaning(response.status)
        reason = (
            redact(f"{code}: {description}".rstrip(": ")[:REASON_CHARS])
            if code
            else vendor_reason(response)
        )
        status = response.status
        message = f"{self.vendor}: {method} {path} -> {status} {reason}".rstrip()
        fields: dict[str, Any] = {"vendor": self.vendor, "method": method, "path": path}
        fields.update(reason=reason, code=code)
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if meaning is Meaning.RATE:
            if wait is None and self.limiter is not None:
                wait = self.limiter.paused_for()
            return RateLimited(message, status=status, retry_after=wait, **fields)
        if meaning is Meaning.RETRY:
            return Retryable(message, status=status, retry_after=wait, **fields)
        if meaning is Meaning.CONFLICT:
            return Conflict(message, status=status, **fields)
        if meaning is Meaning.KEY:
            return CredentialRefused(message, status=status, **fields)
        if meaning is Meaning.MISSING:
            return Missing(message, status=status, **fields)
        return Permanent(message, status=status, **fields)
