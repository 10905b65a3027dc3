"""Scenario tests: every op type, adoption, moves, rehires, rule changes, policies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pandas as pd
import pytest

from syncd.plan import Listing, Mirror, Plan, apply, build_plan, desire
from syncd.plan import diff as diff_module
from syncd.plan.desired import Desired
from syncd.plan.diff import compare_sets, index_mirror
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    ReactivateUser,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)
from syncd.plan.users import pair
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
RULES = [
    {"name": "everyone", "assign": {"courses": ["C-SAFETY"]}},
    {
        "name": "sales",
        "when": [{"field": "department", "equals": "Sales"}],
        "assign": {"courses": ["C-CRM"], "learning_paths": ["LP-SALES"]},
    },
]


def plan_for(
    rows: list[dict[str, Any]],
    mirror: Mirror | None = None,
    *,
    listing: Listing | None = None,
    rejected: tuple[str, ...] = (),
    today: date = TODAY,
    **config: Any,
) -> Plan:
    config.setdefault("rules", RULES)
    return build_plan(
        roster(rows, rejected_keys=rejected),
        connection(**config),
        LITMOS_LIKE,
        mirror or Mirror.empty(),
        today=today,
        name="main",
        listing=listing,
    )


def synced(rows: list[dict[str, Any]], **config: Any) -> Mirror:
    """The mirror after a first sync of ``rows`` was fully applied."""
    first = plan_for(rows, **config)
    return apply(first, Mirror.empty())


def of(plan: Plan, kind: type) -> list[Any]:
    return [op for op in plan.ops if isinstance(op, kind)]


def test_first_sync_creates_groups_users_members_and_assignments() -> None:
    rows = [person("E1"), person("E2", department="Sales"), person("E3", department="Sales")]
    plan = plan_for(rows)
    assert [op.group_key for op in of(plan, CreateGroup)] == [
        "org:Ops",
        "org:Ops/Sales",
        "org:Ops/Support",
    ]
    creates = of(plan, CreateUser)
    assert [op.external_id for op in creates] == ["E1", "E2", "E3"]
    assert creates[0].attrs == (
        ("UserName", "e1@corp.example"),
        ("FirstName", "FirstE1"),
        ("LastName", "LastE1"),
        ("Email", "e1@corp.example"),
        ("JobTitle", "Engineer"),
    )
    assert creates[0].match_value == "e1@corp.example"
    adds = {op.group_key: op.external_ids for op in of(plan, AddMembers)}
    assert adds == {"org:Ops/Sales": ("E2", "E3"), "org:Ops/Support": ("E1",)}
    courses = {op.external_id: op.course_ids for op in of(plan, AssignCourses)}
    assert courses == {
        "E1": ("C-SAFETY",),
        "E2": ("C-CRM", "C-SAFETY"),
        "E3": ("C-CRM", "C-SAFETY"),
    }
    paths = {op.external_id: op.learning_path_ids for op in of(plan, AssignLearningPaths)}
    assert paths == {"E2": ("LP-SALES",), "E3": ("LP-SALES",)}


def test_dependencies_are_explicit_and_point_backwards() -> None:
    plan = plan_for([person("E1"), person("E2", department="Sales")])
    position = {op.key: i for i, op in enumerate(plan.ops)}
    for i, op in enumerate(plan.ops):
        for needed in op.depends_on:
            assert position[needed] < i, (op, needed)
    sales = next(op for op in of(plan, AddMembers) if op.group_key == "org:Ops/Sales")
    assert set(sales.depends_on) == {"create_group:org:Ops/Sales", "create_user:E2"}
    child = next(op for op in of(plan, CreateGroup) if op.group_key == "org:Ops/Sales")
    assert child.depends_on == ("create_group:org:Ops",)
    assign = next(op for op in of(plan, AssignCourses) if op.external_id == "E1")
    assert assign.depends_on == ("create_user:E1",)


def test_unchanged_roster_gives_an_empty_plan() -> None:
    rows = [person("E1"), person("E2", department="Sales"), person("E9", active=False)]
    mirror = synced(rows)
    again = plan_for(rows, mirror)
    assert again.ops == ()
    assert again.empty and not again.refused and again.calls == 0


def test_planning_is_deterministic() -> None:
    rows = [person(f"E{i}", department=("Sales" if i % 2 else "Support")) for i in range(30)]
    first, second = plan_for(rows), plan_for(list(reversed(rows)))
    assert first.ops == second.ops
    assert [op.key for op in first.ops] == [op.key for op in second.ops]


def test_update_carries_only_changed_fields_old_to_new() -> None:
    mirror = synced([person("E1"), person("E2")])
    plan = plan_for([person("E1", title="Manager", last_name="Smith"), person("E2")], mirror)
    assert plan.ops == (
        UpdateUser(
            external_id="E1",
            changes=(("LastName", "LastE1", "Smith"), ("JobTitle", "Engineer", "Manager")),
        ),
    )


def test_username_change_updates_match_value() -> None:
    mirror = synced([person("E1")])
    plan = plan_for([person("E1", username="new@corp.example")], mirror)
    (update,) = plan.ops
    assert isinstance(update, UpdateUser)
    assert update.changes == (("UserName", "e1@corp.example", "new@corp.example"),)
    assert update.match_value == "new@corp.example"
    after = apply(plan, mirror)
    assert after.users.set_index("external_id").loc["E1", "match_value"] == "new@corp.example"
    assert plan_for([person("E1", username="new@corp.example")], after).ops == ()


def test_leaver_is_deactivated_and_left_otherwise_alone() -> None:
    mirror = synced([person("E1"), person("E2")])
    plan = plan_for([person("E1"), person("E2", active=False, title="Gone")], mirror)
    assert plan.ops == (DeactivateUser(external_id="E2", reason="terminated"),)
    after = apply(plan, mirror)
    assert plan_for([person("E1"), person("E2", active=False)], after).ops == ()
    kept = after.memberships.loc[after.memberships["external_id"] == "E2"]
    assert len(kept) == 1


def test_absent_person_is_deactivated_but_rejected_row_is_not() -> None:
    mirror = synced([person("E1"), person("E2"), person("E3")])
    plan = plan_for([person("E1")], mirror, rejected=("E3",))
    assert plan.ops == (DeactivateUser(external_id="E2", reason="absent from export"),)


def test_grace_days_delay_deactivation() -> None:
    mirror = synced([person("E1")])
    leaver = person("E1", active=False, termination_date="2024-05-25")
    policy = {"deprovision": {"grace_days": 10}}
    assert plan_for([leaver], mirror, **policy).ops == ()
    later = plan_for([leaver], mirror, today=date(2024, 6, 4), **policy)
    assert of(later, DeactivateUser) == [DeactivateUser(external_id="E1", reason="terminated")]
    undated = person("E1", active=False, termination_date="")
    assert of(plan_for([undated], mirror, **policy), DeactivateUser)


def test_delete_only_when_configured_and_never_for_ignore() -> None:
    mirror = synced([person("E1"), person("E2")])
    rows = [person("E1", active=False)]
    deleting = plan_for(
        rows, mirror, deprovision={"on_termination": "delete", "on_absent": "delete"}
    )
    assert deleting.ops == (
        DeleteUser(external_id="E1", reason="terminated"),
        DeleteUser(external_id="E2", reason="absent from export"),
    )
    after = apply(deleting, mirror)
    assert after.users.empty and after.memberships.empty and after.assignments.empty
    ignoring = plan_for(
        rows, mirror, deprovision={"on_termination": "ignore", "on_absent": "ignore"}
    )
    assert ignoring.ops == ()


def test_rehire_is_reactivated_updated_and_regrouped() -> None:
    mirror = apply(
        plan_for([person("E1", active=False)], synced([person("E1")])), synced([person("E1")])
    )
    back = person("E1", department="Sales", title="Returner")
    plan = plan_for([back], mirror)
    reactivate = ReactivateUser(external_id="E1")
    assert of(plan, ReactivateUser) == [reactivate]
    (update,) = of(plan, UpdateUser)
    assert update.changes == (("JobTitle", "Engineer", "Returner"),)
    assert update.depends_on == (reactivate.key,)
    (add,) = of(plan, AddMembers)
    assert add.group_key == "org:Ops/Sales" and reactivate.key in add.depends_on
    assert of(plan, RemoveMember) == [RemoveMember(group_key="org:Ops/Support", external_id="E1")]
    assert [op.course_ids for op in of(plan, AssignCourses)] == [("C-CRM",)]
    assert plan_for([back], apply(plan, mirror)).ops == ()


def test_rehire_stays_inactive_without_reactivate() -> None:
    base = synced([person("E1")])
    mirror = apply(plan_for([person("E1", active=False)], base), base)
    plan = plan_for([person("E1", title="Back")], mirror, deprovision={"reactivate": False})
    assert plan.ops == ()


def test_move_between_teams_adds_and_removes() -> None:
    mirror = synced([person("E1"), person("E2")])
    plan = plan_for([person("E1", department="Sales"), person("E2")], mirror)
    assert of(plan, CreateGroup) == [
        CreateGroup(group_key="org:Ops/Sales", name="Sales", parent_key="org:Ops")
    ]
    (add,) = of(plan, AddMembers)
    assert add.external_ids == ("E1",) and add.depends_on == ("create_group:org:Ops/Sales",)
    assert of(plan, RemoveMember) == [RemoveMember(group_key="org:Ops/Support", external_id="E1")]
    kept = plan_for(
        [person("E1", department="Sales"), person("E2")],
        mirror,
        deprovision={"remove_memberships": False},
    )
    assert not of(kept, RemoveMember) and of(kept, AddMembers)


def test_members_are_chunked_by_the_profile() -> None:
    from dataclasses import replace

    profile = replace(LITMOS_LIKE, max_members_per_call=2, max_courses_per_call=1)
    rows = [person(f"E{i}") for i in range(5)]
    plan = build_plan(
        roster(rows),
        connection(rules=[*RULES[:1], {"name": "two", "assign": {"courses": ["C2"]}}]),
        profile,
        Mirror.empty(),
        today=TODAY,
    )
    chunks = [op.external_ids for op in of(plan, AddMembers)]
    assert chunks == [("E0", "E1"), ("E2", "E3"), ("E4",)]
    assert len({op.key for op in of(plan, AddMembers)}) == 3
    per_person = [op.course_ids for op in of(plan, AssignCourses) if op.external_id == "E0"]
    assert per_person == [("C-SAFETY",), ("C2",)]


def test_already_assigned_courses_are_not_assigned_again() -> None:
    mirror = synced([person("E1")], rules=RULES[:1])
    plan = plan_for(
        [person("E1")],
        mirror,
        rules=[*RULES[:1], {"name": "new", "assign": {"courses": ["C-SAFETY", "C-NEW"]}}],
    )
    assert plan.ops == (AssignCourses(external_id="E1", course_ids=("C-NEW",)),)


def test_rule_removed_keeps_courses_unless_unassign_configured() -> None:
    mirror = synced([person("E1", department="Sales")])
    assert plan_for([person("E1", department="Sales")], mirror, rules=RULES[:1]).ops == ()
    plan = plan_for(
        [person("E1", department="Sales")],
        mirror,
        rules=RULES[:1],
        deprovision={"unassign_courses": True},
    )
    assert plan.ops == (
        UnassignCourse(external_id="E1", course_id="C-CRM"),
        UnassignLearningPath(external_id="E1", learning_path_id="LP-SALES"),
    )


def test_rule_change_assigns_to_newly_matching_people() -> None:
    mirror = synced([person("E1"), person("E2", title="Manager")])
    managers = {
        "name": "managers",
        "when": [{"field": "title", "in": ["manager", "director"]}],
        "assign": {"courses": ["C-LEAD"]},
    }
    plan = plan_for([person("E1"), person("E2", title="Manager")], mirror, rules=[*RULES, managers])
    assert plan.ops == (AssignCourses(external_id="E2", course_ids=("C-LEAD",)),)


def test_renamed_group_name_updates_the_group() -> None:
    mirror = synced([person("E1")])
    groups = mirror.groups.copy()
    groups.loc[groups["key"] == "org:Ops/Support", "name"] = "Old name"
    mirror = Mirror(mirror.users, groups, mirror.memberships, mirror.assignments)
    plan = plan_for([person("E1")], mirror)
    assert plan.ops == (
        UpdateGroup(group_key="org:Ops/Support", name="Support", parent_key="org:Ops"),
    )


def listing(
    users: list[tuple[str, str, bool, dict[str, str]]], groups: list[tuple[str, str, str]] = ()
) -> Listing:
    return Listing(
        users=pd.DataFrame(users, columns=["remote_id", "match_value", "active", "attrs"]),
        groups=pd.DataFrame(
            list(groups), columns=["remote_id", "name", "parent_remote_id"], dtype="str"
        ),
    )


def test_adoption_links_existing_account_instead_of_creating() -> None:
    remote = {
        "UserName": "E1@Corp.Example",
        "FirstName": "FirstE1",
        "LastName": "Old",
        "Email": "e1@corp.example",
    }
    full = listing(
        [("R1", "E1@CORP.EXAMPLE", True, remote), ("R9", "someone@else", True, {})],
        [("T1", "Ops", ""), ("T2", "Support", "T1")],
    )
    plan = plan_for([person("E1"), person("E2")], listing=full)
    (link,) = of(plan, LinkUser)
    assert (link.external_id, link.remote_id, link.active) == ("E1", "R1", True)
    assert [op.external_id for op in of(plan, CreateUser)] == ["E2"]
    (update,) = of(plan, UpdateUser)
    assert update.depends_on == (link.key,)
    assert update.changes == (
        ("UserName", "E1@Corp.Example", "e1@corp.example"),
        ("LastName", "Old", "LastE1"),
        ("JobTitle", "", "Engineer"),
    )
    assert [(op.group_key, op.remote_id) for op in of(plan, LinkGroup)] == [
        ("org:Ops", "T1"),
        ("org:Ops/Support", "T2"),
    ]
    assert not of(plan, CreateGroup)
    assert plan.calls == 1 + 2 + 1 + 2  # create E2, update E1, one AddMembers, two AssignCourses
    after = apply(plan, Mirror.empty())
    assert plan_for([person("E1"), person("E2")], after).ops == ()


def test_adoption_reactivates_inactive_account_and_links_leavers_to_deactivate() -> None:
    full = listing([("R1", "e1@corp.example", False, {}), ("R2", "e2@corp.example", True, {})])
    plan = plan_for([person("E1"), person("E2", active=False)], listing=full)
    links = of(plan, LinkUser)
    assert [(op.external_id, op.active) for op in links] == [("E1", False), ("E2", True)]
    assert of(plan, ReactivateUser) == [
        ReactivateUser(external_id="E1", depends_on=(links[0].key,))
    ]
    assert of(plan, DeactivateUser) == [
        DeactivateUser(external_id="E2", reason="terminated", depends_on=(links[1].key,))
    ]


def test_drift_in_the_listing_becomes_an_update() -> None:
    mirror = synced([person("E1")])
    mirror.users.loc[0, "remote_id"] = "R1"
    drifted = {"FirstName": "Hand edited", "Email": "e1@corp.example"}
    plan = plan_for(
        [person("E1")], mirror, listing=listing([("R1", "e1@corp.example", True, drifted)])
    )
    assert plan.ops == (
        UpdateUser(external_id="E1", changes=(("FirstName", "Hand edited", "FirstE1"),)),
    )


def test_people_that_cannot_be_matched_safely_are_skipped() -> None:
    mirror = synced([person("E1")])
    rows = [
        person("E1", username="renamed@corp.example"),
        person("E2", username=""),
        person("E3", username="dup@corp.example"),
        person("E4", username="DUP@corp.example"),
        person("E5", username="E1@corp.example"),
        person("E6"),
    ]
    plan = plan_for(rows, mirror)
    assert [op.external_id for op in of(plan, CreateUser)] == ["E6"]
    assert [op.external_id for op in of(plan, UpdateUser)] == ["E1"]
    assert plan.skipped.to_dict("records") == [
        {"external_id": "E2", "reason": "empty match value"},
        {"external_id": "E3", "reason": "match value shared with another person"},
        {"external_id": "E4", "reason": "match value shared with another person"},
        {"external_id": "E5", "reason": "match value already synced"},
    ]
    skipped_ids = {"E2", "E3", "E4", "E5"}
    for op in plan.ops:
        assert getattr(op, "external_id", None) not in skipped_ids
        assert not skipped_ids & set(getattr(op, "external_ids", ()))


def test_leavers_are_never_created() -> None:
    plan = plan_for([person("E1", active=False)])
    assert plan.ops == ()


def test_connection_fields_templates_and_literals() -> None:
    fields = {
        "FirstName": "{first_name}",
        "LastName": "Staff",
        "FullName": "{first_name} {last_name}",
        "AccessLevel": "Learner",
        "UserName": "username",
    }
    plan = plan_for([person("E1", last_name="")], fields=fields, groups=[], rules=[])
    (create,) = plan.ops
    assert create.attrs == (
        ("UserName", "e1@corp.example"),
        ("FirstName", "FirstE1"),
        ("LastName", "Staff"),
        ("FullName", "FirstE1"),
        ("AccessLevel", "Learner"),
    )


def test_unknown_field_in_connection_mapping_is_a_config_error() -> None:
    from syncd.errors import ConfigError

    with pytest.raises(ConfigError, match=r"connections.main.fields.Nick: .*`nick_name`"):
        plan_for([person("E1")], fields={"Nick": "{nick_name}"})
    with pytest.raises(ConfigError, match="no field `frist_name`"):
        plan_for([person("E1")], fields={"FirstName": "frist_name"})


def test_a_set_comparison_started_ahead_is_taken_once_and_only_for_its_own_desired_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`syncd plan` starts comparing memberships and courses while it fetches fields; the
    diff must then give exactly the plan it gives alone, and refuse a comparison made for
    another desired state."""
    before = [person(f"E{i}", department=("Sales" if i % 2 else "Support")) for i in range(12)]
    after = [person("E1"), *before[2:], person("E99", department="Sales")]
    mirror = synced(before)
    conn = connection(rules=RULES, deprovision={"unassign_courses": True})

    def planned(desired: Desired, on: Mirror, **ahead: Any) -> Plan:
        return build_plan(
            None, conn, LITMOS_LIKE, on, today=TODAY, name="main", desired=desired, **ahead
        )

    alone = planned(desire(roster(after), conn, LITMOS_LIKE, today=TODAY), mirror)
    for kind in (AddMembers, RemoveMember, AssignCourses, UnassignCourse):
        assert of(alone, kind), kind
    calls: list[int] = []
    real = diff_module.compare_sets

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(diff_module, "compare_sets", counted)
    desired = desire(roster(after), conn, LITMOS_LIKE, today=TODAY)
    index = index_mirror(mirror)
    known = pair(desired, mirror.users).user_rows(len(mirror.users))
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(compare_sets, desired, mirror, index, known)
        ahead = planned(desired, mirror, index=index, compared=started, executor=pool)
        assert not calls, "taken, not redone"
        other = desire(roster(before), conn, LITMOS_LIKE, today=TODAY)
        stale = pool.submit(compare_sets, other, mirror, index, known)
        with pytest.raises(ValueError, match="another desired state"):
            planned(desired, mirror, index=index, compared=stale)
    assert ahead.ops == alone.ops
