"""People who should be in the LMS and are not, as a cron job meets them (issue 11, items 1,
5 and 6): `syncd plan` and `syncd reconcile` count them, give the reason for each, and exit
6 when nothing else is wrong, never 0 "in sync".

Each test works in one folder with the in-process simulator (``base_url = "sandbox:"``),
as in test_plan.py, whose world it reuses: a company of 24 synced by a first reconcile.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kit import COMPANY, World, person, shown, world_at

SKIPPED = 6


def plan_json(world: World) -> tuple[int, dict[str, Any]]:
    proc = world.plan("--format", "json")
    assert proc.returncode in (0, 2, 3, SKIPPED), shown(proc)
    return proc.returncode, json.loads(proc.stdout)


def reconcile(world: World) -> subprocess.CompletedProcess[str]:
    proc = world.syncd("reconcile")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def mirror_users(world: World) -> dict[str, bool]:
    with sqlite3.connect(world.db) as db:
        rows = db.execute("SELECT external_id, active FROM mirror_users").fetchall()
    return {key: bool(active) for key, active in rows}


def outbox_kinds(world: World) -> set[str]:
    with sqlite3.connect(world.db) as db:
        return {kind for (kind,) in db.execute("SELECT kind FROM outbox")}


@pytest.fixture
def synced(tmp_path: Path) -> World:
    """The company of test_plan.py after a first sync, with nobody skipped (exit 0)."""
    world = world_at(tmp_path)
    proc = reconcile(world)
    assert proc.returncode == 0, shown(proc)
    return world


def test_hires_whose_usernames_collide_are_counted_and_exit_6(synced: World) -> None:
    twins = [person(50, Email="sam@corp.test"), person(51, Email="SAM@corp.test")]
    synced.export([*COMPANY, *twins])
    code, data = plan_json(synced)
    assert code == SKIPPED
    assert data["status"] == "skipped"
    assert (data["ops"], data["counts"]) == (0, {})
    assert data["skipped"] == [
        {"external_id": "1050", "reason": "match value shared with another person"},
        {"external_id": "1051", "reason": "match value shared with another person"},
    ]
    table = synced.plan()
    assert table.returncode == SKIPPED, shown(table)
    assert "skipped 1050: match value shared with another person" in table.stdout
    assert "2 people skipped" in table.stdout
    assert "in sync" not in table.stdout
    proc = reconcile(synced)
    assert proc.returncode == SKIPPED, shown(proc)
    assert "people skipped" in proc.stdout
    assert "1051: match value shared with another person" in proc.stdout
    assert "in sync" not in proc.stdout
    assert "1050" not in mirror_users(synced)


def test_a_pending_change_wins_the_exit_code_but_skips_are_still_shown(synced: World) -> None:
    twins = [person(50, Email="sam@corp.test"), person(51, Email="sam@corp.test")]
    synced.export([*COMPANY, person(60), *twins])
    code, data = plan_json(synced)
    assert code == 2
    assert data["status"] == "changes_pending"
    assert [s["external_id"] for s in data["skipped"]] == ["1050", "1051"]
    table = synced.plan()
    assert "changes pending (nothing was changed); 2 people skipped" in table.stdout


def test_a_required_field_never_reaches_the_vendor_empty(tmp_path: Path) -> None:
    """A connection that maps no LastName: Litmos would refuse every create (400), so none
    is sent; the people are skipped with the field, and nothing is dead-lettered."""
    world = world_at(tmp_path, COMPANY[:3])
    text = world.config.read_text(encoding="utf-8")
    fields = '\n[connections.lms.fields]\nUserName = "username"\nFirstName = "first_name"\n'
    world.config.write_text(text + fields, encoding="utf-8")
    code, data = plan_json(world)
    assert code == 2, "the groups and courses are still pending"
    assert "create_user" not in data["counts"]
    reason = "not created: LastName is not mapped in the connection's fields (litmos requires it)"
    assert data["skipped"] == [
        {"external_id": key, "reason": reason} for key in ("1000", "1001", "1002")
    ]
    proc = reconcile(world)
    assert proc.returncode == SKIPPED, shown(proc)
    assert f"1000: {reason}" in proc.stdout
    assert "create_user" not in outbox_kinds(world)
    assert mirror_users(world) == {}


def test_a_row_without_a_key_holds_deactivations_for_absence(synced: World) -> None:
    rows = [dict(r) for r in COMPANY]
    rows[5]["Status"] = "Terminated"  # a leaver by status: still deactivated
    blank = rows[9]
    blank["Employee ID"] = "   "  # rejected, and could be anyone's row
    del rows[7]  # absent: held
    synced.export(rows)
    code, data = plan_json(synced)
    assert code == 2
    assert data["counts"] == {"deactivate_user": 1}
    assert data["first_ops"][0]["what"] == "deactivate 1005 (terminated)"
    held = {s["external_id"] for s in data["skipped"]}
    assert held == {"1007", "1009"}
    warning = (
        "1 row(s) without a key were rejected: 2 absent people are not deactivated this "
        "run; fix the rows (syncd validate lists them)"
    )
    assert warning in data["warnings"]
    proc = reconcile(synced)
    assert proc.returncode == SKIPPED, shown(proc)
    assert warning in proc.stdout
    active = mirror_users(synced)
    assert active["1007"] and active["1009"] and not active["1005"]
    blank["Employee ID"] = "1009"  # the row fixed: the absence now counts (1 of 2 exports)
    synced.export(rows)
    proc = reconcile(synced)
    assert proc.returncode == 0, shown(proc)
    assert mirror_users(synced)["1007"]
    rows[0]["Last Name"] = "Renamed"  # the next export still lacks them: now they go
    synced.export(rows)
    proc = reconcile(synced)
    assert proc.returncode == 0, shown(proc)
    assert not mirror_users(synced)["1007"]
