"""The source's ``previous_key``: the column of a person's key before the HRIS changed it,
carried into the Roster as ``previous_external_id`` (what the plan's rekey reads)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.unit.hris.kit import COLUMNS, lines, person, read, source, write

HEADER = "Employee ID,Old ID,First Name,Last Name,Email,Status"
MAPPED = {
    "employee_id": "Employee ID",
    "previous_employee_id": "Old ID",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
    "status": "Status",
}


def test_the_previous_key_column_reaches_the_roster(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        lines(
            "N1, E1 ,Ann,Lee,ann@corp.test,Active",
            "E2,,Bob,Ray,bob@corp.test,Active",
            header=HEADER,
        ),
    )
    roster = read(path, columns=MAPPED, previous_key="previous_employee_id", manager=None)
    assert person(roster, "N1")["previous_external_id"] == "E1"
    assert person(roster, "E2")["previous_external_id"] == ""


def test_without_previous_key_the_roster_has_no_such_column(tmp_path: Path) -> None:
    path = write(tmp_path, lines("N1,E1,Ann,Lee,ann@corp.test,Active", header=HEADER))
    roster = read(path, columns=MAPPED, manager=None)
    assert "previous_external_id" not in roster.people.columns


def test_previous_key_must_name_a_field_other_than_the_key() -> None:
    with pytest.raises(ValidationError, match="previous_key: `old_id` is not a mapped"):
        source(previous_key="old_id")
    with pytest.raises(ValidationError, match="previous_key: `employee_id` is the key itself"):
        source(previous_key="employee_id")
    assert source(columns={**COLUMNS, "old": "Old"}, previous_key="old").previous_key == "old"
