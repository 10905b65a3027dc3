"""Drift: what a full listing found the LMS to hold apart from the mirror, and its repairs.

A full reconcile lists the LMS, and ``syncd.state.drift`` corrects the mirror to what the
LMS really holds (an account or team deleted by hand is forgotten, a membership or course
removed by hand is dropped, a hand-made deactivation or field change is taken in). The
plan then diffs the desired state against that truth as always, so the repairs are the
ordinary ops (create, re-add, assign, reactivate, update); no op is repair-specific. The
:class:`Drift` found on the way names what changed, by syncd's keys, so that the plan can
say which of its ops repair it (:meth:`Drift.repairs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    LinkGroup,
    Op,
    ReactivateUser,
    UpdateGroup,
    UpdateUser,
)

REPAIRS: Mapping[str, tuple[str, str]] = {
    "accounts_recreated": ("account recreated", "accounts recreated"),
    "accounts_reactivated": ("account reactivated", "accounts reactivated"),
    "accounts_deactivated": ("account deactivated again", "accounts deactivated again"),
    "fields_restored": ("account's fields restored", "accounts' fields restored"),
    "groups_restored": ("group restored", "groups restored"),
    "groups_renamed": ("group renamed back", "groups renamed back"),
    "memberships_readded": ("membership re-added", "memberships re-added"),
    "courses_reassigned": ("course re-assigned", "courses re-assigned"),
    "learning_paths_reassigned": ("learning path re-assigned", "learning paths re-assigned"),
}
"""Each kind of repair, in the order shown, with its singular and plural wording."""


@dataclass(frozen=True)
class Drift:
    """How the LMS differed from the mirror, by syncd's keys (all empty: no drift).

    ``accounts_gone``: people whose account is no longer in the LMS; ``deactivated`` /
    ``activated``: accounts whose active flag was switched by hand; ``fields``: accounts
    whose managed fields differ; ``groups_gone`` / ``groups_renamed``: teams deleted or
    renamed; ``memberships_gone``: (group_key, external_id) the LMS lacks;
    ``assignments_gone``: (external_id, kind, item_id) the LMS lacks.
    """

    accounts_gone: frozenset[str] = frozenset()
    deactivated: frozenset[str] = frozenset()
    activated: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    groups_gone: frozenset[str] = frozenset()
    groups_renamed: frozenset[str] = frozenset()
    memberships_gone: frozenset[tuple[str, str]] = frozenset()
    assignments_gone: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in self.__dataclass_fields__)

    def repairs(self, ops: Iterable[Op]) -> dict[str, int]:
        """How many of ``ops`` repair this drift, per kind of :data:`REPAIRS` (none left out).

        A membership or course counts once per (group, person) or (person, item) the LMS
        lacked; those of a recreated account are part of recreating it, not counted again.
        """
        counted = dict.fromkeys(REPAIRS, 0)
        for op in ops:
            found = self._repaired_by(op)
            if found is not None:
                counted[found[0]] += found[1]
        return {name: n for name, n in counted.items() if n}

    def _repaired_by(self, op: Op) -> tuple[str, int] | None:
        """Which repair ``op`` is, and of how many things (None: not a repair)."""
        match op:
            case CreateUser():
                return _hit("accounts_recreated", op.external_id in self.accounts_gone)
            case ReactivateUser():
                return _hit("accounts_reactivated", op.external_id in self.deactivated)
            case DeactivateUser():
                return _hit("accounts_deactivated", op.external_id in self.activated)
            case UpdateUser():
                return _hit("fields_restored", op.external_id in self.fields)
            case CreateGroup() | LinkGroup():
                return _hit("groups_restored", op.group_key in self.groups_gone)
            case UpdateGroup():
                return _hit("groups_renamed", op.group_key in self.groups_renamed)
            case AddMembers():
                gone = self.memberships_gone
                return "memberships_readded", sum(
                    (op.group_key, p) in gone for p in op.external_ids
                )
            case AssignCourses():
                return "courses_reassigned", self._items(op.external_id, "course", op.course_ids)
            case AssignGroupCourses():
                return "courses_reassigned", sum(
                    self._items(person, "course", op.course_ids) for person in op.external_ids
                )
            case AssignLearningPaths():
                items = op.learning_path_ids
                return "learning_paths_reassigned", self._items(
                    op.external_id, "learning_path", items
                )
        return None

    def _items(self, external_id: str, kind: str, items: Iterable[str]) -> int:
        return sum((external_id, kind, item) in self.assignments_gone for item in items)


def _hit(name: str, hit: bool) -> tuple[str, int]:
    return name, int(hit)


def repairs_text(repairs: Mapping[str, int]) -> str:
    """``{"memberships_readded": 1, ...}`` as people read it: "1 membership re-added, ..."."""
    parts = []
    for name, (one, many) in REPAIRS.items():
        n = repairs.get(name, 0)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return ", ".join(parts)
