"""Property tests over random sequences of exports and random policies.

For every export of a sequence: planning twice (or from the rows in another order) gives the
same plan, with unique idempotency keys; applying the plan to the mirror yields the desired
state (checked against expectations computed here from the rows, not from the plan's own
desired state), and people whose row was rejected keep exactly what they had; and planning
again after applying finds nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.plan import Mirror, apply, build_plan
from tests.unit.plan.kit import (
    PROFILE,
    RULES,
    TODAY,
    connection,
    export_strategy,
    policy_strategy,
    rejected_of,
    roster,
    rows_of,
)


def expected_attrs(row: dict[str, Any]) -> dict[str, str]:
    return {
        "UserName": row["username"],
        "FirstName": row["first_name"],
        "LastName": row["last_name"],
        "Email": row["email"],
        "JobTitle": row["title"],
    }


def expected_items(row: dict[str, Any]) -> set[tuple[str, str]]:
    items = {("course", "C0")}
    if row["department"].lower() == "a":
        items |= {("course", "C1"), ("learning_path", "LP1")}
    if row["title"] == "Y":
        items.add(("course", "C2"))
    if row["division"] == "Ops" and row["department"] == "B":
        items.add(("course", "C3"))
    return items


def check(
    before: Mirror,
    after: Mirror,
    rows: list[dict[str, Any]],
    policy: dict[str, Any],
    rejected: list[str],
) -> None:
    """The mirror after applying the plan is the desired state, policy by policy."""
    old = before.users.set_index("external_id")
    new = after.users.set_index("external_id")
    members = set(after.memberships.itertuples(index=False, name=None))
    old_members = set(before.memberships.itertuples(index=False, name=None))
    assigned = set(after.assignments.itertuples(index=False, name=None))
    old_assigned = set(before.assignments.itertuples(index=False, name=None))
    present = {row["employee_id"]: row for row in rows}
    for external_id, row in present.items():
        known = external_id in old.index
        if row["active"]:
            if known and not old.loc[external_id, "active"] and not policy["reactivate"]:
                assert not new.loc[external_id, "active"]
                continue
            assert new.loc[external_id, "active"]
            assert new.loc[external_id, "attrs"] == expected_attrs(row)
            assert new.loc[external_id, "match_value"] == row["username"]
            team = f"org:{row['division']}/{row['department']}"
            mine = {m for m in members if m[1] == external_id}
            assert (team, external_id) in mine
            if policy["remove_memberships"]:
                assert mine == {(team, external_id)}
            items = {(k, i) for e, k, i in assigned if e == external_id}
            if policy["unassign_courses"]:
                assert items == expected_items(row)
            else:
                assert items >= expected_items(row)
        elif known:
            action = policy["on_termination"]
            if action == "delete":
                assert external_id not in new.index
            elif action == "deactivate":
                assert not new.loc[external_id, "active"]
            else:
                assert new.loc[external_id, "active"] == old.loc[external_id, "active"]
            if action != "delete":
                assert {m for m in members if m[1] == external_id} == {
                    m for m in old_members if m[1] == external_id
                }
                assert {a for a in assigned if a[0] == external_id} == {
                    a for a in old_assigned if a[0] == external_id
                }
        else:
            assert external_id not in new.index
    for external_id in rejected:
        if external_id in old.index:
            assert new.loc[external_id, "active"] == old.loc[external_id, "active"]
            assert new.loc[external_id, "attrs"] == old.loc[external_id, "attrs"]
            assert {m for m in members if m[1] == external_id} == {
                m for m in old_members if m[1] == external_id
            }
        else:
            assert external_id not in new.index
    for external_id in set(old.index) - set(present) - set(rejected):
        action = policy["on_absent"]
        if action == "delete":
            assert external_id not in new.index
        elif action == "deactivate":
            assert not new.loc[external_id, "active"]
        else:
            assert new.loc[external_id, "active"] == old.loc[external_id, "active"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(export_strategy, min_size=1, max_size=4), policy_strategy)
def test_plans_lead_to_the_desired_state(
    exports: list[list[dict[str, Any]]], policy: dict[str, Any]
) -> None:
    config = connection(rules=RULES, deprovision=policy)
    mirror = Mirror.empty()
    for export in exports:
        rows = rows_of(export)
        rejected = rejected_of(export)
        data = roster(rows, rejected_keys=rejected)
        plan = build_plan(data, config, PROFILE, mirror, today=TODAY)
        twice = build_plan(data, config, PROFILE, mirror, today=TODAY)
        shuffled = build_plan(
            roster(rows[::-1], rejected_keys=rejected), config, PROFILE, mirror, today=TODAY
        )
        # A mirror made anew from the same frames plans the same.
        unprepared = Mirror(mirror.users, mirror.groups, mirror.memberships, mirror.assignments)
        fresh = build_plan(data, config, PROFILE, unprepared, today=TODAY)
        for other in (twice, shuffled, fresh):
            assert plan.ops == other.ops
            assert [op.key for op in plan.ops] == [op.key for op in other.ops]
            assert [op.depends_on for op in plan.ops] == [op.depends_on for op in other.ops]
        assert len({op.key for op in plan.ops}) == len(plan.ops), "idempotency keys are unique"
        assert plan.skipped.empty
        done: set[str] = set()
        for op in plan.ops:
            assert set(op.depends_on) <= done, op
            done.add(op.key)
        after = apply(plan, mirror)
        check(mirror, after, rows, policy, rejected)
        assert build_plan(data, config, PROFILE, after, today=TODAY).ops == ()
        mirror = after
