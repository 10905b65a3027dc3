"""What the diff works out ahead (the mirror's index, the pairing, the set comparison) is
an explicit value, refused by a diff of other inputs: a changed mirror never meets a stale
index, and the plan values carry no cache of their own."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.plan import Mirror, Plan, apply, build_plan, desire
from syncd.plan.desired import Desired
from syncd.plan.diff import compare_sets, index_mirror
from syncd.plan.ops import AssignCourses
from syncd.plan.users import pair
from tests.unit.plan.kit import (
    LITMOS_LIKE,
    PROFILE,
    RULES,
    TODAY,
    connection,
    export_strategy,
    person,
    policy_strategy,
    rejected_of,
    roster,
    rows_of,
)

SCENARIO_RULES = [
    {"name": "everyone", "assign": {"courses": ["C-SAFETY"]}},
    {
        "name": "sales",
        "when": [{"field": "department", "equals": "Sales"}],
        "assign": {"courses": ["C-CRM"]},
    },
]


def _synced() -> tuple[list[dict[str, Any]], Mirror]:
    rows = [person("E1"), person("E2", department="Sales")]
    conn = connection(rules=SCENARIO_RULES)
    first = build_plan(roster(rows), conn, LITMOS_LIKE, Mirror.empty(), today=TODAY)
    return rows, apply(first, Mirror.empty())


def _assigns(plan: Plan) -> list[AssignCourses]:
    return [op for op in plan.ops if isinstance(op, AssignCourses)]


def test_a_changed_mirror_never_meets_the_index_of_the_old_one() -> None:
    """The reproduction: an index made, then the mirror's assignments replaced; the diff
    used to plan from the old assignments and leave out E2's courses."""
    rows, mirror = _synced()
    conn = connection(rules=SCENARIO_RULES)
    index = index_mirror(mirror)
    held = mirror.assignments
    changed = dataclasses.replace(
        mirror, assignments=held[held["external_id"] != "E2"].reset_index(drop=True)
    )
    with pytest.raises(ValueError, match="another mirror"):
        build_plan(roster(rows), conn, LITMOS_LIKE, changed, today=TODAY, index=index)
    fresh = Mirror(changed.users, changed.groups, changed.memberships, changed.assignments)
    expected = build_plan(roster(rows), conn, LITMOS_LIKE, fresh, today=TODAY)
    assert [op.external_id for op in _assigns(expected)] == ["E2"]
    again = build_plan(roster(rows), conn, LITMOS_LIKE, changed, today=TODAY)
    assert again.ops == expected.ops


def test_the_index_fits_the_same_mirror_with_fields_filled_in_but_not_reordered_users() -> None:
    _, mirror = _synced()
    index = index_mirror(mirror)
    filled = Mirror(
        mirror.users.assign(attrs=[{"FirstName": "x"}] * len(mirror.users)),
        mirror.groups,
        mirror.memberships,
        mirror.assignments,
    )
    assert index.fits(filled)
    reordered = dataclasses.replace(mirror, users=mirror.users.iloc[::-1].reset_index(drop=True))
    assert not index.fits(reordered)
    for frame in ("groups", "memberships", "assignments"):
        copied = dataclasses.replace(mirror, **{frame: getattr(mirror, frame).copy()})
        assert not index.fits(copied), frame


def test_a_pairing_or_comparison_made_for_other_inputs_is_refused() -> None:
    rows, mirror = _synced()
    conn = connection(rules=SCENARIO_RULES)
    desired = desire(roster(rows), conn, LITMOS_LIKE, today=TODAY)
    other = desire(roster(rows[:1]), conn, LITMOS_LIKE, today=TODAY)
    with pytest.raises(ValueError, match="pairing was made for another"):
        build_plan(
            None,
            conn,
            LITMOS_LIKE,
            mirror,
            today=TODAY,
            desired=desired,
            pairing=pair(other, mirror.users),
        )
    index = index_mirror(mirror)
    known = pair(desired, mirror.users).user_rows(len(mirror.users))
    changed = dataclasses.replace(mirror, memberships=mirror.memberships.copy())
    with pytest.raises(ValueError, match="another mirror"):
        compare_sets(desired, changed, index, known)


def test_plan_values_hold_only_their_data() -> None:
    """No cache rides along on a frozen value (``dataclasses.replace`` would carry it)."""
    assert [f.name for f in dataclasses.fields(Mirror)] == [
        "users",
        "groups",
        "memberships",
        "assignments",
    ]
    assert "memo" not in {f.name for f in dataclasses.fields(Desired)}


def _plan(data: Any, config: Any, mirror: Mirror, **ahead: Any) -> Plan:
    return build_plan(data, config, PROFILE, mirror, today=TODAY, **ahead)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(export_strategy, st.lists(export_strategy, min_size=1, max_size=3), policy_strategy)
def test_a_reused_index_plans_as_a_fresh_mirror_does(
    first: list[dict[str, Any]], exports: list[list[dict[str, Any]]], policy: dict[str, Any]
) -> None:
    """One index of a mirror, reused for several desired states (with the pairing and the
    set comparison made ahead on an executor, as the pipeline does), gives every plan a
    mirror made anew from the same frames gives."""
    config = connection(rules=RULES, deprovision=policy)
    synced = _plan(roster(rows_of(first), rejected_keys=rejected_of(first)), config, Mirror.empty())
    mirror = apply(synced, Mirror.empty())
    index = index_mirror(mirror)
    with ThreadPoolExecutor(max_workers=1) as pool:
        for export in exports:
            data = roster(rows_of(export), rejected_keys=rejected_of(export))
            fresh = Mirror(mirror.users, mirror.groups, mirror.memberships, mirror.assignments)
            expected = _plan(data, config, fresh)
            desired = desire(data, config, PROFILE, today=TODAY)
            pairing = pair(desired, mirror.users)
            known = pairing.user_rows(len(mirror.users))
            ahead = pool.submit(compare_sets, desired, mirror, index, known)
            reused = _plan(
                None,
                config,
                mirror,
                desired=desired,
                index=index,
                pairing=pairing,
                compared=ahead,
                executor=pool,
            )
            only_index = _plan(data, config, mirror, index=index, executor=pool)
            for plan in (reused, only_index):
                assert plan.ops == expected.ops
                assert [op.key for op in plan.ops] == [op.key for op in expected.ops]
                assert plan.skipped.equals(expected.skipped)
