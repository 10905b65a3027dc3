"""Loading a Litmos account from plain data: the ``litmos`` part of a sandbox seed file.

The format (JSON object; every list optional)::

    {
      "courses": [{"code": "SAFE101", "name": "Safety basics", "description": "",
                   "active": true, "modules": [{"name": "Intro", "code": "M1",
                   "passmark": 80}]}],
      "learning_paths": [{"name": "Onboarding", "description": "",
                          "courses": ["SAFE101"]}],
      "teams": [{"name": "Sales", "description": "", "parent": "Company"}],
      "users": [{"username": "ann@example.com", "first_name": "Ann",
                 "last_name": "Lee", "email": "ann@example.com", "active": true,
                 "access_level": "Learner", "external_id": "E100",
                 "created": "2024-01-31T09:00:00Z", "teams": ["Sales"],
                 "leader_of": ["Sales"], "courses": ["SAFE101"],
                 "learning_paths": ["Onboarding"]}],
      "api_keys": [{"key": "learner-key", "access_level": "Learner"}]
    }

Teams name their parent by name (parents first); users name teams, courses (by code) and
learning paths (by name). The answer maps every name to the id it got.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syncd.sandbox.litmos.store import Course, LearningPath, Module, Store
from syncd.sandbox.litmos.views import USER_FIELDS
from syncd.sandbox.litmos.wire import to_datetime

_KEYS = {
    "courses": {"code", "name", "description", "active", "modules"},
    "modules": {"code", "name", "description", "passmark"},
    "learning_paths": {"name", "description", "active", "courses"},
    "teams": {"name", "description", "parent"},
    "users": {
        "username",
        "first_name",
        "last_name",
        "email",
        "active",
        "access_level",
        "external_id",
        "created",
        "teams",
        "leader_of",
        "courses",
        "learning_paths",
    },
    "api_keys": {"key", "access_level"},
}
ACCESS_LEVELS = ("Learner", "Team_Leader", "Administrator", "Account_Owner")


def _entries(data: Mapping[str, Any], section: str, where: str) -> list[Mapping[str, Any]]:
    entries = data.get(section, [])
    if not isinstance(entries, list):
        raise ValueError(f"{where}.{section} must be a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}.{section}[{index}] must be an object")
        unknown = set(entry) - _KEYS[section]
        if unknown:
            raise ValueError(
                f"{where}.{section}[{index}]: unknown field(s) {', '.join(sorted(unknown))}"
            )
    return entries


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _names(entry: Mapping[str, Any], key: str, where: str) -> Sequence[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: '{key}' must be a list of strings")
    return value


def load(
    store: Store, keys: dict[str, str], data: Mapping[str, Any], where: str = "litmos"
) -> dict[str, Any]:
    """Add everything in ``data`` to ``store``; ValueError names the entry that is wrong.

    The whole seed is checked before anything is added, so a bad file changes nothing.
    """
    unknown = set(data) - (set(_KEYS) - {"modules"})
    if unknown:
        raise ValueError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    plan = _check(store, data, where)
    return _apply(store, keys, plan)


def _check(store: Store, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    courses = _entries(data, "courses", where)
    codes: set[str] = {c.code for c in store.courses.values()}
    for index, entry in enumerate(courses):
        here = f"{where}.courses[{index}]"
        code = _text(entry, "code", here)
        _text(entry, "name", here)
        if code in codes:
            raise ValueError(f"{here}: course code {code!r} already exists")
        codes.add(code)
        _entries(entry, "modules", here)
    paths = _entries(data, "learning_paths", where)
    path_names = {p.name for p in store.paths.values()}
    for index, entry in enumerate(paths):
        here = f"{where}.learning_paths[{index}]"
        name = _text(entry, "name", here)
        if name in path_names:
            raise ValueError(f"{here}: learning path {name!r} already exists")
        path_names.add(name)
        for code in _names(entry, "courses", here):
            if code not in codes:
                raise ValueError(f"{here}: unknown course code {code!r}")
    teams = _entries(data, "teams", where)
    team_names = {t.name.lower() for t in store.live_teams()}
    for index, entry in enumerate(teams):
        here = f"{where}.teams[{index}]"
        name = _text(entry, "name", here)
        parent = _text(entry, "parent", here, required=False)
        if parent and parent.lower() not in team_names:
            raise ValueError(f"{here}: parent team {parent!r} must be listed before it")
        if name.lower() in team_names:
            raise ValueError(f"{here}: team {name!r} already exists")
        team_names.add(name.lower())
    users = _entries(data, "users", where)
    usernames = {str(u.fields.get("UserName")).lower() for u in store.users.values()}
    for index, entry in enumerate(users):
        here = f"{where}.users[{index}]"
        username = _text(entry, "username", here)
        _text(entry, "first_name", here)
        _text(entry, "last_name", here)
        if username.lower() in usernames:
            raise ValueError(f"{here}: username {username!r} already exists")
        usernames.add(username.lower())
        level = entry.get("access_level", "Learner")
        if level not in ACCESS_LEVELS:
            raise ValueError(f"{here}: access_level must be one of {', '.join(ACCESS_LEVELS)}")
        if "active" in entry and not isinstance(entry["active"], bool):
            raise ValueError(f"{here}: 'active' must be true or false")
        if entry.get("created") is not None:
            try:
                to_datetime(entry["created"], is_json=False)
            except Exception:
                raise ValueError(f"{here}: 'created' must be an ISO date-time") from None
        for team in (*_names(entry, "teams", here), *_names(entry, "leader_of", here)):
            if team.lower() not in team_names:
                raise ValueError(f"{here}: unknown team {team!r}")
        for code in _names(entry, "courses", here):
            if code not in codes:
                raise ValueError(f"{here}: unknown course code {code!r}")
        for name in _names(entry, "learning_paths", here):
            if name not in path_names:
                raise ValueError(f"{here}: unknown learning path {name!r}")
    for index, entry in enumerate(_entries(data, "api_keys", where)):
        here = f"{where}.api_keys[{index}]"
        _text(entry, "key", here)
        if entry.get("access_level", "Account_Owner") not in ACCESS_LEVELS:
            raise ValueError(f"{here}: access_level must be one of {', '.join(ACCESS_LEVELS)}")
    return {
        "courses": courses,
        "learning_paths": paths,
        "teams": teams,
        "users": users,
        "api_keys": _entries(data, "api_keys", where),
    }


def _apply(store: Store, keys: dict[str, str], plan: dict[str, Any]) -> dict[str, Any]:
    now = store.clock()
    ids: dict[str, Any] = {
        "courses": {},
        "modules": {},
        "learning_paths": {},
        "teams": {},
        "users": {},
    }
    by_code: dict[str, Course] = {c.code: c for c in store.courses.values()}
    for entry in plan["courses"]:
        course = Course(
            id=store.new_id(),
            original_id=store.next_original_id(),
            code=entry["code"].strip(),
            name=entry["name"].strip(),
            description=entry.get("description") or "",
            active=bool(entry.get("active", True)),
            created=now,
            updated=now,
        )
        for module_entry in entry.get("modules", []):
            module = Module(
                id=store.new_id(),
                original_id=store.next_original_id(),
                course_id=course.id,
                code=module_entry.get("code") or "",
                name=module_entry.get("name") or "",
                description=module_entry.get("description") or "",
                passmark=module_entry.get("passmark"),
                created=now,
                updated=now,
            )
            course.modules.append(module)
            store.modules[module.id] = module
        store.courses[course.id] = course
        by_code[course.code] = course
        ids["courses"][course.code] = course.id
        ids["modules"][course.code] = [m.id for m in course.modules]
    by_path: dict[str, LearningPath] = {p.name: p for p in store.paths.values()}
    for entry in plan["learning_paths"]:
        path = LearningPath(
            id=store.new_id(),
            original_id=store.next_original_id(),
            name=entry["name"].strip(),
            description=entry.get("description") or "",
            active=bool(entry.get("active", True)),
            course_ids=[by_code[code].id for code in entry.get("courses", [])],
            created=now,
            updated=now,
        )
        store.paths[path.id] = path
        by_path[path.name] = path
        ids["learning_paths"][path.name] = path.id
    for entry in plan["teams"]:
        parent = store.team_by_name(entry.get("parent") or "")
        team = store.add_team(
            entry["name"].strip(), entry.get("description") or "", parent.id if parent else ""
        )
        ids["teams"][team.name] = team.id
    for entry in plan["users"]:
        fields = {spec.name: spec.default for spec in USER_FIELDS if spec.writable}
        username = entry["username"].strip()
        fields.update(
            UserName=username,
            FirstName=entry["first_name"].strip(),
            LastName=entry["last_name"].strip(),
            Email=entry.get("email") or (username if "@" in username else ""),
            Active=entry.get("active", True),
            AccessLevel=entry.get("access_level", "Learner"),
            IsCustomUsername="@" not in username,
            ExternalEmployeeId=entry.get("external_id"),
        )
        user = store.add_user(fields)
        if entry.get("created"):
            user.created = user.updated = to_datetime(entry["created"], is_json=False) or now
        for name in entry.get("teams", []):
            joined = store.team_by_name(name)
            assert joined is not None
            store.add_member(joined, user)
        for name in entry.get("leader_of", []):
            led = store.team_by_name(name)
            assert led is not None
            store.add_member(led, user)
            membership = store.membership(led.id, user.id)
            assert membership is not None
            membership.leader = True
        for code in entry.get("courses", []):
            store.assign_course(user, by_code[code])
        for name in entry.get("learning_paths", []):
            store.assign_path(user, by_path[name])
        ids["users"][username] = user.id
    for entry in plan["api_keys"]:
        keys[entry["key"].strip()] = entry.get("access_level", "Account_Owner")
    return ids
