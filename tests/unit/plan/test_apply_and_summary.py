"""The reference meaning of each op on the mirror, op payloads, and the plan summary."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from syncd.plan import Mirror, Plan, apply, build_plan, describe, hash_attrs
from syncd.plan.ops import (
    OP_TYPES,
    from_payload,
)
from tests.unit.plan.kit import EVERY_OP, LITMOS_LIKE, connection, person, roster


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
    assert sorted(after.assignments.values.tolist()) == [
        ["E1", "course", "C1"],
        ["E1", "course", "C3"],
    ]


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
