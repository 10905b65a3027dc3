"""The only module that imports httpx: clients, pacing, and errors mapped at the edge.

Connectors ask :func:`build_client` for an :class:`HttpClient` and call
:meth:`HttpClient.request`; they never see httpx types (a switch to the maintained fork is a
change here only). What happens to every request:

1. the :class:`RateLimitedTransport` takes a slot from the credential's shared
   :class:`~syncd.limiter.Limiter` (blocking while the rolling window is full or the
   credential is paused) and gives it back when the answer arrives;
2. an answer the vendor uses to say "too fast" (429, or the vendor's own status such as
   Litmos' 503) pauses the whole credential for ``Retry-After`` or a full window;
3. one structured log line: vendor, method, path without the query, status, duration --
   never headers, query strings or bodies, which carry API keys, ``source`` and login keys;
   the same fields go to every observer added with :func:`add_observer` (the service's
   metrics);
4. non-2xx answers and transport failures become :mod:`syncd.errors`:
   ``RateLimited`` (pause), ``Retryable`` (5xx, 408, timeouts, connection errors),
   ``Conflict`` (409; the vendor module decides what its reason means),
   ``CredentialRefused`` (401: no op can succeed, the drain stops), ``TlsFailure`` (the
   TLS handshake failed for good: an untrusted certificate, a hostname mismatch; the drain
   stops too) and ``Permanent`` (other 4xx), each carrying the vendor's short reason and
   no secret.

``timeout`` is a deadline for the whole request (connect, TLS handshake, sending, and
reading the whole answer), counted from when the request leaves the limiter: httpx's own
timeouts are per socket operation, so a server dripping a byte a second would hold a
request for as long as it likes. The pool's sockets (:class:`_DeadlineBackend`) give every
read, write and handshake at most the time left, and running out is the usual retryable
timeout.
"""

from __future__ import annotations

import email.utils
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import httpcore
import httpx

from syncd.errors import (
    Conflict,
    CredentialRefused,
    Permanent,
    RateLimited,
    Retryable,
    TlsFailure,
    VendorError,
)
from syncd.limiter import Limiter
from syncd.log import get_logger, redact

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


_DEADLINE: ContextVar[float | None] = ContextVar("syncd_http_deadline", default=None)
"""Monotonic time by which the request this thread is making must be over (None: none)."""


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the request's deadline; ``expired`` once it passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


@contextmanager
def _deadline(at: float) -> Iterator[None]:
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and handshake waits at most until the deadline.

    Connections are kept alive across requests, so the deadline is the current request's
    (a context variable), not the connection's.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, handed out as :class:`_DeadlineStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextmanager
def _as_httpx(request: httpx.Request) -> Iterator[None]:
    """httpcore's errors as httpx's error of the same name (httpx's own mapping, by name)."""
    try:
        yield
    except (
        httpcore.TimeoutException,
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.ProxyError,
        httpcore.UnsupportedProtocol,
    ) as exc:
        kinds = (getattr(httpx, kind.__name__, None) for kind in type(exc).__mro__)
        kind = next(
            (k for k in kinds if isinstance(k, type) and issubclass(k, httpx.TransportError)),
            httpx.TransportError,
        )
        raise kind(str(exc), request=request) from exc


class _Body(httpx.SyncByteStream):
    """An answer's body, read under the request's deadline with httpx's errors."""

    def __init__(self, inner: Iterable[bytes], request: httpx.Request, at: float) -> None:
        self._inner = inner
        self._request = request
        self._at = at

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            with _deadline(self._at), _as_httpx(self._request):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            with _as_httpx(self._request):
                close()


class DeadlineTransport(httpx.BaseTransport):
    """httpx over httpcore's connection pool, each request bounded by one deadline.

    httpx's ``HTTPTransport`` takes no network backend, hence this small adapter: the
    request and answer are handed over as httpx does, and httpcore's errors are raised as
    httpx's. The TLS context is httpx's default (``SSL_CERT_FILE``/``SSL_CERT_DIR`` name a
    private CA).
    """

    def __init__(self, *, seconds: float, max_connections: int = 4) -> None:
        self._seconds = seconds
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        at = time.monotonic() + self._seconds
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _deadline(at), _as_httpx(request):
            answer = self._pool.handle_request(core)
        assert isinstance(answer.stream, Iterable)  # the sync pool's body, never an async one
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream, request, at),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


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


Observer = Callable[[str, str, str, int | None, float], None]
"""Told of every request as it is logged: (vendor, method, path without the query, status
or None when no answer came, seconds). The service's metrics are one."""

_observers: tuple[Observer, ...] = ()
_observers_lock = threading.Lock()


def add_observer(observer: Observer) -> None:
    """Tell ``observer`` of every request from now on, in every client of this process."""
    global _observers
    with _observers_lock:
        _observers = (*_observers, observer)


def remove_observer(observer: Observer) -> None:
    """Stop telling ``observer`` (once per :func:`add_observer`; unknown ones are ignored)."""
    global _observers
    with _observers_lock:
        kept = list(_observers)
        if observer in kept:
            kept.remove(observer)
        _observers = tuple(kept)


def _notify(vendor: str, method: str, path: str, status: int | None, seconds: float) -> None:
    """Observers see the tuple as it was when the request ended (copy-on-write: no lock
    on the request path); one that raises never fails the request."""
    for observer in _observers:
        try:
            observer(vendor, method, path, status, seconds)
        except Exception as exc:  # an observer's bug must not become a vendor error
            log.warning("http.observer_failed", error=type(exc).__name__)


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
        inner = transport or DeadlineTransport(seconds=timeout)
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
        except httpx.ConnectError as exc:
            refused = tls_refusal(exc)
            if refused is not None:
                raise self._tls_failure(method, path, started, exc, refused) from None
            raise self._failure(method, path, started, "connection failed", exc) from None
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

    def _tls_failure(
        self, method: str, path: str, started: float, exc: httpx.ConnectError, reason: str
    ) -> TlsFailure:
        host = exc.request.url.netloc.decode("ascii", errors="replace")
        self._log(method, path, None, started, error="TlsFailure", reason=reason)
        return TlsFailure(
            f"{self.vendor}: cannot connect securely to {host}: {reason}; nothing was sent "
            "and the drain stops (check base_url and the server's certificate; a private CA "
            "is trusted with SSL_CERT_FILE)",
            vendor=self.vendor,
            method=method,
            path=path,
            host=host,
            reason=reason,
        )

    def _log(
        self, method: str, path: str, status: int | None, started: float, **extra: Any
    ) -> None:
        seconds = time.perf_counter() - started
        fields = {
            "vendor": self.vendor,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            **extra,
        }
        _notify(self.vendor, method, path, status, seconds)
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


_TRANSIENT_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
"""Handshakes cut short by the network (a reset, a proxy hanging up): worth a retry."""

_SSL_NOISE = re.compile(r"^\[SSL(?:: [A-Z0-9_]+)?\]\s*|\s*\(_ssl\.c:\d+\)$")


def tls_refusal(exc: BaseException) -> str | None:
    """Why the TLS handshake behind a connection failure was refused, or None.

    Only a verdict of the handshake itself is permanent: the certificate (untrusted,
    expired, another host's) or the protocol (no common version, https to a plain-http
    port). A handshake the network cut short is an ordinary retryable failure.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLError):
            if isinstance(cause, _TRANSIENT_TLS):
                return None
            text = _SSL_NOISE.sub("", str(cause.args[1] if len(cause.args) > 1 else cause))
            return redact(" ".join(text.split())[:REASON_CHARS]) or "TLS handshake refused"
        cause = cause.__cause__ or cause.__context__
    return None


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
