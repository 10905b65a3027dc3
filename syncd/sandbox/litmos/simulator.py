"""The Litmos simulator object that the sandbox core serves (see ``syncd.sandbox.core``).

Behaviour follows ``vendor-docs/litmos-*`` (recorded traffic first, then the official
pages). Where the sources are silent, these choices were made:

- a refused (503) request does not use up a slot of the rolling window (settable with
  ``POST /_sandbox/rate {"count_rejected": true}``); no ``Retry-After`` header, as recorded;
- error bodies are ``{"Detail": …}`` in JSON and ``<Error><Detail>…</Detail></Error>`` in
  XML, the ``Detail`` also being the reason phrase (recorded: ``409 UserName already
  exists``); the 503 says "Rating Limit Exceeded"; server faults and injected 5xx answers
  are WCF HTML pages whose sentence is the reason phrase, as recorded for a 500;
- team names are unique account-wide; deleting a team moves its sub-teams up;
- ``PUT /users/{id}`` changes only the members sent (and ignores read-only ones);
- ``/org/...`` rows count when created or updated in ``[since, to)``; JSON DateTime members
  there are ``/Date(ms-0000)/`` like every other DateTime member;
- members known only by name (a course's ``CreatedBy`` and ``Tags``) are null; the
  username rules are checked for a new or changed username only (a recorded PUT kept a
  non-e-mail username with ``IsCustomUsername: false`` and got 200).

Admin endpoints besides the common ones: ``POST /_sandbox/seed`` (format in
:mod:`syncd.sandbox.litmos.seed`), ``POST /_sandbox/activity`` (see
:mod:`syncd.sandbox.litmos.activity`) and ``GET /_sandbox/summary`` (counts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.sandbox.core import RateRule
from syncd.sandbox.litmos import (
    account,
    activity,
    courses,
    customfields,
    org,
    seed,
    teams,
    tokens,
    users,
)
from syncd.sandbox.litmos.endpoint import Handler, api_key, wrap
from syncd.sandbox.litmos.store import Store
from syncd.sandbox.litmos.wire import error_response, server_error_page

BASE = "/v1.svc"
DEMO_API_KEY = "litmos-sandbox-apikey-0001"
DEMO_SOURCE = "syncd-sandbox"
RATE_LIMITED = "Rating Limit Exceeded"

_GET, _POST, _PUT, _DELETE = ["GET"], ["POST"], ["PUT"], ["DELETE"]

# Specific paths come before the ``{user_id}``-style ones they would otherwise match.
ROUTES: tuple[tuple[str, list[str], Handler], ...] = (
    ("/users", _GET, users.list_users),
    ("/users", _POST, users.create_user),
    ("/users/paginated", _GET, users.paginated_users),
    ("/users/details", _GET, users.user_details),
    ("/users/courses", _POST, courses.users_courses),
    ("/users/{user_id}", _GET, users.get_user),
    ("/users/{user_id}", _PUT, users.update_user),
    ("/users/{user_id}", _DELETE, users.delete_user),
    ("/users/{user_id}/usercustomfields", _GET, customfields.get_custom_fields),
    ("/users/{user_id}/usercustomfields", _POST, customfields.set_custom_fields),
    ("/users/{user_id}/teams", _GET, users.user_teams),
    ("/users/{user_id}/teams", _POST, users.add_user_teams),
    ("/users/{user_id}/teams", _DELETE, users.remove_user_teams),
    ("/users/{user_id}/courses", _GET, courses.user_courses),
    ("/users/{user_id}/courses", _POST, courses.assign_user_courses),
    ("/users/{user_id}/courses/{course_id}", _GET, courses.user_course),
    ("/users/{user_id}/courses/{course_id}", _DELETE, courses.remove_user_course),
    ("/users/{user_id}/courses/{course_id}/reset", _PUT, courses.reset_user_course),
    ("/users/{user_id}/learningpaths", _GET, courses.user_paths),
    ("/users/{user_id}/learningpaths", _POST, courses.assign_user_paths),
    ("/users/{user_id}/learningpaths/{path_id}", _DELETE, courses.remove_user_path),
    ("/teams", _GET, teams.list_teams),
    ("/teams", _POST, teams.create_team),
    ("/teams/{team_id}", _GET, teams.get_team),
    ("/teams/{team_id}", _PUT, teams.update_team),
    ("/teams/{team_id}", _DELETE, teams.delete_team),
    ("/teams/{team_id}/teams", _GET, teams.sub_teams),
    ("/teams/{team_id}/teams", _POST, teams.create_sub_team),
    ("/teams/{team_id}/users", _GET, teams.team_users),
    ("/teams/{team_id}/users", _POST, teams.add_team_users),
    ("/teams/{team_id}/users/{user_id}", _DELETE, teams.remove_team_user),
    ("/teams/{team_id}/leaders", _GET, teams.team_leaders),
    ("/teams/{team_id}/leaders/{user_id}", _PUT, teams.promote_leader),
    ("/teams/{team_id}/leaders/{user_id}", _DELETE, teams.demote_leader),
    ("/teams/{team_id}/admins", _GET, teams.team_admins),
    ("/teams/{team_id}/admins/{user_id}", _PUT, teams.promote_admin),
    ("/teams/{team_id}/admins/{user_id}", _DELETE, teams.demote_admin),
    ("/teams/{team_id}/courses", _GET, teams.team_courses),
    ("/teams/{team_id}/courses", _POST, teams.assign_team_courses),
    ("/teams/{team_id}/courses", _DELETE, teams.unassign_team_courses),
    ("/teams/{team_id}/learningpaths", _GET, teams.team_paths),
    ("/teams/{team_id}/learningpaths", _POST, teams.assign_team_paths),
    ("/teams/{team_id}/learningpaths", _DELETE, teams.unassign_team_paths),
    ("/courses", _GET, courses.list_courses),
    ("/courses/{course_id}", _GET, courses.get_course),
    ("/courses/{course_id}/details", _GET, courses.get_course),
    ("/courses/{course_id}/users", _GET, courses.course_users),
    ("/courses/{course_id}/modules", _GET, courses.course_modules),
    ("/learningpaths", _GET, courses.list_paths),
    ("/learningpaths/{path_id}", _GET, courses.get_path),
    ("/learningpaths/{path_id}/courses", _GET, courses.path_courses),
    ("/learningpaths/{path_id}/users", _GET, courses.path_users),
    ("/results/modules/{module_id}", _PUT, courses.module_result),
    ("/results/details", _GET, courses.results_details),
    *((path, _GET, handler) for path, handler in org.ENDPOINTS),
    ("/tokens", _GET, tokens.list_tokens),
    ("/tokens", _POST, tokens.create_tokens),
    ("/tokens", _PUT, tokens.update_tokens),
    ("/tokens/{token_id}", _GET, tokens.get_token),
)


class LitmosSimulator:
    """Litmos ``/v1.svc``: 100 requests per rolling 60 s per API key, then 503."""

    name = "litmos"
    default_rate = RateRule(requests=100, per_seconds=60)
    rate_counts_rejected = False
    secret_params = frozenset({"apikey"})
    api_root = BASE
    credentials: Mapping[str, str] = {"apikey": DEMO_API_KEY, "source": DEMO_SOURCE}

    def __init__(self, *, seed: int = 0) -> None:
        self.store = Store(seed=seed)
        self.keys: dict[str, str] = {DEMO_API_KEY: "Account_Owner"}
        self.on_write: Callable[[], None] | None = None
        """Called after every write request, before its answer (keeps ``sandbox:`` files)."""
        self.routes = [
            Route(
                f"{BASE}{path}",
                wrap(handler, self.store, self.keys, self._written),
                methods=methods,
            )
            for path, methods, handler in ROUTES
        ]
        self.admin_routes = [
            Route("/activity", self._activity, methods=["POST"]),
            Route("/summary", self._summary, methods=["GET"]),
        ]

    def credential(self, request: Request) -> str | None:
        key = api_key(request)
        return key if key in self.keys else None

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return error_response(request, 503, RATE_LIMITED)

    def error_response(self, status: int) -> Response:
        return server_error_page(status)

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        self.store.generation += 1
        return seed.load(self.store, self.keys, data)

    def snapshot(self) -> bytes:
        """The whole account as JSON (a ``sandbox:`` connection's account file)."""
        return account.dump(self.store, self.keys)

    def restore(self, data: bytes) -> None:
        """Load :meth:`snapshot` JSON in place (the routes hold this store object).

        Every field is checked first (ValueError names the first bad one), so a bad file
        leaves the account as it was; it is data only, nothing in it is ever run.
        """
        self.store.generation += 1
        account.load(self.store, self.keys, data)

    def _written(self) -> None:
        self.store.generation += 1
        if self.on_write is not None:
            self.on_write()

    def reset(self) -> None:
        self.store.reset()
        self.keys.clear()
        self.keys[DEMO_API_KEY] = "Account_Owner"

    async def _activity(self, request: Request) -> Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("activity: body must be a JSON object")
            applied = activity.apply(self.store, data)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        finally:
            self._written()
        return JSONResponse(applied)

    async def _summary(self, request: Request) -> Response:
        store = self.store
        return JSONResponse(
            {
                "users": len(store.users),
                "teams": len(store.live_teams()),
                "courses": len(store.courses),
                "learning_paths": len(store.paths),
                "memberships": sum(1 for m in store.memberships.values() if m.active),
                "assignments": sum(1 for a in store.assignments.values() if a.active),
                "tokens": len(store.tokens),
            }
        )
