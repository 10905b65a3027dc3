"""Groups and memberships from columns and hierarchies (division > department)."""

from __future__ import annotations

import pyarrow as pa

from syncd.config import GroupSpec
from syncd.hris import groups
from syncd.hris.mapping import TEXT

from .kit import lines, read, write

HEADER = "Employee ID,Division,Department,Location,Email"
COLUMNS = {
    "employee_id": "Employee ID",
    "division": "Division",
    "department": "Department",
    "location": "Location",
    "email": "Email",
}
SPECS = [
    {"name": "org", "columns": ["division", "department"]},
    {"name": "site", "columns": ["location"]},
]


def roster_of(tmp_path, *rows):
    return read(write(tmp_path, lines(*rows, header=HEADER)), columns=COLUMNS, groups=SPECS)


def members(roster) -> set[tuple[str, str, str]]:
    return {tuple(r) for r in roster.memberships[["grouping", "group_key", "external_id"]].values}


def test_a_hierarchy_and_a_flat_grouping(tmp_path):
    roster = roster_of(
        tmp_path,
        "1,Sales,Field Sales,Chicago,",
        "2,Sales,Inside Sales,Chicago,",
        "3,Ops,Logistics,Austin,",
        "4,Sales,Field Sales,Austin,",
    )
    table = roster.groups
    assert list(table.columns) == ["key", "name", "parent_key", "grouping", "level"]
    assert [tuple(r) for r in table.values] == [
        ("org:Ops", "Ops", "", "org", 0),
        ("org:Ops/Logistics", "Logistics", "org:Ops", "org", 1),
        ("org:Sales", "Sales", "", "org", 0),
        ("org:Sales/Field Sales", "Field Sales", "org:Sales", "org", 1),
        ("org:Sales/Inside Sales", "Inside Sales", "org:Sales", "org", 1),
        ("site:Austin", "Austin", "", "site", 0),
        ("site:Chicago", "Chicago", "", "site", 0),
    ]
    assert table["level"].dtype == "int64"
    assert members(roster) == {
        ("org", "org:Sales/Field Sales", "1"),
        ("org", "org:Sales/Inside Sales", "2"),
        ("org", "org:Ops/Logistics", "3"),
        ("org", "org:Sales/Field Sales", "4"),
        ("site", "site:Chicago", "1"),
        ("site", "site:Chicago", "2"),
        ("site", "site:Austin", "3"),
        ("site", "site:Austin", "4"),
    }


def test_the_same_department_under_two_divisions_is_two_groups(tmp_path):
    roster = roster_of(tmp_path, "1,Sales,Support,,", "2,Ops,Support,,")
    org = roster.groups[roster.groups["grouping"] == "org"]
    assert sorted(org["key"]) == ["org:Ops", "org:Ops/Support", "org:Sales", "org:Sales/Support"]


def test_empty_levels(tmp_path):
    roster = roster_of(
        tmp_path,
        "1,Sales,,Chicago,",  # no department: member of the division
        "2,,Support,,",  # no division: no org group at all, and no site
        "3,Sales,Field Sales,,",
    )
    assert members(roster) == {
        ("org", "org:Sales", "1"),
        ("org", "org:Sales/Field Sales", "3"),
        ("site", "site:Chicago", "1"),
    }
    assert "org:Support" not in set(roster.groups["key"])
    assert "" not in set(roster.groups["name"])


def test_slashes_and_percent_signs_in_names_keep_keys_unique(tmp_path):
    roster = roster_of(tmp_path, "1,A/B,C,,", "2,A,B/C,,", "3,100% Ops,x,,")
    keys = set(roster.groups["key"])
    assert {"org:A%2FB/C", "org:A/B%2FC", "org:100%25 Ops/x"} <= keys
    names = dict(zip(roster.groups["key"], roster.groups["name"], strict=True))
    assert names["org:A%2FB"] == "A/B"


def test_groups_come_from_accepted_people_only(tmp_path):
    roster = roster_of(tmp_path, "1,Sales,Field Sales,Chicago,", "2,Secret,Board,Mars,not-an-email")
    assert not any("Secret" in k or "Mars" in k for k in roster.groups["key"])
    assert {m[2] for m in members(roster)} == {"1"}


def test_values_are_normalised_before_grouping(tmp_path):
    roster = roster_of(tmp_path, "1, Sales ,Field  Sales,,", "2,Sales,Field Sales,,")
    assert sorted(roster.groups["key"]) == ["org:Sales", "org:Sales/Field Sales"]


def test_no_groupings_configured(tmp_path):
    roster = read(write(tmp_path, lines("1,Sales,x,y,", header=HEADER)), columns=COLUMNS)
    assert roster.groups.empty and roster.memberships.empty
    assert list(roster.groups.columns) == ["key", "name", "parent_key", "grouping", "level"]
    assert list(roster.memberships.columns) == ["grouping", "group_key", "external_id"]


def test_three_levels_and_parents_before_children():
    values = {
        "a": pa.array(["X", "X", "Y", "X"], TEXT),
        "b": pa.array(["p", "q", "p", "p"], TEXT),
        "c": pa.array(["1", "", "1", "2"], TEXT),
    }
    ids = pa.array(["e1", "e2", "e3", "e4"], TEXT)
    table, memberships = groups.build([GroupSpec(name="g", columns=["a", "b", "c"])], values, ids)
    keys = list(table["key"])
    assert keys == ["g:X", "g:X/p", "g:X/p/1", "g:X/p/2", "g:X/q", "g:Y", "g:Y/p", "g:Y/p/1"]
    parents = dict(zip(table["key"], table["parent_key"], strict=True))
    assert all(keys.index(parent) < keys.index(key) for key, parent in parents.items() if parent)
    assert list(memberships["group_key"]) == ["g:X/p/1", "g:X/q", "g:Y/p/1", "g:X/p/2"]
    assert list(table["level"]) == [0, 1, 2, 2, 1, 0, 1, 2]
