"""Absence confirmation through the CLI, against the Litmos sandbox (issue 16, point 3).

With the default ``absent_exports = 2``, a person missing from one accepted export is
pending deactivation (no vendor call; `syncd plan` lists them, `syncd status` counts them)
and is deactivated when the next, different export still lacks them. A person back before
then costs nothing; a dry run and `syncd plan` never count as an export.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.kit import Setup, company, lms, result, write_export

PENDING = "pending deactivation (absent from 1 of 2 exports)"


def _active(setup: Setup, username: str) -> bool:
    users = {name: active for name, active, *_ in lms(setup.sandbox).users.values()}
    return users[username]


def _status(setup: Setup) -> dict[str, Any]:
    proc = setup.syncd("status", "--format", "json")
    assert proc.returncode == 0, result(proc)
    data: dict[str, Any] = json.loads(proc.stdout)["connections"][0]
    return data


def _plan(setup: Setup) -> dict[str, Any]:
    proc = setup.syncd("plan", "--format", "json")
    assert proc.returncode == 0, result(proc)  # nothing to send: in sync
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_missing_from_one_export_is_pending_then_deactivated_at_the_second(world):
    rows = company(12)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    gone = rows[5]
    without = [r for r in rows if r is not gone]
    write_export(setup.export, without)

    # Neither a dry run nor `syncd plan` counts as an export.
    for _ in range(2):
        dry = setup.reconcile("--dry-run")
        assert dry.returncode == 0, result(dry)
        assert _plan(setup)["pending_deactivations"] == [
            {"external_id": gone["Employee ID"], "reason": PENDING}
        ]
    assert _status(setup)["pending_deactivations"] == 0

    mark = setup.log_mark()
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    assert setup.writes_since(mark) == [], "a pending deactivation makes no vendor call"
    assert _active(setup, gone["Username"])
    assert _status(setup)["pending_deactivations"] == 1
    table = setup.syncd("plan")
    assert table.returncode == 0, result(table)
    assert f"pending {gone['Employee ID']}: {PENDING}" in table.stdout
    assert re.search(r"pending deactivations \(absent\)\s*│\s*1\b", setup.syncd("status").stdout)

    # The same file again is the same export: still pending.
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert _active(setup, gone["Username"])

    second_export = [dict(r) for r in without]
    second_export[0]["Title"] = "Director"  # tomorrow's export: another file
    write_export(setup.export, second_export)
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    assert not _active(setup, gone["Username"])
    assert _status(setup)["pending_deactivations"] == 0
    assert _plan(setup)["pending_deactivations"] == []


def test_a_person_missing_once_then_back_is_never_deactivated(world):
    rows = company(12)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    gone = rows[7]
    write_export(setup.export, [r for r in rows if r is not gone])
    assert setup.reconcile().returncode == 0
    assert _status(setup)["pending_deactivations"] == 1

    back = [dict(r) for r in rows]
    back[0]["Title"] = "Director"
    write_export(setup.export, back)
    mark = setup.log_mark()
    proc = setup.reconcile()
    assert proc.returncode == 0, result(proc)
    writes = setup.writes_since(mark)
    assert len(writes) == 1, "only the title change reaches the LMS"
    assert _active(setup, gone["Username"])
    assert _status(setup)["pending_deactivations"] == 0

    # Missing again later: the count starts over, so one export is still not enough.
    write_export(setup.export, [r for r in back if r["Employee ID"] != gone["Employee ID"]])
    assert setup.reconcile().returncode == 0
    assert _active(setup, gone["Username"])
    assert _status(setup)["pending_deactivations"] == 1
