"""The only module that imports httpx: clients, pacing, and errors mapped at the edge.

Connectors ask :func:`build_client` for an :class:`HttpClient` and call
:meth:`HttpClient.request`; they never see httpx types (a switch to the maintained fork is a
change here only). What happens to every request:

1. the :class:`RateLimitedTransport` takes a slot from the credential's shared
   :class:`~syncd.queue.limiter.Limiter` (blocking while the rolling window is full or the
   credential is paused) and gives it back when the answer arrives;
2. an answer the vendor uses to say "too fast" (429, or the vendor's own status such as
   Litmos' 503) pauses the whole credential for ``Retry-After`` or a full window;
3. one structured log line: vendor, method, path without the query, status, duration --
   never headers, query strings or bodies, which carry API keys, ``source`` and login keys;
4. non-2xx answers and transport failures become :mod:`syncd.errors`:
   ``RateLimited`` (pause), ``Retryable`` (5xx, 408, timeouts, connection errors),
   ``Conflict`` (409; the vendor module decides what its reason means),
   ``CredentialRefused`` (401: no op can succeed, the drain stops) and ``Permanent``
   (other 4xx), each carrying the vendor's short reason and no secret.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import httpx

from syncd.errors import (
    Conflict,
    CredentialRefused,
    Permanent,
    RateLimited,
    Retryable,
    VendorError,
)
from syncd.log import get_logger, redact
from syncd.queue.limiter import Limiter

log = get_logger("syncd.http")

REASON_CHARS = 300
"""How much of a vendor's error text is kept in an exception (enough for its reason)."""


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer, reduced to what connectors need; headers have lower-case names."""

    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON; an empty body is None (vendors answer many writes with nothing)."""
        if not self.content.strip():
            return None
        return json.loads(self.content.decode("utf-8-sig"))


@dataclass
class CallCounter:
    """Requests sent through one client, by outcome; thread-safe enough for metrics."""

    total: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        with self._lock:
            self.total += 1
            if status is None:
                self.failures += 1
            else:
                self.by_status[status] = self.by_status.get(status, 0) + 1


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class RateLimitedTransport(httpx.BaseTransport):
    """Wraps a transport: every request holds a slot of the credential's limiter.

    The slot is released when the response headers (or the failure) arrive: by then the
    vendor has certainly counted the request. A "too fast" answer pauses the credential.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        limiter: Limiter | None,
        *,
        rate_limit_statuses: Collection[int] = (429,),
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._rate_limit_statuses = frozenset(rate_limit_statuses)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._limiter is None:
            return self._inner.handle_request(request)
        with self._limiter.slot():
            response = self._inner.handle_request(request)
        if response.status_code in self._rate_limit_statuses:
            self._limiter.pause(retry_after_seconds(response.headers.get("retry-after")))
        return response

    def close(self) -> None:
        self._inner.close()


class HttpClient:
    """One vendor connection's HTTP client: keep-alive, paced, counted, errors mapped."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        timeout: float,
        limiter: Limiter | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        rate_limit_statuses: Collection[int] = (429,),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.calls = CallCounter()
        self._rate_limit_statuses = frozenset(rate_limit_statuses)
        self._params = dict(params or {})
        inner = transport or httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4)
        )
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=RateLimitedTransport(
                inner, limiter, rate_limit_statuses=self._rate_limit_statuses
            ),
            follow_redirects=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request; a 2xx answer is returned, anything else raised as a VendorError."""
        query = {**self._params, **(params or {})}
        started = time.perf_counter()
        status: int | None = None
        try:
            answer = self._client.request(
                method,
                path,
                params=query,
                json=json_body,
                content=content,
                headers=dict(headers or {}),
            )
            status = answer.status_code
        except httpx.TimeoutException as exc:
            raise self._failure(method, path, started, "timed out", exc) from None
        except httpx.TransportError as exc:
            raise self._failure(method, path, started, "connection failed", exc) from None
        finally:
            self.calls.count(status)
        response = Response(
            status=answer.status_code,
            reason=answer.reason_phrase,
            headers={k.lower(): v for k, v in answer.headers.items()},
            content=answer.content,
        )
        self._log(method, path, response.status, started)
        if 200 <= response.status < 300:
            return response
        raise self.error_for(method, path, response)

    def _failure(
        self, method: str, path: str, started: float, what: str, exc: Exception
    ) -> Retryable:
        kind = type(exc).__name__
        self._log(method, path, None, started, error=kind)
        return Retryable(
            f"{self.vendor}: {method} {path} {what} ({kind})",
            vendor=self.vendor,
            method=method,
            path=path,
            error=kind,
        )

    def _log(
        self, method: str, path: str, status: int | None, started: float, **extra: Any
    ) -> None:
        fields = {
            "vendor": self.vendor,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            **extra,
        }
        if status is not None and status < 400:
            log.debug("http.request", **fields)
        else:
            log.info("http.request", **fields)

    def error_for(self, method: str, path: str, response: Response) -> VendorError:
        """The syncd error a non-2xx answer means; ``reason`` is the vendor's own words."""
        reason = vendor_reason(response)
        status = response.status
        message = f"{self.vendor}: {method} {path} -> {status} {reason}".rstrip()
        fields = {"vendor": self.vendor, "method": method, "path": path, "reason": reason}
        if status == 429 or status in self._rate_limit_statuses:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            if wait is None and self.limiter is not None:
                wait = self.limiter.paused_for()
            return RateLimited(message, status=status, retry_after=wait, **fields)
        if status >= 500 or status == 408:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            return Retryable(message, status=status, retry_after=wait, **fields)
        if status == 409:
            return Conflict(message, status=status, **fields)
        if status == 401:
            return CredentialRefused(message, status=status, **fields)
        return Permanent(message, status=status, **fields)

    def close(self) -> None:
        self._client.close()


def vendor_reason(response: Response) -> str:
    """The vendor's short reason for a refusal: a JSON ``Detail``/``message`` or the text.

    HTML error pages (WCF faults) are reduced to the reason phrase; whatever is kept is
    passed through the log redactor so a secret echoed by the vendor never travels on.
    """
    text = response.text.strip()
    found: str | None = None
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("Detail", "detail", "Message", "message", "error", "Error", "title"):
                if isinstance(data.get(key), str) and data[key].strip():
                    found = data[key].strip()
                    break
        elif isinstance(data, str):
            found = data.strip()
    elif text.startswith("<"):
        found = _xml_reason(text)
    elif text:
        found = " ".join(text.split())
    reason = found or response.reason or ""
    return redact(reason[:REASON_CHARS])


def _xml_reason(text: str) -> str | None:
    """``<Error><Detail>why</Detail></Error>`` -> "why"; HTML fault pages give nothing."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    if root.tag.rsplit("}", 1)[-1].lower() == "html":
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] in {"Detail", "Message", "message"} and element.text:
            return element.text.strip()
    return None


def build_client(
    *,
    vendor: str,
    base_url: str,
    timeout: float,
    limiter: Limiter | None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    rate_limit_statuses: Collection[int] = (429,),
    transport: httpx.BaseTransport | None = None,
) -> HttpClient:
    """The client factory connectors use (``transport`` is for tests that need a fake)."""
    return HttpClient(
        vendor=vendor,
        base_url=base_url,
        timeout=timeout,
        limiter=limiter,
        headers=headers,
        params=params,
        rate_limit_statuses=rate_limit_statuses,
        transport=transport,
    )
