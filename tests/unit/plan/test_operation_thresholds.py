"""Per-operation safeguards: group removals, unassignments and mass field changes each have
a count and a percentage limit, at which a plan passes and over which it is refused; the
percentages do not apply to small populations; each check names its op kinds, numbers and
threshold in one line and knows the ops it measured (for holding just those later)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.config import SafeguardConfig
from syncd.errors import SafeguardTripped
from syncd.plan import Mirror, Plan, apply, build_plan, check_safeguards
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    CreateUser,
    DeactivateUser,
    Op,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateUser,
)
from syncd.plan.safeguards import MEMBERSHIPS, SafeguardCheck, measure, measured_ops
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
LOOSE = {
    "max_deactivations": 1_000_000,
    "max_deactivation_percent": 100,
    "max_changes": 10_000_000,
    "min_source_ratio": 0,
}


def config(**limits: Any) -> SafeguardConfig:
    return SafeguardConfig.model_validate({**LOOSE, **limits})


def checks_of(
    ops: list[Op],
    *,
    population: int = 100,
    memberships: int = 100,
    assignments: int = 100,
    **limits: Any,
) -> dict[str, SafeguardCheck]:
    found = measure(
        ops,
        config(**limits),
        population=population,
        rows_read=None,
        previous_rows=None,
        memberships=memberships,
        assignments=assignments,
    )
    return {check.label: check for check in found}


def removals(n: int) -> list[Op]:
    return [RemoveMember(group_key="org:Ops/Support", external_id=f"E{i}") for i in range(n)]


def unassignments(n: int) -> list[Op]:
    half = n // 2
    return [
        *(UnassignCourse(external_id=f"E{i}", course_id="C1") for i in range(half)),
        *(UnassignLearningPath(external_id=f"E{i}", learning_path_id="P1") for i in range(half, n)),
    ]


def title_changes(n: int) -> list[Op]:
    return [
        UpdateUser(external_id=f"E{i}", changes=(("JobTitle", "Engineer", "Lead"),))
        for i in range(n)
    ]


# --------------------------------------------------------------------------- group removals


@pytest.mark.parametrize(("count", "tripped"), [(9, False), (10, False), (11, True)])
def test_group_removals_count_below_at_and_over(count: int, tripped: bool) -> None:
    check = checks_of(removals(count), memberships=10_000, max_group_removals=10)[
        "max_group_removals"
    ]
    assert (check.value, check.threshold, check.tripped) == (count, 10, tripped)


@pytest.mark.parametrize(("count", "tripped"), [(9, False), (10, False), (11, True)])
def test_group_removal_percent_of_memberships_held(count: int, tripped: bool) -> None:
    check = checks_of(removals(count), memberships=100, max_group_removal_percent=10)[
        "max_group_removal_percent"
    ]
    assert (check.value, check.tripped) == (count, tripped)


def test_replace_memberships_counts_each_group_it_removes() -> None:
    ops: list[Op] = [
        ReplaceMemberships(external_id="E1", group_key="g:new", removed=("g:a", "g:b")),
        ReplaceMemberships(external_id="E2", group_key="g:new", removed=()),
        *removals(1),
    ]
    check = checks_of(ops, max_group_removals=2)["max_group_removals"]
    assert check.value == 3 and check.tripped
    assert check.message == (
        "remove_member/replace_memberships: 3 group memberships removed, "
        "limit max_group_removals = 2"
    )


# --------------------------------------------------------------------------- unassignments


@pytest.mark.parametrize(("count", "tripped"), [(8, False), (10, False), (12, True)])
def test_unassignments_count_courses_and_learning_paths(count: int, tripped: bool) -> None:
    check = checks_of(unassignments(count), assignments=10_000, max_unassignments=10)[
        "max_unassignments"
    ]
    assert (check.value, check.tripped) == (count, tripped)


@pytest.mark.parametrize(("count", "tripped"), [(8, False), (10, False), (12, True)])
def test_unassignment_percent_of_assignments_held(count: int, tripped: bool) -> None:
    check = checks_of(unassignments(count), assignments=100, max_unassignment_percent=10)[
        "max_unassignment_percent"
    ]
    assert (check.value, check.tripped) == (count, tripped)
    assert check.message == (
        f"unassign_course/unassign_learning_path: {count} of 100 assignments held "
        f"({count:.1f}%) removed, limit max_unassignment_percent = 10%"
    )


# --------------------------------------------------------------------------- field changes


@pytest.mark.parametrize(("count", "tripped"), [(14, False), (15, False), (16, True)])
def test_field_change_percent_per_field(count: int, tripped: bool) -> None:
    ops = [
        *title_changes(count),
        UpdateUser(external_id="E99", changes=(("LastName", "Old", "New"),)),
    ]
    found = checks_of(ops, population=100)
    title = found["max_field_change_percent[JobTitle]"]
    assert (title.value, title.threshold, title.tripped) == (count, 15, tripped)
    assert title.field == "JobTitle"
    assert title.message == (
        f"update_user: {count} of 100 active synced people ({count:.1f}%) change JobTitle, "
        "limit max_field_change_percent = 15%"
    )
    assert not found["max_field_change_percent[LastName]"].tripped, "counted per field"


@pytest.mark.parametrize(("count", "tripped"), [(5, False), (6, True)])
def test_field_changes_count(count: int, tripped: bool) -> None:
    check = checks_of(title_changes(count), population=10_000, max_field_changes=5)[
        "max_field_changes[JobTitle]"
    ]
    assert (check.value, check.tripped) == (count, tripped)
    assert check.message == (
        f"update_user: {count} people change JobTitle, limit max_field_changes = 5"
    )


def test_people_moving_team_are_a_field_change_of_their_groups() -> None:
    ops: list[Op] = [
        AddMembers(group_key="org:Ops/Sales", external_ids=("E1", "E2", "E3", "NEW")),
        RemoveMember(group_key="org:Ops/Support", external_id="E1"),
        ReplaceMemberships(external_id="E4", group_key="org:Ops/Sales", removed=("g:x",)),
        CreateUser(external_id="NEW", match_value="new@x", attrs=()),
        DeactivateUser(external_id="E5"),
        RemoveMember(group_key="org:Ops/Support", external_id="E5"),
    ]
    check = checks_of(ops, population=20)[f"max_field_change_percent[{MEMBERSHIPS}]"]
    assert check.value == 20.0 and check.tripped, "E1-E4 of 20; the new hire and leaver not"
    assert check.kinds == {"add_members", "remove_member", "replace_memberships"}
    assert "4 of 20 active synced people (20.0%) change groups" in check.message


def test_a_field_nobody_changes_has_no_check() -> None:
    found = checks_of(title_changes(1))
    assert {label for label in found if "field" in label} == {
        "max_field_changes[JobTitle]",
        "max_field_change_percent[JobTitle]",
    }


# --------------------------------------------------------------------------- small populations


def test_percentages_do_not_apply_below_the_minimum_population() -> None:
    ops = [*title_changes(1), *removals(2), *unassignments(2)]
    found = checks_of(ops, population=5, memberships=5, assignments=5)
    for label in (
        "max_field_change_percent[JobTitle]",
        "max_group_removal_percent",
        "max_unassignment_percent",
    ):
        check = found[label]
        assert check.value >= 20 and not check.tripped, label
        assert "not applied below mass_change_min_population = 20" in check.message
    assert not any(check.tripped for check in found.values())


def test_percentages_apply_from_the_minimum_population() -> None:
    found = checks_of(title_changes(4), population=20)
    assert found["max_field_change_percent[JobTitle]"].tripped
    lowered = checks_of(title_changes(1), population=5, mass_change_min_population=5)
    assert lowered["max_field_change_percent[JobTitle]"].tripped


def test_counts_apply_whatever_the_population() -> None:
    found = checks_of(removals(3), memberships=5, max_group_removals=2)
    assert found["max_group_removals"].tripped
    assert not found["max_group_removal_percent"].tripped


def test_the_defaults_protect_a_user_who_configured_nothing() -> None:
    defaults = SafeguardConfig()
    found = {
        c.label: c
        for c in measure(
            [*removals(30), *unassignments(30), *title_changes(30)],
            defaults,
            population=100,
            rows_read=None,
            previous_rows=None,
            memberships=100,
            assignments=100,
        )
    }
    assert found["max_group_removal_percent"].tripped
    assert found["max_unassignment_percent"].tripped
    assert found["max_field_change_percent[JobTitle]"].tripped


# --------------------------------------------------------------------------- the ops measured


def test_each_check_knows_the_ops_it_measured() -> None:
    course = AssignCourses(external_id="E1", course_ids=("C1",))
    lead = UpdateUser(external_id="E1", changes=(("JobTitle", "Engineer", "Lead"),))
    renamed = UpdateUser(external_id="E2", changes=(("LastName", "A", "B"),))
    ops: list[Op] = [course, lead, renamed, *removals(3), *unassignments(2)]
    found = checks_of(
        ops,
        population=1000,
        max_group_removals=2,
        max_field_changes=0,
        mass_change_min_population=1_000_000,
    )
    assert found["max_group_removals"].tripped and not found["max_unassignments"].tripped
    assert [op for op in ops if found["max_field_changes[JobTitle]"].measures(op)] == [lead]
    assert not found["max_changes"].measures(course), "a whole-plan check selects no op"
    held = measured_ops(found.values(), ops)
    assert held == (lead, renamed, *removals(3))
    assert course not in held and not any(isinstance(op, UnassignCourse) for op in held)


def test_checks_in_json_name_their_kinds_and_field() -> None:
    data = checks_of(title_changes(20))["max_field_change_percent[JobTitle]"].to_dict()
    assert data["kinds"] == ["update_user"] and data["field"] == "JobTitle"
    assert data["tripped"] is True and data["limit"] == "max_field_change_percent"


# --------------------------------------------------------------------------- through build_plan


STAFF = [person(f"E{i:03d}") for i in range(40)]


def plan_for(rows: list[dict[str, Any]], mirror: Mirror, allow: bool = False, **kw: Any) -> Plan:
    return build_plan(
        roster(rows), connection(**kw), LITMOS_LIKE, mirror, today=TODAY, allow_mass_change=allow
    )


def test_a_mapping_change_moving_everyone_holds_the_moves_or_refuses_unless_allowed() -> None:
    mirror = apply(plan_for(STAFF, Mirror.empty()), Mirror.empty())
    moved = [{**row, "department": "Elsewhere"} for row in STAFF]
    plan = plan_for(moved, mirror)
    tripped = {c.label for c in plan.checks if c.tripped}
    assert tripped == {
        "max_field_change_percent[groups]",
        "max_group_removal_percent",
    }
    # Held by default: every membership change waits; the new team itself may be made.
    assert plan.refusal is None
    held_kinds = {op.kind for op in plan.held_ops}
    assert held_kinds == {"add_members", "remove_member"}
    flowing = [op for op in plan.ops if op.key not in plan.held]
    assert {op.kind for op in flowing} <= {"create_group"}
    moved_people = {p for op in plan.held_ops for p in getattr(op, "external_ids", ())}
    assert len(moved_people) == 40
    refused = plan_for(moved, mirror, safeguards={"on_trip": "refuse"})
    assert refused.refusal is not None and refused.refusal.limit == "max_field_change_percent"
    assert refused.refusal.field == MEMBERSHIPS
    with pytest.raises(SafeguardTripped) as caught:
        check_safeguards(refused)
    assert "40 of 40 active synced people (100.0%) change groups" in str(caught.value)
    allowed = plan_for(moved, mirror, allow=True)
    assert allowed.refusal is None and allowed.overridden and not allowed.held


def test_a_rule_change_unassigning_most_people_holds_the_unassignments() -> None:
    rules = [{"name": "all", "assign": {"courses": ["C1"]}}]
    deprovision = {"unassign_courses": True}
    mirror = apply(
        plan_for(STAFF, Mirror.empty(), rules=rules, deprovision=deprovision), Mirror.empty()
    )
    narrowed = [{**rules[0], "when": [{"field": "title", "equals": "Lead"}]}]
    plan = plan_for(STAFF, mirror, rules=narrowed, deprovision=deprovision)
    assert plan.refusal is None
    assert {op.kind for op in plan.held_ops} == {"unassign_course"}
    assert set(plan.held_by_check) == {"max_unassignment_percent"}
    refused = plan_for(
        STAFF, mirror, rules=narrowed, deprovision=deprovision, safeguards={"on_trip": "refuse"}
    )
    assert refused.refusal is not None and refused.refusal.limit == "max_unassignment_percent"
    assert refused.refusal.message == (
        "unassign_course/unassign_learning_path: 40 of 40 assignments held (100.0%) removed, "
        "limit max_unassignment_percent = 10%"
    )
