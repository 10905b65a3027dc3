"""The Litmos account the simulator holds in memory: users, teams, courses and results.

Everything that the vendor keeps history for (memberships, assignments, team courses) is
kept as a row with ``active`` and created/updated times rather than deleted, because the
date-range delta endpoints report removals as ``Active=false`` rows. Ids look like Litmos
ids (12 characters ending in ``1``) and come from a seeded generator, so a seeded sandbox
is reproducible.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from syncd.sandbox.litmos.wire import now_ms

if TYPE_CHECKING:
    from syncd.sandbox.litmos.endpoint import Walk

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass
class User:
    id: str
    original_id: int
    fields: dict[str, Any]
    created: datetime
    updated: datetime
    password: str = ""
    last_login: datetime | None = None
    login_key: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    """Advanced custom fields (``/users/{id}/usercustomfields``), by field name."""


@dataclass
class Team:
    id: str
    original_id: int
    name: str
    description: str
    parent_id: str
    created: datetime
    updated: datetime
    active: bool = True


@dataclass
class Membership:
    team_id: str
    user_id: str
    created: datetime
    updated: datetime
    active: bool = True
    leader: bool = False
    admin: bool = False


@dataclass
class Module:
    id: str
    original_id: int
    course_id: str
    code: str
    name: str
    description: str
    passmark: int | None
    created: datetime
    updated: datetime


@dataclass
class Course:
    id: str
    original_id: int
    code: str
    name: str
    description: str
    active: bool
    created: datetime
    updated: datetime
    modules: list[Module] = field(default_factory=list)
    for_sale: bool = False
    price: Decimal = Decimal("0.00")


@dataclass
class LearningPath:
    id: str
    original_id: int
    name: str
    description: str
    active: bool
    course_ids: list[str]
    created: datetime
    updated: datetime


@dataclass
class ModuleResult:
    module_id: str
    result_id: int
    created: datetime
    updated: datetime
    score: int | None = None
    completed: bool = False
    started: datetime | None = None
    finished: datetime | None = None
    attempts: int = 0
    note: str = ""


@dataclass
class Assignment:
    """One user's assignment to a course, with its result (``active=False`` once removed)."""

    user_id: str
    course_id: str
    result_id: int
    assigned: datetime
    created: datetime
    updated: datetime
    active: bool = True
    started: datetime | None = None
    completed_date: datetime | None = None
    complete: bool = False
    percentage: Decimal = Decimal("0.00")
    due: datetime | None = None
    compliant_till: datetime | None = None
    via_learning_path: str | None = None
    via_team: bool = False
    modules: dict[str, ModuleResult] = field(default_factory=dict)


@dataclass
class PathAssignment:
    user_id: str
    path_id: str
    result_id: int
    assigned: datetime
    created: datetime
    updated: datetime
    active: bool = True
    started: datetime | None = None
    completed_date: datetime | None = None
    complete: bool = False
    percentage: Decimal = Decimal("0.00")


@dataclass
class TeamLink:
    """A course or learning path assigned to a team; ``library`` as the POST said
    (``CourseTeamLibrary`` / ``LearningPathTeamLibrary``), echoed when the team's courses
    or paths are listed."""

    team_id: str
    target_id: str
    created: datetime
    updated: datetime
    active: bool = True
    library: bool = False


@dataclass
class Token:
    id: str
    code: str
    type: int
    type_id: str
    active: bool
    maximum_activations: int
    expiration: str


class Store:
    """All data of one simulated Litmos account."""

    def __init__(self, *, seed: int = 0, clock: Callable[[], datetime] = now_ms) -> None:
        self.clock = clock
        self._seed = seed
        self.generation = 0
        """Bumped by every write to the account (see ``endpoint.walked``)."""
        self.walk: Walk | None = None
        """Where the last paged listing stopped (``endpoint.Walk``)."""
        self.reset()

    def reset(self) -> None:
        self.generation += 1
        self._random = random.Random(self._seed)
        self._counter = 5_000_000
        self.users: dict[str, User] = {}
        self.teams: dict[str, Team] = {}
        self.memberships: dict[tuple[str, str], Membership] = {}
        self.courses: dict[str, Course] = {}
        self.modules: dict[str, Module] = {}
        self.paths: dict[str, LearningPath] = {}
        self.assignments: dict[tuple[str, str], Assignment] = {}
        self.path_assignments: dict[tuple[str, str], PathAssignment] = {}
        self.team_courses: dict[tuple[str, str], TeamLink] = {}
        self.team_paths: dict[tuple[str, str], TeamLink] = {}
        self.tokens: dict[str, Token] = {}

    def new_id(self) -> str:
        taken = (self.users, self.teams, self.courses, self.modules, self.paths, self.tokens)
        while True:
            candidate = "".join(self._random.choices(_ID_ALPHABET, k=11)) + "1"
            if not any(candidate in table for table in taken):
                return candidate

    def next_original_id(self) -> int:
        self._counter += 1
        return self._counter

    def new_login_key(self) -> str:
        guid = uuid.UUID(int=self._random.getrandbits(128), version=4)
        return f"https://sandbox.litmos.com//login.aspx?loginkey={guid}"

    # ------------------------------------------------------------ lookups

    def active_users(self) -> list[User]:
        return list(self.users.values())

    def user_by_name(self, username: str) -> User | None:
        wanted = username.lower()
        for user in self.users.values():
            if str(user.fields.get("UserName") or "").lower() == wanted:
                return user
        return None

    def find_user(self, key: str) -> User | None:
        """By Id, then by username (``GET /users/{id}`` accepts either)."""
        return self.users.get(key) or self.user_by_name(key)

    def live_teams(self) -> list[Team]:
        return [team for team in self.teams.values() if team.active]

    def team(self, team_id: str) -> Team | None:
        team = self.teams.get(team_id)
        return team if team and team.active else None

    def team_by_name(self, name: str) -> Team | None:
        wanted = name.strip().lower()
        for team in self.live_teams():
            if team.name.lower() == wanted:
                return team
        return None

    def members(self, team_id: str) -> list[Membership]:
        return [
            m
            for (tid, _), m in self.memberships.items()
            if tid == team_id and m.active and m.user_id in self.users
        ]

    def membership(self, team_id: str, user_id: str) -> Membership | None:
        found = self.memberships.get((team_id, user_id))
        return found if found and found.active else None

    def user_teams(self, user_id: str) -> list[Team]:
        return [
            self.teams[m.team_id]
            for (_, uid), m in self.memberships.items()
            if uid == user_id and m.active and self.team(m.team_id)
        ]

    def assignment(self, user_id: str, course_id: str) -> Assignment | None:
        found = self.assignments.get((user_id, course_id))
        return found if found and found.active else None

    def user_assignments(self, user_id: str) -> list[Assignment]:
        return [
            a
            for (uid, cid), a in self.assignments.items()
            if uid == user_id and a.active and cid in self.courses
        ]

    def path_assignment(self, user_id: str, path_id: str) -> PathAssignment | None:
        found = self.path_assignments.get((user_id, path_id))
        return found if found and found.active else None

    def sub_teams(self, team_id: str) -> list[Team]:
        return [team for team in self.live_teams() if team.parent_id == team_id]

    def descendants(self, team_id: str) -> list[Team]:
        found: list[Team] = []
        for child in self.sub_teams(team_id):
            found.append(child)
            found.extend(self.descendants(child.id))
        return found

    # ------------------------------------------------------------ writes

    def add_user(self, fields: dict[str, Any], password: str = "") -> User:
        now = self.clock()
        user = User(
            id=self.new_id(),
            original_id=self.next_original_id(),
            fields=fields,
            created=now,
            updated=now,
            password=password,
            login_key=self.new_login_key(),
        )
        self.users[user.id] = user
        return user

    def delete_user(self, user: User) -> None:
        now = self.clock()
        for membership in self.memberships.values():
            if membership.user_id == user.id and membership.active:
                membership.active, membership.updated = False, now
        for assignment in self.assignments.values():
            if assignment.user_id == user.id and assignment.active:
                assignment.active, assignment.updated = False, now
        for path_assignment in self.path_assignments.values():
            if path_assignment.user_id == user.id and path_assignment.active:
                path_assignment.active, path_assignment.updated = False, now
        del self.users[user.id]

    def add_team(self, name: str, description: str, parent_id: str) -> Team:
        now = self.clock()
        team = Team(
            id=self.new_id(),
            original_id=self.next_original_id(),
            name=name,
            description=description,
            parent_id=parent_id,
            created=now,
            updated=now,
        )
        self.teams[team.id] = team
        return team

    def delete_team(self, team: Team) -> None:
        """Deactivate the team and its rows; its sub-teams move up to its parent."""
        now = self.clock()
        for child in self.sub_teams(team.id):
            child.parent_id, child.updated = team.parent_id, now
        for table in (self.memberships, self.team_courses, self.team_paths):
            for (team_id, _), row in table.items():
                if team_id == team.id and row.active:
                    row.active, row.updated = False, now
        team.active, team.updated = False, now

    def add_member(self, team: Team, user: User) -> bool:
        """Add ``user`` to ``team`` (False if already a member); team courses follow."""
        if self.membership(team.id, user.id):
            return False
        now = self.clock()
        existing = self.memberships.get((team.id, user.id))
        if existing:
            existing.active, existing.leader, existing.admin = True, False, False
            existing.updated = now
        else:
            self.memberships[(team.id, user.id)] = Membership(team.id, user.id, now, now)
        for (team_id, course_id), link in self.team_courses.items():
            if team_id == team.id and link.active:
                self.assign_course(user, self.courses[course_id], via_team=True)
        for (team_id, path_id), link in self.team_paths.items():
            if team_id == team.id and link.active:
                self.assign_path(user, self.paths[path_id])
        return True

    def remove_member(self, membership: Membership) -> None:
        membership.active, membership.leader, membership.admin = False, False, False
        membership.updated = self.clock()

    def new_result_id(self) -> int:
        return self.next_original_id() + 100_000_000

    def assign_course(
        self,
        user: User,
        course: Course,
        *,
        via_team: bool = False,
        via_learning_path: str | None = None,
    ) -> Assignment:
        """Assign (or re-activate) a course; an existing active assignment is kept."""
        current = self.assignment(user.id, course.id)
        if current:
            return current
        now = self.clock()
        assignment = Assignment(
            user_id=user.id,
            course_id=course.id,
            result_id=self.new_result_id(),
            assigned=now,
            created=now,
            updated=now,
            via_team=via_team,
            via_learning_path=via_learning_path,
        )
        self.assignments[(user.id, course.id)] = assignment
        return assignment

    def unassign_course(self, assignment: Assignment) -> None:
        assignment.active, assignment.updated = False, self.clock()

    def assign_path(self, user: User, path: LearningPath) -> PathAssignment:
        current = self.path_assignment(user.id, path.id)
        if not current:
            now = self.clock()
            current = PathAssignment(
                user_id=user.id,
                path_id=path.id,
                result_id=self.new_result_id(),
                assigned=now,
                created=now,
                updated=now,
            )
            self.path_assignments[(user.id, path.id)] = current
        for course_id in path.course_ids:
            if course_id in self.courses:
                self.assign_course(user, self.courses[course_id], via_learning_path=path.id)
        return current

    def unassign_path(self, assignment: PathAssignment) -> None:
        now = self.clock()
        assignment.active, assignment.updated = False, now
        for course_assignment in self.user_assignments(assignment.user_id):
            if course_assignment.via_learning_path == assignment.path_id:
                course_assignment.active, course_assignment.updated = False, now

    def refresh_path_progress(self, user_id: str, at: datetime | None = None) -> None:
        """A learning path's result follows the results of its courses.

        Only a path whose result changed is updated (a learner's progress in one course
        leaves their other paths out of the date-range deltas); a path no longer complete
        (a course of it reset) loses its completion date.
        """
        for (uid, path_id), path_assignment in self.path_assignments.items():
            if uid != user_id or not path_assignment.active or path_id not in self.paths:
                continue
            results = [self.assignment(uid, cid) for cid in self.paths[path_id].course_ids]
            known = [result for result in results if result]
            if not known:
                continue
            before = _path_progress(path_assignment)
            done = sum(1 for result in known if result.complete)
            percentage = Decimal(done * 100) / Decimal(len(known))
            path_assignment.percentage = percentage.quantize(Decimal("0.01"))
            starts = [result.started for result in known if result.started]
            path_assignment.started = min(starts) if starts else None
            path_assignment.complete = done == len(known)
            path_assignment.completed_date = (
                max(result.completed_date or result.updated for result in known)
                if path_assignment.complete
                else None
            )
            if _path_progress(path_assignment) != before:
                path_assignment.updated = at or self.clock()


def _path_progress(assignment: PathAssignment) -> tuple[Any, ...]:
    return (
        assignment.percentage,
        assignment.started,
        assignment.complete,
        assignment.completed_date,
    )
