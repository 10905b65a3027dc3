"""Absence confirmation (issue 16, point 3): a person missing from the export is
deprovisioned only once missing from ``absent_exports`` consecutive accepted exports (and,
when set, for ``absent_hours``); until then "pending deactivation", with no op.

Pure planning: each "export" is a plan given the absence history the previous accepted
plan recorded (``Plan.absence``), as the reconcile stores and reloads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from syncd.errors import ExitCode
from syncd.pipeline.plan import exit_code
from syncd.plan import Mirror, Plan, apply, build_plan
from syncd.plan.absence import Absence, AbsenceHistory
from syncd.plan.ops import DeactivateUser, DeleteUser, RekeyUser
from tests.unit.plan.kit import LITMOS_LIKE, TODAY, connection, person, roster

START = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
COMPANY = [person(f"E{n}") for n in range(1, 6)]


def plan_of(
    rows: list[dict[str, Any]],
    mirror: Mirror,
    history: Mapping[str, Absence] | None = None,
    *,
    export: str = "sha-1",
    now: datetime = START,
    deprovision: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Plan:
    return build_plan(
        roster(rows, **kwargs),
        connection(groups=[], deprovision={"absent_exports": 2, **(deprovision or {})}),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        name="main",
        absence=AbsenceHistory(history or {}, export, now),
    )


def first_sync() -> Mirror:
    return apply(plan_of(COMPANY, Mirror.empty()), Mirror.empty())


def deprovisioned(plan: Plan) -> list[str]:
    return [op.subject for op in plan.ops if isinstance(op, DeactivateUser | DeleteUser)]


def test_a_person_missing_from_one_export_is_pending_and_deactivated_at_the_second() -> None:
    mirror = first_sync()
    first = plan_of(COMPANY[:4], mirror, export="sha-1")
    assert deprovisioned(first) == [] and first.ops == ()
    assert first.pending == (("E5", "pending deactivation (absent from 1 of 2 exports)"),)
    assert first.absence == {"E5": Absence(1, START, "sha-1", pending=True)}
    assert first.skipped.empty and first.warnings == ()
    assert first.summary()["pending_deactivations"] == [
        {"external_id": "E5", "reason": "pending deactivation (absent from 1 of 2 exports)"}
    ]
    assert exit_code([first]) == ExitCode.OK  # nothing for the operator to do
    later = START + timedelta(days=1)
    second = plan_of(COMPANY[:4], mirror, first.absence, export="sha-2", now=later)
    assert deprovisioned(second) == ["E5"]
    assert [op.reason for op in second.ops] == ["absent from export"]
    assert second.pending == ()
    assert second.absence == {"E5": Absence(2, START, "sha-2", pending=False)}


def test_the_same_file_read_again_is_one_export_not_two() -> None:
    mirror = first_sync()
    first = plan_of(COMPANY[:4], mirror, export="sha-1")
    again = plan_of(COMPANY[:4], mirror, first.absence, export="sha-1", now=START.replace(hour=9))
    assert deprovisioned(again) == []
    assert again.absence == {"E5": Absence(1, START, "sha-1", pending=True)}


def test_hours_alone_wait_from_the_first_export_that_lacked_them() -> None:
    mirror = first_sync()
    rule = {"absent_exports": 1, "absent_hours": 24}
    first = plan_of(COMPANY[:4], mirror, deprovision=rule)
    assert first.pending == (("E5", "pending deactivation (for 0 of 24 hours)"),)
    soon = plan_of(
        COMPANY[:4],
        mirror,
        first.absence,
        export="sha-2",
        now=START + timedelta(hours=5),
        deprovision=rule,
    )
    assert soon.pending == (("E5", "pending deactivation (for 5 of 24 hours)"),)
    assert soon.absence is not None and soon.absence["E5"].since == START
    late = plan_of(
        COMPANY[:4],
        mirror,
        soon.absence,
        export="sha-3",
        now=START + timedelta(hours=25),
        deprovision=rule,
    )
    assert deprovisioned(late) == ["E5"]


def test_with_both_set_both_must_be_reached() -> None:
    mirror = first_sync()
    rule = {"absent_exports": 2, "absent_hours": 24}
    first = plan_of(COMPANY[:4], mirror, deprovision=rule)
    assert first.pending == (
        ("E5", "pending deactivation (absent from 1 of 2 exports, for 0 of 24 hours)"),
    )
    hour = START + timedelta(hours=1)
    second = plan_of(COMPANY[:4], mirror, first.absence, export="sha-2", now=hour, deprovision=rule)
    assert second.pending == (("E5", "pending deactivation (for 1 of 24 hours)"),)
    day = START + timedelta(hours=24)
    third = plan_of(COMPANY[:4], mirror, second.absence, export="sha-3", now=day, deprovision=rule)
    assert deprovisioned(third) == ["E5"]
    # The hours reached but one export only (the same file, read again a day later).
    stale = {"E5": Absence(1, START, "sha-1")}
    once = plan_of(COMPANY[:4], mirror, stale, export="sha-1", now=day, deprovision=rule)
    assert once.pending == (("E5", "pending deactivation (absent from 1 of 2 exports)"),)


def test_zero_or_one_export_deprovisions_at_once_as_before() -> None:
    mirror = first_sync()
    for exports in (0, 1):
        plan = plan_of(COMPANY[:4], mirror, deprovision={"absent_exports": exports})
        assert deprovisioned(plan) == ["E5"] and plan.pending == ()
        assert plan.absence == {"E5": Absence(1, START, "sha-1", pending=False)}


def test_a_person_back_before_confirmation_costs_nothing_and_is_forgotten() -> None:
    mirror = first_sync()
    first = plan_of(COMPANY[:4], mirror)
    back = plan_of(COMPANY, mirror, first.absence, export="sha-2")
    assert back.ops == () and back.pending == () and back.absence == {}
    # Missing again later: counting starts over.
    again = plan_of(COMPANY[:4], mirror, back.absence, export="sha-3")
    assert deprovisioned(again) == []
    assert again.absence == {"E5": Absence(1, START, "sha-3", pending=True)}


def test_terminated_people_are_not_delayed() -> None:
    mirror = first_sync()
    rows = [*COMPANY[:3], person("E4", active=False)]
    plan = plan_of(rows, mirror)
    assert deprovisioned(plan) == ["E4"]
    assert [op.reason for op in plan.ops] == ["terminated"]
    assert [who for who, _ in plan.pending] == ["E5"]


def test_deletion_for_absence_waits_too_and_ignore_counts_nothing() -> None:
    mirror = first_sync()
    deleting = plan_of(COMPANY[:4], mirror, deprovision={"on_absent": "delete"})
    assert deprovisioned(deleting) == []
    assert deleting.pending == (("E5", "pending deletion (absent from 1 of 2 exports)"),)
    ignoring = plan_of(COMPANY[:4], mirror, deprovision={"on_absent": "ignore"})
    assert ignoring.ops == () and ignoring.pending == () and ignoring.absence == {}


def test_rejected_rows_still_hold_as_before() -> None:
    mirror = first_sync()
    first = plan_of(COMPANY[:3], mirror)
    assert first.absence is not None and set(first.absence) == {"E4", "E5"}
    # E4's row is rejected: not absent (unknown this run), so not counted and forgotten.
    keyed = plan_of(COMPANY[:3], mirror, first.absence, export="sha-2", rejected_keys=["E4"])
    assert deprovisioned(keyed) == ["E5"]
    assert keyed.absence == {"E5": Absence(2, START, "sha-2", pending=False)}


def test_a_keyless_rejected_row_neither_counts_nor_forgets_an_absence() -> None:
    mirror = first_sync()
    first = plan_of(COMPANY[:4], mirror)
    keyless = build_plan(
        _keyless(roster(COMPANY[:4])),
        connection(groups=[], deprovision={"absent_exports": 2}),
        LITMOS_LIKE,
        mirror,
        today=TODAY,
        name="main",
        absence=AbsenceHistory(first.absence or {}, "sha-2", START),
    )
    assert deprovisioned(keyless) == [] and keyless.pending == ()
    assert keyless.skipped["external_id"].tolist() == ["E5"]
    assert keyless.absence is None  # the stored history is kept as it was
    # The next clean export is the second absence: E5 goes.
    second = plan_of(COMPANY[:4], mirror, first.absence, export="sha-3")
    assert deprovisioned(second) == ["E5"]


def _keyless(data: Any) -> Any:
    """``data`` with one rejected record that carries no key."""
    row = pd.DataFrame(
        [("export.csv", "9", "employee_id", "missing_key", "")],
        columns=list(data.rejected.columns),
    ).astype("str")
    return replace(data, rejected=pd.concat([data.rejected, row], ignore_index=True))


def test_a_key_change_is_not_an_absence() -> None:
    mirror = first_sync()
    renamed = {**person("E5"), "employee_id": "E9", "previous_external_id": "E5"}
    plan = plan_of([*COMPANY[:4], renamed], mirror)
    assert [op for op in plan.ops if isinstance(op, RekeyUser)] == [
        RekeyUser(external_id="E9", previous_id="E5")
    ]
    assert deprovisioned(plan) == [] and plan.pending == () and plan.absence == {}


def test_without_history_an_absence_is_a_first_one() -> None:
    plan = build_plan(
        roster(COMPANY[:4]),
        connection(groups=[], deprovision={"absent_exports": 2}),
        LITMOS_LIKE,
        first_sync(),
        today=TODAY,
        name="main",
    )
    assert deprovisioned(plan) == [] and [who for who, _ in plan.pending] == ["E5"]
