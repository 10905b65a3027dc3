"""Group identity ignores case, as the LMS's team names do.

A case-only rename ("Sales" -> "SALES") is the group the mirror already holds, renamed: one
UpdateGroup under the mirror's key, memberships untouched, and nothing left to do after it.
Two spellings in one export are one group (``syncd.hris.groups``), named by the spelling
most rows use.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from syncd.config import GroupSpec
from syncd.hris import groups
from syncd.hris.mapping import TEXT
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.desired import group_aliases, mirror_twins
from syncd.plan.ops import AddMembers, CreateGroup, LinkGroup, RemoveMember, UpdateGroup
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)


def plan_for(rows: list[dict[str, Any]], mirror: Mirror) -> Plan:
    return build_plan(roster(rows), connection(), LITMOS_LIKE, mirror, today=TODAY, name="main")


def team(division: str, department: str, *people: str) -> list[dict[str, Any]]:
    return [person(p, division=division, department=department) for p in people]


def synced(rows: list[dict[str, Any]]) -> Mirror:
    return apply(plan_for(rows, Mirror.empty()), Mirror.empty())


def kinds(plan: Plan) -> list[str]:
    return [op.kind for op in plan.ops]


def test_a_case_only_rename_of_a_department_renames_the_team_and_keeps_its_members() -> None:
    before = team("Commercial", "Sales", "E1", "E2") + team("Commercial", "Support", "E3")
    mirror = synced(before)
    after = team("Commercial", "SALES", "E1", "E2") + team("Commercial", "Support", "E3")
    plan = plan_for(after, mirror)
    assert plan.ops == (
        UpdateGroup(group_key="org:Commercial/Sales", name="SALES", parent_key="org:Commercial"),
    )
    renamed = apply(plan, mirror)
    assert plan_for(after, renamed).ops == (), "in sync after the rename"
    names = dict(zip(renamed.groups["key"], renamed.groups["name"], strict=True))
    assert names["org:Commercial/Sales"] == "SALES"
    frame = renamed.memberships
    held = set(zip(frame["group_key"], frame["external_id"], strict=True))
    assert {("org:Commercial/Sales", "E1"), ("org:Commercial/Sales", "E2")} <= held


def test_a_case_only_rename_of_a_division_renames_it_and_leaves_its_children_alone() -> None:
    before = team("Commercial", "Sales", "E1") + team("Commercial", "Support", "E2")
    mirror = synced(before)
    after = team("COMMERCIAL", "Sales", "E1") + team("COMMERCIAL", "Support", "E2")
    plan = plan_for(after, mirror)
    assert plan.ops == (UpdateGroup(group_key="org:Commercial", name="COMMERCIAL"),)
    assert plan_for(after, apply(plan, mirror)).ops == ()


def test_new_hires_and_moves_during_a_rename_use_the_mirrors_keys() -> None:
    mirror = synced(team("Commercial", "Sales", "E1", "E2"))
    after = (
        team("COMMERCIAL", "SALES", "E1", "E4")
        + team("COMMERCIAL", "Field", "E2")
        + team("COMMERCIAL", "SALES", "E3")
    )
    plan = plan_for(after, mirror)
    updates = [op for op in plan.ops if isinstance(op, UpdateGroup)]
    assert {(op.group_key, op.name) for op in updates} == {
        ("org:Commercial", "COMMERCIAL"),
        ("org:Commercial/Sales", "SALES"),
    }
    (created,) = [op for op in plan.ops if isinstance(op, CreateGroup)]
    assert (created.group_key, created.parent_key) == ("org:COMMERCIAL/Field", "org:Commercial")
    adds = {op.group_key: op.external_ids for op in plan.ops if isinstance(op, AddMembers)}
    assert adds == {"org:Commercial/Sales": ("E3", "E4"), "org:COMMERCIAL/Field": ("E2",)}
    removes = [(op.group_key, op.external_id) for op in plan.ops if isinstance(op, RemoveMember)]
    assert removes == [("org:Commercial/Sales", "E2")]
    assert not any(isinstance(op, LinkGroup) for op in plan.ops)
    assert plan_for(after, apply(plan, mirror)).ops == ()


def test_renaming_back_is_a_rename_too() -> None:
    mirror = synced(team("Ops", "Sales", "E1"))
    upper = team("Ops", "SALES", "E1")
    mirror = apply(plan_for(upper, mirror), mirror)
    plan = plan_for(team("Ops", "Sales", "E1"), mirror)
    assert kinds(plan) == ["update_group"]


def test_aliases_only_where_case_alone_differs_and_never_two_onto_one() -> None:
    held = ["org:Sales", "org:Sales/Inside", "org:Ops"]
    assert group_aliases(["org:SALES", "org:SALES/inside", "org:Ops", "org:New"], held) == {
        "org:SALES": "org:Sales",
        "org:SALES/inside": "org:Sales/Inside",
    }
    assert group_aliases(["org:SALES", "org:sales"], held) == {}, "ambiguous: left alone"
    assert group_aliases(["org:sales"], ["org:SALES", "org:Sales"]) == {"org:sales": "org:SALES"}
    assert group_aliases(["org:Sales"], ["org:SALES", "org:Sales"]) == {}


def test_a_second_spelling_recorded_by_an_older_syncd_removes_nobody_from_the_team() -> None:
    """Two mirror keys for one team (the old bug): its members are nobody's to remove."""
    mirror = synced(team("Ops", "Sales", "E1", "E2"))
    mirror = apply(
        [
            CreateGroup(group_key="org:Ops/SALES", name="SALES", parent_key="org:Ops"),
            AddMembers(group_key="org:Ops/SALES", external_ids=("E2",)),
            RemoveMember(group_key="org:Ops/Sales", external_id="E2"),
        ],
        mirror,
    )
    plan = plan_for(team("Ops", "SALES", "E1", "E2"), mirror)
    assert not [op for op in plan.ops if isinstance(op, RemoveMember)]
    assert plan.ops == ()
    assert mirror_twins(["org:Ops/SALES"], ["org:Ops/SALES", "org:Ops/Sales"]) == {
        "org:Ops/Sales": "org:Ops/SALES"
    }


def build(*rows: tuple[str, str, str]) -> tuple[list[tuple[Any, ...]], set[tuple[str, str]]]:
    spec = GroupSpec(name="org", columns=["division", "department"])
    columns = {
        name: pa.array([row[i] for row in rows], TEXT)
        for i, name in enumerate(("employee_id", "division", "department"))
    }
    frame, members = groups.build([spec], columns, columns["employee_id"])
    pairs = set(zip(members["group_key"], members["external_id"], strict=True))
    return [tuple(r) for r in frame[["key", "name", "parent_key"]].values], pairs


def test_two_spellings_in_one_export_are_one_group_named_by_the_most_rows() -> None:
    found, members = build(
        ("1", "Commercial", "SALES"),
        ("2", "Commercial", "Sales"),
        ("3", "COMMERCIAL", "Sales"),
        ("4", "Commercial", "Support"),
    )
    assert found == [
        ("org:Commercial", "Commercial", ""),
        ("org:Commercial/Sales", "Sales", "org:Commercial"),
        ("org:Commercial/Support", "Support", "org:Commercial"),
    ]
    assert {person for key, person in members if key == "org:Commercial/Sales"} == {"1", "2", "3"}


def test_on_a_tie_the_first_spelling_in_the_file_names_the_group() -> None:
    found, members = build(("1", "Ops", "sales"), ("2", "Ops", "Sales"))
    assert found == [("org:Ops", "Ops", ""), ("org:Ops/sales", "sales", "org:Ops")]
    assert members == {("org:Ops/sales", "1"), ("org:Ops/sales", "2")}
