"""Desired state: users' attributes and match values, groups, memberships, leavers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from syncd.errors import ConfigError
from syncd.plan.desired import build_desired
from tests.unit.plan.kit import LITMOS_LIKE, connection, person, roster

TODAY = date(2024, 6, 1)


def test_profile_defaults_fill_missing_fields_with_empty_text() -> None:
    profile = replace(
        LITMOS_LIKE, default_fields={**LITMOS_LIKE.default_fields, "Phone": "{phone}"}
    )
    desired = build_desired(roster([person("E1")]), connection(), profile, today=TODAY)
    assert desired.fields == ("UserName", "FirstName", "LastName", "Email", "JobTitle", "Phone")
    assert desired.attrs["Phone"].to_pylist() == [""]


def test_connection_fields_follow_the_vendor_write_order() -> None:
    fields = {"Custom": "{title}", "Email": "email", "UserName": "{username}"}
    desired = build_desired(
        roster([person("E1")]), connection(fields=fields), LITMOS_LIKE, today=TODAY
    )
    assert desired.fields == ("UserName", "Email", "Custom")


@pytest.mark.parametrize(
    ("match_key", "expected"),
    [("username", "u@x.example"), ("email", "Mail@X.example"), ("employee_id", "E1")],
)
def test_match_value_comes_from_the_match_key(match_key: str, expected: str) -> None:
    rows = [person("E1", username="u@x.example", email=" Mail@X.example ")]
    desired = build_desired(roster(rows), connection(match_key=match_key), LITMOS_LIKE, today=TODAY)
    assert desired.people["match_value"].tolist() == [expected]


def test_groups_only_where_active_people_are_parents_first() -> None:
    rows = [
        person("E1", division="B", department="Y"),
        person("E2", division="A", department="X"),
        person("E3", division="C", department="Z", active=False),
    ]
    desired = build_desired(roster(rows), connection(), LITMOS_LIKE, today=TODAY)
    assert desired.groups[["key", "parent_key", "level"]].values.tolist() == [
        ["org:A", "", 0],
        ["org:B", "", 0],
        ["org:A/X", "org:A", 1],
        ["org:B/Y", "org:B", 1],
    ]
    assert sorted(desired.membership_frame().itertuples(index=False, name=None)) == [
        ("org:A/X", "E2"),
        ("org:B/Y", "E1"),
    ]


def test_flat_vendor_gets_leaf_groups_without_parents() -> None:
    flat = replace(LITMOS_LIKE, nested_groups=False)
    desired = build_desired(roster([person("E1")]), connection(), flat, today=TODAY)
    assert desired.groups[["key", "parent_key"]].values.tolist() == [["org:Ops/Support", ""]]


def test_only_configured_groupings_are_pushed() -> None:
    data = roster([person("E1")], groupings={"org": ("division", "department"), "site": ("title",)})
    desired = build_desired(data, connection(groups=["site"]), LITMOS_LIKE, today=TODAY)
    assert desired.groups["key"].tolist() == ["site:Engineer"]
    nothing = build_desired(data, connection(groups=[]), LITMOS_LIKE, today=TODAY)
    assert nothing.groups.empty and not len(nothing.memberships)


def test_deactivation_is_due_after_the_grace_period() -> None:
    rows = [
        person("E1", active=False, termination_date="2024-05-25"),
        person("E2", active=False, termination_date="2024-05-20"),
        person("E3", active=False, termination_date=""),
        person("E4"),
    ]
    policy = {"deprovision": {"grace_days": 10}}
    desired = build_desired(roster(rows), connection(**policy), LITMOS_LIKE, today=TODAY)
    assert desired.people["due"].tolist() == [False, True, True, False]


def test_rejected_keys_are_held() -> None:
    desired = build_desired(
        roster([person("E1")], rejected_keys=["E7", ""]), connection(), LITMOS_LIKE, today=TODAY
    )
    assert desired.held == frozenset({"E7"})


def test_vendor_without_groups_or_learning_paths_refuses_such_config() -> None:
    no_groups = replace(LITMOS_LIKE, groups=False, learning_paths=False)
    with pytest.raises(ConfigError, match="has no groups"):
        build_desired(roster([person("E1")]), connection(), no_groups, today=TODAY)
    rules = [{"name": "lp", "assign": {"learning_paths": ["LP"]}}]
    with pytest.raises(ConfigError, match=r"rules\[0\] \(lp\): litmos has no learning paths"):
        build_desired(
            roster([person("E1")]), connection(groups=[], rules=rules), no_groups, today=TODAY
        )


def test_bad_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="only plain"):
        build_desired(
            roster([person("E1")]),
            connection(fields={"X": "{first_name!r}"}),
            LITMOS_LIKE,
            today=TODAY,
        )
    with pytest.raises(ConfigError, match="invalid template"):
        build_desired(
            roster([person("E1")]),
            connection(fields={"X": "{first_name"}),
            LITMOS_LIKE,
            today=TODAY,
        )
