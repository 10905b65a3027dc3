"""Roster-shaped data and vendor profiles for the plan tests (plain builders, not fixtures).

The Roster contract of ``syncd.hris`` is built here directly from rows, the way the reader
would produce it: string columns with "" for empty, ISO dates, ``active`` bool, group keys
``"<grouping>:<top>/<...>/<leaf>"`` and one membership per person in the leaf group of each
grouping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from syncd.config import ConnectionConfig
from syncd.plan.ops import (
    AddMembers,
    AssignCoursePeople,
    AssignCourses,
    AssignGroupCourses,
    AssignLearningPaths,
    CreateGroup,
    CreateUser,
    DeactivateUser,
    DeleteUser,
    LinkGroup,
    LinkUser,
    Op,
    ReactivateUser,
    RekeyUser,
    RemoveMember,
    ReplaceMemberships,
    UnassignCourse,
    UnassignLearningPath,
    UpdateGroup,
    UpdateUser,
)
from syncd.vendors import litmos

FIELDS = (
    "employee_id",
    "username",
    "email",
    "first_name",
    "last_name",
    "title",
    "division",
    "department",
    "hire_date",
    "termination_date",
)

LITMOS_LIKE = replace(
    litmos.PROFILE,
    default_fields={
        "UserName": "{username}",
        "FirstName": "{first_name}",
        "LastName": "{last_name}",
        "Email": "{email}",
        "JobTitle": "{title}",
    },
)
"""The Litmos connector's own profile (call costs, batch sizes, groups), with its default
fields mapped to the fields these tests' rows have (``title``, not ``job_title``)."""


@dataclass(frozen=True)
class Source:
    path: str = "export.csv"
    rows_read: int = 0


@dataclass(frozen=True)
class Roster:
    people: pd.DataFrame
    groups: pd.DataFrame
    memberships: pd.DataFrame
    rejected: pd.DataFrame
    warnings: pd.DataFrame
    source: Source = field(default_factory=Source)


def person(external_id: str, **values: Any) -> dict[str, Any]:
    """One export row; sensible values for everything not given."""
    row: dict[str, Any] = {
        "employee_id": external_id,
        "username": f"{external_id.lower()}@corp.example",
        "email": f"{external_id.lower()}@corp.example",
        "first_name": f"First{external_id}",
        "last_name": f"Last{external_id}",
        "title": "Engineer",
        "division": "Ops",
        "department": "Support",
        "hire_date": "2020-01-01",
        "termination_date": "",
        "active": True,
    }
    row.update(values)
    return row


def roster(
    rows: Sequence[Mapping[str, Any]],
    *,
    groupings: Mapping[str, Sequence[str]] | None = None,
    rejected_keys: Iterable[str] = (),
    rows_read: int | None = None,
) -> Roster:
    """A Roster from export rows; ``groupings``: name -> columns from the top level down."""
    groupings = {"org": ("division", "department")} if groupings is None else groupings
    records = []
    for line, row in enumerate(rows, start=2):
        record = {name: str(row.get(name, "")) for name in FIELDS}
        record.update({k: str(v) for k, v in row.items() if k not in ("active", *FIELDS)})
        record["external_id"] = record["employee_id"]
        record["active"] = bool(row.get("active", True))
        record["line"] = line
        records.append(record)
    columns = ["external_id", *FIELDS, "active", "line"]
    people = pd.DataFrame(records, columns=columns if not records else None)
    if not records:
        people = pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
        people["active"] = people["active"].astype(bool)
        people["line"] = people["line"].astype("int64")
    for name in people.columns:
        if name not in ("active", "line"):
            people[name] = people[name].astype("str")
    groups: dict[str, tuple[str, str, str, int]] = {}
    members = []
    for grouping, cols in groupings.items():
        for row in records:
            parent = ""
            path: list[str] = []
            for level, col in enumerate(cols):
                value = row[col]
                if not value:
                    break
                path.append(value)
                key = f"{grouping}:{'/'.join(path)}"
                groups.setdefault(key, (value, parent, grouping, level))
                parent = key
            if parent:
                members.append((grouping, parent, row["external_id"]))
    group_frame = pd.DataFrame(
        [(k, *v) for k, v in sorted(groups.items())],
        columns=["key", "name", "parent_key", "grouping", "level"],
    ).astype({"key": "str", "name": "str", "parent_key": "str", "grouping": "str"})
    group_frame["level"] = group_frame["level"].astype("int64")
    member_frame = pd.DataFrame(members, columns=["grouping", "group_key", "external_id"]).astype(
        "str"
    )
    reject_cols = ["file", "line", "column", "reason", "key"]
    rejected = pd.DataFrame(
        [("export.csv", "0", "email", "invalid_email", k) for k in rejected_keys],
        columns=reject_cols,
    ).astype("str")
    warnings = pd.DataFrame({c: pd.Series([], dtype="str") for c in reject_cols})
    count = len(records) + len(rejected) if rows_read is None else rows_read
    return Roster(people, group_frame, member_frame, rejected, warnings, Source(rows_read=count))


def connection(**overrides: Any) -> ConnectionConfig:
    """A Litmos connection config, with overrides given as plain (TOML-like) data."""
    data: dict[str, Any] = {
        "vendor": "litmos",
        "base_url": "http://127.0.0.1:1/v1.svc",
        "credentials": {"api_key": "test-key"},
        "groups": ["org"],
        "safeguards": {
            "max_deactivations": 1_000_000,
            "max_deactivation_percent": 100,
            "max_changes": 10_000_000,
            "min_source_ratio": 0,
        },
    }
    data.update(overrides)
    # These plans have no absence history: an absence deprovisions at once, as before
    # absence confirmation (test_absence_confirmation.py gives it its default).
    data["deprovision"] = {"absent_exports": 1, **overrides.get("deprovision", {})}
    return ConnectionConfig.model_validate(data)


EVERY_OP: list[Op] = [
    # One op of every kind, in an order a plan could have them.
    CreateGroup(group_key="g:A", name="A"),
    CreateGroup(group_key="g:A/B", name="B", parent_key="g:A", depends_on=("create_group:g:A",)),
    LinkGroup(group_key="g:C", name="C", parent_key="", remote_id="T9"),
    UpdateGroup(group_key="g:C", name="C2", parent_key="g:A"),
    CreateUser(
        external_id="E1", match_value="e1@x", attrs=(("UserName", "e1@x"), ("FirstName", "A"))
    ),
    LinkUser(
        external_id="E2",
        match_value="e2@x",
        remote_id="R2",
        attrs=(("UserName", "e2@x"),),
        active=False,
    ),
    ReactivateUser(external_id="E2"),
    UpdateUser(external_id="E1", changes=(("FirstName", "A", "Ann"),), match_value="ann@x"),
    AddMembers(group_key="g:A/B", external_ids=("E1", "E2")),
    RemoveMember(group_key="g:A/B", external_id="E2"),
    ReplaceMemberships(external_id="E1", group_key="g:A/B", removed=("g:A",)),
    AssignCourses(external_id="E1", course_ids=("C1", "C2")),
    AssignCoursePeople(course_id="C1", external_ids=("E1",)),
    AssignGroupCourses(group_key="g:A/B", course_ids=("C3",), external_ids=("E1",)),
    AssignLearningPaths(external_id="E1", learning_path_ids=("LP1",)),
    UnassignCourse(external_id="E1", course_id="C2"),
    UnassignLearningPath(external_id="E1", learning_path_id="LP1"),
    AssignCourses(external_id="E2", course_ids=("C1",)),
    DeactivateUser(external_id="E1", reason="terminated"),
    DeleteUser(external_id="E2", reason="absent from export"),
    # E9 was never synced: the move changes nothing, the mirror above stays as it is.
    RekeyUser(external_id="E3", previous_id="E9"),
]


# --------------------------------------------------------------------------- property tests

TODAY = date(2024, 6, 1)
PROFILE = replace(LITMOS_LIKE, required_fields=())
"""Empty last names are part of the random exports (empty values must hash, compare and
apply like any other); the vendor's refusal of an empty required field is tested in
test_skips.py."""
IDS = [f"E{i}" for i in range(7)]
RULES = [
    {"name": "all", "assign": {"courses": ["C0"]}},
    {
        "name": "dept a",
        "when": [{"field": "department", "equals": "a"}],
        "assign": {"courses": ["C1"], "learning_paths": ["LP1"]},
    },
    {"name": "title y", "when": [{"field": "title", "in": ["Y"]}], "assign": {"courses": ["C2"]}},
    {"name": "team b", "when": [{"member_of": "org:Ops/B"}], "assign": {"courses": ["C3"]}},
]

row_strategy = st.fixed_dictionaries(
    {
        "present": st.booleans(),
        "rejected": st.sampled_from([False, False, False, True]),
        "active": st.booleans(),
        "department": st.sampled_from(["A", "B", "C"]),
        "division": st.sampled_from(["Ops", "Ops", "Lab"]),
        "title": st.sampled_from(["X", "Y"]),
        "variant": st.integers(0, 1),
        "last": st.sampled_from(["Ng", "Núñez", ""]),
    }
)
export_strategy = st.lists(row_strategy, min_size=len(IDS), max_size=len(IDS))
policy_strategy = st.fixed_dictionaries(
    {
        "on_termination": st.sampled_from(["deactivate", "delete", "ignore"]),
        "on_absent": st.sampled_from(["deactivate", "delete", "ignore"]),
        "reactivate": st.booleans(),
        "remove_memberships": st.booleans(),
        "unassign_courses": st.booleans(),
    }
)


def rejected_of(export: list[dict[str, Any]]) -> list[str]:
    """People whose row is in the export but was rejected (unknown this run)."""
    return [e for e, spec in zip(IDS, export, strict=True) if spec["present"] and spec["rejected"]]


def rows_of(export: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for external_id, spec in zip(IDS, export, strict=True):
        if not spec["present"] or spec["rejected"]:
            continue
        rows.append(
            person(
                external_id,
                active=spec["active"],
                department=spec["department"],
                division=spec["division"],
                title=spec["title"],
                last_name=spec["last"],
                username=f"{external_id.lower()}.{spec['variant']}@corp.example",
            )
        )
    return rows
