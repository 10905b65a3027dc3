"""Courses a rule gives to a whole group, assigned to the group in one call when that is
fewer calls than one per person (``VendorProfile.group_assignment``).

A vendor that assigns a course to a group gives it to every member of the group and of the
groups below it (Litmos ``POST /teams/{id}/courses?includesubteams=true``, Enabley
``POST /channels/{c}/groups/{g}?recursive=true``). That matches a rule only when the rule
gives the course to exactly those members: a rule whose one condition is ``member_of`` the
group, and a group whose members after this plan are all people the rule chooses (no
inactive account, nobody absent from the export, no membership the plan leaves in place).
Anything else keeps the per-person form, which is never wrong. Pure: plain values in, ops
and the pairs still to assign one by one out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import ceil
from typing import cast

import numpy as np
import pandas as pd

from syncd.plan.batching import chunks
from syncd.plan.model import VendorProfile
from syncd.plan.ops import AssignGroupCourses, Op
from syncd.plan.rules import RuleResult, descendants

Pair = tuple[str, Hashable]
"""(external_id, (kind, item_id)) as the set comparison gives it."""


@dataclass(frozen=True)
class GroupScene:
    """What the choice needs to know about the groups, after this plan's membership ops.

    ``members_after``: group key -> who will be a member once the plan's membership ops
    ran (the mirror's members, less those removed, plus those added); ``groups`` the
    pushed groups as (key, parent_key) pairs; ``waits_for``: group key -> the keys of the
    ops the group's membership and existence depend on in this plan.
    """

    members_after: Mapping[str, frozenset[str]]
    groups: Sequence[tuple[str, str]]
    waits_for: Mapping[str, tuple[str, ...]]


def candidates(rules: RuleResult | None, profile: VendorProfile) -> bool:
    """Whether any rule could be assigned to its group at this vendor (else the scene
    need not be worked out)."""
    return profile.group_assignment and rules is not None and any(rules.groups)


def group_course_ops(
    added: Sequence[Pair],
    rules: RuleResult | None,
    people: pd.Series,
    live: np.ndarray,
    scene: GroupScene | None,
    user_ready: Mapping[str, tuple[str, ...]],
    profile: VendorProfile,
) -> tuple[list[Op], list[Pair]]:
    """The group-level assignments worth making, and the pairs left for one-by-one ops.

    ``people`` are the desired people's external ids and ``live`` who of them will hold an
    active account after this plan; ``scene`` None: no group form this time.
    """
    if scene is None or rules is None or not candidates(rules, profile) or not added:
        return [], list(added)
    pushed = {key for key, _ in scene.groups}
    tree = scene.groups
    wanted: dict[str, set[str]] = defaultdict(set)
    for person, label in added:
        kind, item = _label(label)
        if kind == "course":
            wanted[person].add(item)
    ops: list[Op] = []
    for number, group in enumerate(rules.groups):
        if group is None or group not in pushed:
            continue
        chosen = _chosen_by(rules, number, people, live)
        courses = {item for kind, item in _items_of(rules, number) if kind == "course"}
        reach = _members(scene, descendants(tree, group))
        if not reach or not reach <= chosen:
            continue
        covered = {person: wanted[person] & courses for person in reach if wanted[person] & courses}
        if not covered:
            continue
        given = tuple(sorted(set().union(*covered.values())))
        if _saving(covered, wanted, profile) <= _group_calls(given, profile):
            continue
        for person, items in covered.items():
            wanted[person] -= items
        after = _depends(group, tree, scene, reach, user_ready)
        for chunk in chunks(given, profile.max_courses_per_call):
            ops.append(
                AssignGroupCourses(
                    group_key=group,
                    course_ids=chunk,
                    external_ids=tuple(sorted(reach)),
                    depends_on=after,
                )
            )
    left = [
        (person, label)
        for person, label in added
        if _label(label)[0] != "course" or _label(label)[1] in wanted[person]
    ]
    return ops, left


def _label(label: Hashable) -> tuple[str, str]:
    """An assignment label, (kind, item_id), typed as such."""
    pair = cast(tuple[str, str], label)
    return str(pair[0]), str(pair[1])


def _chosen_by(rules: RuleResult, number: int, people: pd.Series, live: np.ndarray) -> set[str]:
    """The live people rule ``number`` gives its items to."""
    rows = np.unique(rules.pairs.rows[rules.rules == number])
    return set(people.iloc[rows[live[rows]]].tolist())


def _items_of(rules: RuleResult, number: int) -> Iterable[tuple[str, str]]:
    codes = np.unique(rules.pairs.codes[rules.rules == number]).tolist()
    return [_label(rules.pairs.labels[code]) for code in codes]


def _members(scene: GroupScene, groups: set[str]) -> set[str]:
    found: set[str] = set()
    for group in groups:
        found |= scene.members_after.get(group, frozenset())
    return found


def _per_person(count: int, profile: VendorProfile) -> int:
    size = profile.max_courses_per_call or max(count, 1)
    return ceil(count / size) * profile.calls_for("assign_courses")


def _group_calls(courses: Sequence[str], profile: VendorProfile) -> int:
    size = profile.max_courses_per_call or max(len(courses), 1)
    return ceil(len(courses) / size) * profile.calls_for("assign_group_courses")


def _saving(
    covered: Mapping[str, set[str]], wanted: Mapping[str, set[str]], profile: VendorProfile
) -> int:
    """Per-person calls the group form makes unnecessary."""
    return sum(
        _per_person(len(wanted[p]), profile) - _per_person(len(wanted[p] - items), profile)
        for p, items in covered.items()
    )


def _depends(
    group: str,
    tree: Sequence[tuple[str, str]],
    scene: GroupScene,
    reach: set[str],
    user_ready: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    """The group's (and its subgroups') creation and membership ops, and the reached
    people's own ops: the call must find the group as the plan leaves it."""
    keys: list[str] = []
    for member in sorted(descendants(tree, group)):
        keys.extend(scene.waits_for.get(member, ()))
    for person in sorted(reach):
        keys.extend(user_ready.get(person, ()))
    return tuple(dict.fromkeys(keys))
