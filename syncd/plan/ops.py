"""The typed operations a plan is made of: what one LMS must be told, and nothing more.

Ops name people by their HRIS key (``external_id``) and groups by their Roster key, never by
remote id: a user created earlier in the same plan has no remote id until its CreateUser has
run. The worker resolves keys to remote ids from the mirror just before a connector executes
an op (see ``Refs``), so a plan can be computed, shown and stored before anything exists.

Each op is already in the vendor's batch form where the vendor accepts lists (one AddMembers
per group with every new member, one AssignCourses per person with every course), so the
number of ops is close to the number of calls.

``key`` is the idempotency key: deterministic from the op's content, so planning the same
change twice yields the same key and the outbox refuses to hold it twice. ``depends_on``
lists the keys of ops that must be done first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


def digest(*parts: object) -> str:
    """A short stable hash of plain data, for keys that must change when content changes."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """Base of every op; subclasses declare ``kind`` and their own fields."""

    kind: ClassVar[str] = "op"
    depends_on: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """Idempotency key: kind, subject and a digest of the content."""
        return f"{self.kind}:{self.subject}:{digest(self._content())}"

    @property
    def subject(self) -> str:
        """Whom or what the op is about (a person's or group's key), for display and keys."""
        raise NotImplementedError

    def _content(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "depends_on"}

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON-able data for the outbox; ``from_payload`` restores the same op."""
        data = asdict(self)
        data["depends_on"] = list(self.depends_on)
        return data


Attrs = tuple[tuple[str, str], ...]
"""LMS field -> value pairs, in the order the vendor wants them written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUser(Op):
    kind: ClassVar[str] = "create_user"
    external_id: str
    match_value: str
    attrs: Attrs
    active: bool = True

    @property
    def subject(self) -> str:
        return self.external_id

    @property
    def key(self) -> str:
        # One person is created at most once, whatever their attributes were at the time.
        return f"{self.kind}:{self.external_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkUser(Op):
    """Adopt an LMS account that already exists for this person: no vendor call."""

    kind: ClassVar[str] = "link_user"
    external_id: str
    match_value: str
    remote_id: str
    attrs: Attrs
    active: bool

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUser(Op):
    """Only the changed fields, each as (field, old, new); the connector keeps the rest.

    ``match_value`` is the person's new match value when it changed (the mirror records it;
    the LMS sees it only through the fields in ``changes``), None when it did not.
    ``attrs`` holds every managed field after the update, for a vendor whose update blanks
    what it is not sent (``VendorProfile.complete_updates``); empty otherwise.
    """

    kind: ClassVar[str] = "update_user"
    external_id: str
    changes: tuple[tuple[str, str, str], ...]
    match_value: str | None = None
    attrs: Attrs = ()

    @property
    def subject(self) -> str:
        return self.external_id

    def _content(self) -> dict[str, Any]:
        """Without ``attrs`` when empty, so that keys made before it existed still match."""
        content = Op._content(self)
        if not self.attrs:
            del content["attrs"]
        return content


@dataclass(frozen=True, slots=True, kw_only=True)
class DeactivateUser(Op):
    kind: ClassVar[str] = "deactivate_user"
    external_id: str
    reason: str = ""

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactivateUser(Op):
    kind: ClassVar[str] = "reactivate_user"
    external_id: str

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUser(Op):
    """Hard delete; only planned when the deprovisioning policy says so explicitly."""

    kind: ClassVar[str] = "delete_user"
    external_id: str
    reason: str = ""

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class RekeyUser(Op):
    """The person's HRIS key changed from ``previous_id`` to ``external_id``: the same LMS
    account, known by its new key from now on (the source's ``previous_key`` said so).

    Planned instead of a create and a deactivation, so the account keeps its learning
    history. Named by the new key like every op of the person, so the person's later ops
    (which name the new key) wait for it. ``match_value`` is the new match value when the
    match value is the key itself (it changes with the rekey), None otherwise.
    """

    kind: ClassVar[str] = "rekey_user"
    external_id: str
    previous_id: str
    match_value: str | None = None

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateGroup(Op):
    kind: ClassVar[str] = "create_group"
    group_key: str
    name: str
    parent_key: str = ""

    @property
    def subject(self) -> str:
        return self.group_key

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.group_key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkGroup(Op):
    """Adopt a group that already exists in the LMS (same name under the same parent)."""

    kind: ClassVar[str] = "link_group"
    group_key: str
    name: str
    parent_key: str
    remote_id: str

    @property
    def subject(self) -> str:
        return self.group_key


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateGroup(Op):
    kind: ClassVar[str] = "update_group"
    group_key: str
    name: str
    parent_key: str = ""

    @property
    def subject(self) -> str:
        return self.group_key


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMembers(Op):
    """Every new member of one group, in one vendor call where the vendor takes a list."""

    kind: ClassVar[str] = "add_members"
    group_key: str
    external_ids: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.group_key

    def split(
        self, member_of: Mapping[str, str], waiting: Collection[str]
    ) -> tuple[AddMembers, AddMembers] | None:
        """(the members free to go, the members who must wait), when only some must wait.

        A batch is one call, but its dependencies are per member: one person's dead create
        must not keep the rest of the team out. ``member_of`` names, for each dependency
        that is one member's own op (their create, link or reactivation), that member;
        ``waiting``: the dependencies that are dead or wait on a dead op. Each part keeps
        the dependencies shared by all (the group's own op) and its own members'. None
        when nobody waits, when everyone does, or when a shared dependency waits: then
        the whole op waits. The waiting part of one person is the very op a later plan
        makes for that person alone (same key), so the outbox keeps it across plans.
        """
        mine = set(self.external_ids)
        held: set[str] = set()
        for need in self.depends_on:
            if need not in waiting:
                continue
            member = member_of.get(need)
            if member not in mine:
                return None
            held.add(member)
        if not held or held == mine:
            return None

        going = tuple(m for m in self.external_ids if m not in held)
        staying = tuple(m for m in self.external_ids if m in held)
        return self.only(going, member_of), self.only(staying, member_of)

    def only(self, people: tuple[str, ...], member_of: Mapping[str, str]) -> AddMembers:
        """This add for ``people`` (some of its members) alone: the dependencies shared by
        all (the group's own op) and those of these members' own ops (``member_of``: a
        dependency's key -> the member whose create, link or reactivation it is)."""
        mine, chosen = set(self.external_ids), set(people)
        needs = tuple(
            need
            for need in self.depends_on
            if member_of.get(need) not in mine or member_of[need] in chosen
        )
        return AddMembers(group_key=self.group_key, external_ids=people, depends_on=needs)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMember(Op):
    kind: ClassVar[str] = "remove_member"
    group_key: str
    external_id: str

    @property
    def subject(self) -> str:
        return f"{self.group_key}|{self.external_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceMemberships(Op):
    """One person's memberships become exactly ``group_key``, in one call where the vendor
    drops a user's other groups as it adds one (``VendorProfile.membership_replace``).

    ``removed`` names the groups the mirror holds the person in and the plan drops: the
    call removes every membership the vendor holds, so it is planned only where syncd owns
    them all (an opt-in of the connection) and where it takes fewer calls than the
    removals and the addition one by one (see ``plan.diff``).
    """

    kind: ClassVar[str] = "replace_memberships"
    external_id: str
    group_key: str
    removed: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignCourses(Op):
    """Every new course of one person, in one call where the vendor takes a list."""

    kind: ClassVar[str] = "assign_courses"
    external_id: str
    course_ids: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignGroupCourses(Op):
    """Courses given to a whole group and the groups below it in one call (the vendor gives
    them to every member); ``external_ids`` are the members they reach, for the mirror.

    Planned only where a rule gives the courses to exactly the group's members and the
    group holds no one else (see ``plan.diff``), and only when it takes fewer calls.
    """

    kind: ClassVar[str] = "assign_group_courses"
    group_key: str
    course_ids: tuple[str, ...]
    external_ids: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.group_key


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignCoursePeople(Op):
    """One course for many people in one call where the vendor takes a list of people
    per course (``VendorProfile.max_people_per_course_call``, e.g. a SCORM Cloud private
    invitation to many addresses); planned only where it takes fewer calls."""

    kind: ClassVar[str] = "assign_course_people"
    course_id: str
    external_ids: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.course_id


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignLearningPaths(Op):
    kind: ClassVar[str] = "assign_learning_paths"
    external_id: str
    learning_path_ids: tuple[str, ...]

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class UnassignCourse(Op):
    kind: ClassVar[str] = "unassign_course"
    external_id: str
    course_id: str

    @property
    def subject(self) -> str:
        return self.external_id


@dataclass(frozen=True, slots=True, kw_only=True)
class UnassignLearningPath(Op):
    kind: ClassVar[str] = "unassign_learning_path"
    external_id: str
    learning_path_id: str

    @property
    def subject(self) -> str:
        return self.external_id


OP_TYPES: Mapping[str, type[Op]] = {
    cls.kind: cls
    for cls in (
        CreateUser,
        LinkUser,
        UpdateUser,
        DeactivateUser,
        ReactivateUser,
        DeleteUser,
        RekeyUser,
        CreateGroup,
        LinkGroup,
        UpdateGroup,
        AddMembers,
        RemoveMember,
        ReplaceMemberships,
        AssignCourses,
        AssignGroupCourses,
        AssignCoursePeople,
        AssignLearningPaths,
        UnassignCourse,
        UnassignLearningPath,
    )
}


def _tuples(value: Any) -> Any:
    """JSON turns tuples into lists; ops hold tuples (hashable, frozen) all the way down."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def from_payload(kind: str, payload: Mapping[str, Any]) -> Op:
    """Rebuild an op from its outbox row; an unknown kind is a bug, not user input."""
    cls = OP_TYPES[kind]
    return cls(**{k: _tuples(v) for k, v in payload.items()})


@dataclass(frozen=True, slots=True)
class Refs:
    """Remote ids the worker looked up in the mirror for the ops it hands a connector."""

    users: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    attrs: Mapping[str, Attrs] = field(default_factory=dict)
    """The mirror's managed fields of the users the ops name, only for a vendor that keeps
    no accounts of its own (``VendorProfile.accounts`` False): it must send a learner's
    details with every call that names the learner."""
