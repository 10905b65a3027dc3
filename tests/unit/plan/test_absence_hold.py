"""A rejected row never deactivates anyone (issue 11, item 6).

A rejected row with a key holds that one person (unknown this run, never "absent"). A
rejected row without a key (blank, spaces, a record that could not be read) could be
anyone's: while there is one, nobody is deprovisioned for being absent, and the plan says
so. Leavers whose row says Terminated still go.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from syncd.errors import ExitCode
from syncd.pipeline.plan import exit_code
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.ops import DeactivateUser, DeleteUser
from tests.unit.plan.kit import LITMOS_LIKE, Roster, connection, person, roster

TODAY = date(2024, 6, 1)
COMPANY = [person(f"E{n}") for n in range(1, 6)]


def keyless(data: Roster, *lines: int) -> Roster:
    """``data`` with rejected records that carry no key (one problem row per line, two for
    the first: a record with two problems is still one record)."""
    rows = [("export.csv", str(lines[0]), "email", "invalid_email", "   ")]
    rows += [("export.csv", str(n), "employee_id", "missing_key", "") for n in lines]
    extra = pd.DataFrame(rows, columns=list(data.rejected.columns)).astype("str")
    return replace(data, rejected=pd.concat([data.rejected, extra], ignore_index=True))


def plan_of(data: Roster, mirror: Mirror, **config: Any) -> Plan:
    config.setdefault("groups", [])
    return build_plan(data, connection(**config), LITMOS_LIKE, mirror, today=TODAY, name="main")


def first_sync() -> Mirror:
    return apply(plan_of(roster(COMPANY), Mirror.empty()), Mirror.empty())


def deprovisioned(plan: Plan) -> list[str]:
    return [op.subject for op in plan.ops if isinstance(op, DeactivateUser | DeleteUser)]


def test_without_keyless_rejections_absent_people_are_deactivated() -> None:
    plan = plan_of(roster(COMPANY[:3]), first_sync())
    assert deprovisioned(plan) == ["E4", "E5"]
    assert plan.skipped.empty and plan.warnings == ()


def test_rejected_rows_with_a_key_never_count_as_missing() -> None:
    plan = plan_of(roster(COMPANY[:3], rejected_keys=["E4"]), first_sync())
    assert deprovisioned(plan) == ["E5"]
    assert plan.skipped.empty


def test_a_keyless_rejected_row_holds_every_absence_deactivation() -> None:
    data = keyless(roster(COMPANY[:3]), 4, 7)
    plan = plan_of(data, first_sync())
    assert deprovisioned(plan) == []
    reason = (
        "absent from export, not deactivated: 2 rejected row(s) have no key, and this "
        "person may be one of them"
    )
    assert plan.skipped.to_dict("records") == [
        {"external_id": "E4", "reason": reason},
        {"external_id": "E5", "reason": reason},
    ]
    assert plan.warnings == (
        "2 row(s) without a key were rejected: 2 absent people are not deactivated this "
        "run; fix the rows (syncd validate lists them)",
    )
    assert plan.summary()["status"] == "skipped"
    assert exit_code([plan]) == ExitCode.SKIPPED


def test_terminations_by_status_still_go_through_while_absences_are_held() -> None:
    rows = [*COMPANY[:2], person("E3", active=False)]
    plan = plan_of(keyless(roster(rows), 9), first_sync())
    assert deprovisioned(plan) == ["E3"]
    assert [op.reason for op in plan.ops if isinstance(op, DeactivateUser)] == ["terminated"]
    assert sorted(plan.skipped["external_id"]) == ["E4", "E5"]


def test_deletion_for_absence_is_held_too_and_ignore_holds_nothing() -> None:
    mirror = first_sync()
    data = keyless(roster(COMPANY[:4]), 6)
    deleting = plan_of(data, mirror, deprovision={"on_absent": "delete"})
    assert deprovisioned(deleting) == []
    assert deleting.skipped["reason"].str.startswith("absent from export, not deleted").all()
    ignoring = plan_of(data, mirror, deprovision={"on_absent": "ignore"})
    assert ignoring.ops == () and ignoring.skipped.empty and ignoring.warnings == ()


def test_nobody_absent_means_nothing_held_and_no_warning() -> None:
    plan = plan_of(keyless(roster(COMPANY), 8), first_sync())
    assert plan.ops == () and plan.skipped.empty and plan.warnings == ()
