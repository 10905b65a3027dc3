"""The reference meaning of each op on the mirror, op payloads, and the plan summary."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from plan_testkit import LITMOS_LIKE, connection, person, roster

from syncd.plan import Mirror, Plan, apply, build_plan, describe, hash_attrs
from syncd.plan.ops import (
    OP_TYPES,
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RemoveMember,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
    from_payload,
)

EVERY_OP: list[Op] = [
    CreateGroup(group_key="g:A", name="A"),
    CreateGroup(group_key="g:A/B", name="B", parent_key="g:A", depends_on=("create_group:g:A",)),
    LinkGroup(group_key="g:C", name="C", parent_key="", remote_id="T9"),
    UpdateGroup(group_key="g:C", name="C2", parent_key="g:A"),
    CreateUser(
        external_id="E1", match_value="e1@x", attrs=(("UserName", "e1@x"), ("FirstName", "A"))
    ),
    LinkUser(
        external_id="E2",
        match_value="e2@x",
        remote_id="R2",
        attrs=(("UserName", "e2@x"),),
        active=False,
    ),
    ReactivateUser(external_id="E2"),
    UpdateUser(external_id="E1", changes=(("FirstName", "A", "Ann"),), match_value="ann@x"),
    AddMembers(group_key="g:A/B", external_ids=("E1", "E2")),
    RemoveMember(group_key="g:A/B", external_id="E2"),
    AssignCourses(external_id="E1", course_ids=("C1", "C2")),
    AssignLearningPaths(external_id="E1", learning_path_ids=("LP1",)),
    UnassignCourse(external_id="E1", course_id="C2"),
    UnassignLearningPath(external_id="E1", learning_path_id="LP1"),
    AssignCourses(external_id="E2", course_ids=("C1",)),
    DeactivateUser(external_id="E1", reason="terminated"),
    DeleteUser(external_id="E2", reason="absent from export"),
]


def test_apply_gives_each_op_its_meaning() -> None:
    after = apply(EVERY_OP, Mirror.empty(), remote_ids={"create_user:E1": "R1"})
    users = after.users.set_index("external_id")
    assert users.index.tolist() == ["E1"]
    row = users.loc["E1"]
    assert (row["remote_id"], row["match_value"], bool(row["active"])) == ("R1", "ann@x", False)
    assert row["attrs"] == {"UserName": "e1@x", "FirstName": "Ann"}
    assert row["attrs_hash"] == hash_attrs("E1", "ann@x", row["attrs"])
    assert after.groups.values.tolist() == [
        ["g:A", "", "A", ""],
        ["g:A/B", "", "B", "g:A"],
        ["g:C", "T9", "C2", "g:A"],
    ]
    assert after.memberships.values.tolist() == [["g:A/B", "E1"]]
    assert after.assignments.values.tolist() == [["E1", "course", "C1"]]


def test_every_op_round_trips_through_its_payload() -> None:
    for op in EVERY_OP:
        payload = json.loads(json.dumps(op.to_payload()))
        again = from_payload(op.kind, payload)
        assert again == op and again.key == op.key and again.depends_on == op.depends_on


def test_every_kind_has_a_description() -> None:
    assert {op.kind for op in EVERY_OP} == set(OP_TYPES)
    for op in EVERY_OP:
        assert describe(op) != f"{op.kind} {op.subject}"
    assert describe(EVERY_OP[7]) == "update E1: FirstName: 'A' -> 'Ann'; match value -> 'ann@x'"


def test_summary_is_plain_json_with_counts_calls_and_first_ops() -> None:
    plan = build_plan(
        roster([person("E1"), person("E2", active=False)]),
        connection(rules=[{"name": "all", "assign": {"courses": ["C1"]}}]),
        LITMOS_LIKE,
        Mirror.empty(),
        today=date(2024, 6, 1),
        name="main",
    )
    summary = json.loads(json.dumps(plan.summary(limit=3)))
    assert summary["status"] == "changes_pending"
    assert summary["counts"] == {
        "create_user": 1,
        "create_group": 2,
        "add_members": 1,
        "assign_courses": 1,
    }
    assert summary["calls"] == 5 == plan.calls
    assert [op["kind"] for op in summary["first_ops"]] == [
        "create_group",
        "create_group",
        "create_user",
    ]
    assert summary["first_ops"][2]["what"] == "create user E1 (e1@corp.example)"
    assert summary["safeguards"]["refused"] is False
    assert Plan(connection="x", profile=LITMOS_LIKE, ops=()).summary()["status"] == "in_sync"


def test_plan_imports_nothing_from_the_io_stages() -> None:
    # rich is left out: structlog (via syncd.log, via syncd.config) imports it when installed.
    code = (
        "import sys, syncd.plan; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'httpx', 'typer')"
        " or m.startswith(('syncd.state', 'syncd.queue', 'syncd.vendors', 'syncd.http'))]; "
        "print(','.join(sorted(bad)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == ""
