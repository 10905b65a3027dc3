"""The classic accidents, replayed against the Litmos sandbox through the CLI: in each,
nothing destructive reaches the LMS without an operator's approval, while the safe changes
of the same export still go out.

- a truncated export (twice: its absences never count towards a deactivation);
- an empty export (a header and nothing else);
- another company's export (same columns, other people): refused whole;
- a mapping change that would move everyone, with a real hire in the same export;
- too many leavers: held; half approved by person; the re-run sends exactly that half;
- a seat budget: hires past the licence count wait with a forecast, and go once bought.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.kit import Setup, company, lms, mirror, result, write_export

PEOPLE = 40


def active(setup: Setup) -> set[str]:
    """Usernames the LMS holds active."""
    return {name for name, on, _first, _last in lms(setup.sandbox).users.values() if on}


def usernames(rows: list[dict[str, str]]) -> set[str]:
    return {row["Username"] for row in rows}


def hire(number: int) -> dict[str, str]:
    row = company(1, seed=number)[0]
    login = f"new.hire.{number}@corp.test"
    return {**row, "Employee ID": str(9000 + number), "Email": login, "Username": login}


def deactivations(setup: Setup, mark: int) -> list[dict[str, Any]]:
    """Litmos deactivates with a PUT of the user carrying ``Active`` false; the simulator's
    log has no bodies, so the LMS's own state is the judge: every user PUT is listed."""
    return [e for e in setup.writes_since(mark) if e["method"] == "PUT"]


def team_moves(setup: Setup, mark: int) -> list[dict[str, Any]]:
    return [
        e
        for e in setup.writes_since(mark)
        if str(e["path"]).startswith("/v1.svc/teams/") and "/users" in str(e["path"])
    ]


def held_ops(setup: Setup) -> list[dict[str, Any]]:
    listed = setup.syncd("held", "list", "--format", "json")
    assert listed.returncode == 0, result(listed)
    return list(json.loads(listed.stdout)[0]["ops"])


def synced_world(world: Any) -> tuple[Setup, list[dict[str, str]]]:
    rows = company(PEOPLE)
    setup = world(rows)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    assert active(setup) == usernames(rows)
    return setup, rows


def test_a_truncated_export_deactivates_nobody_and_its_hire_still_goes(world):
    setup, rows = synced_world(world)
    newcomer = hire(1)
    for attempt, cut in enumerate((PEOPLE // 2, PEOPLE // 2 + 1)):
        write_export(setup.export, [*rows[:cut], newcomer])
        mark = setup.log_mark()
        ran = setup.reconcile()
        assert ran.returncode == 7, f"attempt {attempt}: {result(ran)}"
        assert "min_source_ratio" in ran.stdout and "looks truncated" in ran.stdout
        assert usernames(rows) <= active(setup), "nobody deactivated"
        assert newcomer["Username"] in active(setup), "the hire went out"
        assert deactivations(setup, mark) == []
    write_export(setup.export, [*rows, newcomer])
    whole = setup.reconcile()
    assert whole.returncode == 0, result(whole)
    assert active(setup) == usernames([*rows, newcomer])
    assert lms(setup.sandbox) == mirror(setup.db_url)


def test_an_empty_export_changes_nothing(world):
    setup, rows = synced_world(world)
    for _ in range(2):
        write_export(setup.export, [])
        mark = setup.log_mark()
        ran = setup.reconcile()
        assert ran.returncode != 0, result(ran)
        assert setup.writes_since(mark) == [], result(ran)
        assert active(setup) == usernames(rows)


def test_another_companys_export_is_refused_whole(world):
    setup, rows = synced_world(world)
    strangers = [
        {
            **row,
            "Employee ID": str(5000 + n),
            "Email": f"x{n}@other.test",
            "Username": f"x{n}@other.test",
        }
        for n, row in enumerate(company(PEOPLE, seed=7))
    ]
    write_export(setup.export, strangers)
    mark = setup.log_mark()
    ran = setup.reconcile()
    assert ran.returncode == 3, result(ran)
    assert "min_known_share" in ran.stdout and "another company's" in ran.stdout
    assert setup.sandbox.admin.log(since=mark) == [], "not one call: no stranger created"
    planned = setup.syncd("plan")
    assert planned.returncode == 3, result(planned)
    assert active(setup) == usernames(rows)


def test_a_mapping_change_moves_nobody_while_a_hire_joins(world):
    setup, rows = synced_world(world)
    newcomer = hire(2)
    write_export(setup.export, [*rows, newcomer])
    text = setup.config.read_text(encoding="utf-8")
    grouping = 'columns = ["division", "department"]'
    setup.config.write_text(text.replace(grouping, 'columns = ["job_title"]'), encoding="utf-8")
    before = lms(setup.sandbox).members
    ran = setup.reconcile()
    assert ran.returncode == 7, result(ran)
    assert newcomer["Username"] in active(setup)
    after = lms(setup.sandbox).members
    users = {uid: name for uid, (name, *_rest) in lms(setup.sandbox).users.items()}
    old_members = {(team, users[user]) for team, user in before}
    assert old_members <= {(team, users[user]) for team, user in after}, "nobody left a team"
    joined = {users[user] for team, user in after - before}
    assert joined <= {newcomer["Username"]}, "only the hire joined a team"
    moving = held_ops(setup)
    assert {op["kind"] for op in moving} == {"add_members", "remove_member"}
    assert newcomer["Employee ID"] not in {p for op in moving for p in op["people"]}


def test_a_rerun_after_half_the_held_leavers_were_approved(world):
    setup, rows = synced_world(world)
    leavers = rows[:10]
    staying = [{**row, "Status": "Terminated"} for row in leavers] + rows[10:]
    newcomer = hire(3)
    write_export(setup.export, [*staying, newcomer])
    mark = setup.log_mark()
    held = setup.reconcile()
    assert held.returncode == 7, result(held)
    assert usernames(leavers) <= active(setup), "no leaver deactivated yet"
    assert newcomer["Username"] in active(setup), "the hire did not wait"
    ops = held_ops(setup)
    assert len(ops) == 10 and {op["kind"] for op in ops} == {"deactivate_user"}
    assert {op["check"] for op in ops} == {"max_deactivations"}

    half = leavers[:5]
    people = [arg for row in half for arg in ("--person", row["Employee ID"])]
    approved = setup.syncd("held", "approve", *people)
    assert approved.returncode == 0 and "approved 5 held op(s)" in approved.stdout, result(approved)

    rerun = setup.reconcile()
    assert rerun.returncode == 7, result(rerun)
    assert not usernames(half) & active(setup), "the approved half is deactivated"
    assert usernames(leavers[5:]) <= active(setup), "the other half still waits"
    assert len(held_ops(setup)) == 5
    again = setup.reconcile()
    assert again.returncode == 7, result(again)
    assert usernames(leavers[5:]) <= active(setup)
    assert len(deactivations(setup, mark)) >= 5

    rejected = setup.syncd("held", "reject", "--all")
    assert rejected.returncode == 0, result(rejected)
    last = setup.reconcile()
    assert last.returncode == 0, result(last)
    assert usernames(leavers[5:]) <= active(setup), "rejected: they stay"
    assert lms(setup.sandbox) == mirror(setup.db_url)


def test_hires_past_the_seat_budget_wait_and_go_once_seats_are_bought(world):
    setup, rows = synced_world(world)
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        text.replace("timeout_seconds = 1\n", f"timeout_seconds = 1\nseats = {PEOPLE + 1}\n"),
        encoding="utf-8",
    )
    hires = [hire(10 + n) for n in range(3)]
    write_export(setup.export, [*rows, *hires])
    planned = setup.syncd("plan", "--format", "json")
    assert planned.returncode == 2, result(planned)
    seats = json.loads(planned.stdout)["seats"]
    assert seats == {"seats": 41, "in_use": 40, "wanted": 43, "after": 41, "overage": 2}
    ran = setup.reconcile()
    assert ran.returncode == 7, result(ran)
    assert len(usernames(hires) & active(setup)) == 1
    waiting = [op for op in held_ops(setup) if op["check"] == "seat_budget"]
    assert len(waiting) == 2 and "2 over" in waiting[0]["reason"]
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        text.replace(f"seats = {PEOPLE + 1}\n", f"seats = {PEOPLE + 10}\n"), encoding="utf-8"
    )
    bought = setup.reconcile()
    assert bought.returncode == 0, result(bought)
    assert usernames(hires) <= active(setup)
    assert held_ops(setup) == []
    assert lms(setup.sandbox) == mirror(setup.db_url)
