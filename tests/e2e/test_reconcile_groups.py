"""Teams as a user meets them through `syncd reconcile`, against the Litmos sandbox.

- One dead create keeps only its own person out of their team: the rest of the team, and
  later hires into it, go in; the person goes in once their create succeeds (after
  ``syncd queue retry`` or with the row fixed).
- A group value renamed in case only ("Sales" -> "SALES") is the same team, renamed: every
  member stays in it, and the next run is in sync.

Reuses the world of ``test_reconcile`` (company, export, config, snapshots).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from tests.e2e.kit import (
    Setup,
    assert_in_sync,
    company,
    lms,
    make_setup,
    mirror,
    result,
    write_export,
)


@pytest.fixture
def world(litmos_sandbox, db_url, tmp_path):
    def build(rows, **kwargs):
        return make_setup(litmos_sandbox, tmp_path, db_url, rows, **kwargs)

    return build


def team_members(setup: Setup, name: str, *, parent: str | None = None) -> set[str]:
    """Usernames of the active members of the live team ``name`` (under ``parent``)."""
    held = lms(setup.sandbox)
    names = {tid: team for tid, (team, _) in held.teams.items()}
    (team,) = [
        tid
        for tid, (team, up) in held.teams.items()
        if team == name and (parent is None or names.get(up) == parent)
    ]
    return {held.users[user][0] for tid, user in held.members if tid == team}


def usernames(rows: Sequence[dict[str, str]], department: str) -> set[str]:
    return {
        r["Username"] for r in rows if r["Department"] == department and r["Status"] == "Active"
    }


def ok(proc: subprocess.CompletedProcess[str], code: int = 0) -> None:
    assert proc.returncode == code, result(proc)


# --------------------------------------------------------------------------- item 2


def test_a_dead_create_keeps_only_its_own_member_out_of_the_team(world):
    rows = company(12)
    bad = rows[5]
    assert bad["Department"] == "Sales"
    rows[5] = {**bad, "Username": "ab"}
    setup = world(rows)
    first = setup.reconcile()
    ok(first, 4)
    others = usernames(rows, "Sales") - {"ab"}
    assert len(others) == 2
    assert team_members(setup, "Sales") == others, "the rest of the team went in"
    assert lms(setup.sandbox) == mirror(setup.db_url)
    listing = setup.syncd("queue", "list", "--state", "dead", "--state", "blocked")
    ok(listing)
    assert "create_user:1005" in listing.stdout and "add_members" in listing.stdout

    hire = company(16)[15]
    assert hire["Department"] == "Sales"
    rows.append(hire)
    write_export(setup.export, rows)
    ok(setup.reconcile(), 4)
    assert team_members(setup, "Sales") == others | {hire["Username"]}, "a later hire too"

    rows[5] = {**bad, "Username": bad["Email"]}
    write_export(setup.export, rows)
    ok(setup.reconcile())
    assert team_members(setup, "Sales") == usernames(rows, "Sales")
    assert_in_sync(setup, rows)
    again = setup.reconcile()
    ok(again)
    assert "nothing to change" in again.stdout


def test_a_retried_create_brings_its_member_into_the_team(world):
    rows = company(6)
    setup = world(rows)
    setup.sandbox.admin.set_faults(
        error_rate=1.0,
        error_statuses=[500],
        methods=["POST"],
        path_pattern=r"v1\.svc/users$",
        max_faults=1,
    )
    ok(setup.reconcile(SYNCD_RETRY_MAX_ATTEMPTS="1"), 4)
    first, teammate = rows[0], rows[5]
    assert first["Department"] == teammate["Department"] == "Sales"
    assert team_members(setup, "Sales") == {teammate["Username"]}
    setup.sandbox.admin.clear_faults()
    retried = setup.syncd("queue", "retry")
    ok(retried)
    ok(setup.reconcile())
    assert team_members(setup, "Sales") == usernames(rows, "Sales")
    assert_in_sync(setup, rows)


# --------------------------------------------------------------------------- item 3


def renamed(
    rows: Sequence[dict[str, str]], column: str, old: str, new: str
) -> list[dict[str, str]]:
    return [{**r, column: new} if r[column] == old else dict(r) for r in rows]


def memberships_by_username(setup: Setup) -> dict[str, set[str]]:
    held = lms(setup.sandbox)
    found: dict[str, set[str]] = {}
    for team, user in held.members:
        found.setdefault(held.users[user][0], set()).add(held.teams[team][0])
    return found


def test_a_case_only_rename_keeps_every_member_in_the_team(world):
    rows = company(30)
    sales = [i for i, r in enumerate(rows) if r["Department"] == "Sales"]
    rows[sales[-1]] = {**rows[sales[-1]], "Department": "SALES"}
    setup = world(rows)
    ok(setup.reconcile())
    assert team_members(setup, "Sales") == {rows[i]["Username"] for i in sales}, (
        "two spellings in one export are one team, named as most rows spell it"
    )
    before = memberships_by_username(setup)
    assert len(before) == 30

    rows = renamed(rows, "Department", "Sales", "SALES")
    write_export(setup.export, rows)
    ok(setup.reconcile())
    teams = {name for name, _ in lms(setup.sandbox).teams.values()}
    assert "SALES" in teams and "Sales" not in teams
    after = memberships_by_username(setup)
    assert {u: {t.casefold() for t in ts} for u, ts in after.items()} == {
        u: {t.casefold() for t in ts} for u, ts in before.items()
    }, "every active person is still in their team"
    assert lms(setup.sandbox) == mirror(setup.db_url)
    again = setup.reconcile()
    ok(again)
    assert "nothing to change" in again.stdout


def test_a_case_only_rename_of_a_parent_keeps_its_sub_teams_and_members(world):
    rows = company(20)
    setup = world(rows)
    ok(setup.reconcile())
    before = lms(setup.sandbox)
    rows = renamed(rows, "Division", "Commercial", "COMMERCIAL")
    write_export(setup.export, rows)
    ok(setup.reconcile())
    held = lms(setup.sandbox)
    assert sorted(name for name, _ in held.teams.values()) == sorted(
        "COMMERCIAL" if name == "Commercial" else name for name, _ in before.teams.values()
    )
    assert held.members == before.members, "the same teams hold the same people"
    assert team_members(setup, "Sales", parent="COMMERCIAL") == usernames(rows, "Sales")
    assert held == mirror(setup.db_url)
    again = setup.reconcile()
    ok(again)
    assert "nothing to change" in again.stdout
