"""What each op, once the vendor confirmed it, changes in the mirror: the one definition.

Two readers apply these changes and must never disagree: :func:`syncd.plan.apply.apply`
(the mirror a plan leads to, for the property tests and previews) and the outbox, which
turns them into SQL in the transaction that marks the op done
(``syncd.state.outbox.confirm``). Keeping the meaning here, as plain values, lets a test
compare the two on the same op and lets ``state`` stay a translator without rules.

The effect depends on the op and on what the vendor answered (the Outcome's ``remote_id``
and ``detail``, passed as plain values so this module stays free of ``vendors``):

- a create records the remote id the vendor gave; without one (none reported yet, or an
  adoption that did not say) the mirror keeps the id it already knows;
- ``detail["attrs"]`` / ``detail["active"]`` of a create or a link (an adopted account
  included) are what the LMS now holds, and win over the op's own values;
- ``detail["added"]`` of an AddMembers names the members the call added: the members of
  the op that ran, which after a split (some members waiting on a dead op) are only the
  part that went.
- ``detail["added"]`` of an AssignCoursePeople names the people the vendor confirmed (a
  private invitation's send job may refuse some addresses): only they get the course; the
  others stay unassigned in the mirror, so the next plan asks for them again;
- a ReplaceMemberships removes the person from the groups it names as ``removed`` (every
  group the mirror holds them in besides the new one) and adds them to the new one.
- a RekeyUser moves the user row, memberships and assignments from the previous key to
  the new one (the remote id the vendor reported wins: Enabley's account id is the key
  itself; without one the row keeps its own); when the previous key is not in the mirror
  (already moved) it changes nothing, and a row already under the new key is replaced.

Every change is idempotent (set values, set membership), so confirming an op twice leaves
the mirror as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from syncd.plan.ops import (
    AddMembers,
    AssignCoursePeople,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
    Attrs,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RekeyUser,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)

ItemKind = Literal["course", "learning_path"]


@dataclass(frozen=True, slots=True)
class PutUser:
    """The whole user row, as created, linked or adopted; ``remote_id`` None keeps the
    known one. ``attrs_hash`` follows from the row."""

    external_id: str
    match_value: str
    attrs: Attrs
    active: bool
    remote_id: str | None


@dataclass(frozen=True, slots=True)
class MergeUser:
    """Changed fields merged into a known user's attrs, and a new match value if any."""

    external_id: str
    attrs: Attrs
    match_value: str | None


@dataclass(frozen=True, slots=True)
class SetActive:
    external_id: str
    active: bool


@dataclass(frozen=True, slots=True)
class MoveUser:
    """The user known as ``previous_id`` is now ``external_id``, with everything they hold;
    ``remote_id`` None keeps the row's own, ``match_value`` None keeps the row's own."""

    previous_id: str
    external_id: str
    remote_id: str | None
    match_value: str | None


@dataclass(frozen=True, slots=True)
class ForgetUser:
    """The user is gone from the LMS, and with them their memberships and assignments."""

    external_id: str


@dataclass(frozen=True, slots=True)
class PutGroup:
    """A group's name and parent; ``remote_id`` None keeps the known one."""

    group_key: str
    name: str
    parent_key: str
    remote_id: str | None


@dataclass(frozen=True, slots=True)
class AddMemberships:
    group_key: str
    external_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveMembership:
    group_key: str
    external_id: str


@dataclass(frozen=True, slots=True)
class AddAssignments:
    external_id: str
    kind: ItemKind
    item_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveAssignment:
    external_id: str
    kind: ItemKind
    item_id: str


Change = (
    PutUser
    | MergeUser
    | SetActive
    | ForgetUser
    | MoveUser
    | PutGroup
    | AddMemberships
    | RemoveMembership
    | AddAssignments
    | RemoveAssignment
)


def _pairs(value: Mapping[str, Any]) -> Attrs:
    return tuple((str(name), "" if v is None else str(v)) for name, v in value.items())


def _put_user(
    op: CreateUser | LinkUser, remote_id: str | None, detail: Mapping[str, Any]
) -> PutUser:
    attrs = detail.get("attrs")
    return PutUser(
        external_id=op.external_id,
        match_value=op.match_value,
        attrs=_pairs(attrs) if attrs else op.attrs,
        active=bool(detail.get("active", op.active)),
        remote_id=remote_id,
    )


def effects(
    op: Op, *, remote_id: str | None = None, detail: Mapping[str, Any] | None = None
) -> tuple[Change, ...]:
    """The mirror changes ``op`` confirmed, given the vendor's ``remote_id`` and ``detail``.

    An op kind without a rule is a bug (every kind of ``OP_TYPES`` has one): ValueError.
    """
    said: Mapping[str, Any] = detail or {}
    given = remote_id or None
    match op:
        case CreateUser():
            return (_put_user(op, given, said),)
        case LinkUser():
            return (_put_user(op, given or op.remote_id or None, said),)
        case UpdateUser():
            changed = tuple((name, new) for name, _old, new in op.changes)
            return (MergeUser(op.external_id, changed, op.match_value),)
        case DeactivateUser() | ReactivateUser():
            return (SetActive(op.external_id, isinstance(op, ReactivateUser)),)
        case DeleteUser():
            return (ForgetUser(op.external_id),)
        case RekeyUser():
            return (MoveUser(op.previous_id, op.external_id, given, op.match_value),)
        case CreateGroup():
            return (PutGroup(op.group_key, op.name, op.parent_key, given),)
        case LinkGroup():
            return (PutGroup(op.group_key, op.name, op.parent_key, given or op.remote_id or None),)
        case UpdateGroup():
            return (PutGroup(op.group_key, op.name, op.parent_key, None),)
        case AddMembers():
            added = tuple(str(x) for x in said.get("added") or ()) or op.external_ids
            return (AddMemberships(op.group_key, added),)
        case RemoveMember():
            return (RemoveMembership(op.group_key, op.external_id),)
        case ReplaceMemberships():
            gone = tuple(RemoveMembership(g, op.external_id) for g in op.removed)
            return (*gone, AddMemberships(op.group_key, (op.external_id,)))
        case AssignCourses():
            return (AddAssignments(op.external_id, "course", op.course_ids),)
        case AssignLearningPaths():
            return (AddAssignments(op.external_id, "learning_path", op.learning_path_ids),)
        case AssignGroupCourses():
            return tuple(AddAssignments(p, "course", op.course_ids) for p in op.external_ids)
        case AssignCoursePeople():
            confirmed = said.get("added", op.external_ids)
            return tuple(AddAssignments(str(p), "course", (op.course_id,)) for p in confirmed)
        case UnassignCourse():
            return (RemoveAssignment(op.external_id, "course", op.course_id),)
        case UnassignLearningPath():
            return (RemoveAssignment(op.external_id, "learning_path", op.learning_path_id),)
    raise ValueError(f"no mirror effect defined for `{op.kind}` ops")
