"""Rule conditions, evaluated vectorised over a roster."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.config import Rule
from syncd.errors import ConfigError
from syncd.plan.rules import evaluate_rules
from tests.unit.plan.kit import person, roster

TODAY = date(2024, 6, 1)
PEOPLE = [
    person("E1", department="Sales", title="Manager", hire_date="2024-05-20"),
    person("E2", department="sales ", title="engineer", hire_date="2023-01-01"),
    person("E3", department="Support", title="Director", hire_date="2024-06-10"),
    person("E4", department="Support", title="", hire_date=""),
    person("E5", department="Sales", active=False, hire_date="2024-05-30"),
    person("E6", division="Field", department="North", title="Sales Rep", hire_date="bad"),
]


def matched(*conditions: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> list[str]:
    data = roster(rows or PEOPLE)
    rule = Rule.model_validate(
        {"name": "r", "when": list(conditions), "assign": {"courses": ["C"]}}
    )
    result = evaluate_rules([rule], data.people, data.groups, data.memberships, today=TODAY)
    return sorted(result.frame(data.people["external_id"])["external_id"].tolist())


def test_equals_ignores_case_and_spaces_and_leavers() -> None:
    assert matched({"field": "department", "equals": "SALES"}) == ["E1", "E2"]


def test_in_and_not() -> None:
    assert matched({"field": "title", "in": ["manager", "Director"]}) == ["E1", "E3"]
    assert matched({"field": "title", "not": "engineer"}) == ["E1", "E3", "E4", "E6"]
    assert matched({"field": "title", "not": ["engineer", ""]}) == ["E1", "E3", "E6"]


def test_regex_is_case_sensitive_and_python_only_syntax_works() -> None:
    assert matched({"field": "title", "regex": "^[A-Z]"}) == ["E1", "E3", "E6"]
    assert matched({"field": "title", "regex": "(?i)^sales"}) == ["E6"]
    assert matched({"field": "title", "regex": r"^(?!Manager)\w+$"}) == ["E2", "E3"]


def test_hired_within_days_counts_future_hires_and_skips_bad_dates() -> None:
    assert matched({"hired_within_days": 30}) == ["E1", "E3"]
    assert matched({"hired_within_days": 0}) == ["E3"]
    assert matched({"field": "hire_date", "hired_within_days": 10_000}) == ["E1", "E2", "E3"]


def test_member_of_includes_child_groups() -> None:
    assert matched({"member_of": "org:Ops"}) == ["E1", "E2", "E3", "E4"]
    assert matched({"member_of": "org:Ops/Support"}) == ["E3", "E4"]
    assert matched({"member_of": "org:Field/North"}) == ["E6"]


def test_member_of_ignores_case_as_group_identity_does() -> None:
    # A department renamed only in case ("Ops" -> "OPS") is the same group: a rule written
    # with the old spelling keeps holding for it and its children.
    assert matched({"member_of": "ORG:ops"}) == ["E1", "E2", "E3", "E4"]
    assert matched({"member_of": "org:ops/SUPPORT"}) == ["E3", "E4"]


def test_conditions_combine_with_and() -> None:
    both = matched({"member_of": "org:Ops"}, {"field": "title", "regex": "or$"})
    assert both == ["E3"]


def test_empty_when_means_every_active_person() -> None:
    assert matched() == ["E1", "E2", "E3", "E4", "E6"]


def test_unknown_group_matches_nobody_with_a_warning() -> None:
    data = roster(PEOPLE)
    rule = Rule.model_validate(
        {"name": "gone", "when": [{"member_of": "org:Nowhere"}], "assign": {"courses": ["C"]}}
    )
    result = evaluate_rules([rule], data.people, data.groups, data.memberships, today=TODAY)
    assert not len(result.pairs)
    assert result.warnings == (
        "rules[0] (gone).when[0]: no group `org:Nowhere` in this export; it matches nobody",
    )


def test_unknown_field_is_a_config_error_naming_the_rule() -> None:
    with pytest.raises(
        ConfigError, match=r"rules\[0\] \(r\)\.when\[0\]: the export has no field `colour`"
    ):
        matched({"field": "colour", "equals": "red"})


def test_every_item_of_every_rule_with_its_rule_name() -> None:
    data = roster(PEOPLE[:2])
    rules = [
        Rule.model_validate({"name": "all", "assign": {"courses": ["C1", "C1", "C2"]}}),
        Rule.model_validate(
            {
                "name": "mgr",
                "when": [{"field": "title", "equals": "manager"}],
                "assign": {"courses": ["C2"], "learning_paths": ["LP"]},
            }
        ),
    ]
    result = evaluate_rules(rules, data.people, data.groups, data.memberships, today=TODAY)
    rows = sorted(result.frame(data.people["external_id"]).itertuples(index=False, name=None))
    assert rows == [
        ("E1", "course", "C1", "all"),
        ("E1", "course", "C2", "all"),
        ("E1", "course", "C2", "mgr"),
        ("E1", "learning_path", "LP", "mgr"),
        ("E2", "course", "C1", "all"),
        ("E2", "course", "C2", "all"),
    ]
