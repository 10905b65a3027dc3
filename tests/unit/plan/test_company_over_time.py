"""A real-shaped company over several exports: every plan is exactly the true difference.

Each step writes a CSV export the way an HRIS would (status words, US dates, a division >
department hierarchy), reads it with the real reader, plans against the mirror the last
plan left, and compares the ops with what the step actually changed: hires, leavers,
people gone from the file, moves, surname and email edits, rehires and a rule change.
Then the plan is applied and planning again must find nothing.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from syncd.config import ConnectionConfig, SourceConfig
from syncd.hris import read_roster
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.ops import (
    AddMembers,
    AssignCourses,
    AssignLearningPaths,
    CreateUser,
    DeactivateUser,
    ReactivateUser,
    RemoveMember,
    UpdateUser,
)
from tests.unit.plan.kit import LITMOS_LIKE

TODAY = date(2025, 3, 3)
HEADER = ["Emp #", "Name", "E-mail", "Division", "Department", "Status", "Hired", "Ended"]
ORG = {
    "Sales": ["Field", "Inside"],
    "Engineering": ["Platform", "Data", "Security"],
    "Operations": ["Warehouse"],
}
TEAMS = [
    (division, department) for division, departments in ORG.items() for department in departments
]
SOURCE = SourceConfig.model_validate(
    {
        "path": "export.csv",
        "columns": {
            "employee_id": "Emp #",
            "full_name": "Name",
            "email": "E-mail",
            "division": "Division",
            "department": "Department",
            "status": "Status",
            "hire_date": "Hired",
            "termination_date": "Ended",
        },
        "name_split": {"column": "full_name"},
        "derived": {"username": "{employee_id}@corp.example"},
        "status": {"active": ["active", "leave"], "terminated": ["terminated", "retired"]},
        "groups": [{"name": "org", "columns": ["division", "department"]}],
    }
)
RULES = [
    {"name": "everyone", "assign": {"courses": ["C-CONDUCT"]}},
    {"name": "sales", "when": [{"member_of": "org:Sales"}], "assign": {"courses": ["C-CRM"]}},
    {
        "name": "security",
        "when": [{"field": "department", "equals": "security"}],
        "assign": {"courses": ["C-SEC"], "learning_paths": ["LP-SEC"]},
    },
]
EXTRA_RULE = {
    "name": "new hires",
    "when": [{"hired_within_days": 60}],
    "assign": {"courses": ["C-WELCOME"]},
}


def connection(rules: list[dict[str, object]]) -> ConnectionConfig:
    return ConnectionConfig.model_validate(
        {
            "vendor": "litmos",
            "base_url": "http://127.0.0.1:1/v1.svc",
            "credentials": {"api_key": "unused"},
            "groups": ["org"],
            "fields": {
                "UserName": "{username}",
                "FirstName": "{first_name}",
                "LastName": "{last_name}",
                "Email": "email",
            },
            "rules": rules,
            "safeguards": {"max_deactivations": 1000, "max_deactivation_percent": 100},
            "deprovision": {"absent_exports": 1},  # no absence history kept here
        }
    )


@dataclass
class Person:
    number: int
    first: str
    last: str
    team: tuple[str, str]
    hired: date
    status: str = "Active"
    ended: str = ""
    email_tag: str = ""

    @property
    def key(self) -> str:
        return str(5000 + self.number)

    @property
    def email(self) -> str:
        return f"{self.first.lower()}.{self.number}{self.email_tag}@corp.example"

    def row(self) -> dict[str, str]:
        return {
            "Emp #": self.key,
            "Name": f"{self.last}, {self.first}",
            "E-mail": self.email,
            "Division": self.team[0],
            "Department": self.team[1],
            "Status": self.status,
            "Hired": self.hired.strftime("%m/%d/%Y"),
            "Ended": self.ended,
        }


@dataclass
class Step:
    """What one export changes, as the test knows it (the truth the plan is checked on)."""

    hires: set[str] = field(default_factory=set)
    leavers: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    rehires: set[str] = field(default_factory=set)
    moves: dict[str, tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=dict)
    edits: dict[str, set[str]] = field(default_factory=dict)


def group_key(team: tuple[str, str]) -> str:
    return f"org:{team[0]}/{team[1]}"


def courses(person: Person, rules: list[dict[str, object]]) -> set[tuple[str, str]]:
    items = {("course", "C-CONDUCT")}
    if person.team[0] == "Sales":
        items.add(("course", "C-CRM"))
    if person.team[1] == "Security":
        items |= {("course", "C-SEC"), ("learning_path", "LP-SEC")}
    if EXTRA_RULE in rules and (TODAY - person.hired).days <= 60:
        items.add(("course", "C-WELCOME"))
    return items


class Company:
    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people: dict[str, Person] = {}
        self.present: set[str] = set()
        self.next_number = 0
        for _ in range(size):
            self.hire(self.rng.choice(TEAMS), date(2010, 1, 1))

    def hire(self, team: tuple[str, str], hired: date) -> Person:
        first = self.rng.choice(["Ann", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal"])
        last = self.rng.choice(["Lee", "Moe", "Ng", "Orr", "Poe", "Ruiz", "Sax", "Tao"])
        person = Person(self.next_number, first, last, team, hired)
        self.next_number += 1
        self.people[person.key] = person
        self.present.add(person.key)
        return person

    def active(self) -> list[Person]:
        return sorted(
            (p for k, p in self.people.items() if k in self.present and p.status == "Active"),
            key=lambda p: p.number,
        )

    def churn(self, count: int) -> Step:
        step = Step()
        chosen = self.rng.sample(self.active(), 5 * count)
        for person in chosen[:count]:
            person.status, person.ended = "Terminated", "02/14/2025"
            step.leavers.add(person.key)
        for person in chosen[count : 2 * count]:
            self.present.discard(person.key)
            step.gone.add(person.key)
        for person in chosen[2 * count : 3 * count]:
            old = person.team
            person.team = self.rng.choice([t for t in TEAMS if t != old])
            step.moves[person.key] = (old, person.team)
        for index, person in enumerate(chosen[3 * count : 4 * count]):
            if index % 2:
                person.last += "-Smith"
                step.edits[person.key] = {"LastName"}
            else:
                person.email_tag = "2"
                step.edits[person.key] = {"Email"}
        for _ in range(count):
            step.hires.add(self.hire(self.rng.choice(TEAMS), date(2025, 2, 20)).key)
        return step

    def rehire(self, keys: list[str]) -> Step:
        step = Step()
        for key in keys:
            person = self.people[key]
            person.status, person.ended = "Active", ""
            self.present.add(key)
            step.rehires.add(key)
        return step

    def write(self, path: Path) -> None:
        rows = [self.people[k].row() for k in sorted(self.present, key=int)]
        self.rng.shuffle(rows)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HEADER)
            writer.writeheader()
            writer.writerows(rows)


def plan_export(company: Company, folder: Path, mirror: Mirror, rules: list[dict[str, object]]):
    path = folder / "export.csv"
    company.write(path)
    roster = read_roster(path, SOURCE, today=TODAY)
    assert roster.rows_rejected == 0
    plan = build_plan(roster, connection(rules), LITMOS_LIKE, mirror, today=TODAY)
    assert plan.refusal is None and plan.skipped.empty
    after = apply(plan, mirror)
    again = build_plan(roster, connection(rules), LITMOS_LIKE, after, today=TODAY)
    assert again.ops == (), "planning again after applying must find nothing"
    return plan, after


def subjects(plan: Plan, kind: type) -> set[str]:
    return {op.external_id for op in plan.ops if isinstance(op, kind)}


def assigned(plan: Plan) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for op in plan.ops:
        if isinstance(op, AssignCourses):
            found[op.external_id] |= {("course", c) for c in op.course_ids}
        elif isinstance(op, AssignLearningPaths):
            found[op.external_id] |= {("learning_path", p) for p in op.learning_path_ids}
    return dict(found)


def added(plan: Plan) -> set[tuple[str, str]]:
    return {
        (op.group_key, e) for op in plan.ops if isinstance(op, AddMembers) for e in op.external_ids
    }


def check(plan: Plan, step: Step, company: Company, rules: list[dict[str, object]]) -> None:
    people = company.people
    assert subjects(plan, CreateUser) == step.hires
    assert subjects(plan, DeactivateUser) == step.leavers | step.gone
    assert subjects(plan, ReactivateUser) == step.rehires
    updates = {
        op.external_id: {c[0] for c in op.changes} for op in plan.ops if isinstance(op, UpdateUser)
    }
    assert updates == step.edits
    removed = {(op.group_key, op.external_id) for op in plan.ops if isinstance(op, RemoveMember)}
    assert removed == {(group_key(old), key) for key, (old, _) in step.moves.items()}
    joined = {(group_key(new), key) for key, (_, new) in step.moves.items()}
    joined |= {(group_key(people[key].team), key) for key in step.hires}
    assert added(plan) == joined
    wanted = {key: courses(people[key], rules) for key in step.hires}
    for key, (old, _) in step.moves.items():
        before = courses(Person(0, "x", "y", old, people[key].hired), rules)
        extra = courses(people[key], rules) - before
        if extra:
            wanted[key] = extra
    assert assigned(plan) == wanted
    expected = {CreateUser, DeactivateUser, ReactivateUser, UpdateUser, RemoveMember, AddMembers}
    assert {type(op) for op in plan.ops} <= expected | {AssignCourses, AssignLearningPaths}


def test_a_company_over_five_exports(tmp_path: Path) -> None:
    company = Company(240, seed=20250303)
    mirror = Mirror.empty()
    first, mirror = plan_export(company, tmp_path, mirror, RULES)
    assert subjects(first, CreateUser) == set(company.people)
    for _ in range(2):
        step = company.churn(4)
        plan, mirror = plan_export(company, tmp_path, mirror, RULES)
        check(plan, step, company, RULES)
    back = sorted(step.leavers | step.gone)
    step = company.rehire(back)
    plan, mirror = plan_export(company, tmp_path, mirror, RULES)
    check(plan, step, company, RULES)
    assert all(not isinstance(op, CreateUser) for op in plan.ops), "rehires are not created"
    rules = [*RULES, EXTRA_RULE]
    plan, mirror = plan_export(company, tmp_path, mirror, rules)
    recent = {p.key for p in company.active() if (TODAY - p.hired).days <= 60}
    assert recent and assigned(plan) == {key: {("course", "C-WELCOME")} for key in recent}
    assert {type(op) for op in plan.ops} == {AssignCourses}
