"""The inverse of a run: from its journal (``syncd.state.journal``) and the mirror as it is
now, the ops that put the LMS back as the run found it. Pure.

Each confirmed op of the run is turned around, latest first:

- a deactivation becomes a reactivation, a reactivation a deactivation;
- a removal from a group (also the groups a ``ReplaceMemberships`` dropped) becomes an
  addition, batched per group; an addition becomes a removal;
- an unassignment becomes an assignment, batched per person; an assignment becomes an
  unassignment only where the person has not completed the item (results pulled say so);
  without any result pulled syncd cannot tell, so the assignment is kept;
- an update restores the old values of the fields it changed (and the old match value), a
  group update the group's old name and parent, a rekey moves the key back;
- an account the run created is deactivated, never deleted (syncd does not delete what
  an undo might want back); a group the run created stays (no op deletes a group);
- a deletion cannot be undone: it is listed, not planned.

What is moot is skipped with a reason, never sent: the mirror already shows the state
before the run (something changed it back since), or the person or group is gone. Ops
come in a valid order with their dependencies: reactivations before the memberships and
assignments that need an active account; a created account is switched off after its
other ops; a key moves back last, after every op that names the current key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.plan.batching import chunks
from syncd.plan.model import Mirror
from syncd.plan.ops import (
    AddMembers,
    AssignCoursePeople,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
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

Item = tuple[str, str, str]
"""(external_id, kind, item_id): one assignment; kind ``course`` or ``learning_path``."""


@dataclass(frozen=True, slots=True)
class Applied:
    """One journal entry: an op the LMS confirmed and its before-image (what it changed
    that its payload does not hold: ``active``, ``match_value``, ``name``/``parent_key``)."""

    key: str
    op: Op
    before: Mapping[str, Any] = field(default_factory=dict)
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Left:
    """A change of the run the inverse leaves as it is: whom, which op of the run, why."""

    subject: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class Inverse:
    """The undo of a run: ``ops`` in execution order, what is ``skipped`` (moot, or kept on
    purpose) and what is ``impossible`` (cannot be undone), and ``notes`` to show."""

    ops: tuple[Op, ...]
    skipped: tuple[Left, ...] = ()
    impossible: tuple[Left, ...] = ()
    notes: tuple[str, ...] = ()
    undone: tuple[str, ...] = ()
    """The journal keys of the run's ops this inverse turns around (not the moot ones)."""


@dataclass
class _Now:
    """The mirror as plain lookups."""

    users: dict[str, tuple[bool, str, dict[str, str]]]
    groups: dict[str, tuple[str, str]]
    members: set[tuple[str, str]]
    items: set[Item]

    @classmethod
    def of(cls, mirror: Mirror) -> _Now:
        users = {
            str(external_id): (bool(active), str(match), _attrs(attrs))
            for external_id, active, match, attrs in zip(
                mirror.users["external_id"],
                mirror.users["active"],
                mirror.users["match_value"],
                mirror.users["attrs"],
                strict=True,
            )
        }
        groups = {
            str(key): (str(name), "" if parent is None else str(parent))
            for key, name, parent in zip(
                mirror.groups["key"],
                mirror.groups["name"],
                mirror.groups["parent_key"],
                strict=True,
            )
        }
        members = {
            (str(g), str(p))
            for g, p in zip(
                mirror.memberships["group_key"], mirror.memberships["external_id"], strict=True
            )
        }
        items = {
            (str(p), str(k), str(i))
            for p, k, i in zip(
                mirror.assignments["external_id"],
                mirror.assignments["kind"],
                mirror.assignments["item_id"],
                strict=True,
            )
        }
        return cls(users, groups, members, items)


def _attrs(value: Any) -> dict[str, str]:
    """A mirror row's fields, whether loaded as a dict or as its JSON text (else none)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(value).items()}
    return {}


GONE = "no longer in the mirror (deleted since)"
GROUP_GONE = "the group is no longer in the mirror (deleted since)"


@dataclass
class _Intents:
    """What the inverse will ask for, gathered entry by entry (latest first)."""

    run_id: int
    now: _Now
    completed: Collection[Item] | None
    can_deactivate: bool
    reactivate: dict[str, None] = field(default_factory=dict)
    deactivate: dict[str, str] = field(default_factory=dict)
    restore: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    match: dict[str, str] = field(default_factory=dict)
    full: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    regroup: dict[str, tuple[str, str]] = field(default_factory=dict)
    add: dict[str, dict[str, None]] = field(default_factory=dict)
    remove: dict[tuple[str, str], None] = field(default_factory=dict)
    assign: dict[tuple[str, str], dict[str, None]] = field(default_factory=dict)
    unassign: dict[Item, None] = field(default_factory=dict)
    rekey: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    skipped: list[Left] = field(default_factory=list)
    impossible: list[Left] = field(default_factory=list)
    notes: dict[str, None] = field(default_factory=dict)
    undone: dict[str, None] = field(default_factory=dict)
    key: str = ""

    def did(self) -> None:
        """The entry being taken asks for an inverse op."""
        self.undone[self.key] = None

    def skip(self, subject: str, op: Op, reason: str) -> None:
        self.skipped.append(Left(subject, op.kind, reason))

    # ------------------------------------------------------------------ per op kind

    def take(self, entry: Applied) -> None:
        op, before = entry.op, entry.before
        self.key = entry.key
        match op:
            case DeactivateUser():
                self._turned_off(op, before)
            case ReactivateUser():
                self._turned_on(op, before)
            case CreateUser():
                self._created(op)
            case UpdateUser():
                self._updated(op, before)
            case RekeyUser():
                self._rekeyed(op, before)
            case UpdateGroup():
                self._regrouped(op, before)
            case RemoveMember():
                self._removed(op, op.group_key, op.external_id)
            case ReplaceMemberships():
                for group in op.removed:
                    self._removed(op, group, op.external_id)
                self._added(op, op.group_key, (op.external_id,))
            case AddMembers():
                self._added(op, op.group_key, op.external_ids)
            case AssignCourses():
                self._assigned(op, [(op.external_id, "course", c) for c in op.course_ids])
            case AssignLearningPaths():
                paths = op.learning_path_ids
                self._assigned(op, [(op.external_id, "learning_path", p) for p in paths])
            case AssignGroupCourses():
                people = op.external_ids
                self._assigned(op, [(p, "course", c) for p in people for c in op.course_ids])
            case AssignCoursePeople():
                self._assigned(op, [(p, "course", op.course_id) for p in op.external_ids])
            case UnassignCourse():
                self._unassigned(op, (op.external_id, "course", op.course_id))
            case UnassignLearningPath():
                self._unassigned(op, (op.external_id, "learning_path", op.learning_path_id))
            case DeleteUser():
                self.impossible.append(
                    Left(op.external_id, op.kind, "a deleted account cannot be brought back")
                )
            case CreateGroup():
                self.impossible.append(
                    Left(
                        op.group_key,
                        op.kind,
                        "syncd has no op that deletes a group: it stays "
                        "(the members the run added are removed)",
                    )
                )
            case LinkUser() | LinkGroup():
                self.skip(op.subject, op, "adoption only: nothing was changed in the LMS")
            case _:
                self.impossible.append(Left(op.subject, op.kind, "no inverse is defined"))

    def _turned_off(self, op: DeactivateUser, before: Mapping[str, Any]) -> None:
        who = op.external_id
        user = self.now.users.get(who)
        if before.get("active") is False:
            self.skip(who, op, "was already inactive before the run")
        elif user is None:
            self.skip(who, op, GONE)
        elif user[0]:
            self.skip(who, op, "already active again")
        else:
            self.reactivate[who] = None
            self.did()

    def _turned_on(self, op: ReactivateUser, before: Mapping[str, Any]) -> None:
        who = op.external_id
        user = self.now.users.get(who)
        if before.get("active") is True:
            self.skip(who, op, "was already active before the run")
        elif user is None:
            self.skip(who, op, GONE)
        elif not user[0]:
            self.skip(who, op, "already inactive again")
        else:
            self._switch_off(who, op, f"undo of run {self.run_id}: the run reactivated it")

    def _created(self, op: CreateUser) -> None:
        who = op.external_id
        user = self.now.users.get(who)
        if user is None:
            self.skip(who, op, GONE)
        elif not user[0]:
            self.skip(who, op, "already inactive")
        else:
            self._switch_off(who, op, f"undo of run {self.run_id}: created by the run")
            self.notes[
                "accounts the run created are deactivated, never deleted "
                "(their learning history stays)"
            ] = None

    def _switch_off(self, who: str, op: Op, reason: str) -> None:
        if not self.can_deactivate:
            self.impossible.append(Left(who, op.kind, "this vendor cannot deactivate accounts"))
            return
        self.deactivate.setdefault(who, reason)
        self.did()

    def _updated(self, op: UpdateUser, before: Mapping[str, Any]) -> None:
        who = op.external_id
        user = self.now.users.get(who)
        if user is None:
            self.skip(who, op, GONE)
            return
        _active, match, attrs = user
        restore = self.restore.setdefault(who, {})
        moved = False
        for name, old, new in op.changes:
            if name in restore:
                # An earlier update of the same field in the same run: its old value wins.
                restore[name] = (restore[name][0], old)
                self.did()
            elif name in attrs and attrs[name] != new:
                self.skip(f"{who}.{name}", op, "changed again since the run")
                moved = True
            elif attrs.get(name) != old:
                restore[name] = (attrs.get(name, new), old)
                self.did()
        old_match = before.get("match_value")
        if op.match_value is not None and old_match is not None and match != old_match:
            if match == op.match_value:
                self.match[who] = str(old_match)
                self.did()
            else:
                self.skip(who, op, "match value changed again since the run")
        if op.attrs:
            self.full[who] = op.attrs
        if not restore and who not in self.match:
            del self.restore[who]
            if not moved:
                self.skip(who, op, "the fields already hold their values from before the run")

    def _rekeyed(self, op: RekeyUser, before: Mapping[str, Any]) -> None:
        new, old = op.external_id, op.previous_id
        if new not in self.now.users:
            self.skip(new, op, GONE)
        elif old in self.now.users:
            self.skip(new, op, f"the previous key {old} is in use again")
        else:
            match = before.get("match_value") if op.match_value is not None else None
            self.rekey[new] = (old, None if match is None else str(match))
            self.did()

    def _regrouped(self, op: UpdateGroup, before: Mapping[str, Any]) -> None:
        group = self.now.groups.get(op.group_key)
        if "name" not in before:
            self.skip(op.group_key, op, "the group was not in the mirror before the run")
        elif group is None:
            self.skip(op.group_key, op, GROUP_GONE)
        else:
            wanted = (str(before["name"]), str(before.get("parent_key") or ""))
            if group == wanted:
                self.skip(op.group_key, op, "already named and placed as before the run")
            else:
                self.regroup.setdefault(op.group_key, wanted)
                self.did()

    def _removed(self, op: Op, group: str, who: str) -> None:
        subject = f"{group}|{who}"
        if who not in self.now.users:
            self.skip(subject, op, GONE)
        elif group not in self.now.groups:
            self.skip(subject, op, GROUP_GONE)
        elif (group, who) in self.now.members:
            self.skip(subject, op, "already a member again")
        else:
            self.add.setdefault(group, {})[who] = None
            self.did()

    def _added(self, op: Op, group: str, people: Iterable[str]) -> None:
        for who in people:
            if (group, who) in self.now.members:
                self.remove[(group, who)] = None
                self.did()
            else:
                self.skip(f"{group}|{who}", op, "no longer a member")

    def _assigned(self, op: Op, items: Iterable[Item]) -> None:
        for item in items:
            who, kind, item_id = item
            subject = f"{who}|{kind}:{item_id}"
            if item not in self.now.items:
                self.skip(subject, op, "no longer assigned")
            elif self.completed is None:
                self.skip(
                    subject,
                    op,
                    "kept: no results were pulled for this connection, so syncd cannot tell "
                    "whether it was completed (run `syncd results pull` first)",
                )
            elif item in self.completed:
                self.skip(subject, op, "kept: completed")
            else:
                self.unassign[item] = None
                self.did()

    def _unassigned(self, op: Op, item: Item) -> None:
        who, kind, item_id = item
        subject = f"{who}|{kind}:{item_id}"
        if who not in self.now.users:
            self.skip(subject, op, GONE)
        elif item in self.now.items:
            self.skip(subject, op, "already assigned again")
        else:
            self.assign.setdefault((who, kind), {})[item_id] = None
            self.did()

    # ------------------------------------------------------------------ the ops

    def ops(self, max_members: int | None, max_items: int | None) -> tuple[Op, ...]:
        """The intents as ops in a valid order, each naming the ops it must wait for."""
        woken = {who: ReactivateUser(external_id=who) for who in self.reactivate}
        ops: list[Op] = list(woken.values())

        def after_waking(people: Iterable[str]) -> tuple[str, ...]:
            return tuple(woken[p].key for p in sorted(set(people)) if p in woken)

        for group_key, (name, parent) in self.regroup.items():
            ops.append(UpdateGroup(group_key=group_key, name=name, parent_key=parent))
        for who, fields in self.restore.items():
            ops.append(self._restored(who, fields))
        for group_key, people in self.add.items():
            for batch in chunks(sorted(people), max_members):
                need = after_waking(batch)
                ops.append(AddMembers(group_key=group_key, external_ids=batch, depends_on=need))
        for (who, kind), items in self.assign.items():
            for batch in chunks(list(items), max_items):
                need = after_waking([who])
                if kind == "course":
                    ops.append(AssignCourses(external_id=who, course_ids=batch, depends_on=need))
                else:
                    ops.append(
                        AssignLearningPaths(
                            external_id=who, learning_path_ids=batch, depends_on=need
                        )
                    )
        for group_key, who in self.remove:
            ops.append(RemoveMember(group_key=group_key, external_id=who))
        for who, kind, item_id in self.unassign:
            if kind == "course":
                ops.append(UnassignCourse(external_id=who, course_id=item_id))
            else:
                ops.append(UnassignLearningPath(external_id=who, learning_path_id=item_id))
        for who, reason in self.deactivate.items():
            mine = tuple(op.key for op in ops if who in _people(op))
            ops.append(DeactivateUser(external_id=who, reason=reason, depends_on=mine))
        for new, (old, match) in self.rekey.items():
            mine = tuple(op.key for op in ops if new in _people(op))
            ops.append(
                RekeyUser(external_id=old, previous_id=new, match_value=match, depends_on=mine)
            )
        return tuple(ops)

    def _restored(self, who: str, fields: Mapping[str, tuple[str, str]]) -> UpdateUser:
        changes = tuple((name, now, old) for name, (now, old) in fields.items())
        full = self.full.get(who, ())
        current = self.now.users[who][2]
        attrs = tuple(
            (name, fields[name][1] if name in fields else current.get(name, value))
            for name, value in full
        )
        return UpdateUser(
            external_id=who, changes=changes, match_value=self.match.get(who), attrs=attrs
        )


def _people(op: Op) -> tuple[str, ...]:
    """The people an inverse op names (its dependencies on their other ops follow)."""
    if isinstance(op, AddMembers):
        return op.external_ids
    who = getattr(op, "external_id", None)
    return (who,) if isinstance(who, str) else ()


def inverse(
    applied: Sequence[Applied],
    mirror: Mirror,
    *,
    run_id: int,
    completed: Collection[Item] | None,
    can_deactivate: bool = True,
    max_members: int | None = None,
    max_items: int | None = None,
) -> Inverse:
    """The ops that undo the journal's ``applied`` ops of ``run_id``, against ``mirror``.

    ``completed``: the (person, kind, item) the results pulled show as completed; None when
    no result was ever pulled for the connection (then no assignment is taken back).
    ``can_deactivate``: the vendor can switch accounts off (``VendorProfile.deactivation``);
    ``max_members`` / ``max_items``: its batch sizes.
    """
    intents = _Intents(run_id, _Now.of(mirror), completed, can_deactivate)
    for entry in reversed(applied):
        intents.take(entry)
    return Inverse(
        ops=intents.ops(max_members, max_items),
        skipped=tuple(intents.skipped),
        impossible=tuple(intents.impossible),
        notes=tuple(intents.notes),
        undone=tuple(intents.undone),
    )
