"""The Enabley simulator object that :func:`syncd.sandbox.core.build_app` serves.

Rate limit: Enabley documents none. The simulator keeps one rolling window per client key
(the token endpoint counts under the ``clientKey`` it is asked for, API calls under the
token's subject) and answers an over-limit request with 503 and the ``ErrorResponse`` value
``service_unavailable``, the enum's only fit. The default rule (100 requests per rolling
60 s) is a sandbox assumption, not a vendor fact; set it with ``POST /_sandbox/rate``.

Admin endpoints this vendor adds under ``/_sandbox/``:

    POST /activity   {"user", "channel", "action": start|progress|complete|reset,
                      "progress"?, "score"?, "at"?}   a learner's progress (reset: back
                      to not started, as an administrator's course reset)
    GET|POST /settings {"token_lifetime_seconds", "page_size"}   paging and token knobs
    POST /clock      {"advance_seconds": N}   move the account's clock on (token expiry,
                      certificate expiry) without sleeping
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syncd.sandbox.core import RateRule
from syncd.sandbox.enabley import account as account_file
from syncd.sandbox.enabley import progress
from syncd.sandbox.enabley.api_access import access_routes
from syncd.sandbox.enabley.api_learning import learning_routes
from syncd.sandbox.enabley.api_people import people_routes
from syncd.sandbox.enabley.auth import DEFAULT_TOKEN_LIFETIME_SECONDS, TokenIssuer, bearer
from syncd.sandbox.enabley.errors import EnableyError, error_response
from syncd.sandbox.enabley.model import format_date
from syncd.sandbox.enabley.paging import Paginator
from syncd.sandbox.enabley.seeding import seed
from syncd.sandbox.enabley.state import (
    DEFAULT_CLIENTS,
    DEFAULT_HIERARCHY,
    DEFAULT_SUB_ACCOUNTS,
    Account,
)
from syncd.sandbox.enabley.web import Context

DEFAULT_PAGE_SIZE = 200
_GATEWAY_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
_GATEWAY_TITLES = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}


@dataclass(frozen=True)
class _Defaults:
    """The settings the simulator was created with, which ``reset`` restores."""

    clients: Mapping[str, str]
    sub_accounts: tuple[str, ...]
    hierarchy: tuple[str, ...]
    page_size: int
    token_lifetime_seconds: float


class EnableySimulator:
    """In-memory Enabley account behind the documented ``/api/...`` endpoints."""

    name: ClassVar[str] = "enabley"
    default_rate: ClassVar[RateRule] = RateRule(requests=100, per_seconds=60)
    rate_counts_rejected: ClassVar[bool] = False
    secret_params: ClassVar[frozenset[str]] = frozenset({"secret"})

    def __init__(
        self,
        *,
        clients: Mapping[str, str] | None = None,
        sub_accounts: tuple[str, ...] = DEFAULT_SUB_ACCOUNTS,
        hierarchy: tuple[str, ...] = DEFAULT_HIERARCHY,
        page_size: int = DEFAULT_PAGE_SIZE,
        token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if clients is not None and not clients:
            raise ValueError("clients must hold at least one client key and secret")
        self._defaults = _Defaults(
            clients=dict(clients or DEFAULT_CLIENTS),
            sub_accounts=tuple(sub_accounts),
            hierarchy=tuple(hierarchy),
            page_size=page_size,
            token_lifetime_seconds=token_lifetime_seconds,
        )
        self.account = Account(clock_source=clock)
        self.on_write: Callable[[], None] | None = None
        """Called after every write request, before its answer (keeps ``sandbox:`` files)."""
        self.issuer = TokenIssuer(self.account, lifetime_seconds=token_lifetime_seconds)
        self.paginator = Paginator(page_size)
        self.reset()
        first_key, first_secret = next(iter(self._defaults.clients.items()))
        self.credentials: Mapping[str, str] = {"clientKey": first_key, "secret": first_secret}
        context = Context(
            account=self.account,
            issuer=self.issuer,
            paginator=self.paginator,
            written=self._written,
        )
        self.routes: list[BaseRoute] = [
            *access_routes(context),
            *people_routes(context),
            *learning_routes(context),
        ]
        self.admin_routes: list[BaseRoute] = [
            Route("/activity", self._activity, methods=["POST"]),
            Route("/settings", self._settings, methods=["GET", "POST"]),
            Route("/clock", self._clock, methods=["POST"]),
        ]

    def credential(self, request: Request) -> str | None:
        """The client key: from the query on the token call, from the token elsewhere."""
        if request.url.path == "/api/v1/token":
            return request.query_params.get("clientKey") or None
        token = bearer(request)
        return self.issuer.client_of(token) if token is not None else None

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        """503 ``service_unavailable``; Enabley documents no ``Retry-After``, so none is sent."""
        return error_response(503, "service_unavailable", "Rate limit exceeded")

    def error_response(self, status: int) -> Response:
        """500/503 as the API's own ``ErrorResponse``; 502/504 as a gateway's HTML page."""
        if status in _GATEWAY_TITLES:
            page = _GATEWAY_PAGE.format(status=_GATEWAY_TITLES[status])
            return Response(page, status_code=status, media_type="text/html")
        if status == 503:
            return error_response(503, "service_unavailable", "Service unavailable")
        return error_response(status, "general_error", "General error")

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Load a seed (format in :mod:`syncd.sandbox.enabley.seeding`); all or nothing."""
        counts = seed(self.account, data)
        self.paginator.clear()
        return counts

    def snapshot(self) -> bytes:
        """The whole account as JSON (a ``sandbox:`` connection's account file)."""
        return account_file.dump(self.account)

    def restore(self, data: bytes) -> None:
        """Load :meth:`snapshot` JSON in place (the routes hold this account object).

        Every field is checked first (ValueError names the first bad one), so a bad file
        leaves the account as it was; it is data only, nothing in it is ever run. Open
        ``paginationKey`` cursors are forgotten.
        """
        account_file.load(self.account, data)
        self.paginator.clear()

    def _written(self) -> None:
        if self.on_write is not None:
            self.on_write()

    def reset(self) -> None:
        """Empty account, settings back to how the simulator was created."""
        account = self.account
        with account.lock:
            account.clear()
            account.clients = dict(self._defaults.clients)
            account.sub_accounts = list(self._defaults.sub_accounts)
            account.hierarchy = list(self._defaults.hierarchy)
            account.clock_offset = 0.0
        self.paginator.clear()
        self.paginator.page_size = self._defaults.page_size
        self.issuer.lifetime_seconds = self._defaults.token_lifetime_seconds

    async def _activity(self, request: Request) -> Response:
        try:
            return JSONResponse(progress.record_activity(self.account, await _admin_json(request)))
        except EnableyError as exc:
            return _admin_error(exc.description)
        except ValueError as exc:
            return _admin_error(str(exc))
        finally:
            self._written()

    async def _settings(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _admin_json(request)
                lifetime = body.get("token_lifetime_seconds")
                page_size = body.get("page_size")
                if lifetime is not None:
                    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
                        raise ValueError("token_lifetime_seconds must be a number")
                    if lifetime < 0:
                        raise ValueError("token_lifetime_seconds must not be negative")
                if page_size is not None and (
                    isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
                ):
                    raise ValueError("page_size must be a positive integer")
            except ValueError as exc:
                return _admin_error(str(exc))
            if lifetime is not None:
                self.issuer.lifetime_seconds = float(lifetime)
            if page_size is not None:
                self.paginator.page_size = page_size
        return JSONResponse(
            {
                "token_lifetime_seconds": self.issuer.lifetime_seconds,
                "page_size": self.paginator.page_size,
            }
        )

    async def _clock(self, request: Request) -> Response:
        try:
            body = await _admin_json(request)
            advance = body.get("advance_seconds")
            if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
                raise ValueError("advance_seconds must be a number of seconds, at least 0")
        except ValueError as exc:
            return _admin_error(str(exc))
        with self.account.lock:
            self.account.clock_offset += float(advance)
        self._written()
        return JSONResponse({"now": format_date(self.account.clock())})


async def _admin_json(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _admin_error(message: str) -> Response:
    """Admin refusals look like the core's: 422 ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=422)
