"""The token, user and group endpoints of the Enabley API.

``GET /api/v2/users`` pages by ``start``/``limit`` (limit at most 200) and answers a bare
``UserInfo`` array; ``GET /api/v3/users`` takes the same filters and pages by
``paginationKey``. Literal paths come before ``{identifier}`` paths so that, for example,
``PUT /api/v2/users/identityManagement`` is never taken for a status update.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.core import record_create
from syncd.sandbox.enabley import groups, users
from syncd.sandbox.enabley.fields import integer
from syncd.sandbox.enabley.web import (
    Context,
    Handler,
    done,
    endpoint,
    json_body,
    ok,
    query,
    query_flag,
)

MAX_USER_PAGE = 200
USER_FILTERS = (
    "emailSubstring",
    "firstNameSubstring",
    "identifier",
    "lastNameSubstring",
    "subAccountName",
    "usernameSubstring",
)


def people_routes(context: Context) -> list[Route]:
    """Routes for ``/api/v1/token``, users and groups."""
    account = context.account

    async def token(request: Request) -> Response:
        """POST /api/v1/token: client credentials in the query string."""
        issued = context.issuer.issue(query(request, "clientKey"), query(request, "secret"))
        return ok(issued)

    async def search_v2(request: Request) -> Response:
        start = integer(query(request, "start"), name="start", default=0, low=0)
        limit = integer(
            query(request, "limit"), name="limit", default=MAX_USER_PAGE, low=1, high=MAX_USER_PAGE
        )
        found = users.search(account, _filters(request))
        return ok([u.info() for u in found[start : start + limit]])

    async def search_v3(request: Request) -> Response:
        key = query(request, "paginationKey")
        if key is not None:
            return ok(context.paginator.resume("users", key))
        found = users.search(account, _filters(request))
        return ok(context.paginator.first("users", [u.info() for u in found]))

    async def upsert_user(request: Request) -> Response:
        user, created = users.upsert(account, await json_body(request))
        if created:
            record_create(request, user.username)
        return ok(user.info(), 201 if created else 200)

    async def change_identifier(request: Request) -> Response:
        return ok(users.change_identifier(account, await json_body(request)).info())

    async def get_user(request: Request) -> Response:
        found = users.get(account, _path(request, "identifier"), query(request, "subAccountName"))
        return ok(found.info())

    async def set_user_status(request: Request) -> Response:
        active = query_flag(request, "isActive", default=True)
        return ok(users.set_status(account, _path(request, "identifier"), active).info())

    async def delete_user(request: Request) -> Response:
        users.delete(account, _path(request, "identifier"))
        return done()

    async def remove_sub_account(request: Request) -> Response:
        users.remove_sub_account(
            account, _path(request, "identifier"), _path(request, "subAccountName")
        )
        return done()

    async def user_groups(request: Request) -> Response:
        found = groups.of_user(
            account, _path(request, "identifier"), query(request, "subAccountName")
        )
        return ok([g.info() for g in found])

    async def upsert_group(request: Request) -> Response:
        group, created = groups.upsert(account, await json_body(request))
        return ok(group.info(), 201 if created else 200)

    async def hierarchy(request: Request) -> Response:
        return ok(list(account.hierarchy))

    async def list_groups(request: Request) -> Response:
        return ok([g.info() for g in groups.listing(account, query(request, "subAccountName"))])

    async def get_group(request: Request) -> Response:
        found = groups.get(account, _path(request, "identifier"), query(request, "subAccountName"))
        return ok(found.info())

    async def delete_group(request: Request) -> Response:
        groups.delete(account, _path(request, "identifier"))
        return done()

    async def add_member(request: Request) -> Response:
        groups.add_user(
            account,
            _path(request, "groupIdentifier"),
            _path(request, "userIdentifier"),
            replace=query_flag(request, "replace", default=False),
        )
        return done()

    async def remove_member(request: Request) -> Response:
        groups.remove_user(
            account, _path(request, "groupIdentifier"), _path(request, "userIdentifier")
        )
        return done()

    def route(path: str, handler: Handler, method: str, *, public: bool = False) -> Route:
        return Route(path, endpoint(context, handler, public=public), methods=[method])

    return [
        route("/api/v1/token", token, "POST", public=True),
        route("/api/v2/users", search_v2, "GET"),
        route("/api/v2/users", upsert_user, "PUT"),
        route("/api/v2/users/identityManagement", change_identifier, "PUT"),
        route("/api/v2/users/{identifier}", get_user, "GET"),
        route("/api/v2/users/{identifier}", set_user_status, "PUT"),
        route("/api/v2/users/{identifier}", delete_user, "DELETE"),
        route(
            "/api/v2/users/{identifier}/subAccountName/{subAccountName}",
            remove_sub_account,
            "DELETE",
        ),
        route("/api/v3/users", search_v3, "GET"),
        route("/api/v1/users/{identifier}/groups", user_groups, "GET"),
        route("/api/v1/groups", upsert_group, "PUT"),
        route("/api/v1/groups/hierarchy", hierarchy, "GET"),
        route("/api/v1/groups/list", list_groups, "GET"),
        route("/api/v1/groups/{identifier}", get_group, "GET"),
        route("/api/v1/groups/{identifier}", delete_group, "DELETE"),
        route("/api/v1/groups/{groupIdentifier}/users/{userIdentifier}", add_member, "POST"),
        route("/api/v1/groups/{groupIdentifier}/users/{userIdentifier}", remove_member, "DELETE"),
    ]


def _filters(request: Request) -> dict[str, str]:
    return {name: value for name in USER_FILTERS if (value := query(request, name)) is not None}


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])
