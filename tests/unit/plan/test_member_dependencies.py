"""A team's batched AddMembers waits per member: one dead create must not keep the others out.

The outbox (``syncd.state.outbox``) splits an AddMembers whose members' own ops are dead
into the part that may go and the part that waits; the split itself is pure
(:meth:`AddMembers.split`) and is tested here, with the property that makes the waiting
part survive later plans: it is the very op the next plan makes for those members.
"""

from __future__ import annotations

from datetime import date

from syncd.plan import Mirror, apply, build_plan
from syncd.plan.ops import AddMembers, CreateUser
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

GROUP = "create_group:org:Ops/Support"
MEMBERS = {f"create_user:{p}": p for p in ("E1", "E2", "E3")}


def batch(*people: str, extra: tuple[str, ...] = ()) -> AddMembers:
    needs = (GROUP, *(f"create_user:{p}" for p in people), *extra)
    return AddMembers(group_key="org:Ops/Support", external_ids=people, depends_on=needs)


def test_a_dead_create_holds_back_only_its_own_member() -> None:
    parts = batch("E1", "E2", "E3").split(MEMBERS, {"create_user:E2"})
    assert parts is not None
    going, waiting = parts
    assert going.external_ids == ("E1", "E3")
    assert going.depends_on == (GROUP, "create_user:E1", "create_user:E3")
    assert waiting.external_ids == ("E2",)
    assert waiting.depends_on == (GROUP, "create_user:E2")
    assert going.group_key == waiting.group_key == "org:Ops/Support"


def test_every_dependency_of_a_waiting_member_goes_with_them() -> None:
    member_of = {**MEMBERS, "reactivate_user:E2:abc": "E2"}
    op = batch("E1", "E2", extra=("reactivate_user:E2:abc",))
    parts = op.split(member_of, {"reactivate_user:E2:abc"})
    assert parts is not None
    going, waiting = parts
    assert "create_user:E2" not in going.depends_on
    assert waiting.depends_on == (GROUP, "create_user:E2", "reactivate_user:E2:abc")


def test_no_split_when_nobody_everybody_or_the_group_waits() -> None:
    op = batch("E1", "E2")
    assert op.split(MEMBERS, set()) is None
    assert op.split(MEMBERS, {"create_user:E1", "create_user:E2"}) is None
    assert op.split(MEMBERS, {GROUP, "create_user:E1"}) is None, "the group waits: all wait"
    assert op.split(MEMBERS, {"create_user:E9"}) is None, "not one of this op's needs"


def test_a_dependency_of_no_known_member_is_shared_by_both_parts() -> None:
    op = batch("E1", "E2", extra=("create_group:org:Ops",))
    parts = op.split(MEMBERS, {"create_user:E1"})
    assert parts is not None
    assert all("create_group:org:Ops" in part.depends_on for part in parts)


def test_the_waiting_part_is_the_op_the_next_plan_makes_for_those_members() -> None:
    """After the others went in, planning again asks for exactly the waiting part (same
    key), so the outbox keeps that row, blocked, until its create succeeds."""
    rows = [person(p) for p in ("E1", "E2", "E3", "E4")]
    today = date(2024, 6, 1)
    first = build_plan(roster(rows), connection(), LITMOS_LIKE, Mirror.empty(), today=today)
    (op,) = [o for o in first.ops if isinstance(o, AddMembers)]
    creates = {o.key: o.external_id for o in first.ops if isinstance(o, CreateUser)}
    parts = op.split(creates, {"create_user:E2", "create_user:E4"})
    assert parts is not None
    going, waiting = parts
    assert waiting.external_ids == ("E2", "E4")
    dead = {"create_user:E2", "create_user:E4"}
    confirmed = [o for o in first.ops if o.key not in dead and not isinstance(o, AddMembers)]
    mirror = apply([*confirmed, going], Mirror.empty())
    again = build_plan(roster(rows), connection(), LITMOS_LIKE, mirror, today=today)
    (later,) = [o for o in again.ops if isinstance(o, AddMembers)]
    assert later.key == waiting.key
    assert set(later.depends_on) == dead, "the group exists now; only the creates remain"
