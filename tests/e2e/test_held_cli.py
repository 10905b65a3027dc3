"""`syncd held` as an operator uses it against the Litmos sandbox: filters by person, group,
op type and limit; `--send` sends at once; `--rejected` lists what was rejected; an expired
hold is not listed and the next run decides again; status and explain name the holds."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.kit import Setup, company, lms, result, write_export

PEOPLE = 30


def listed(setup: Setup, *args: str) -> list[dict[str, Any]]:
    shown = setup.syncd("held", "list", "--format", "json", *args)
    assert shown.returncode == 0, result(shown)
    return list(json.loads(shown.stdout)[0]["ops"])


def active(setup: Setup) -> set[str]:
    return {name for name, on, _first, _last in lms(setup.sandbox).users.values() if on}


def with_leavers(world: Any, hours: str | None = None) -> tuple[Setup, list[dict[str, str]]]:
    rows = company(PEOPLE)
    setup = world(rows)
    if hours is not None:
        text = setup.config.read_text(encoding="utf-8")
        section = "[connections.lms.safeguards]\n"
        setup.config.write_text(
            text.replace(section, f"{section}hold_hours = {hours}\n"), encoding="utf-8"
        )
    assert setup.reconcile().returncode == 0
    leaving = [{**row, "Status": "Terminated"} for row in rows[:8]]
    write_export(setup.export, [*leaving, *rows[8:]])
    held = setup.reconcile()
    assert held.returncode == 7, result(held)
    return setup, rows


def test_filters_send_and_rejected(world):
    setup, rows = with_leavers(world)
    everything = listed(setup)
    assert len(everything) == 8
    one = rows[0]["Employee ID"]
    assert [op["people"] for op in listed(setup, "--person", one)] == [[one]]
    assert len(listed(setup, "--kind", "deactivate_user", "--check", "max_deactivations")) == 8
    assert listed(setup, "--type", "remove_member") == []
    assert listed(setup, "--group", "org:nowhere") == []
    first = rows[0]
    team = f"org:{first['Division']}/{first['Department']}"
    same = {
        row["Employee ID"]
        for row in rows[:8]
        if (row["Division"], row["Department"]) == (first["Division"], first["Department"])
    }
    assert {op["people"][0] for op in listed(setup, "--group", team)} == same
    table = setup.syncd("held", "list")
    assert "8 held op(s)" in table.stdout and "max_deactivations" in table.stdout

    sent = setup.syncd("held", "approve", str(everything[0]["id"]), "--send")
    assert sent.returncode == 0 and "1 done" in sent.stdout, result(sent)
    assert rows[0]["Username"] not in active(setup), "sent at once, no reconcile needed"

    rejected = setup.syncd("held", "reject", "--person", rows[1]["Employee ID"])
    assert rejected.returncode == 0, result(rejected)
    assert [op["people"] for op in listed(setup, "--rejected")] == [[rows[1]["Employee ID"]]]
    assert len(listed(setup)) == 6

    status = setup.syncd("status", "--format", "json")
    assert status.returncode in (0, 1), result(status)
    queue = json.loads(status.stdout)["connections"][0]["queue"]
    assert queue["held"] == 6
    explained = setup.syncd("explain", rows[2]["Employee ID"])
    assert "held for approval" in explained.stdout, result(explained)


def test_an_expired_hold_is_not_listed_and_the_next_run_holds_again(world):
    setup, rows = with_leavers(world, hours="0.0005")
    assert len(listed(setup)) == 8
    time.sleep(2.5)
    assert listed(setup) == [], "expired: waiting for the next run to decide"
    again = setup.reconcile()
    assert again.returncode == 7, result(again)
    assert len(listed(setup)) == 8, "the same leavers, still too many: held again"
    assert {row["Username"] for row in rows[:8]} <= active(setup)


def test_approving_one_person_of_a_held_mass_move_moves_that_person_only(world):
    rows = company(PEOPLE)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    text = setup.config.read_text(encoding="utf-8")
    grouping = 'columns = ["division", "department"]'
    setup.config.write_text(text.replace(grouping, 'columns = ["job_title"]'), encoding="utf-8")
    assert setup.reconcile().returncode == 7
    before = lms(setup.sandbox).members
    chosen = rows[3]
    approved = setup.syncd("held", "approve", "--person", chosen["Employee ID"])
    assert approved.returncode == 0, result(approved)
    rerun = setup.reconcile()
    assert rerun.returncode == 7, result(rerun)
    names = {uid: name for uid, (name, *_rest) in lms(setup.sandbox).users.items()}
    after = lms(setup.sandbox).members
    changed = {names[user] for _team, user in after ^ before}
    assert changed == {chosen["Username"]}, "only the approved person moved"
    still = listed(setup)
    assert chosen["Employee ID"] not in {p for op in still for p in op["people"]}
    assert len({p for op in still for p in op["people"]}) == PEOPLE - 1
