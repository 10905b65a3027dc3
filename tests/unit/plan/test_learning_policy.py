"""Leaver and mover learning policy (``syncd.plan.learning``): what each setting unassigns,
completions always kept, nothing without results, unassignments before the deactivation."""

from __future__ import annotations

from datetime import date
from typing import Any

from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.learning import (
    LEAVER,
    MOVER,
    MOVER_REASSIGN,
    NOTHING_COMPLETED,
    RULES,
    Completions,
)
from syncd.plan.ops import (
    AssignCourses,
    DeactivateUser,
    ReactivateUser,
    UnassignCourse,
    UnassignLearningPath,
)
from syncd.plan.summary import summarize
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
RULE_SET = [
    {"name": "everyone", "assign": {"courses": ["C-SAFETY"]}},
    {
        "name": "sales",
        "when": [{"field": "department", "equals": "Sales"}],
        "assign": {"courses": ["C-CRM", "C-SHARED"], "learning_paths": ["LP-SALES"]},
    },
    {
        "name": "support",
        "when": [{"field": "department", "equals": "Support"}],
        "assign": {"courses": ["C-DESK", "C-SHARED"]},
    },
]


def plan_for(
    rows: list[dict[str, Any]],
    mirror: Mirror,
    completions: Completions = NOTHING_COMPLETED,
    **deprovision: Any,
) -> Plan:
    return build_plan(
        roster(rows),
        connection(rules=RULE_SET, deprovision=deprovision),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        name="main",
        completions=completions,
    )


def synced(rows: list[dict[str, Any]]) -> Mirror:
    return apply(plan_for(rows, Mirror.empty()), Mirror.empty())


SALES = person("E1", department="Sales")
STAYS = person("E2", department="Support")
LEFT = {**SALES, "active": False, "termination_date": "2024-05-30"}
MOVED = {**SALES, "department": "Support"}


def unassigned(plan: Plan) -> list[tuple[str, str]]:
    found = []
    for op in plan.ops:
        if isinstance(op, UnassignCourse):
            found.append((op.external_id, op.course_id))
        if isinstance(op, UnassignLearningPath):
            found.append((op.external_id, op.learning_path_id))
    return found


def done(*items: tuple[str, str, str]) -> Completions:
    return Completions.of(items)


# --------------------------------------------------------------------------- leavers


def test_a_leaver_keeps_everything_by_default() -> None:
    plan = plan_for([LEFT, STAYS], synced([SALES, STAYS]))
    assert unassigned(plan) == []
    assert [op.external_id for op in plan.ops if isinstance(op, DeactivateUser)] == ["E1"]


def test_a_leavers_incomplete_assignments_go_before_the_deactivation() -> None:
    completed = done(("E1", "course", "C-CRM"), ("E1", "learning_path", "LP-SALES"))
    plan = plan_for(
        [LEFT, STAYS], synced([SALES, STAYS]), completed, leaver_courses="unassign_incomplete"
    )
    assert unassigned(plan) == [("E1", "C-SAFETY"), ("E1", "C-SHARED")]
    keys = [op.key for op in plan.ops]
    (deactivation,) = [op for op in plan.ops if isinstance(op, DeactivateUser)]
    unassigns = [op for op in plan.ops if isinstance(op, UnassignCourse)]
    assert set(deactivation.depends_on) >= {op.key for op in unassigns}
    assert max(keys.index(op.key) for op in unassigns) < keys.index(deactivation.key)
    assert {plan.reasons[op.key] for op in unassigns} == {LEAVER}


def test_passed_and_expired_count_as_completed() -> None:
    """The query maps passed and expired to completed; here the pure side: any item in the
    completions is kept, the rest goes."""
    completed = done(
        ("E1", "course", "C-SAFETY"),
        ("E1", "course", "C-CRM"),
        ("E1", "course", "C-SHARED"),
        ("E1", "learning_path", "LP-SALES"),
    )
    plan = plan_for(
        [LEFT, STAYS], synced([SALES, STAYS]), completed, leaver_courses="unassign_incomplete"
    )
    assert unassigned(plan) == []
    assert [op.external_id for op in plan.ops if isinstance(op, DeactivateUser)] == ["E1"]


def test_unknown_completion_unassigns_nothing_and_says_why() -> None:
    plan = plan_for(
        [LEFT, STAYS],
        synced([SALES, STAYS]),
        Completions.unknown(),
        leaver_courses="unassign_incomplete",
    )
    assert unassigned(plan) == []
    (warning,) = [w for w in plan.warnings if "results" in w]
    assert warning.startswith("4 course or learning path unassignment(s) not planned")
    assert "leaver_courses" in warning and "syncd results pull" in warning
    (deactivation,) = [op for op in plan.ops if isinstance(op, DeactivateUser)]
    assert deactivation.depends_on == ()


def test_a_pending_absentee_is_not_a_leaver_yet() -> None:
    mirror = synced([SALES, STAYS])
    plan = build_plan(
        roster([STAYS]),
        connection(
            rules=RULE_SET,
            deprovision={"leaver_courses": "unassign_incomplete", "absent_exports": 2},
        ),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        completions=done(),
    )
    assert [e for e, _ in plan.pending] == ["E1"]
    assert unassigned(plan) == [] and not any(isinstance(op, DeactivateUser) for op in plan.ops)
    confirmed = plan_for([STAYS], mirror, done(), leaver_courses="unassign_incomplete")
    assert [e for e, _ in unassigned(confirmed)] == ["E1"] * 4


def test_a_rehire_is_not_a_leaver_and_waits_for_the_reactivation() -> None:
    mirror = apply(plan_for([LEFT, STAYS], synced([SALES, STAYS])), synced([SALES, STAYS]))
    settings = {"leaver_courses": "unassign_incomplete", "mover_courses": "unassign_incomplete"}
    same = plan_for([SALES, STAYS], mirror, done(), **settings)
    assert [type(op) for op in same.ops] == [ReactivateUser]
    moved = plan_for([MOVED, STAYS], mirror, done(), **settings)
    (reactivation,) = [op for op in moved.ops if isinstance(op, ReactivateUser)]
    assert unassigned(moved) == [("E1", "C-CRM"), ("E1", "LP-SALES")]
    for op in moved.ops:
        if isinstance(op, UnassignCourse | UnassignLearningPath):
            assert reactivation.key in op.depends_on


# --------------------------------------------------------------------------- movers


def test_a_mover_keeps_the_old_groups_courses_by_default_and_gets_the_new() -> None:
    plan = plan_for([MOVED, STAYS], synced([SALES, STAYS]))
    assert unassigned(plan) == []
    assert [op for op in plan.ops if isinstance(op, AssignCourses)] == [
        AssignCourses(external_id="E1", course_ids=("C-DESK",))
    ]


def test_a_mover_loses_only_incomplete_courses_no_rule_gives() -> None:
    completed = done(("E1", "course", "C-CRM"))
    plan = plan_for(
        [MOVED, STAYS], synced([SALES, STAYS]), completed, mover_courses="unassign_incomplete"
    )
    assert unassigned(plan) == [("E1", "LP-SALES")], "C-CRM completed, C-SHARED still given"
    assert set(plan.reasons.values()) == {MOVER}
    assert [op for op in plan.ops if isinstance(op, AssignCourses)] == [
        AssignCourses(external_id="E1", course_ids=("C-DESK",))
    ]


def test_reassign_restarts_what_the_new_rules_still_give() -> None:
    completed = done(("E1", "course", "C-SAFETY"))
    plan = plan_for([MOVED, STAYS], synced([SALES, STAYS]), completed, mover_courses="reassign")
    assert unassigned(plan) == [("E1", "C-CRM"), ("E1", "C-SHARED"), ("E1", "LP-SALES")]
    assert set(plan.reasons.values()) == {MOVER_REASSIGN}
    again = [op for op in plan.ops if isinstance(op, AssignCourses) and "C-SHARED" in op.course_ids]
    assert [op.course_ids for op in again] == [("C-SHARED",)]
    (shared,) = [
        op for op in plan.ops if isinstance(op, UnassignCourse) and op.course_id == "C-SHARED"
    ]
    assert shared.key in again[0].depends_on
    keys = [op.key for op in plan.ops]
    assert keys.index(shared.key) < keys.index(again[0].key)
    after = apply(plan, synced([SALES, STAYS]))
    held = set(after.assignments.astype("str").itertuples(index=False, name=None))
    assert {i for e, _, i in held if e == "E1"} == {"C-SAFETY", "C-DESK", "C-SHARED"}


def test_someone_who_did_not_move_is_untouched_by_the_mover_policy() -> None:
    """A rule change (or an onboarding window ending) is not a move."""
    mirror = synced([SALES, STAYS])
    plan = build_plan(
        roster([SALES, STAYS]),
        connection(rules=RULE_SET[:1], deprovision={"mover_courses": "reassign"}),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        completions=done(),
    )
    assert plan.ops == ()


def test_unassign_courses_keeps_completions_and_names_its_setting() -> None:
    completed = done(("E1", "course", "C-CRM"))
    plan = plan_for([MOVED, STAYS], synced([SALES, STAYS]), completed, unassign_courses=True)
    assert unassigned(plan) == [("E1", "LP-SALES")]
    assert set(plan.reasons.values()) == {RULES}
    summary = summarize(plan)
    assert summary["unassignments_by_setting"] == {RULES: 1}
    (entry,) = [e for e in summary["first_ops"] if e["kind"] == "unassign_learning_path"]
    assert entry["why"] == RULES and entry["what"].endswith("(unassign_courses)")


def test_unassignments_count_against_the_safeguards() -> None:
    plan = build_plan(
        roster([STAYS]),
        connection(
            rules=RULE_SET,
            deprovision={"leaver_courses": "unassign_incomplete"},
            safeguards={"max_unassignments": 2, "max_deactivations": 10, "min_source_ratio": 0},
        ),
        LITMOS_LIKE,
        synced([SALES, STAYS]),
        today=TODAY,
        completions=done(),
    )
    (check,) = [c for c in plan.checks if c.limit == "max_unassignments"]
    assert check.value == 4 and check.tripped
