"""Vendor calls a plan needs, pinned at the minimum the Litmos API allows.

1,000 hires into 20 teams with rule-based courses. Per the Litmos docs
(``vendor-docs/litmos-notes.md`` section 1-2, ``litmos-user-assignments-results.txt``):
one ``POST /users`` per user (no multi-user create outside the asynchronous bulk import),
one ``POST /teams`` per new team, one ``POST /teams/{id}/users`` per team taking the whole
member list, and one ``POST /users/{id}/courses`` per user taking all their courses.
"""

from __future__ import annotations

from datetime import date

from syncd.plan import Mirror, apply, build_plan
from syncd.plan.ops import AddMembers, AssignCourses, CreateGroup, CreateUser
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)
TEAMS = [f"Team {t:02d}" for t in range(20)]
HIRES = [person(f"H{i:04d}", department=TEAMS[i % 20], hire_date="2024-05-15") for i in range(1000)]
RULES = [
    {"name": "safety", "assign": {"courses": ["C-SAFETY"]}},
    {
        "name": "onboarding",
        "when": [{"hired_within_days": 30}],
        "assign": {"courses": ["C-WELCOME"]},
    },
    {
        "name": "even teams",
        "when": [{"field": "department", "regex": r"[02468]$"}],
        "assign": {"courses": ["C-EVEN-1", "C-EVEN-2"]},
    },
]


def plan_hires(mirror: Mirror) -> tuple[Mirror, int, dict[str, int]]:
    config = connection(groups=["team"], rules=RULES)
    data = roster(HIRES, groupings={"team": ("department",)})
    plan = build_plan(data, config, LITMOS_LIKE, mirror, today=TODAY, name="main")
    return apply(plan, mirror), plan.calls, plan.counts


def test_thousand_hires_into_twenty_teams_at_the_minimum_of_calls() -> None:
    after, calls, counts = plan_hires(Mirror.empty())
    assert counts == {
        CreateUser.kind: 1000,
        CreateGroup.kind: 20,
        AddMembers.kind: 20,
        AssignCourses.kind: 1000,
    }
    assert calls == 1000 + 20 + 20 + 1000
    assert len(after.assignments) == 1000 * 2 + 500 * 2
    _, again, _ = plan_hires(after)
    assert again == 0


def test_hires_into_existing_teams_need_no_team_calls() -> None:
    existing = [person(f"E{t}", department=team) for t, team in enumerate(TEAMS)]
    config = connection(groups=["team"], rules=RULES)
    base = build_plan(
        roster(existing, groupings={"team": ("department",)}),
        config,
        LITMOS_LIKE,
        Mirror.empty(),
        today=TODAY,
    )
    mirror = apply(base, Mirror.empty())
    data = roster(existing + HIRES, groupings={"team": ("department",)})
    plan = build_plan(data, config, LITMOS_LIKE, mirror, today=TODAY)
    assert plan.counts == {CreateUser.kind: 1000, AddMembers.kind: 20, AssignCourses.kind: 1000}
    assert plan.calls == 2020


def test_duration_under_the_litmos_rate_rule() -> None:
    from syncd.config import RateConfig

    config = connection(groups=["team"], rules=RULES)
    plan = build_plan(
        roster(HIRES, groupings={"team": ("department",)}),
        config,
        LITMOS_LIKE,
        Mirror.empty(),
        today=TODAY,
    )
    rate = RateConfig(requests=100, per_seconds=60)
    assert plan.duration_seconds(rate) == (2040 - 1) // 100 * 60
    assert plan.summary(rate=rate)["duration_seconds"] == 1200.0


def test_the_litmos_connector_profile_plans_the_minimum() -> None:
    """The same scenario with the profile the Litmos connector really declares.

    The minimum is counted here from the API's rules, not from the plan: one create per
    hire, one create per new team, one member list per team, one course list per hire.
    """
    from syncd.vendors import profile

    litmos = profile("litmos")
    data = roster(HIRES, groupings={"team": ("department",)})
    plan = build_plan(
        data, connection(groups=["team"], rules=RULES), litmos, Mirror.empty(), today=TODAY
    )
    minimum = len(HIRES) + len(TEAMS) + len(TEAMS) + len(HIRES)
    assert plan.calls == minimum == 2040
    per_hire = {op.external_id: op.course_ids for op in plan.ops if isinstance(op, AssignCourses)}
    assert len(per_hire) == 1000
    assert per_hire["H0000"] == ("C-EVEN-1", "C-EVEN-2", "C-SAFETY", "C-WELCOME")
    assert per_hire["H0001"] == ("C-SAFETY", "C-WELCOME")
    members = [op.external_ids for op in plan.ops if isinstance(op, AddMembers)]
    assert sorted(len(m) for m in members) == [50] * 20
