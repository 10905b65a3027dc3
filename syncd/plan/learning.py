"""Leaver and mover learning policy: which assignments a person loses, never a completion.

Rules give courses continuously: every plan evaluates them over everyone active, so a
person who moves gets the new group's courses whatever the policy. What the policies decide
is what happens to the assignments the person already holds (``DeprovisionConfig``):

- ``leaver_courses``: at a leaver's deactivation (terminated, or absence confirmed; not
  while pending, not at a deletion, not for an account deactivated earlier), ``keep``
  leaves their assignments, ``unassign_incomplete`` unassigns the incomplete ones first:
  the DeactivateUser waits for those unassignments, as vendors refuse changes to an
  inactive account.
- ``mover_courses``: a mover is a person whose live account the export puts in a pushed
  group the mirror does not hold them in, and out of one it does (a rename that differs
  only in case is not a move; without pushed groups, no move is seen). ``keep`` leaves
  the old assignments; ``unassign_incomplete`` unassigns the incomplete ones no rule
  gives them any more; ``reassign`` also withdraws the incomplete ones the rules still
  give and assigns them again after (a fresh start with a new assignment date, for
  curricula whose due dates count from the move).
- ``unassign_courses``: anyone's assignments no rule gives any more.

An assignment the person completed, passed or saw expire is never unassigned by any of
them. Completion comes from the pulled results (:class:`Completions`); before the first
pull nobody can tell, so nothing is unassigned and the plan says why in one warning.
Pure: plain values in, pairs and ops out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from syncd.config import DeprovisionConfig
from syncd.plan.batching import chunks
from syncd.plan.ops import (
    AssignCourses,
    AssignLearningPaths,
    DeactivateUser,
    Op,
    UnassignCourse,
    UnassignLearningPath,
)

Item = tuple[str, str]
"""(kind, item_id): ``course`` or ``learning_path`` and its id."""
Pair = tuple[str, Item]
"""(external_id, item)."""

KEEP = "keep"
UNASSIGN = "unassign_incomplete"
REASSIGN = "reassign"

LEAVER = "leaver_courses = unassign_incomplete"
MOVER = "mover_courses = unassign_incomplete"
MOVER_REASSIGN = "mover_courses = reassign"
RULES = "unassign_courses"
"""Why an unassignment is planned (``Plan.reasons``): the setting that asked for it."""


@dataclass(frozen=True)
class Completions:
    """What the results table says was finished: ``pulled`` False when results were never
    pulled for the connection (completion unknown), and ``done`` the finished pairs."""

    pulled: bool
    done: frozenset[Pair] = frozenset()

    @classmethod
    def unknown(cls) -> Completions:
        return cls(False)

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, str]]) -> Completions:
        """From (external_id, kind, item_id) rows of a connection whose results were pulled."""
        return cls(True, frozenset((person, (kind, item)) for person, kind, item in rows))


NOTHING_COMPLETED = Completions(True)
"""Results known, nobody finished anything (a new LMS; what pure callers mean by default)."""


@dataclass(frozen=True)
class Decision:
    """The unassignments to plan (with why) and, of them, those assigned again after."""

    unassign: dict[Pair, str] = field(default_factory=dict)
    reassign: tuple[Pair, ...] = ()
    warnings: tuple[str, ...] = ()


def held_items(assignments: pd.DataFrame, people: Iterable[str]) -> dict[str, list[Item]]:
    """Each of ``people``'s assignments in a mirror assignments frame (a few people: the
    plan's leavers), sorted."""
    wanted = set(people)
    if not wanted or not len(assignments):
        return {}
    ids = assignments["external_id"].astype("str")
    rows = assignments[ids.isin(wanted).to_numpy()]
    found: dict[str, list[Item]] = defaultdict(list)
    for person, kind, item in zip(
        rows["external_id"].astype("str").tolist(),
        rows["kind"].astype("str").tolist(),
        rows["item_id"].astype("str").tolist(),
        strict=True,
    ):
        found[person].append((kind, item))
    return {person: sorted(items) for person, items in found.items()}


def decide(
    policy: DeprovisionConfig,
    completions: Completions,
    *,
    leavers: Mapping[str, Sequence[Item]],
    movers: frozenset[str],
    unwanted: Iterable[Pair],
    still_given: Iterable[Pair] = (),
) -> Decision:
    """What the three settings unassign, completions left out.

    ``leavers``: the assignments of each person this plan deactivates; ``movers``: who
    moves; ``unwanted``: live people's assignments no rule gives any more (everyone's
    when ``unassign_courses`` is on, else at least the movers'); ``still_given``: the
    movers' assignments the rules still give (for ``reassign``).
    """
    wanted: dict[Pair, str] = {}
    if policy.leaver_courses == UNASSIGN:
        for person, items in leavers.items():
            for item in items:
                wanted[(person, item)] = LEAVER
    moving = policy.mover_courses != KEEP
    mover_why = MOVER_REASSIGN if policy.mover_courses == REASSIGN else MOVER
    for pair in unwanted:
        if moving and pair[0] in movers:
            wanted[pair] = mover_why
        elif policy.unassign_courses:
            wanted[pair] = RULES
    again: list[Pair] = []
    if policy.mover_courses == REASSIGN:
        for pair in still_given:
            if pair[0] in movers:
                wanted[pair] = MOVER_REASSIGN
                again.append(pair)
    if not wanted:
        return Decision()
    if not completions.pulled:
        settings = ", ".join(sorted({why.split(" = ")[0] for why in wanted.values()}))
        return Decision(
            warnings=(
                f"{len(wanted)} course or learning path unassignment(s) not planned "
                f"({settings}): no results were ever pulled for this connection, so "
                "whether they were completed is unknown; run `syncd results pull` first",
            )
        )
    chosen = {pair: why for pair, why in sorted(wanted.items()) if pair not in completions.done}
    return Decision(chosen, tuple(sorted(pair for pair in again if pair in chosen)))


def unassign_ops(
    decision: Decision, ready: Mapping[str, tuple[str, ...]]
) -> tuple[list[Op], dict[str, str]]:
    """One unassignment per pair (waiting for the person's own ops: a reactivation), in
    person order, and op key -> why."""
    ops: list[Op] = []
    reasons: dict[str, str] = {}
    for (person, (kind, item)), why in sorted(decision.unassign.items()):
        after = ready.get(person, ())
        op: Op = (
            UnassignCourse(external_id=person, course_id=item, depends_on=after)
            if kind == "course"
            else UnassignLearningPath(external_id=person, learning_path_id=item, depends_on=after)
        )
        ops.append(op)
        reasons[op.key] = why
    return ops, reasons


def _unassigned(ops: Iterable[Op]) -> dict[Pair, str]:
    found: dict[Pair, str] = {}
    for op in ops:
        if isinstance(op, UnassignCourse):
            found[(op.external_id, ("course", op.course_id))] = op.key
        elif isinstance(op, UnassignLearningPath):
            found[(op.external_id, ("learning_path", op.learning_path_id))] = op.key
    return found


def reassign_ops(
    decision: Decision,
    unassigned: Sequence[Op],
    ready: Mapping[str, tuple[str, ...]],
    per_call: int | None,
) -> list[Op]:
    """The movers' withdrawn assignments given again, each after its unassignment."""
    keys = _unassigned(unassigned)
    per_person: dict[tuple[str, str], list[str]] = defaultdict(list)
    for person, (kind, item) in decision.reassign:
        per_person[(person, kind)].append(item)
    ops: list[Op] = []
    for (person, kind), items in sorted(per_person.items()):
        for chunk in chunks(sorted(items), per_call):
            after = (*ready.get(person, ()), *(keys[(person, (kind, i))] for i in chunk))
            ops.append(
                AssignCourses(external_id=person, course_ids=chunk, depends_on=after)
                if kind == "course"
                else AssignLearningPaths(
                    external_id=person, learning_path_ids=chunk, depends_on=after
                )
            )
    return ops


def after_unassignments(
    deactivations: Sequence[DeactivateUser], unassigned: Sequence[Op]
) -> list[DeactivateUser]:
    """Each deactivation waiting for its person's unassignments (a vendor refuses to
    change an inactive account's courses)."""
    waits: dict[str, list[str]] = defaultdict(list)
    for (person, _), key in _unassigned(unassigned).items():
        waits[person].append(key)
    return [
        replace(op, depends_on=(*op.depends_on, *waits[op.external_id]))
        if waits.get(op.external_id)
        else op
        for op in deactivations
    ]
