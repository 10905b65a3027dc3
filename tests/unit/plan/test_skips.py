"""People the plan does not send, and says so: values the vendor would refuse, and
match values that cannot tell people apart (issue 11, items 1 and 5).

A field the vendor requires (``VendorProfile.required_fields``) that is empty, or a value
over the vendor's documented length (``max_lengths``), is never sent: no create, no update
that would send it. Such a person is listed in ``skipped`` with the field, and a plan that
has nothing else to do is not "in sync": it ends with its own exit code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.errors import ExitCode
from syncd.pipeline.plan import exit_code
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.ops import CreateUser, UpdateUser
from syncd.vendors import litmos
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)


def plan_for(rows: list[dict[str, Any]], mirror: Mirror | None = None, **config: Any) -> Plan:
    config.setdefault("groups", [])
    return build_plan(
        roster(rows),
        connection(**config),
        LITMOS_LIKE,
        mirror or Mirror.empty(),
        today=TODAY,
        name="main",
    )


def synced(rows: list[dict[str, Any]]) -> Mirror:
    return apply(plan_for(rows), Mirror.empty())


def skips(plan: Plan) -> dict[str, str]:
    return dict(zip(plan.skipped["external_id"], plan.skipped["reason"], strict=True))


def subjects(plan: Plan, kind: type) -> list[str]:
    return [op.subject for op in plan.ops if isinstance(op, kind)]


def test_litmos_declares_its_required_fields_and_documented_lengths() -> None:
    assert litmos.PROFILE.required_fields == ("UserName", "FirstName", "LastName")
    assert litmos.PROFILE.max_lengths["FirstName"] == 50
    assert litmos.PROFILE.max_lengths["LastName"] == 50
    assert litmos.PROFILE.max_lengths["UserName"] == 255
    assert litmos.PROFILE.max_lengths["Email"] == 255


def test_a_new_person_with_an_empty_required_field_is_skipped_not_created() -> None:
    plan = plan_for([person("E1", first_name=""), person("E2", last_name="  "), person("E3")])
    assert subjects(plan, CreateUser) == ["E3"]
    assert skips(plan) == {
        "E1": "not created: FirstName is empty (litmos requires it)",
        "E2": "not created: LastName is empty (litmos requires it)",
    }


def test_a_value_over_the_documented_length_is_skipped_with_the_field() -> None:
    long_name = "N" * 51
    plan = plan_for([person("E1", last_name=long_name, first_name=""), person("E2")])
    assert subjects(plan, CreateUser) == ["E2"]
    assert skips(plan) == {
        "E1": "not created: FirstName is empty (litmos requires it); "
        "LastName is longer than litmos's 50 characters"
    }
    fits = plan_for([person("E1", last_name="N" * 50)])
    assert subjects(fits, CreateUser) == ["E1"] and fits.skipped.empty


def test_an_update_that_would_blank_a_required_field_is_not_sent() -> None:
    mirror = synced([person("E1", first_name="Cher"), person("E2")])
    plan = plan_for(
        [person("E1", first_name="", title="Singer"), person("E2", title="Boss")], mirror
    )
    assert subjects(plan, UpdateUser) == ["E2"]
    assert skips(plan) == {"E1": "not updated: FirstName is empty (litmos requires it)"}
    assert exit_code([plan]) == ExitCode.PENDING, "changes pending wins over skips"
    mirror_plan = plan_for([person("E1", first_name=""), person("E2")], mirror)
    assert mirror_plan.ops == ()
    assert mirror_plan.summary()["status"] == "skipped"
    assert exit_code([mirror_plan]) == ExitCode.SKIPPED


def test_an_update_is_only_checked_on_the_fields_it_sends() -> None:
    """A required field the connection does not map is left as the LMS holds it."""
    fields = {"UserName": "{username}", "FirstName": "{first_name}", "JobTitle": "{title}"}
    mirror = apply(
        build_plan(
            roster([person("E1")]),
            connection(groups=[], fields={**fields, "LastName": "{last_name}"}),
            LITMOS_LIKE,
            Mirror.empty(),
            today=TODAY,
        ),
        Mirror.empty(),
    )
    plan = plan_for([person("E1", title="Boss")], mirror, fields=fields)
    assert subjects(plan, UpdateUser) == ["E1"] and plan.skipped.empty


def test_a_required_field_the_connection_does_not_map_stops_creates() -> None:
    fields = {"UserName": "{username}", "FirstName": "{first_name}"}
    plan = plan_for([person("E1")], fields=fields)
    assert plan.ops == ()
    assert skips(plan) == {
        "E1": "not created: LastName is not mapped in the connection's fields (litmos requires it)"
    }


def test_a_skipped_update_keeps_the_account_live_for_its_groups_and_courses() -> None:
    rules = [{"name": "all", "assign": {"courses": ["C1"]}}]
    mirror = apply(plan_for([person("E1")], rules=rules), Mirror.empty())
    plan = plan_for(
        [person("E1", first_name="")],
        mirror,
        rules=[*rules, {"name": "more", "assign": {"courses": ["C2"]}}],
    )
    assert [op.kind for op in plan.ops] == ["assign_courses"]
    assert set(skips(plan)) == {"E1"}


def test_colliding_match_values_are_skipped_and_decide_the_exit_code() -> None:
    rows = [
        person("E1"),
        person("E2", username="same@corp.example"),
        person("E3", username="Same@corp.example"),
    ]
    mirror = synced([person("E1")])
    plan = plan_for(rows, mirror)
    assert plan.ops == ()
    assert skips(plan) == {
        "E2": "match value shared with another person",
        "E3": "match value shared with another person",
    }
    summary = plan.summary()
    assert summary["status"] == "skipped"
    assert len(summary["skipped"]) == 2
    assert exit_code([plan]) == ExitCode.SKIPPED == 6


@pytest.mark.parametrize(
    ("plans", "expected"),
    [
        ([], ExitCode.OK),
        (["in_sync"], ExitCode.OK),
        (["skipped", "in_sync"], ExitCode.SKIPPED),
        (["skipped", "pending"], ExitCode.PENDING),
    ],
)
def test_skips_decide_the_exit_code_only_when_nothing_else_does(
    plans: list[str], expected: ExitCode
) -> None:
    mirror = synced([person("E1")])
    made = {
        "in_sync": plan_for([person("E1")], mirror),
        "skipped": plan_for([person("E1"), person("E2", first_name="")], mirror),
        "pending": plan_for([person("E1"), person("E3")], mirror),
    }
    assert exit_code([made[name] for name in plans]) == expected


def test_without_skips_the_summary_is_unchanged() -> None:
    mirror = synced([person("E1")])
    summary = plan_for([person("E1")], mirror).summary()
    assert summary["status"] == "in_sync" and summary["skipped"] == []
