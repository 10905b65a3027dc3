"""Teams: list, get, create and sub-teams, update, delete, members, leaders and admins,
and the courses and learning paths in a team's library."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response

from syncd.sandbox.litmos import views
from syncd.sandbox.litmos.endpoint import Call, Handler, page, paging
from syncd.sandbox.litmos.store import Store, Team, TeamLink
from syncd.sandbox.litmos.wire import (
    LitmosError,
    as_list,
    as_object,
    empty,
    read_body,
    render_list,
    render_one,
    to_str,
)

TEAM_ORDER = ("Id", "Name", "Description", "ParentTeamId")
NO_TEAM = "No team with this teamId exists in your organization"
BAD_TEAM_BODY = "Please check the xml/json included with this call"
NO_TEAM_OR_USERS = "No team with this id exists in your organization, or the user list is empty."
NO_TEAM_OR_USER = "No team with this id exists in your organization, or no user exists with this id"
NOT_MEMBER = "The user is not a member of this team. Add the user to the team first."
VIA_PATH = (
    "Course is assigned via Learning Path. Remove the team from the Learning Path to unassign "
    "from team"
)


def team_or_404(store: Store, team_id: str, message: str = NO_TEAM) -> Team:
    team = store.team(team_id)
    if team is None:
        raise LitmosError(404, message)
    return team


async def list_teams(call: Call) -> Response:
    """``GET /teams``: search matches the team name."""
    records = [views.team_item(t) for t in call.store.live_teams()]
    return render_list(call.request, "Teams", "Team", page(records, paging(call), ("Name",)))


async def get_team(call: Call) -> Response:
    team = team_or_404(call.store, call.path("team_id"))
    return render_one(call.request, "Team", views.team_one(team))


async def _new_team(call: Call, parent_id: str) -> Response:
    data = as_object(await read_body(call.request, root="Team", order=TEAM_ORDER))
    try:
        name = (to_str(data.get("Name"), field="Name", max_length=100) or "").strip()
        description = to_str(data.get("Description"), field="Description", max_length=1000)
        parent = to_str(data.get("ParentTeamId"), field="ParentTeamId", max_length=50)
    except LitmosError:
        raise LitmosError(400, BAD_TEAM_BODY) from None
    if not name:
        raise LitmosError(400, BAD_TEAM_BODY)
    parent_id = parent_id or (parent or "")
    if parent_id:
        team_or_404(call.store, parent_id)
    if call.store.team_by_name(name):
        raise LitmosError(409, "Team name already exists")
    team = call.store.add_team(name, description or "", parent_id)
    return render_one(call.request, "Team", views.team_one(team), status=201)


async def create_team(call: Call) -> Response:
    """``POST /teams``: 201 with the new team; 409 when the name is taken (account-wide)."""
    return await _new_team(call, "")


async def create_sub_team(call: Call) -> Response:
    """``POST /teams/{id}/teams``: a team under ``{id}``."""
    parent = team_or_404(call.store, call.path("team_id"))
    return await _new_team(call, parent.id)


async def sub_teams(call: Call) -> Response:
    team = team_or_404(call.store, call.path("team_id"))
    records = [views.team_item(t) for t in call.store.sub_teams(team.id)]
    return render_list(call.request, "Teams", "Team", page(records, paging(call), ("Name",)))


async def update_team(call: Call) -> Response:
    """``PUT /teams/{id}``: the team Id in the URL must match the body."""
    team = team_or_404(call.store, call.path("team_id"))
    data = as_object(await read_body(call.request, root="Team", order=TEAM_ORDER))
    if str(data.get("Id") or "") != team.id:
        raise LitmosError(404, "The team Id in the Uri must match the Id specified in the body.")
    try:
        name = to_str(data.get("Name"), field="Name", max_length=100)
        description = to_str(data.get("Description"), field="Description", max_length=1000)
        parent = to_str(data.get("ParentTeamId"), field="ParentTeamId", max_length=50)
    except LitmosError:
        raise LitmosError(400, BAD_TEAM_BODY) from None
    if name is not None:
        name = name.strip()
        if not name:
            raise LitmosError(400, BAD_TEAM_BODY)
        holder = call.store.team_by_name(name)
        if holder and holder.id != team.id:
            raise LitmosError(409, "Team name already exists")
        team.name = name
    if description is not None:
        team.description = description
    if parent is not None and parent != team.parent_id:
        if parent:
            if parent == team.id or parent in {t.id for t in call.store.descendants(team.id)}:
                raise LitmosError(400, BAD_TEAM_BODY)
            team_or_404(call.store, parent)
        team.parent_id = parent
    team.updated = call.store.clock()
    return empty(200)


async def delete_team(call: Call) -> Response:
    """``DELETE /teams/{id}``: sub-teams move up to the deleted team's parent."""
    team = team_or_404(call.store, call.path("team_id"))
    call.store.delete_team(team)
    return empty(200)


async def team_users(call: Call) -> Response:
    """``GET /teams/{id}/users``: active members only."""
    team = team_or_404(call.store, call.path("team_id"))
    users = [call.store.users[m.user_id] for m in call.store.members(team.id)]
    records = [views.user_item(u) for u in users if u.fields.get("Active")]
    records = page(records, paging(call), ("FirstName", "LastName", "UserName", "Email"))
    return render_list(call.request, "Users", "User", records)


async def add_team_users(call: Call) -> Response:
    """``POST /teams/{id}/users``: a list; only ``Id`` counts, members and unknowns ignored."""
    team = team_or_404(call.store, call.path("team_id"), NO_TEAM_OR_USERS)
    body = await read_body(call.request, root="Users", item="User", order=())
    entries = as_list(body)
    if not entries:
        raise LitmosError(404, NO_TEAM_OR_USERS)
    for entry in entries:
        user = call.store.users.get(str(entry.get("Id") or ""))
        if user is not None:
            call.store.add_member(team, user)
    return empty(201)


async def remove_team_user(call: Call) -> Response:
    """``DELETE /teams/{id}/users/{userId}``: one member per request."""
    team = team_or_404(call.store, call.path("team_id"), NO_TEAM_OR_USER)
    membership = call.store.membership(team.id, call.path("user_id"))
    if membership is None:
        raise LitmosError(404, NO_TEAM_OR_USER)
    call.store.remove_member(membership)
    return empty(200)


def _role_list(role: str) -> Handler:
    async def handler(call: Call) -> Response:
        team = team_or_404(call.store, call.path("team_id"))
        users = [
            call.store.users[m.user_id] for m in call.store.members(team.id) if getattr(m, role)
        ]
        records = page([views.user_item(u) for u in users], paging(call))
        return render_list(call.request, "Users", "User", records)

    handler.__name__ = f"team_{role}s"
    return handler


def _role_set(role: str, value: bool) -> Handler:
    async def handler(call: Call) -> Response:
        team = team_or_404(call.store, call.path("team_id"))
        membership = call.store.membership(team.id, call.path("user_id"))
        if membership is None:
            raise LitmosError(404, NOT_MEMBER)
        if getattr(membership, role) != value:
            setattr(membership, role, value)
            membership.updated = call.store.clock()
        return empty(200)

    handler.__name__ = f"{'promote' if value else 'demote'}_{role}"
    return handler


team_leaders = _role_list("leader")
promote_leader = _role_set("leader", True)
demote_leader = _role_set("leader", False)
team_admins = _role_list("admin")
promote_admin = _role_set("admin", True)
demote_admin = _role_set("admin", False)


async def team_courses(call: Call) -> Response:
    """``GET /teams/{id}/courses``: with ``CourseTeamLibrary`` as it was assigned."""
    team = team_or_404(call.store, call.path("team_id"))
    records = [
        views.course_one(call.store.courses[cid], library=link.library)
        for (tid, cid), link in call.store.team_courses.items()
        if tid == team.id and link.active and cid in call.store.courses
    ]
    records = page(records, paging(call), ("Name", "Code"))
    return render_list(call.request, "Courses", "Course", records)


def _ids(entries: list[dict[str, object]], *names: str) -> list[str]:
    return [str(next((e[n] for n in names if e.get(n)), "")) for e in entries]


def _flag(entry: dict[str, object], name: str) -> bool:
    """A library flag of a list entry: JSON true or XML "true"; anything else is false.

    Lenient on purpose: python-litmos-api sends whatever its course object holds there
    (``false``, or "" when the object lacks the member)."""
    value = entry.get(name)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _link(
    links: dict[tuple[str, str], TeamLink], key: tuple[str, str], library: bool, now: datetime
) -> None:
    """Create or re-activate a team's link to a course or path, remembering the flag."""
    link = links.get(key)
    if link is None:
        links[key] = TeamLink(key[0], key[1], now, now, library=library)
    elif not link.active or link.library != library:
        link.active, link.library, link.updated = True, library, now


def _teams_in_scope(call: Call, team: Team) -> list[Team]:
    return [team, *call.store.descendants(team.id)] if call.flag("includesubteams") else [team]


async def assign_team_courses(call: Call) -> Response:
    """``POST /teams/{id}/courses``: into the library and every member's to-do list."""
    team = team_or_404(call.store, call.path("team_id"))
    body = await read_body(call.request, root="Courses", item="Course", order=())
    entries = as_list(body)
    flags = [_flag(entry, "CourseTeamLibrary") for entry in entries]
    store = call.store
    for scope in _teams_in_scope(call, team):
        for course_id, library in zip(_ids(entries, "Id", "CourseId"), flags, strict=True):
            course = store.courses.get(course_id)
            if course is None:
                continue
            _link(store.team_courses, (scope.id, course.id), library, store.clock())
            for membership in store.members(scope.id):
                store.assign_course(store.users[membership.user_id], course, via_team=True)
    return empty(201)


async def unassign_team_courses(call: Call) -> Response:
    """``DELETE /teams/{id}/courses``: a list body; learners keep their results."""
    team = team_or_404(call.store, call.path("team_id"))
    body = await read_body(call.request, root="Courses", item="Course", order=())
    course_ids = _ids(as_list(body), "Id", "CourseId")
    store = call.store
    via_path = {
        cid
        for (tid, pid), link in store.team_paths.items()
        if tid == team.id and link.active and pid in store.paths
        for cid in store.paths[pid].course_ids
    }
    if any(course_id in via_path for course_id in course_ids):
        raise LitmosError(403, VIA_PATH)
    for scope in _teams_in_scope(call, team):
        for course_id in course_ids:
            link = store.team_courses.get((scope.id, course_id))
            if link and link.active:
                link.active, link.updated = False, store.clock()
    return empty(200)


async def team_paths(call: Call) -> Response:
    """``GET /teams/{id}/learningpaths``: with ``LearningPathTeamLibrary`` as assigned."""
    team = team_or_404(call.store, call.path("team_id"))
    records = [
        views.path_one(call.store.paths[pid], library=link.library)
        for (tid, pid), link in call.store.team_paths.items()
        if tid == team.id and link.active and pid in call.store.paths
    ]
    records = page(records, paging(call), ("Name",))
    return render_list(call.request, "LearningPaths", "LearningPath", records)


async def assign_team_paths(call: Call) -> Response:
    """``POST /teams/{id}/learningpaths``: members get the paths and their courses."""
    team = team_or_404(call.store, call.path("team_id"))
    body = await read_body(call.request, root="LearningPaths", item="LearningPath", order=())
    store = call.store
    entries = as_list(body)
    for entry, path_id in zip(entries, _ids(entries, "Id"), strict=True):
        path = store.paths.get(path_id)
        if path is None:
            continue
        library = _flag(entry, "LearningPathTeamLibrary")
        _link(store.team_paths, (team.id, path.id), library, store.clock())
        for membership in store.members(team.id):
            store.assign_path(store.users[membership.user_id], path)
    return empty(201)


async def unassign_team_paths(call: Call) -> Response:
    team = team_or_404(call.store, call.path("team_id"))
    body = await read_body(call.request, root="LearningPaths", item="LearningPath", order=())
    for path_id in _ids(as_list(body), "Id"):
        link = call.store.team_paths.get((team.id, path_id))
        if link and link.active:
            link.active, link.updated = False, call.store.clock()
    return empty(200)
