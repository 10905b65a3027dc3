"""`syncd reconcile --full` repairs what a person changed by hand in the LMS.

Each test syncs a small company into the Litmos sandbox, then changes the simulated LMS
the way an administrator would in its web interface (straight in the simulator's store,
so the vendor's request counter sees only syncd), runs one ``reconcile --full`` and checks
that the LMS matches the export again, that the summary counts the repairs, that the
``calls`` column equals what the vendor counted, and that a plain run afterwards has
nothing to do and makes no call.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from syncd.sandbox.running import RunningSandbox
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
def synced(litmos_sandbox, db_url, tmp_path):
    """A company of ``size`` people synced by a plain run: (setup, rows)."""

    def build(size: int) -> tuple[Setup, list[dict[str, str]]]:
        rows = company(size)
        setup = make_setup(litmos_sandbox, tmp_path, db_url, rows)
        first = setup.reconcile()
        assert first.returncode == 0, result(first)
        return setup, rows

    return build


def requests_seen(sandbox: RunningSandbox) -> int:
    """Every request the simulated vendor answered, by its own counter."""
    assert sandbox.admin is not None
    counted = sandbox.admin.counters()["requests"]
    return sum(sum(by_status.values()) for by_status in counted.values())


def reported_calls(proc: subprocess.CompletedProcess[str]) -> int:
    """The ``calls`` column of the reconcile summary table (one connection: ``lms``)."""
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "connection" in line and "calls" in line)
    row = next(line for line in lines if re.match(r"│\s*lms\s*│", line))
    columns = [c.strip() for c in re.split(r"[│┃]", header)]
    cells = [c.strip() for c in re.split(r"[│┃]", row)]
    return int(cells[columns.index("calls")])


def full_run(setup: Setup) -> tuple[subprocess.CompletedProcess[str], int]:
    """``reconcile --full`` and the requests the vendor saw during it."""
    before = requests_seen(setup.sandbox)
    proc = setup.reconcile("--full")
    assert proc.returncode == 0, result(proc)
    return proc, requests_seen(setup.sandbox) - before


def assert_plain_run_is_in_sync(setup: Setup) -> None:
    before = requests_seen(setup.sandbox)
    plain = setup.reconcile()
    assert plain.returncode == 0, result(plain)
    assert "nothing to change" in plain.stdout, result(plain)
    assert requests_seen(setup.sandbox) == before, "an in-sync plain run calls nothing"
    assert reported_calls(plain) == 0


def store_of(setup: Setup) -> Any:
    """The simulator's own records: what a person working in the LMS by hand changes."""
    return setup.sandbox.simulator.store  # type: ignore[attr-defined]


def by_username(setup: Setup, rows: list[dict[str, str]], n: int) -> Any:
    """The simulator's own record of the account of ``rows[n]``."""
    users = store_of(setup).users.values()
    return next(u for u in users if u.fields["UserName"] == rows[n]["Username"])


def take_out_of_team(setup: Setup, rows: list[dict[str, str]], n: int) -> tuple[str, str]:
    """Remove ``rows[n]`` from their team by hand; (team id, user id)."""
    store = store_of(setup)
    user = by_username(setup, rows, n)
    (membership,) = [m for m in store.memberships.values() if m.user_id == user.id and m.active]
    store.remove_member(membership)
    return membership.team_id, user.id


def take_course_away(setup: Setup, rows: list[dict[str, str]], n: int) -> str:
    """Unassign the course from ``rows[n]`` by hand; the user id."""
    store = store_of(setup)
    user = by_username(setup, rows, n)
    store.unassign_course(store.assignment(user.id, setup.course))
    return user.id


def test_a_full_run_in_sync_counts_its_listing_calls_exactly(synced):
    setup, _ = synced(6)
    proc, seen = full_run(setup)
    assert "nothing to change" in proc.stdout
    assert seen > 0, "the listing itself calls the vendor"
    assert reported_calls(proc) == seen, result(proc)
    assert "repaired" not in proc.stdout


def test_a_membership_removed_by_hand_is_re_added(synced):
    setup, rows = synced(8)
    team, user = take_out_of_team(setup, rows, 1)
    proc, seen = full_run(setup)
    assert (team, user) in lms(setup.sandbox).members
    assert "repaired: 1 membership re-added" in proc.stdout, result(proc)
    assert reported_calls(proc) == seen, result(proc)
    assert_in_sync(setup, rows)
    assert_plain_run_is_in_sync(setup)


def test_an_active_persons_account_deleted_by_hand_is_recreated(synced):
    setup, rows = synced(8)
    store_of(setup).delete_user(by_username(setup, rows, 2))
    proc, seen = full_run(setup)
    assert "repaired: 1 account recreated" in proc.stdout, result(proc)
    assert "missing from the LMS listing" not in proc.stdout + proc.stderr
    assert reported_calls(proc) == seen, result(proc)
    assert_in_sync(setup, rows)
    held = lms(setup.sandbox)
    (again,) = [rid for rid, u in held.users.items() if u[0] == rows[2]["Username"]]
    assert any(u == again for _, u in held.members), "back in its team"
    assert (again, setup.course) in held.courses, "its course assigned again"
    assert_plain_run_is_in_sync(setup)


def test_a_course_removed_by_hand_is_assigned_again(synced):
    setup, rows = synced(8)
    user = take_course_away(setup, rows, 3)
    assert (user, setup.course) not in lms(setup.sandbox).courses
    proc, seen = full_run(setup)
    assert (user, setup.course) in lms(setup.sandbox).courses
    assert "repaired: 1 course re-assigned" in proc.stdout, result(proc)
    assert reported_calls(proc) == seen, result(proc)
    assert_in_sync(setup, rows)
    assert_plain_run_is_in_sync(setup)


def test_an_account_deactivated_and_a_field_changed_by_hand_are_put_back(synced):
    setup, rows = synced(8)
    switched_off, renamed = by_username(setup, rows, 4), by_username(setup, rows, 5)
    switched_off.fields["Active"] = False
    renamed.fields["LastName"] = "Changed-By-Hand"
    proc, seen = full_run(setup)
    assert "1 account reactivated" in proc.stdout, result(proc)
    assert "1 account's fields restored" in proc.stdout, result(proc)
    assert reported_calls(proc) == seen, result(proc)
    assert_in_sync(setup, rows)
    assert lms(setup.sandbox).users[renamed.id][3] == rows[5]["Last Name"]
    assert_plain_run_is_in_sync(setup)


def test_every_kind_of_drift_at_once_is_repaired_by_one_full_run(synced):
    setup, rows = synced(10)
    take_out_of_team(setup, rows, 1)
    store_of(setup).delete_user(by_username(setup, rows, 2))
    take_course_away(setup, rows, 3)
    by_username(setup, rows, 4).fields["Active"] = False
    proc, seen = full_run(setup)
    repaired = next(line for line in proc.stdout.splitlines() if "repaired:" in line)
    for part in (
        "1 account recreated",
        "1 account reactivated",
        "1 membership re-added",
        "1 course re-assigned",
    ):
        assert part in repaired, result(proc)
    assert reported_calls(proc) == seen, result(proc)
    assert_in_sync(setup, rows)
    assert_plain_run_is_in_sync(setup)


def test_a_dry_run_shows_the_repairs_and_changes_neither_the_lms_nor_the_mirror(synced):
    setup, rows = synced(8)
    take_out_of_team(setup, rows, 1)
    believed = mirror(setup.db_url)
    mark = setup.log_mark()
    proc = setup.reconcile("--full", "--dry-run")
    assert proc.returncode == 2, result(proc)
    assert "would repair: 1 membership re-added" in proc.stdout, result(proc)
    assert setup.writes_since(mark) == []
    assert mirror(setup.db_url) == believed, "a dry run records no correction"


def test_a_refused_full_run_leaves_the_mirror_as_it_was(synced):
    setup, rows = synced(10)
    text = setup.config.read_text(encoding="utf-8")
    section = "[connections.lms.safeguards]\n"
    setup.config.write_text(
        text.replace(section, f'{section}on_trip = "refuse"\n'), encoding="utf-8"
    )
    team, user = take_out_of_team(setup, rows, 1)
    believed = mirror(setup.db_url)
    write_export(setup.export, rows[:7])
    refused = setup.reconcile("--full")
    assert refused.returncode == 3, result(refused)
    assert mirror(setup.db_url) == believed, "a refused plan records no correction"
    write_export(setup.export, rows)
    full_run(setup)
    assert (team, user) in lms(setup.sandbox).members
    assert_in_sync(setup, rows)


def test_the_correction_outlives_a_repair_that_failed_so_a_plain_run_repairs(synced):
    setup, rows = synced(8)
    team, user = take_out_of_team(setup, rows, 1)
    assert setup.sandbox.admin is not None
    setup.sandbox.admin.set_faults(error_rate=1.0, error_statuses=[500], methods=["POST"])
    failing = setup.reconcile("--full")
    setup.sandbox.admin.clear_faults()
    assert failing.returncode in (4, 5), result(failing)
    assert "not all done yet: 1 membership re-added" in failing.stdout, result(failing)
    dropped = setup.syncd("queue", "drop", "--state", "retry", "--state", "dead")
    assert dropped.returncode == 0 and "1 op(s) dropped" in dropped.stdout, result(dropped)
    plain = setup.reconcile()
    assert plain.returncode == 0, result(plain)
    assert (team, user) in lms(setup.sandbox).members, "the mirror learnt what was missing"
    assert_in_sync(setup, rows)


def test_a_listing_missing_most_accounts_is_refused_as_another_lms_account(synced):
    setup, rows = synced(24)
    for n in range(20):  # as a listing of another account would show: most are not there
        store_of(setup).delete_user(by_username(setup, rows, n))
    believed = mirror(setup.db_url)
    mark = setup.log_mark()
    refused = setup.reconcile("--full")
    assert refused.returncode == 3, result(refused)
    assert "another account" in refused.stdout and "only 4 of the 24" in refused.stdout
    assert mirror(setup.db_url) == believed, "a refused plan records no correction"
    assert setup.sandbox.admin.log(since=mark), "the listing was read"
    assert setup.writes_since(mark) == [], "nothing was created again"
    allowed = setup.reconcile("--full", "--allow-mass-change")
    assert allowed.returncode == 0, result(allowed)
    assert_in_sync(setup, rows)
