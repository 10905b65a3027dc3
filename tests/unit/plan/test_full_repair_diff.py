"""A full listing corrects the mirror to the LMS, and the plain diff then repairs the drift.

The correction (``syncd.state.drift.correct``) works on the plan's frames alone; the diff
is the ordinary one. These tests build a synced mirror, a listing of an LMS that holds
exactly that, change the listing as a person working in the LMS would, and check the ops
and the repair counts the plan reports.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from syncd.plan import Listing, Mirror, Plan, apply, build_plan
from syncd.plan.drift import Drift, repairs_text
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    CreateGroup,
    CreateUser,
    Op,
    ReactivateUser,
    UpdateUser,
)
from syncd.state.drift import correct
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
RULES = [{"name": "everyone", "assign": {"courses": ["C-SAFETY"]}}]
ROWS = [person("E1"), person("E2"), person("E3", department="Sales")]


def plan_for(mirror: Mirror, listing: Listing | None = None, **config: Any) -> Plan:
    """The plan a full reconcile makes: the mirror corrected to the listing, then diffed."""
    drift = None
    if listing is not None:
        mirror, drift = correct(mirror, listing)
    plan = build_plan(
        roster(ROWS),
        connection(rules=RULES, **config),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        name="main",
        listing=listing,
    )
    return replace(plan, drift=drift)


def synced() -> Mirror:
    """The mirror after a first sync of ``ROWS``, every account and team with a remote id."""
    first = plan_for(Mirror.empty())
    remote_ids = {op.key: f"R-{op.subject}" for op in first.ops if op.kind.startswith("create")}
    return apply(first, Mirror.empty(), remote_ids=remote_ids)


def listing_of(
    mirror: Mirror,
    *,
    inactive: tuple[str, ...] = (),
    deleted: tuple[str, ...] = (),
    fields: dict[str, dict[str, str]] | None = None,
    members_removed: tuple[tuple[str, str], ...] = (),
    members_added: tuple[tuple[str, str], ...] = (),
    courses_removed: tuple[str, ...] = (),
    teams_deleted: tuple[str, ...] = (),
) -> Listing:
    """What the LMS lists when it holds ``mirror``, less or plus what was changed by hand
    (people and groups named by syncd's keys)."""
    users = mirror.users
    remote = dict(zip(users["external_id"], users["remote_id"], strict=True))
    team = dict(zip(mirror.groups["key"], mirror.groups["remote_id"], strict=True))
    listed_users = [
        (
            remote[e],
            m,
            e not in inactive,
            {**(a if isinstance(a, dict) else {}), **(fields or {}).get(e, {})},
        )
        for e, m, a in zip(users["external_id"], users["match_value"], users["attrs"], strict=True)
        if e not in deleted
    ]
    members = {
        (g, e)
        for g, e in zip(
            mirror.memberships["group_key"].astype("str"),
            mirror.memberships["external_id"].astype("str"),
            strict=True,
        )
    }
    members = (members - set(members_removed)) | set(members_added)
    holders = [
        (remote[e], k, i)
        for e, k, i in zip(
            mirror.assignments["external_id"].astype("str"),
            mirror.assignments["kind"].astype("str"),
            mirror.assignments["item_id"].astype("str"),
            strict=True,
        )
        if e not in deleted and e not in courses_removed
    ]
    return Listing(
        users=pd.DataFrame(listed_users, columns=["remote_id", "match_value", "active", "attrs"]),
        groups=pd.DataFrame(
            [
                (team[k], n, team.get(p, ""))
                for k, n, p in zip(
                    mirror.groups["key"],
                    mirror.groups["name"],
                    mirror.groups["parent_key"],
                    strict=True,
                )
                if k not in teams_deleted
            ],
            columns=["remote_id", "name", "parent_remote_id"],
            dtype="str",
        ),
        memberships=pd.DataFrame(
            [(team[g], remote[e]) for g, e in sorted(members) if e not in deleted],
            columns=["group_remote_id", "user_remote_id"],
            dtype="str",
        ),
        assignments=pd.DataFrame(
            holders, columns=["user_remote_id", "kind", "item_id"], dtype="str"
        ),
        member_scope=frozenset(v for k, v in team.items() if k not in teams_deleted),
        assignment_scope=frozenset({("course", "C-SAFETY")}),
    )


def of(plan: Plan, kind: type[Op]) -> list[Any]:
    return [op for op in plan.ops if isinstance(op, kind)]


SUPPORT = "org:Ops/Support"
SALES = "org:Ops/Sales"


def test_an_lms_that_matches_the_mirror_has_no_drift_and_needs_nothing() -> None:
    mirror = synced()
    corrected, drift = correct(mirror, listing_of(mirror))
    assert drift.empty and corrected is mirror
    plan = plan_for(mirror, listing_of(mirror))
    assert plan.ops == () and plan.repairs == {}


def test_a_membership_removed_by_hand_is_re_added() -> None:
    mirror = synced()
    plan = plan_for(mirror, listing_of(mirror, members_removed=((SUPPORT, "E2"),)))
    assert plan.ops == (AddMembers(group_key=SUPPORT, external_ids=("E2",)),)
    assert plan.repairs == {"memberships_readded": 1}
    assert plan.summary()["repairs"] == {"memberships_readded": 1}


def test_an_account_deleted_by_hand_is_recreated_with_its_team_and_course() -> None:
    mirror = synced()
    plan = plan_for(mirror, listing_of(mirror, deleted=("E2",)))
    (create,) = of(plan, CreateUser)
    assert create.external_id == "E2"
    (add,) = of(plan, AddMembers)
    assert (add.group_key, add.external_ids, add.depends_on) == (SUPPORT, ("E2",), (create.key,))
    (assign,) = of(plan, AssignCourses)
    assert (assign.external_id, assign.course_ids) == ("E2", ("C-SAFETY",))
    assert len(plan.ops) == 3
    assert plan.repairs == {"accounts_recreated": 1}
    assert not any("missing from the LMS listing" in w for w in plan.warnings)


def test_a_course_removed_by_hand_is_assigned_again() -> None:
    mirror = synced()
    plan = plan_for(mirror, listing_of(mirror, courses_removed=("E3",)))
    assert plan.ops == (AssignCourses(external_id="E3", course_ids=("C-SAFETY",)),)
    assert plan.repairs == {"courses_reassigned": 1}


def test_a_deactivation_and_a_field_changed_by_hand_are_put_back() -> None:
    mirror = synced()
    listing = listing_of(mirror, inactive=("E1",), fields={"E3": {"LastName": "By hand"}})
    plan = plan_for(mirror, listing)
    assert of(plan, ReactivateUser) == [ReactivateUser(external_id="E1")]
    (update,) = of(plan, UpdateUser)
    assert (update.external_id, update.changes) == ("E3", (("LastName", "By hand", "LastE3"),))
    assert plan.repairs == {"accounts_reactivated": 1, "fields_restored": 1}
    assert repairs_text(plan.repairs) == "1 account reactivated, 1 account's fields restored"


def test_a_team_deleted_by_hand_is_created_again_with_its_members() -> None:
    mirror = synced()
    plan = plan_for(mirror, listing_of(mirror, teams_deleted=(SALES,)))
    (create,) = of(plan, CreateGroup)
    assert create.group_key == SALES
    (add,) = of(plan, AddMembers)
    assert (add.group_key, add.external_ids, add.depends_on) == (SALES, ("E3",), (create.key,))
    assert plan.repairs == {"groups_restored": 1}


def test_a_membership_is_judged_only_where_the_listing_can_show_it() -> None:
    """Litmos lists a team's active members only, and only the listed teams say anything."""
    mirror = synced()
    inactive = listing_of(mirror, inactive=("E2",), members_removed=((SUPPORT, "E2"),))
    corrected, drift = correct(mirror, inactive)
    assert drift.memberships_gone == frozenset()
    assert len(corrected.memberships) == len(mirror.memberships)
    unlisted = replace(
        listing_of(mirror, members_removed=((SUPPORT, "E2"),)),
        member_scope=frozenset(),
    )
    assert correct(mirror, unlisted)[1].empty


def test_a_membership_added_by_hand_is_left_alone() -> None:
    mirror = synced()
    plan = plan_for(mirror, listing_of(mirror, members_added=((SALES, "E1"),)))
    assert plan.ops == ()


def test_the_repairs_count_only_the_ops_that_repair_drift() -> None:
    drift = Drift(
        memberships_gone=frozenset({(SUPPORT, "E2")}),
        accounts_gone=frozenset({"E9"}),
    )
    ops = (
        CreateUser(external_id="E8", match_value="e8", attrs=(), active=True),
        AddMembers(group_key=SUPPORT, external_ids=("E1", "E2", "E8")),
    )
    assert drift.repairs(ops) == {"memberships_readded": 1}
    assert repairs_text({"memberships_readded": 2, "accounts_recreated": 1}) == (
        "1 account recreated, 2 memberships re-added"
    )
