"""The entitlement, permission and user-profile endpoints of the Enabley API.

These routes are listed before the user routes: ``/api/v2/users/entitlements`` must win
over ``/api/v2/users/{identifier}`` (a DELETE there would otherwise delete a user).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.enabley import access
from syncd.sandbox.enabley.web import Context, Handler, done, endpoint, json_body, ok, query


def access_routes(context: Context) -> list[Route]:
    """Routes for entitlements, instructor permissions and user profiles."""
    account = context.account

    async def add_entitlement(request: Request) -> Response:
        access.add_entitlement(account, await json_body(request))
        return done()

    async def remove_entitlement(request: Request) -> Response:
        access.remove_entitlement(account, await json_body(request))
        return done()

    async def set_permissions(request: Request) -> Response:
        access.set_permissions(account, _path(request, "userIdentifier"), await json_body(request))
        return done()

    async def get_profiles(request: Request) -> Response:
        found = access.profiles_by_id(account, await json_body(request))
        return ok([p.info() for p in found])

    async def upsert_profile(request: Request) -> Response:
        profile, created = access.upsert_profile(account, await json_body(request))
        return ok(profile.info(), 201 if created else 200)

    async def user_profiles(request: Request) -> Response:
        return ok([p.info() for p in access.profiles_of(account, _path(request, "identifier"))])

    async def assign_profile(request: Request) -> Response:
        access.assign_profile(
            account,
            _path(request, "profileIdentifier"),
            _path(request, "userIdentifier"),
            query(request, "replace"),
        )
        return done()

    async def unassign_profile(request: Request) -> Response:
        access.unassign_profile(
            account, _path(request, "profileIdentifier"), _path(request, "userIdentifier")
        )
        return done()

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, endpoint(context, handler), methods=[method])

    profile_user = "/api/v2/userProfiles/{profileIdentifier}/users/{userIdentifier}"
    return [
        route("/api/v2/users/entitlements", add_entitlement, "POST"),
        route("/api/v2/users/entitlements", remove_entitlement, "DELETE"),
        route("/api/v2/users/{userIdentifier}/permissions", set_permissions, "PUT"),
        route("/api/v2/getUserProfiles", get_profiles, "POST"),
        route("/api/v2/userProfiles", upsert_profile, "PUT"),
        route("/api/v2/userProfiles/users/{identifier}", user_profiles, "POST"),
        route(profile_user, assign_profile, "PUT"),
        route(profile_user, unassign_profile, "DELETE"),
    ]


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])
