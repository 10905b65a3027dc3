"""read_roster as a whole: a messy real-world export, and agreement with a slow reference.

The reference is a plain Python reading of the same file (csv module, ``str.split``,
``strptime``, ``re``), written independently of the vectorised code: on a generated export
with every kind of mess and of bad row, both must accept the same people with the same
values and reject the same lines for the same reasons.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from syncd.config import SourceConfig
from syncd.hris import read_roster
from syncd.hris.validate import EMAIL

from .kit import issues, person

ROOT = Path(__file__).resolve().parents[3]

MESSY = (
    "Employee ID,Employee Name,Work Email,Division,Department,Manager ID,Hire Date,"
    "Termination Date,Employment Status\r\n"
    '1001,"Lee, Ann M  ",ann.lee@acme.test,Sales ,Field  Sales,,01/15/99,,Active \r\n'
    '1002,"Núñez, José",,Sales,Inside Sales,1001,3/4/21,,On Leave\r\n'
    '1003,"Ray, Bob",bob.ray@acme.test,Operations,Logistics,1001,07/01/15,05/31/25,'
    "Voluntarily Terminated\r\n"
    '1004,"Moe, Cid",cid.moe@acme.test,Operations,Logistics,1003,07/01/15,12/31/25,'
    "Involuntarily Terminated\r\n"
    '1005,"Kay, Dee",dee.kay@acme,Operations,,1001,07/01/15,,Active\r\n'
    '1006,"Fox, Eve",eve.fox@acme.test,Operations,Warehouse,  ,13/01/15,,Active\r\n'
    '1002,"Orr, Fay",fay.orr@acme.test,Sales,Field Sales,1001,01/01/20,,Active\r\n'
    '1008,"Poe, Gus",gus.poe@acme.test,Sales,Field Sales,4711,01/01/20,,RETIRED\r\n'
    '1009,"Quy, Hal",hal.quy@acme.test,Sales,Field Sales,,01/01/20,,Contractor\r\n'
)


def messy_source(**overrides: Any) -> SourceConfig:
    data: dict[str, Any] = {
        "path": "export.csv",
        "columns": {
            "employee_id": "employee id",
            "full_name": "EMPLOYEE NAME",
            "email": "Work Email",
            "division": "Division",
            "department": "Department",
            "manager_id": "Manager ID",
            "hire_date": "Hire Date",
            "termination_date": "Termination Date",
            "status": "Employment Status",
        },
        "name_split": {"column": "full_name"},
        "derived": {"username": "{email}", "login": "{employee_id}@acme.test"},
        "date_formats": ["%m/%d/%y"],
        "status": {
            "active": ["Active", "On Leave"],
            "terminated": ["Voluntarily Terminated", "Involuntarily Terminated", "Retired"],
        },
        "groups": [{"name": "org", "columns": ["division", "department"]}],
    }
    data.update(overrides)
    return SourceConfig.model_validate(data)


def test_a_messy_real_world_export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + MESSY.encode("utf-8"))
    roster = read_roster(path, messy_source(), today=date(2025, 6, 1))

    assert roster.source.rows_read == 9
    assert issues(roster) == [
        (3, "Employee ID", "duplicate_key", "1002"),
        (6, "Work Email", "invalid_email", "1005"),
        (7, "Hire Date", "invalid_date", "1006"),
        (8, "Employee ID", "duplicate_key", "1002"),
        (10, "Employment Status", "unknown_status", "1009"),
    ]
    assert roster.rows_rejected == 5
    assert sorted(roster.people["external_id"]) == ["1001", "1003", "1004", "1008"]
    assert issues(roster, "warnings") == [(9, "Manager ID", "unknown_manager", "1008")]

    ann = person(roster, "1001")
    assert (ann["first_name"], ann["middle_name"], ann["last_name"]) == ("Ann", "M", "Lee")
    assert ann["hire_date"] == "1999-01-15"
    assert ann["division"] == "Sales" and ann["department"] == "Field Sales"
    assert ann["status"] == "Active" and ann["active"]
    assert ann["username"] == "ann.lee@acme.test"
    assert ann["login"] == "1001@acme.test"
    assert not person(roster, "1003")["active"], "left on 05/31/25"
    assert person(roster, "1004")["active"], "leaves on 12/31/25: active until then"
    assert person(roster, "1004")["termination_date"] == "2025-12-31"
    assert not person(roster, "1008")["active"]

    assert set(roster.groups["key"]) == {
        "org:Sales",
        "org:Sales/Field Sales",
        "org:Operations",
        "org:Operations/Logistics",
    }
    assert len(roster.memberships) == 4


def test_people_frame_contract(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(MESSY.encode("utf-8"))
    people = read_roster(path, messy_source(), today=date(2025, 6, 1)).people
    source = messy_source()
    assert list(people.columns) == ["external_id", *source.fields(), "active", "line"]
    assert list(people.index) == list(range(len(people)))
    assert people["line"].dtype == "int64" and people["active"].dtype == bool
    text = people.drop(columns=["active", "line"])
    assert all(isinstance(v, str) for v in text.to_numpy().ravel())


# --------------------------------------------------------------------------- reference


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hris_generate", ROOT / "benchmarks/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()
GENERATED = GENERATOR.SOURCE["columns"]
ACTIVE = GENERATOR.SOURCE["status"]["active"]
TERMINATED = GENERATOR.SOURCE["status"]["terminated"]
FORMATS = GENERATOR.SOURCE["date_formats"]
TODAY = date(2024, 6, 1)


def reference(
    path: Path, encoding: str, delimiter: str
) -> tuple[dict[str, dict[str, Any]], Counter[tuple[int, str]]]:
    """Accepted people by key, and (line, reason) of every rejection, the slow obvious way."""
    text = path.read_bytes().decode(encoding).lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [" ".join(h.split()) for h in next(reader)]
    at = {name: header.index(column) for name, column in GENERATED.items()}
    records = []
    previous = reader.line_num
    for fields in reader:
        start, previous = previous + 1, reader.line_num
        if not fields:
            continue
        values = {name: " ".join(fields[i].split()) for name, i in at.items()}
        records.append((start, values))
    keys = Counter(v["employee_id"] for _, v in records)
    rejected: Counter[tuple[int, str]] = Counter()
    people = {}
    for line, v in records:
        problems = []
        if not v["employee_id"]:
            problems.append("missing_key")
        elif keys[v["employee_id"]] > 1:
            problems.append("duplicate_key")
        if v["email"] and not re.match(EMAIL, v["email"]):
            problems.append("invalid_email")
        for name in ("hire_date", "termination_date"):
            if v[name]:
                try:
                    v[name] = datetime.strptime(v[name], FORMATS[0]).date().isoformat()
                except ValueError:
                    problems.append("invalid_date")
        status = v["status"].lower()
        if status not in {w.lower() for w in ACTIVE + TERMINATED}:
            problems.append("unknown_status")
        for problem in problems:
            rejected[(line, problem)] += 1
        if problems:
            continue
        last, _, rest = v["full_name"].partition(",")
        first, _, middle = rest.strip().partition(" ")
        v.update(first_name=first, middle_name=middle, last_name=last.strip(), line=line)
        ended = v["termination_date"]
        v["active"] = status in {w.lower() for w in ACTIVE} or ended > TODAY.isoformat()
        people[v["employee_id"]] = v
    return people, rejected


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bom": True, "crlf": True, "newline_rate": 0.02},
        {"encoding": "cp1252", "delimiter": ";", "newline_rate": 0.01},
        {"delimiter": "\t", "crlf": True},
    ],
    ids=["plain", "bom-crlf-newlines", "cp1252-semicolon", "tab"],
)
def test_agrees_with_a_slow_reference_on_a_generated_export(tmp_path, options):
    path = GENERATOR.generate(3000, 11, tmp_path / "export.csv", bad_rate=0.03, **options)
    source = SourceConfig.model_validate(GENERATOR.SOURCE)
    roster = read_roster(path, source, today=TODAY)
    expected_people, expected_rejected = reference(
        path, options.get("encoding", "utf-8"), options.get("delimiter", ",")
    )

    got_rejected = Counter(zip(roster.rejected["line"], roster.rejected["reason"], strict=True))
    assert got_rejected == expected_rejected
    assert roster.rows_rejected > 50
    assert len(roster.people) == len(expected_people)
    compared = [*GENERATED, "first_name", "middle_name", "last_name", "line", "active"]
    for record in roster.people.to_dict("records"):
        want = expected_people[record["external_id"]]
        assert {k: record[k] for k in compared} == {k: want[k] for k in compared}
    groups = {f"org:{p['division']}/{p['department']}" for p in expected_people.values()} | {
        f"org:{p['division']}" for p in expected_people.values()
    }
    assert set(roster.groups["key"]) == groups
