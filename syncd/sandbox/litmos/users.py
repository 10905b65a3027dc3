"""Users: list, paginated list, details, get by id or username, create, update, delete,
and a user's teams."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from syncd.sandbox.core import record_create
from syncd.sandbox.litmos import views
from syncd.sandbox.litmos.endpoint import Call, page, paging
from syncd.sandbox.litmos.store import Store, User
from syncd.sandbox.litmos.wire import (
    BAD_BODY,
    LitmosError,
    XmlList,
    as_list,
    as_object,
    empty,
    query_datetime,
    read_body,
    render_list,
    render_one,
    to_bool,
    to_str,
)

USER_SEARCH = ("FirstName", "LastName", "UserName", "Email")
ACCESS_LEVELS = ("Learner", "Team_Leader", "Administrator", "Account_Owner")
EXISTS = "UserName already exists"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERNAME_CHARS = re.compile(r"^[A-Za-z0-9@._+'\-]+$")
_CULTURE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2,4})?(-[A-Z]{2})?$")
SINCE_406 = (
    'Please provide a valid since parameter. Valid formats are - "yyyy-MM-dd HH:mm:ss" or '
    '"yyyy-MM-dd HH:mm" or "yyyy-MM-dd"'
)


def not_found(key: str) -> LitmosError:
    return LitmosError(404, f"User - {key} was not found")


def user_or_404(store: Store, user_id: str) -> User:
    user = store.users.get(user_id)
    if user is None:
        raise not_found(user_id)
    return user


async def list_users(call: Call) -> Response:
    """``GET /users``: short records; inactive users too unless ``showInactive=false``."""
    options = paging(call)
    users = call.store.active_users()
    if (call.query("showInactive") or "").lower() == "false":
        users = [u for u in users if u.fields.get("Active")]
    records = page([views.user_item(u) for u in users], options, USER_SEARCH)
    return render_list(call.request, "Users", "User", records)


async def paginated_users(call: Call) -> Response:
    """``GET /users/paginated``: the only list that says how many there are in total."""
    options = paging(call)
    records = [views.user_item(u) for u in call.store.active_users()]
    matching = page(records, replace(options, start=0, limit=len(records) + 1), USER_SEARCH)
    body = {
        "Pagination": {
            "BatchParam": "Limit",
            "BatchSize": options.limit,
            "Start": options.start,
            "TotalCount": len(matching),
        },
        "Items": XmlList("User", matching[options.start : options.start + options.limit]),
    }
    return render_one(call.request, "UserCollection", body)


async def user_details(call: Call) -> Response:
    """``GET /users/details``: full profiles, ``since`` = created on or after that time."""
    options = paging(call)
    since_text = call.query("since")
    since = query_datetime(since_text)
    if since_text and since is None:
        raise LitmosError(406, SINCE_406)
    users = [u for u in call.store.active_users() if since is None or u.created >= since]
    records = page([views.user_profile(call.store, u) for u in users], options, USER_SEARCH)
    return render_list(call.request, "Users", "User", records)


async def get_user(call: Call) -> Response:
    """``GET /users/{id}``: by Id, or by username."""
    key = call.path("user_id")
    user = call.store.find_user(key)
    if user is None:
        raise not_found(key)
    return render_one(call.request, "User", views.user_profile(call.store, user))


def _check_username(username: str, *, custom: bool) -> None:
    """The documented username rules, for a new username only.

    Recorded traffic (find-and-update-user, deactivate-user) shows a PUT that keeps a
    non-e-mail username with ``IsCustomUsername: false`` answered 200, so an unchanged
    username is not checked again on update.
    """
    if len(username) <= 3:
        raise LitmosError(409, "Username must be greater than 3 characters.")
    if not _USERNAME_CHARS.match(username):
        raise LitmosError(409, "Invalid special character's in the username.")
    if not custom and not _EMAIL.match(username):
        raise LitmosError(409, "Invalid email address.")


def _clean(
    store: Store, data: dict[str, Any], *, current: User | None
) -> tuple[dict[str, Any], str | None]:
    """The writable members of a body, typed and validated, and a new password if any."""
    values: dict[str, Any] = {}
    for spec in views.USER_FIELDS:
        if not spec.writable or spec.name not in data:
            continue
        raw = data[spec.name]
        if spec.kind == "bool":
            values[spec.name] = to_bool(raw)
        else:
            values[spec.name] = to_str(raw, field=spec.name, max_length=spec.max_length)
    password = to_str(data.get("Password"), field="Password")
    merged = {**(current.fields if current else {}), **values}
    for name in ("UserName", "FirstName", "LastName"):
        if not (merged.get(name) or "").strip():
            raise LitmosError(400, BAD_BODY)
    username = str(merged["UserName"]).strip()
    values["UserName"] = username
    if current is None or username != current.fields.get("UserName"):
        _check_username(username, custom=bool(merged.get("IsCustomUsername")))
    email = merged.get("Email")
    if email and not _EMAIL.match(str(email)):
        raise LitmosError(409, "Invalid email address.")
    level = merged.get("AccessLevel")
    if level is not None and level not in ACCESS_LEVELS:
        raise LitmosError(400, BAD_BODY)
    culture = values.get("Culture")
    if culture and not _CULTURE.match(culture):
        raise LitmosError(409, "Culture is invalid")
    manager = values.get("ManagerId")
    if manager == views.NO_MANAGER:
        values["ManagerId"] = manager = None
    if manager and manager not in store.users:
        raise LitmosError(404, "The manager Id in the xml/json is not valid.")
    holder = store.user_by_name(username)
    if holder is not None and (current is None or holder.id != current.id):
        raise LitmosError(409, EXISTS)
    return values, password or None


async def create_user(call: Call) -> Response:
    """``POST /users``: 201 with the new user; 409 when the username is taken."""
    body = await read_body(call.request, root="User", order=views.USER_ORDER)
    values, password = _clean(call.store, as_object(body), current=None)
    fields = views.create_defaults()
    fields.update({name: value for name, value in values.items() if value is not None})
    for name in ("Culture", "TimeZone", "AccessLevel", "Brand"):
        if not fields.get(name):
            fields[name] = next(s.default for s in views.USER_FIELDS if s.name == name)
    if call.flag("skipfirstlogin"):
        fields["SkipFirstLogin"] = True
    user = call.store.add_user(fields, password or "")
    record_create(call.request, user.fields["UserName"])
    echo = views.user_profile(call.store, user)
    echo["SkipFirstLogin"] = bool(call.flag("skipfirstlogin"))
    return render_one(call.request, "User", echo, status=201)


async def update_user(call: Call) -> Response:
    """``PUT /users/{id}``: the Id in the URL must match the body; 200 with no body."""
    user_id = call.path("user_id")
    user = user_or_404(call.store, user_id)
    body = await read_body(call.request, root="User", order=views.USER_ORDER)
    data = as_object(body)
    if str(data.get("Id") or "") != user_id:
        raise LitmosError(
            404,
            "Please check the userid in the xml/json and the userid in the URL. They must match.",
        )
    values, password = _clean(call.store, data, current=user)
    for name, value in values.items():
        if value is None and name in {"Active", "DisableMessages"}:
            continue
        user.fields[name] = value
    if password:
        user.password = password
    user.updated = call.store.clock()
    return empty(200)


async def delete_user(call: Call) -> Response:
    """``DELETE /users/{id}``: gone for good (its results too)."""
    user = call.store.users.get(call.path("user_id"))
    if user is None:
        raise LitmosError(404, "No user with this id exists in your organization")
    call.store.delete_user(user)
    return empty(200)


async def user_teams(call: Call) -> Response:
    """``GET /users/{id}/teams``."""
    user = user_or_404(call.store, call.path("user_id"))
    records = page([views.team_item(t) for t in call.store.user_teams(user.id)], paging(call))
    return render_list(call.request, "Teams", "Team", records)


async def add_user_teams(call: Call) -> Response:
    """``POST /users/{id}/teams``: up to 25 team ids; all must exist, none already joined."""
    user = user_or_404(call.store, call.path("user_id"))
    entries = as_list(await read_body(call.request, root="Teams", item="Team", order=("Id",)))
    ids = [str(entry.get("Id") or "") for entry in entries]
    teams = [call.store.team(team_id) for team_id in ids]
    if not ids or len(ids) > 25 or any(team is None for team in teams):
        raise LitmosError(404, "Invalid Team Id found in the list or Maximum TeamIds is 25")
    if any(call.store.membership(team_id, user.id) for team_id in ids):
        raise LitmosError(409, "The user already belongs to one or more of the teams")
    for team in teams:
        assert team is not None
        call.store.add_member(team, user)
    return empty(201)


async def remove_user_teams(call: Call) -> Response:
    """``DELETE /users/{id}/teams``: out of every team."""
    user = user_or_404(call.store, call.path("user_id"))
    for team in call.store.user_teams(user.id):
        membership = call.store.membership(team.id, user.id)
        if membership:
            call.store.remove_member(membership)
    return empty(200)
