"""The Litmos account as plain JSON data, and back, checked field by field.

What :mod:`syncd.sandbox.account_file` stores for a ``sandbox:`` Litmos connection. Tables
keyed by id or by an id pair are stored as lists (the keys are rebuilt from the rows), and
a course's modules are stored once, with the course. Loading checks every field's type
(pydantic over the store's own dataclasses, unknown fields refused), that dates carry a
time zone, that ids are unique and that memberships, assignments and team links name a
team, course or learning path that exists (the endpoints rely on it). The random
generator's state is kept so new ids continue the sequence instead of repeating it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from syncd.sandbox.account_file import first_problem, keyed_rows, utc_dates
from syncd.sandbox.litmos.store import (
    Assignment,
    Course,
    LearningPath,
    Membership,
    PathAssignment,
    Store,
    Team,
    TeamLink,
    Token,
    User,
)


class LitmosAccount(BaseModel):
    """Every table of one simulated Litmos account, with the API keys it accepts."""

    model_config = ConfigDict(extra="forbid")

    counter: int
    random_state: tuple[int, tuple[int, ...], float | None]
    keys: dict[str, str]
    users: list[User]
    teams: list[Team]
    memberships: list[Membership]
    courses: list[Course]
    paths: list[LearningPath]
    assignments: list[Assignment]
    path_assignments: list[PathAssignment]
    team_courses: list[TeamLink]
    team_paths: list[TeamLink]
    tokens: list[Token]


def dump(store: Store, keys: Mapping[str, str]) -> bytes:
    """The account as JSON (built without re-checking: the store's rows are well typed)."""
    account = LitmosAccount.model_construct(
        counter=store._counter,
        random_state=store._random.getstate(),
        keys=dict(keys),
        users=list(store.users.values()),
        teams=list(store.teams.values()),
        memberships=list(store.memberships.values()),
        courses=list(store.courses.values()),
        paths=list(store.paths.values()),
        assignments=list(store.assignments.values()),
        path_assignments=list(store.path_assignments.values()),
        team_courses=list(store.team_courses.values()),
        team_paths=list(store.team_paths.values()),
        tokens=list(store.tokens.values()),
    )
    return account.model_dump_json().encode("utf-8")


def load(store: Store, keys: dict[str, str], data: bytes) -> None:
    """Replace the account in ``store`` and ``keys`` in place; ValueError names the problem."""
    try:
        account = LitmosAccount.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None
    generator = random.Random()
    try:
        generator.setstate(account.random_state)
    except (TypeError, ValueError):
        raise ValueError("random_state: not a random generator state") from None
    tables = _tables(account)
    _check_references(tables)
    store._counter = account.counter
    store._random = generator
    for name, table in tables.items():
        setattr(store, name, table)
    keys.clear()
    keys.update(account.keys)


def _tables(account: LitmosAccount) -> dict[str, dict[Any, Any]]:
    """The store's dicts, keyed as the store keys them; dates made UTC."""
    for row in _rows(account):
        utc_dates(row)
    courses = keyed_rows(account.courses, "courses", lambda c: c.id)
    return {
        "users": keyed_rows(account.users, "users", lambda u: u.id),
        "teams": keyed_rows(account.teams, "teams", lambda t: t.id),
        "memberships": keyed_rows(
            account.memberships, "memberships", lambda m: (m.team_id, m.user_id)
        ),
        "courses": courses,
        "modules": keyed_rows(
            (m for c in courses.values() for m in c.modules), "courses.modules", lambda m: m.id
        ),
        "paths": keyed_rows(account.paths, "paths", lambda p: p.id),
        "assignments": keyed_rows(
            account.assignments, "assignments", lambda a: (a.user_id, a.course_id)
        ),
        "path_assignments": keyed_rows(
            account.path_assignments, "path_assignments", lambda a: (a.user_id, a.path_id)
        ),
        "team_courses": keyed_rows(account.team_courses, "team_courses", _link_key),
        "team_paths": keyed_rows(account.team_paths, "team_paths", _link_key),
        "tokens": keyed_rows(account.tokens, "tokens", lambda t: t.id),
    }


def _rows(account: LitmosAccount) -> Iterable[Any]:
    """Every dataclass row of the account, the modules and module results included."""
    for name in LitmosAccount.model_fields:
        value = getattr(account, name)
        for row in value if isinstance(value, list) else ():
            yield row
            if isinstance(row, Course):
                yield from row.modules
            elif isinstance(row, Assignment):
                yield from row.modules.values()


def _link_key(link: TeamLink) -> tuple[str, str]:
    return (link.team_id, link.target_id)


def _check_references(tables: Mapping[str, Mapping[Any, Any]]) -> None:
    """Rows that name a team, course or path name one that exists (users may be deleted)."""
    wanted = (
        ("memberships", "team_id", "teams"),
        ("assignments", "course_id", "courses"),
        ("path_assignments", "path_id", "paths"),
        ("team_courses", "team_id", "teams"),
        ("team_courses", "target_id", "courses"),
        ("team_paths", "team_id", "teams"),
        ("team_paths", "target_id", "paths"),
    )
    for table, attribute, target in wanted:
        for row in tables[table].values():
            value = getattr(row, attribute)
            if value not in tables[target]:
                raise ValueError(f"{table}: {attribute} {value!r} is not in {target}")
    for team in tables["teams"].values():
        if team.parent_id and team.parent_id not in tables["teams"]:
            raise ValueError(f"teams: parent_id {team.parent_id!r} is not in teams")
