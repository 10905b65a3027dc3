"""The date-range delta endpoints under ``/org/``: what was created or updated in a window.

``since`` and ``to`` are both required and the window may span at most 7 days (406
otherwise). Rows are returned when their created or updated time falls in
``[since, to)``; ``to`` is exclusive, which is why the vendor says "to" must lie in the
future to see today's changes. Removed memberships and assignments come back as
``Active=false`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from starlette.responses import Response

from syncd.sandbox.litmos import views
from syncd.sandbox.litmos.endpoint import Build, Call, Handler, paging, walked
from syncd.sandbox.litmos.store import Module, PathAssignment, Store
from syncd.sandbox.litmos.wire import LitmosError, WcfDate, query_datetime, render_list

WINDOW_406 = "Please provide a valid since and to query string parameters"
MAX_WINDOW = timedelta(days=7)

Rows = Callable[[Store], Iterable[tuple[datetime, datetime, Build]]]
"""Every row of an endpoint: its created and updated time, and how to build its record
(built only for the rows of the page served)."""


def _window(call: Call) -> tuple[datetime, datetime]:
    since, to = query_datetime(call.query("since")), query_datetime(call.query("to"))
    if since is None or to is None or to < since or to - since > MAX_WINDOW:
        raise LitmosError(406, WINDOW_406)
    return since, to


def delta(root: str, item: str, rows: Rows, name: str) -> Handler:
    """An ``/org/...`` endpoint over ``rows`` (each with its created and updated time)."""

    async def handler(call: Call) -> Response:
        options = paging(call)
        since, to = _window(call)

        def candidates() -> Iterator[Build]:
            for created, updated, build in rows(call.store):
                if since <= created < to or since <= updated < to:
                    yield build

        return render_list(call.request, root, item, walked(call, options, candidates))

    handler.__name__ = name
    return handler


def _users(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for user in store.users.values():
        yield user.created, user.updated, partial(views.org_user, store, user)


def _logins(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for user in store.users.values():
        if user.last_login:
            yield user.last_login, user.last_login, partial(views.org_user, store, user)


def _results(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (uid, cid), a in store.assignments.items():
        if uid in store.users and cid in store.courses:
            yield (
                a.created,
                a.updated,
                partial(views.org_result, store, store.users[uid], store.courses[cid], a),
            )


def _user_courses(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (uid, cid), a in store.assignments.items():
        if uid in store.users and cid in store.courses:
            record = partial(
                views.org_user_course, store.users[uid].original_id, store.courses[cid], a
            )
            yield a.created, a.updated, record


def _module_results(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (uid, _), a in store.assignments.items():
        if uid not in store.users:
            continue
        for module_id, result in a.modules.items():
            module = store.modules.get(module_id)
            if module:
                record = partial(views.org_module_result, store.users[uid], module, a, result)
                yield result.created, result.updated, record


def _path_results(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (uid, pid), a in store.path_assignments.items():
        if uid in store.users and pid in store.paths:
            record = partial(
                views.org_path_result, store.users[uid].original_id, store.paths[pid], a
            )
            yield a.created, a.updated, record


def _path_user(store: Store, a: PathAssignment) -> dict[str, Any]:
    return {
        "LearningPathId": a.path_id,
        "Id": a.user_id,
        "OriginalLearningPathId": store.paths[a.path_id].original_id,
        "OriginalUserId": store.users[a.user_id].original_id,
        "Active": a.active,
        "CreatedDate": WcfDate(a.created),
        "UpdatedDate": WcfDate(a.updated),
    }


def _path_users(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (uid, pid), a in store.path_assignments.items():
        if uid in store.users and pid in store.paths:
            yield a.created, a.updated, partial(_path_user, store, a)


def _teams(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for team in store.teams.values():
        yield team.created, team.updated, partial(views.org_team, team)


def _team_users(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (tid, uid), m in store.memberships.items():
        user = store.users.get(uid)
        record = partial(views.org_team_user, store.teams[tid], user.original_id if user else 0, m)
        yield m.created, m.updated, record


def _team_courses(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (tid, cid), link in store.team_courses.items():
        if cid in store.courses:
            record = partial(views.org_team_course, store.teams[tid], store.courses[cid], link)
            yield link.created, link.updated, record


def _team_paths(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for (tid, pid), link in store.team_paths.items():
        if pid in store.paths:
            record = partial(views.org_team_path, store.teams[tid], store.paths[pid], link)
            yield link.created, link.updated, record


def _courses(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for course in store.courses.values():
        yield course.created, course.updated, partial(views.org_course, course)


def _module(module: Module) -> dict[str, Any]:
    return {
        **views.module_item(module),
        "CourseId": module.course_id,
        "OriginalModuleId": module.original_id,
        "CreatedDate": WcfDate(module.created),
        "UpdatedDate": WcfDate(module.updated),
    }


def _modules(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for module in store.modules.values():
        yield module.created, module.updated, partial(_module, module)


def _paths(store: Store) -> Iterable[tuple[datetime, datetime, Build]]:
    for path in store.paths.values():
        yield path.created, path.updated, partial(views.org_path, path)


ENDPOINTS: tuple[tuple[str, Handler], ...] = (
    ("/org/users/details", delta("Users", "User", _users, "org_users")),
    ("/org/users/logins", delta("Users", "User", _logins, "org_logins")),
    ("/org/results/details", delta("UserResults", "UserResult", _results, "org_results")),
    ("/org/users/courses", delta("UserCourses", "UserCourse", _user_courses, "org_user_courses")),
    (
        "/org/modules/results",
        delta("ModuleResults", "ModuleResult", _module_results, "org_module_results"),
    ),
    (
        "/org/learningpaths/results",
        delta("LearningPathResults", "LearningPathResult", _path_results, "org_path_results"),
    ),
    (
        "/org/learningpaths/users",
        delta("LearningPathUsers", "LearningPathUser", _path_users, "org_path_users"),
    ),
    ("/org/teams", delta("Teams", "Team", _teams, "org_teams")),
    ("/org/teams/users", delta("TeamUsers", "TeamUser", _team_users, "org_team_users")),
    ("/org/teams/courses", delta("TeamCourses", "TeamCourse", _team_courses, "org_team_courses")),
    (
        "/org/teams/learningpaths",
        delta("TeamLearningPaths", "TeamLearningPath", _team_paths, "org_team_paths"),
    ),
    ("/org/courses", delta("Courses", "Course", _courses, "org_courses")),
    ("/org/modules", delta("Modules", "Module", _modules, "org_modules")),
    ("/org/learningpaths", delta("LearningPaths", "LearningPath", _paths, "org_paths")),
)
