"""One course for many people in one call, where the vendor takes a list of people per
course and that is fewer calls than one assignment per person
(``VendorProfile.max_people_per_course_call``; SCORM Cloud private invitations: one
invitation, one send job, many addresses).

The per-person form (``AssignCourses``) stays wherever the list form saves nothing: one
person wanting a course costs the same either way, and a person whose assign call carries
several courses at once may lose nothing by keeping them together. Pure: the course's
(person, course) pairs in, the list-form ops and the pairs still to assign one by one out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from math import ceil
from typing import cast

from syncd.plan.batching import chunks
from syncd.plan.model import VendorProfile
from syncd.plan.ops import AssignCoursePeople, Op

Pair = tuple[str, Hashable]
"""(external_id, (kind, item_id)) as the set comparison gives it."""


def course_people_ops(
    added: Sequence[Pair], user_ready: Mapping[str, tuple[str, ...]], profile: VendorProfile
) -> tuple[list[Op], list[Pair]]:
    """The list-form course assignments worth making, and the pairs left for one-by-one ops.

    Courses are taken most-wanted first; each is given in the list form when its calls
    (one per ``max_people_per_course_call`` people) are fewer than the per-person calls it
    makes unnecessary. Each op depends on its people's own ops (their create, say).
    """
    size = profile.max_people_per_course_call
    if size <= 1 or not added:
        return [], list(added)
    wanting: dict[str, list[str]] = defaultdict(list)
    load: Counter[str] = Counter()
    for person, label in added:
        kind, item = _label(label)
        if kind == "course":
            wanting[item].append(person)
            load[person] += 1
    ops: list[Op] = []
    listed: set[tuple[str, str]] = set()
    for course in sorted(wanting, key=lambda c: (-len(wanting[c]), c)):
        people = sorted(set(wanting[course]))
        saving = sum(
            _per_person(load[p], profile) - _per_person(load[p] - 1, profile) for p in people
        )
        if ceil(len(people) / size) * profile.calls_for(AssignCoursePeople.kind) >= saving:
            continue
        for person in people:
            load[person] -= 1
            listed.add((person, course))
        for chunk in chunks(people, size):
            after = tuple(dict.fromkeys(k for p in chunk for k in user_ready.get(p, ())))
            ops.append(AssignCoursePeople(course_id=course, external_ids=chunk, depends_on=after))
    left: list[Pair] = []
    for person, label in added:
        kind, item = _label(label)
        if kind != "course" or (person, item) not in listed:
            left.append((person, label))
    return ops, left


def _label(label: Hashable) -> tuple[str, str]:
    """An assignment label, (kind, item_id), typed as such."""
    pair = cast(tuple[str, str], label)
    return str(pair[0]), str(pair[1])


def _per_person(count: int, profile: VendorProfile) -> int:
    """Calls of one person's per-person assignment of ``count`` courses."""
    if count <= 0:
        return 0
    per_call = profile.max_courses_per_call or count
    return ceil(count / per_call) * profile.calls_for("assign_courses")
