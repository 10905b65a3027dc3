"""The list forms the plan uses where a vendor declares them, and only where they take fewer
calls: one course for many people in one call (``max_people_per_course_call``: SCORM Cloud
private invitations) and a mover's memberships replaced in one call (``membership_replace``:
Enabley ``replace=true``, opt-in per connection)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from syncd.errors import ConfigError
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.effects import AddAssignments, effects
from syncd.plan.model import VendorProfile
from syncd.plan.ops import (
    AddMembers,
    AssignCoursePeople,
    AssignCourses,
    CreateUser,
    RemoveMember,
    ReplaceMemberships,
)
from syncd.vendors.enabley import EnableyConnector
from syncd.vendors.scormcloud.connector import INVITATION_ADDRESSES, ScormCloudConnector
from tests.unit.plan.kit import connection, person, roster

TODAY = date(2024, 6, 1)
EVERYONE = {"name": "everyone", "assign": {"courses": ["C1"]}}
SALES = {"name": "sales", "when": [{"field": "department", "equals": "Sales"}]}


def scorm(**options: Any) -> VendorProfile:
    conn = scorm_connection(**options)
    return ScormCloudConnector.profile_for(conn)


def scorm_connection(**options: Any):
    return connection(
        vendor="scormcloud",
        base_url="http://127.0.0.1:1/api/v2",
        credentials={"app_id": "a", "secret_key": "s"},
        groups=[],
        options=options,
        rules=[EVERYONE, {**SALES, "assign": {"courses": ["C2"]}}],
    )


INVITED = {"assign_by": "private_invitation", "creating_user_email": "hr@corp.test"}


def enabley(**options: Any) -> VendorProfile:
    return EnableyConnector.profile_for(enabley_connection(**options))


def enabley_connection(*, groupings=("org",), deprovision=None, **options: Any):
    extra = {"deprovision": deprovision} if deprovision else {}
    return connection(
        vendor="enabley",
        base_url="http://127.0.0.1:1",
        credentials={"client_id": "i", "client_secret": "s"},
        groups=list(groupings),
        options=options,
        **extra,
    )


def plan(rows, conn, profile: VendorProfile, mirror=None, *, groupings=None) -> Plan:
    return build_plan(
        roster(rows, groupings=groupings),
        conn,
        profile,
        mirror or Mirror.empty(),
        today=TODAY,
        name="main",
    )


def of(planned: Plan, kind: type) -> list[Any]:
    return [op for op in planned.ops if isinstance(op, kind)]


def hires(n: int, **values: Any) -> list[dict[str, Any]]:
    return [person(f"E{i:02}", **values) for i in range(n)]


# --------------------------------------------------------------------------- one course, many


def test_ten_hires_to_one_course_are_one_invitation_instead_of_ten():
    rows = hires(10)
    invited = plan(rows, scorm_connection(**INVITED), scorm(**INVITED))
    (op,) = of(invited, AssignCoursePeople)
    assert op.course_id == "C1" and op.external_ids == tuple(f"E{i:02}" for i in range(10))
    assert of(invited, AssignCourses) == []
    creates = {c.key for c in of(invited, CreateUser)}
    assert set(op.depends_on) == creates
    assert invited.counts == {"create_user": 10, "assign_course_people": 1}
    assert invited.calls == 2  # the POST and at least one job-status read
    one_by_one = replace(scorm(**INVITED), max_people_per_course_call=1)
    before = plan(rows, scorm_connection(**INVITED), one_by_one)
    assert len(of(before, AssignCourses)) == 10 and before.calls == 20


def test_registrations_stay_one_per_person_and_course():
    profile = scorm()
    assert profile.max_people_per_course_call == 1
    planned = plan(hires(10), scorm_connection(), profile)
    assert len(of(planned, AssignCourses)) == 10 and of(planned, AssignCoursePeople) == []
    assert planned.calls == 10


def test_people_are_cut_into_lists_of_the_vendors_most_per_call():
    assert scorm(**INVITED).max_people_per_course_call == INVITATION_ADDRESSES
    profile = replace(scorm(**INVITED), max_people_per_course_call=4)
    planned = plan(hires(10), scorm_connection(**INVITED), profile)
    sizes = [len(op.external_ids) for op in of(planned, AssignCoursePeople)]
    assert sizes == [4, 4, 2] and planned.calls == 6
    everyone = [p for op in of(planned, AssignCoursePeople) for p in op.external_ids]
    assert everyone == [f"E{i:02}" for i in range(10)]


def test_one_person_keeps_the_per_person_form_it_costs_the_same():
    planned = plan(hires(1), scorm_connection(**INVITED), scorm(**INVITED))
    assert of(planned, AssignCoursePeople) == []
    (op,) = of(planned, AssignCourses)
    assert op.course_ids == ("C1",) and planned.calls == 2


def test_each_course_is_its_own_list_and_a_lone_course_stays_per_person():
    rows = [*hires(3), person("S1", department="Sales")]
    planned = plan(rows, scorm_connection(**INVITED), scorm(**INVITED))
    (listed,) = of(planned, AssignCoursePeople)
    assert listed.course_id == "C1" and listed.external_ids == ("E00", "E01", "E02", "S1")
    (alone,) = of(planned, AssignCourses)
    assert (alone.external_id, alone.course_ids) == ("S1", ("C2",))
    assert planned.calls == 4


def test_private_invitations_skip_people_without_an_address_instead_of_failing():
    rows = [*hires(2), person("X1", email="")]
    planned = plan(rows, scorm_connection(**INVITED), scorm(**INVITED))
    assert planned.skipped["external_id"].tolist() == ["X1"]
    (op,) = of(planned, AssignCoursePeople)
    assert op.external_ids == ("E00", "E01")


def test_only_confirmed_people_are_recorded_and_the_next_plan_asks_for_the_rest():
    rows = hires(3)
    conn, profile = scorm_connection(**INVITED), scorm(**INVITED)
    first = plan(rows, conn, profile)
    (op,) = of(first, AssignCoursePeople)
    assert effects(op, detail={"added": ["E00", "E02"]}) == (
        AddAssignments("E00", "course", ("C1",)),
        AddAssignments("E02", "course", ("C1",)),
    )
    mirror = _confirm(apply(of(first, CreateUser), Mirror.empty()), op, ["E00", "E02"])
    again = plan(rows, conn, profile, mirror)
    assert [(o.external_id, o.course_ids) for o in of(again, AssignCourses)] == [("E01", ("C1",))]
    assert of(again, AssignCoursePeople) == []


def _confirm(mirror: Mirror, op: AssignCoursePeople, added: list[str]) -> Mirror:
    """The mirror after ``op`` was confirmed for ``added`` only (as the outbox records it)."""
    return apply([replace(op, external_ids=tuple(added))], mirror)


def test_the_list_form_leads_to_the_desired_state_so_the_next_plan_is_empty():
    rows = [*hires(5), person("S1", department="Sales"), person("S2", department="Sales")]
    conn, profile = scorm_connection(**INVITED), scorm(**INVITED)
    first = plan(rows, conn, profile)
    assert {op.course_id for op in of(first, AssignCoursePeople)} == {"C1", "C2"}
    after = apply(first, Mirror.empty())
    assert len(after.assignments) == 9
    assert plan(rows, conn, profile, after).empty


# --------------------------------------------------------------------------- replace


def _synced(rows, conn, profile, *, groupings=None) -> Mirror:
    return apply(plan(rows, conn, profile, groupings=groupings), Mirror.empty())


def test_a_mover_is_one_replace_call_with_the_option_and_two_calls_without():
    before = [person("E1", department="Support"), person("E2", department="Support")]
    after = [person("E1", department="Sales"), person("E2", department="Support")]
    for options, calls in (({"memberships": "replace"}, 1), ({}, 2)):
        conn, profile = enabley_connection(**options), enabley(**options)
        mirror = _synced(before, conn, profile)
        moved = plan(after, conn, profile, mirror)
        membership_ops = [op for op in moved.ops if op.kind != "create_group"]
        assert sum(profile.calls_for(op.kind) for op in membership_ops) == calls
        assert moved.calls == calls + 1  # and the new group
        if options:
            (op,) = membership_ops
            assert op == ReplaceMemberships(
                external_id="E1", group_key="org:Ops/Sales", removed=("org:Ops/Support",)
            )
            assert set(op.depends_on) == {
                o.key for o in moved.ops if getattr(o, "group_key", "") == "org:Ops/Sales"
            } - {op.key}
        else:
            assert {op.kind for op in membership_ops} == {"add_members", "remove_member"}
        done = apply(moved, mirror)
        assert sorted(done.memberships.astype(str).values.tolist()) == [
            ["org:Ops/Sales", "E1"],
            ["org:Ops/Support", "E2"],
        ]
        assert plan(after, conn, profile, done).empty


def test_a_mover_out_of_several_groups_is_still_one_call():
    conn, profile = enabley_connection(memberships="replace"), enabley(memberships="replace")
    rows = [person("E1", department="Support")]
    mirror = _synced(rows, conn, profile)
    extra = apply([AddMembers(group_key="org:Ops", external_ids=("E1",))], mirror)
    moved = plan([person("E1", department="Sales")], conn, profile, extra)
    (op,) = of(moved, ReplaceMemberships)
    assert op.removed == ("org:Ops", "org:Ops/Support")
    assert of(moved, RemoveMember) == [] and of(moved, AddMembers) == []


def test_a_membership_the_mover_keeps_keeps_the_one_by_one_form():
    groupings = {"org": ("division", "department"), "site": ("title",)}
    conn = enabley_connection(groupings=("org", "site"), memberships="replace")
    profile = enabley(memberships="replace")
    rows = [person("E1", department="Support")]
    mirror = _synced(rows, conn, profile, groupings=groupings)
    moved = plan([person("E1", department="Sales")], conn, profile, mirror, groupings=groupings)
    assert of(moved, ReplaceMemberships) == []
    assert len(of(moved, AddMembers)) == len(of(moved, RemoveMember)) == 1


def test_a_hire_gains_nothing_from_replace():
    conn, profile = enabley_connection(memberships="replace"), enabley(memberships="replace")
    hired = plan([person("E1")], conn, profile)
    assert of(hired, ReplaceMemberships) == [] and len(of(hired, AddMembers)) == 1


def test_replace_is_never_used_when_memberships_are_not_removed():
    deprovision = {"remove_memberships": False}
    conn = enabley_connection(deprovision=deprovision, memberships="replace")
    profile = enabley(memberships="replace")
    mirror = _synced([person("E1", department="Support")], conn, profile)
    moved = plan([person("E1", department="Sales")], conn, profile, mirror)
    assert of(moved, ReplaceMemberships) == [] and of(moved, RemoveMember) == []
    assert len(of(moved, AddMembers)) == 1


def test_replace_is_opt_in_and_an_unknown_choice_is_refused():
    assert not enabley().membership_replace
    assert enabley(memberships="add_remove") == enabley()
    assert enabley(memberships="replace").calls_for("replace_memberships") == 1
    with pytest.raises(ConfigError, match=r"options\.memberships"):
        enabley(memberships="sometimes")


def test_a_vendor_adding_many_members_per_call_replaces_only_to_save_removals():
    """Its addition may ride in a batch anyway, so only the removals count: one removal
    saves nothing, two save a call."""
    conn = enabley_connection(memberships="replace")
    batched = replace(enabley(memberships="replace"), max_members_per_call=None)
    mirror = _synced([person("E1", department="Support")], conn, batched)
    moved = plan([person("E1", department="Sales")], conn, batched, mirror)
    assert of(moved, ReplaceMemberships) == [] and len(of(moved, RemoveMember)) == 1
    extra = apply([AddMembers(group_key="org:Ops", external_ids=("E1",))], mirror)
    again = plan([person("E1", department="Sales")], conn, batched, extra)
    assert len(of(again, ReplaceMemberships)) == 1 and of(again, RemoveMember) == []
