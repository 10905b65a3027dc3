"""Hold only what is risky: a tripped limit holds the ops it measured, the rest flows; the
seat budget holds the creates and reactivations past the licence count, with a forecast,
and lets them go once seats are free."""

from __future__ import annotations

from datetime import date
from typing import Any

from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.hold import DEPENDENCY, REJECTED, SEAT_BUDGET, Hold, select
from syncd.plan.ops import AddMembers, AssignCourses, CreateGroup, CreateUser, DeactivateUser
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
STAFF = [person(f"E{i:03d}") for i in range(100)]
RULES = [{"name": "all", "assign": {"courses": ["C1"]}}]


def synced(rows: list[dict[str, Any]]) -> Mirror:
    first = build_plan(
        roster(rows), connection(rules=RULES), LITMOS_LIKE, Mirror.empty(), today=TODAY
    )
    return apply(first, Mirror.empty())


MIRROR = synced(STAFF)


def plan_for(
    rows: list[dict[str, Any]],
    *,
    previous_rows: int | None = None,
    kept: dict[str, Hold] | None = None,
    mirror: Mirror = MIRROR,
    seats: int | None = None,
    **limits: Any,
) -> Plan:
    return build_plan(
        roster(rows),
        connection(safeguards={"max_changes": 10_000, **limits}, rules=RULES, seats=seats),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        name="main",
        previous_rows=previous_rows,
        kept=kept,
    )


def flowing(plan: Plan) -> list[str]:
    return [op.kind for op in plan.ops if op.key not in plan.held]


def test_too_many_leavers_hold_the_deactivations_while_hires_and_updates_flow() -> None:
    rows = [
        *STAFF[:60],
        *[{**row, "title": "Lead"} for row in STAFF[60:62]],
        person("N001"),
        person("N002"),
    ]
    plan = plan_for(rows, max_deactivations=5, max_deactivation_percent=100)
    assert plan.refusal is None
    assert {op.kind for op in plan.held_ops} == {"deactivate_user"}
    assert len(plan.held) == 38
    assert {hold.check for hold in plan.held.values()} == {"max_deactivations"}
    hires = ["create_user", "create_user", "add_members", "assign_courses", "assign_courses"]
    assert sorted(flowing(plan)) == sorted([*hires, "update_user", "update_user"])


def test_a_truncated_export_holds_every_destructive_op_and_nothing_else() -> None:
    rows = [*STAFF[:50], person("N001")]
    plan = plan_for(rows, previous_rows=100, min_source_ratio=0.9)
    tripped = {c.label for c in plan.checks if c.tripped}
    assert "min_source_ratio" in tripped
    assert plan.refusal is None
    assert {op.kind for op in plan.held_ops} == {"deactivate_user"}
    assert len(plan.held) == 50
    assert "create_user" in flowing(plan)


def test_nothing_trips_nothing_is_held() -> None:
    plan = plan_for([*STAFF[:99], person("N001")])
    assert not plan.held and not any(c.tripped for c in plan.checks)
    assert "deactivate_user" in flowing(plan)


def test_a_kept_hold_stays_held_when_the_next_plan_trips_nothing() -> None:
    first = plan_for(STAFF[:90], max_deactivations=5)
    kept = {op.key: first.held[op.key] for op in first.held_ops[:5]}
    # Half approved and done: the other half are still in the outbox, held.
    later = plan_for(STAFF[:90], max_deactivations=1000, kept=kept)
    assert set(later.held) == set(kept)
    assert flowing(later).count("deactivate_user") == 5


def test_rejected_ops_are_kept_out_with_their_reason() -> None:
    first = plan_for(STAFF[:98])
    key = next(op.key for op in first.ops if op.kind == "deactivate_user")
    kept = {key: Hold(check=REJECTED, reason="rejected by an operator")}
    plan = plan_for(STAFF[:98], kept=kept)
    assert plan.held == kept


def test_ops_waiting_on_a_held_create_are_held_and_a_team_add_is_split() -> None:
    ops = (
        CreateGroup(group_key="g", name="G"),
        CreateUser(external_id="A", match_value="a", attrs=()),
        CreateUser(external_id="B", match_value="b", attrs=()),
        AddMembers(
            group_key="g",
            external_ids=("A", "B"),
            depends_on=("create_group:g", "create_user:A", "create_user:B"),
        ),
        AssignCourses(external_id="B", course_ids=("C1",), depends_on=("create_user:B",)),
        DeactivateUser(external_id="Z"),
    )
    extra = {"create_user:B": Hold(check="seat_budget", reason="over the licence count")}
    out, held = select(ops, (), extra=extra)
    adds = [op for op in out if isinstance(op, AddMembers)]
    assert [a.external_ids for a in adds] == [("A",), ("B",)]
    assert held[adds[1].key].check == DEPENDENCY
    assert adds[0].key not in held
    assert "create_user:B" in adds[1].depends_on and "create_user:B" not in adds[0].depends_on
    assign = next(op for op in out if isinstance(op, AssignCourses))
    assert held[assign.key].check == DEPENDENCY
    assert "waits on the held create_user of B" in held[assign.key].reason
    assert set(held) == {"create_user:B", adds[1].key, assign.key}


def test_another_companys_file_is_refused_even_in_hold_mode() -> None:
    other = [person(f"X{i:03d}") for i in range(100)]
    plan = plan_for(other, max_deactivations=5)
    assert plan.refusal is not None and plan.refusal.limit == "min_known_share"
    assert "another company's" in plan.refusal.message
    assert not plan.held


def test_a_merger_or_a_truncated_file_is_not_taken_for_a_wrong_file() -> None:
    merger = [*STAFF, *[person(f"M{i:03d}") for i in range(300)]]
    check = next(c for c in plan_for(merger).checks if c.limit == "min_known_share")
    assert not check.tripped
    truncated = plan_for(STAFF[:10], previous_rows=100)
    check = next(c for c in truncated.checks if c.limit == "min_known_share")
    assert not check.tripped and truncated.refusal is None


def test_the_wrong_file_check_waits_for_a_population() -> None:
    small = synced(STAFF[:5])
    plan = plan_for([person("X1"), person("X2")], mirror=small)
    check = next(c for c in plan.checks if c.limit == "min_known_share")
    assert not check.tripped


def test_summary_lists_the_held_ops_with_why() -> None:
    plan = plan_for(STAFF[:90], max_deactivations=5)
    summary = plan.summary()
    assert summary["status"] == "changes_pending"
    assert len(summary["held"]) == 10
    assert summary["held_calls"] == plan.held_calls == 10 * LITMOS_LIKE.calls_for("deactivate_user")
    assert {entry["check"] for entry in summary["held"]} == {"max_deactivations"}
    assert all(entry["kind"] == "deactivate_user" for entry in summary["held"])


HIRES = [person(f"N{i:03d}") for i in range(5)]


def created(plan: Plan, *, held: bool) -> list[str]:
    return [
        op.subject for op in plan.ops if op.kind == "create_user" and (op.key in plan.held) == held
    ]


def test_hires_past_the_budget_wait_with_a_forecast() -> None:
    plan = plan_for([*STAFF, *HIRES], seats=102)
    assert plan.seats is not None
    assert plan.seats.to_dict() == {
        "seats": 102,
        "in_use": 100,
        "wanted": 105,
        "after": 102,
        "overage": 3,
    }
    assert created(plan, held=False) == ["N000", "N001"]
    assert created(plan, held=True) == ["N002", "N003", "N004"]
    hold = plan.held["create_user:N004"]
    assert hold.check == SEAT_BUDGET
    assert "102 licences, 100 active now; this plan would make 105 (3 over)" in hold.reason
    # Their courses and team wait with them; the others' go out.
    waiting = {op.kind for op in plan.held_ops if plan.held[op.key].check == DEPENDENCY}
    assert waiting == {"add_members", "assign_courses"}
    team = [op for op in plan.ops if op.kind == "add_members"]
    assert [op.key in plan.held for op in team] == [False, True]
    assert plan.summary()["seats"]["overage"] == 3


def test_leavers_free_seats_in_the_same_plan() -> None:
    plan = plan_for([*STAFF[3:], *HIRES[:3]], seats=100)
    assert plan.seats is not None and plan.seats.overage == 0
    assert not plan.held


def test_held_deactivations_free_nothing() -> None:
    plan = plan_for([*STAFF[3:], *HIRES[:3]], seats=100, max_deactivations=1)
    assert {plan.held[op.key].check for op in plan.held_ops if op.kind == "deactivate_user"} == {
        "max_deactivations"
    }
    assert plan.seats is not None and plan.seats.overage == 3
    assert len(created(plan, held=True)) == 3


def test_a_seat_hold_is_worked_out_again_not_kept() -> None:
    first = plan_for([*STAFF, *HIRES], seats=102)
    kept = dict(first.held)
    later = plan_for([*STAFF, *HIRES], seats=200, kept=kept)
    assert not later.held, "seats bought: every hire goes"


def test_no_budget_no_forecast_and_reactivations_count() -> None:
    assert plan_for([*STAFF, *HIRES], seats=None).seats is None
    gone = apply(
        build_plan(roster(STAFF[:98]), connection(rules=RULES), LITMOS_LIKE, MIRROR, today=TODAY),
        MIRROR,
    )
    back = build_plan(
        roster(STAFF), connection(seats=98, rules=RULES), LITMOS_LIKE, gone, today=TODAY
    )
    assert back.seats is not None and back.seats.overage == 2
    assert {op.kind for op in back.held_ops if back.held[op.key].check == SEAT_BUDGET} == {
        "reactivate_user"
    }
