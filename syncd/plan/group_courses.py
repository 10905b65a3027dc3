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
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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

    ``members_after(groups)``: who will be a member of any of ``groups`` once the plan's
    membership ops ran (the mirror's members, less those removed, plus those added),
    worked out only for the groups asked about; ``groups`` the pushed groups as (key,
    parent_key) pairs; ``waits_for``: group key -> the keys of the ops the group's
    membership and existence depend on in this plan.
    """

    members_after: Callable[[set[str]], set[str]]
    groups: Sequence[tuple[str, str]]
    waits_for: Mapping[str, tuple[str, ...]]


def candidates(rules: RuleResult | None, profile: VendorProfile) -> bool:
    """Whether any rule could be assigned to its group at this vendor (else the scene
    need not be worked out)."""
    return profile.group_assignment and rules is not None and any(rules.groups)


def group_course_ops(
    added: Sequence[Pair],
    added_rows: Sequence[int],
    rules: RuleResult | None,
    people: pd.Series,
    live: np.ndarray,
    scene: Callable[[], GroupScene] | None,
    user_ready: Mapping[str, tuple[str, ...]],
    profile: VendorProfile,
) -> tuple[list[Op], list[Pair]]:
    """The group-level assignments worth making, and the pairs left for one-by-one ops.

    ``added_rows`` is the desired people's row of each added pair, ``people`` their
    external ids and ``live`` who of them will hold an active account after this plan;
    ``scene`` works out the groups after this plan, called only when a rule's group form
    would save calls (it reads the mirror's memberships); None: no group form this time.
    """
    if scene is None or rules is None or not candidates(rules, profile) or not added:
        return [], list(added)
    wanted: dict[str, set[str]] = defaultdict(set)
    row_of: dict[str, int] = {}
    for (person, label), row in zip(added, added_rows, strict=True):
        kind, item = _label(label)
        if kind == "course":
            wanted[person].add(item)
            row_of[person] = row
    known: GroupScene | None = None
    ops: list[Op] = []
    for number, group in enumerate(rules.groups):
        if group is None:
            continue
        courses = {item for kind, item in _items_of(rules, number) if kind == "course"}
        chosen = _chosen_by(rules, number, live)
        covered = _covered(wanted, courses, {p for p, row in row_of.items() if chosen[row]})
        if not _worth_it(covered, wanted, profile):
            continue
        known = known or scene()
        if group not in {key for key, _ in known.groups}:
            continue
        reach = known.members_after(descendants(known.groups, group))
        if not reach or not reach <= set(people.iloc[np.flatnonzero(chosen)].tolist()):
            continue
        covered = _covered(wanted, courses, reach)
        if not _worth_it(covered, wanted, profile):
            continue
        for person, items in covered.items():
            wanted[person] -= items
        after = _depends(group, known, reach, user_ready)
        for chunk in chunks(
            tuple(sorted(set().union(*covered.values()))), profile.max_courses_per_call
        ):
            ops.append(
                AssignGroupCourses(
                    group_key=group,
                    course_ids=chunk,
                    external_ids=tuple(sorted(reach)),
                    depends_on=after,
                )
            )
    labelled = cast(Sequence[tuple[str, tuple[str, str]]], added)
    left: list[Pair] = [
        (person, label)
        for person, label in labelled
        if label[0] != "course" or label[1] in wanted[person]
    ]
    return ops, left


def _covered(
    wanted: Mapping[str, set[str]], courses: set[str], among: set[str]
) -> dict[str, set[str]]:
    """Who among ``among`` still wants some of ``courses``, and which."""
    return {p: wanted[p] & courses for p in wanted if p in among and wanted[p] & courses}


def _worth_it(
    covered: Mapping[str, set[str]], wanted: Mapping[str, set[str]], profile: VendorProfile
) -> bool:
    """The group calls are fewer than the per-person calls they make unnecessary."""
    if not covered:
        return False
    given = sorted(set().union(*covered.values()))
    return _saving(covered, wanted, profile) > _group_calls(given, profile)


def _label(label: Hashable) -> tuple[str, str]:
    """An assignment label, (kind, item_id), typed as such."""
    pair = cast(tuple[str, str], label)
    return str(pair[0]), str(pair[1])


def _chosen_by(rules: RuleResult, number: int, live: np.ndarray) -> np.ndarray:
    """Which people rows rule ``number`` gives its items to and will hold an account (a
    mask, not a set of ids: a large group's ids as strings cost the collector more than
    the choice itself)."""
    chosen = np.zeros(len(live), dtype=bool)
    chosen[rules.pairs.rows[rules.rules == number]] = True
    return np.asarray(chosen & live, dtype=bool)


def _items_of(rules: RuleResult, number: int) -> Iterable[tuple[str, str]]:
    codes = np.unique(rules.pairs.codes[rules.rules == number]).tolist()
    return [_label(rules.pairs.labels[code]) for code in codes]


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
    scene: GroupScene,
    reach: set[str],
    user_ready: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    """The group's (and its subgroups') creation and membership ops, and the reached
    people's own ops: the call must find the group as the plan leaves it."""
    keys: list[str] = []
    for member in sorted(descendants(scene.groups, group)):
        keys.extend(scene.waits_for.get(member, ()))
    for person in sorted(reach):
        keys.extend(user_ready.get(person, ()))
    return tuple(dict.fromkeys(keys))
