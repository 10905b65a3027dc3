"""What every Litmos endpoint does before and after its own work: auth, paging, errors.

Authentication is the ``apikey`` header (or the older ``apikey`` query parameter) plus the
required ``source`` parameter. WCF matches query parameter names without regard to case, so
lookups here do too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from syncd.sandbox.litmos.store import Store
from syncd.sandbox.litmos.wire import (
    LitmosError,
    ServerFault,
    error_response,
    server_error_page,
)

MSG_401 = (
    "The API key that you have used for this request is either not valid or your account is "
    "not enabled for API access."
)
MSG_403 = "Forbidden. Please check your API key, content-type, parameters, etc."
MSG_403_LEVEL = "You do not have the proper permissions for this call."
MSG_400 = "Bad Request. Please check that your URI and request body are properly formed."
MSG_LIMIT = (
    "The maxminum number of records to return is 1000. You can use paging parameters to get "
    "the next set of records."
)
ADMIN_LEVELS = frozenset({"Administrator", "Account_Owner"})


def query(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name."""
    wanted = name.lower()
    for key, value in request.query_params.multi_items():
        if key.lower() == wanted:
            return value
    return None


def api_key(request: Request) -> str | None:
    return request.headers.get("apikey") or query(request, "apikey")


@dataclass
class Call:
    """One authenticated request, with the account it acts on."""

    request: Request
    store: Store

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str | None:
        return query(self.request, name)

    def flag(self, name: str) -> bool:
        return (self.query(name) or "").lower() == "true"


Handler = Callable[[Call], Awaitable[Response]]


def authenticate(request: Request, keys: Mapping[str, str]) -> None:
    key = api_key(request)
    if not key or key not in keys:
        raise LitmosError(401, MSG_401)
    source = query(request, "source")
    if not source or len(source) > 50:
        raise LitmosError(403, MSG_403)
    if keys[key] not in ADMIN_LEVELS:
        raise LitmosError(403, MSG_403_LEVEL)


def wrap(
    handler: Handler,
    store: Store,
    keys: Mapping[str, str],
    written: Callable[[], None] = lambda: None,
) -> Callable[[Request], Awaitable[Response]]:
    """Turn a handler into a Starlette endpoint: authenticate, run, map errors.

    ``written`` runs after every request that may change the account (any method but
    GET), whatever its outcome, and before the answer leaves: what a client was told is
    done is in the account ``written`` sees.
    """

    async def endpoint(request: Request) -> Response:
        try:
            authenticate(request, keys)
            return await handler(Call(request, store))
        except LitmosError as exc:
            return error_response(request, exc.status, exc.detail)
        except ServerFault:
            return server_error_page(500)
        finally:
            if request.method != "GET":
                written()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


@dataclass(frozen=True)
class Paging:
    """``start``/``limit``/``sort``/``dir``/``search`` of a list request."""

    start: int
    limit: int
    sort: str | None
    descending: bool
    search: str | None


def paging(call: Call) -> Paging:
    """Read and validate the paging parameters (limit 1-1000, default 100)."""
    try:
        start = int(call.query("start") or 0)
        limit = int(call.query("limit") or 100)
    except ValueError:
        raise LitmosError(400, MSG_400) from None
    if limit > 1000:
        raise LitmosError(406, MSG_LIMIT)
    if start < 0 or limit < 1:
        raise LitmosError(400, MSG_400)
    direction = (call.query("dir") or "ASC").upper()
    if direction not in {"ASC", "DESC"}:
        raise LitmosError(400, MSG_400)
    search = call.query("search")
    if search is not None and len(search) > 50:
        raise LitmosError(400, MSG_400)
    return Paging(start, limit, call.query("sort"), direction == "DESC", search or None)


def page(
    records: Sequence[dict[str, Any]],
    options: Paging,
    search_fields: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Filter by ``search`` (substring, any of ``search_fields``), sort, then cut the page."""
    found = list(records)
    if options.search and search_fields:
        needle = options.search.lower()
        found = [r for r in found if needle in _haystack(r, search_fields)]
    if options.sort and found:
        key = next((k for k in found[0] if k.lower() == options.sort.lower()), None)
        if key is not None:
            found.sort(key=lambda r: _sort_key(r.get(key)), reverse=options.descending)
    elif options.descending:
        found.reverse()
    return found[options.start : options.start + options.limit]


Build = Callable[[], dict[str, Any]]
"""A listed record, built only if its page is served."""


@dataclass
class Walk:
    """Where the last paged walk of a listing stopped (see :func:`walked`)."""

    key: tuple[Any, ...]
    generation: int
    next_start: int
    rest: Iterator[Build]


def walked(
    call: Call,
    options: Paging,
    candidates: Callable[[], Iterable[Build]],
    search_fields: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The page :func:`page` cuts from every candidate's record, without building every
    record for every page: a walk asking for the page that follows the one it was last
    served (same listing, same query, no write to the account since) continues where that
    one stopped, so walking N rows costs O(N) and not O(N) per page.

    A request that sorts, reverses or searches takes the whole listing as before. A write
    request bumps ``store.generation`` and so starts the next page afresh; so does a
    listing whose table changed size under it without one (direct store edits in tests).
    """
    if options.sort or options.descending or (options.search and search_fields):
        return page([build() for build in candidates()], options, search_fields)
    store = call.store
    params = call.request.query_params.multi_items()
    key = (
        call.request.url.path,
        tuple(sorted((name.lower(), value) for name, value in params if name.lower() != "start")),
    )
    last: Walk | None = store.walk
    builds: list[Build] | None = None
    resumes = (
        last is not None
        and last.key == key
        and last.generation == store.generation
        and last.next_start == options.start
    )
    if resumes and last is not None:
        try:
            builds = list(islice(last.rest, options.limit))
        except RuntimeError:  # a table changed size without a write request
            builds = None
    if builds is None:
        rest = iter(candidates())
        for _ in islice(rest, options.start):
            pass
        builds = list(islice(rest, options.limit))
        last = Walk(key, store.generation, 0, rest)
    assert last is not None
    records = [build() for build in builds]
    store.walk = Walk(key, store.generation, options.start + len(records), last.rest)
    return records


def _haystack(record: dict[str, Any], fields: Sequence[str]) -> str:
    values = [str(record.get(name) or "") for name in fields]
    if "FirstName" in fields and "LastName" in fields:
        values.append(f"{record.get('FirstName') or ''} {record.get('LastName') or ''}")
    return "\n".join(values).lower()


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (1, "")
    if isinstance(value, str):
        return (0, value.lower())
    return (0, value)
