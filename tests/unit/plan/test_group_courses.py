"""Courses a rule gives to a whole group go to the group in one call, only where that is
exact (the group holds exactly the people the rule chooses) and takes fewer calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.ops import AddMembers, AssignCourses, AssignGroupCourses, CreateGroup
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
SALES_ONLY = [
    {"name": "crm", "when": [{"member_of": "org:Ops/Sales"}], "assign": {"courses": ["C-CRM"]}}
]
EVERYONE = {"name": "everyone", "assign": {"courses": ["C-SAFETY"]}}
ONE_COURSE_A_CALL = replace(LITMOS_LIKE, max_courses_per_call=1)


def sales(n: int, **values: Any) -> list[dict[str, Any]]:
    return [person(f"S{i}", department="Sales", **values) for i in range(n)]


def plan_for(rows, mirror=None, *, profile=LITMOS_LIKE, rules=SALES_ONLY, **config) -> Plan:
    return build_plan(
        roster(rows),
        connection(rules=rules, **config),
        profile,
        mirror or Mirror.empty(),
        today=TODAY,
        name="main",
    )


def of(plan: Plan, kind: type) -> list[Any]:
    return [op for op in plan.ops if isinstance(op, kind)]


def test_a_team_rule_is_one_call_for_the_team_instead_of_one_per_member():
    rows = [*sales(5), person("X1")]
    plan = plan_for(rows)
    (group,) = of(plan, AssignGroupCourses)
    assert group.group_key == "org:Ops/Sales" and group.course_ids == ("C-CRM",)
    assert group.external_ids == tuple(f"S{i}" for i in range(5))
    assert of(plan, AssignCourses) == []
    waits = set(group.depends_on)
    (sales_members,) = [op for op in of(plan, AddMembers) if op.group_key == "org:Ops/Sales"]
    assert sales_members.key in waits
    assert any(op.key in waits for op in of(plan, CreateGroup) if op.group_key == "org:Ops/Sales")
    per_person = plan_for(rows, profile=replace(LITMOS_LIKE, group_assignment=False))
    assert len(of(per_person, AssignCourses)) == 5
    assert plan.calls == per_person.calls - 4


def test_the_group_form_is_recorded_per_person_so_the_next_plan_is_empty():
    rows = sales(4)
    mirror = apply(plan_for(rows), Mirror.empty())
    assert sorted(mirror.assignments["external_id"]) == ["S0", "S1", "S2", "S3"]
    assert plan_for(rows, mirror).ops == ()


def test_not_used_when_it_saves_nothing():
    """Litmos sends all of a person's courses in one call: with an everyone-rule each member
    needs that call anyway, so the team call would only add one."""
    plan = plan_for(sales(5), rules=[EVERYONE, *SALES_ONLY])
    assert of(plan, AssignGroupCourses) == []
    assert sorted(op.course_ids for op in of(plan, AssignCourses)) == [("C-CRM", "C-SAFETY")] * 5


def test_used_beside_other_rules_when_each_course_is_its_own_call():
    plan = plan_for(sales(5), profile=ONE_COURSE_A_CALL, rules=[EVERYONE, *SALES_ONLY])
    (group,) = of(plan, AssignGroupCourses)
    assert group.course_ids == ("C-CRM",)
    assert sorted(op.course_ids for op in of(plan, AssignCourses)) == [("C-SAFETY",)] * 5


def test_a_parent_group_reaches_the_members_of_its_subgroups():
    rows = [*sales(3), *(person(f"P{i}", department="Support") for i in range(3))]
    rule = [{"name": "ops", "when": [{"member_of": "org:Ops"}], "assign": {"courses": ["C-OPS"]}}]
    (group,) = of(plan_for(rows, rules=rule), AssignGroupCourses)
    assert group.group_key == "org:Ops"
    assert set(group.external_ids) == {"S0", "S1", "S2", "P0", "P1", "P2"}


def test_not_used_when_the_team_holds_someone_the_rule_does_not_choose():
    """A leaver whose account stays (deactivated, memberships kept) would get the course."""
    rows = sales(4)
    mirror = apply(plan_for(rows, rules=[]), Mirror.empty())
    rows[0] = {**rows[0], "active": False}
    plan = plan_for(rows, mirror)
    assert of(plan, AssignGroupCourses) == []
    assert sorted(op.external_id for op in of(plan, AssignCourses)) == ["S1", "S2", "S3"]


def test_not_used_when_memberships_are_never_removed():
    plan = plan_for(sales(5), deprovision={"remove_memberships": False})
    assert of(plan, AssignGroupCourses) == []


def test_not_used_for_a_rule_with_more_than_the_group_condition():
    rule = [
        {
            "name": "crm",
            "when": [{"member_of": "org:Ops/Sales"}, {"field": "title", "equals": "Engineer"}],
            "assign": {"courses": ["C-CRM"]},
        }
    ]
    assert of(plan_for(sales(5), rules=rule), AssignGroupCourses) == []


def test_a_vendor_without_group_assignment_gets_one_op_per_person():
    plan = plan_for(sales(5), profile=replace(LITMOS_LIKE, group_assignment=False))
    assert of(plan, AssignGroupCourses) == [] and len(of(plan, AssignCourses)) == 5
