"""`syncd reconcile` against the Enabley sandbox, as a user runs it.

The simulator runs in this process; the CLI runs in-process (``Setup.syncd``) or as a real
subprocess where it is killed. Call counts come from the simulator's counters and are held
against what ``reconcile --dry-run`` said the plan needs. Token and hierarchy reads are
priced by no op (see the Enabley profile), so they are counted apart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter

import httpx
import pytest

from tests.e2e.kit import (
    ENABLEY_UNPRICED,
    Setup,
    company,
    make_enabley_setup,
    planned_calls,
    result,
    write_export,
    writes_by_status,
)


@pytest.fixture
def world(sandbox, db_url, tmp_path):
    running = sandbox("enabley")
    return lambda rows, **kw: make_enabley_setup(running, tmp_path, db_url, rows, **kw)


def api_calls(setup: Setup) -> Counter[str]:
    """Requests the simulator answered, by "METHOD template", unpriced ones left out."""
    assert setup.sandbox.admin is not None
    found: Counter[str] = Counter()
    for endpoint, statuses in setup.sandbox.admin.counters()["requests"].items():
        if endpoint not in ENABLEY_UNPRICED:
            found[endpoint] = sum(statuses.values())
    return found


def assert_in_sync(setup: Setup, rows) -> None:
    """The Enabley account holds exactly the export: users, departments, members, courses."""
    account = setup.sandbox.simulator.account
    wanted = {r["Employee ID"]: r for r in rows if r["Status"] == "Active"}
    active = {uid for uid, user in account.users.items() if user.is_active}
    assert active == set(wanted)
    for uid, row in wanted.items():
        user = account.users[uid]
        assert (user.username, user.first_name, user.last_name) == (
            row["Username"],
            row["First Name"],
            row["Last Name"],
        )
        assert user.custom_attributes == {"jobTitle": row["Title"]}
        groups = {g.name for g in account.groups.values() if uid in g.members}
        assert groups == {row["Department"]}
    assert set(account.channels["SAFE101"].users) >= set(wanted)
    names = Counter(user.username for user in account.users.values())
    assert set(names.values()) == {1}, "no account twice"


def test_first_sync_then_a_second_run_makes_no_write(world):
    rows = company(30)
    setup = world(rows)
    planned = planned_calls(setup)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    assert_in_sync(setup, rows)
    counters = setup.sandbox.admin.counters()
    assert counters["rate_limited"] == 0
    assert set(counters["creates"].values()) == {1} and len(counters["creates"]) == 30
    calls = api_calls(setup)
    assert calls["PUT /api/v2/users"] == 30
    assert calls["PUT /api/v1/groups"] == 2 + 5
    assert calls["POST /api/v1/groups/{groupIdentifier}/users/{userIdentifier}"] == 30
    assert calls["POST /api/v2/channels/{channelIdentifier}/users/{userIdentifier}"] == 30
    assert sum(calls.values()) == planned == 30 + 7 + 30 + 30
    tokens = counters["requests"]["POST /api/v1/token"]
    assert sum(tokens.values()) <= 2  # the plan's listing-free run and the drain: one each

    before = writes_by_status(setup)
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    assert writes_by_status(setup) == before, "a second run writes nothing"
    assert planned_calls(setup) == 0


def test_hires_leavers_and_moves_cost_what_the_plan_says(world):
    rows = company(30)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    moved = [dict(r) for r in rows]
    moved[0].update(Department="Marketing")  # a move (Sales -> Marketing, same division)
    moved[1].update(Status="Terminated")  # a leaver
    moved[2].update(Title="Director")  # a changed custom attribute
    moved += company(33)[30:]  # three hires
    write_export(setup.export, moved)
    before = api_calls(setup)
    planned = planned_calls(setup)
    run = setup.reconcile()
    assert run.returncode == 0, result(run)
    assert_in_sync(setup, moved)
    spent = api_calls(setup) - before
    assert sum(spent.values()) == planned
    assert spent["PUT /api/v2/users/{identifier}"] == 1  # the leaver, one status call
    assert not setup.sandbox.simulator.account.users[rows[1]["Employee ID"]].is_active


def test_an_existing_account_is_adopted_never_duplicated(world):
    rows = company(10)
    setup = world(rows)
    hand = rows[3]
    setup.sandbox.admin.seed(
        {"users": [{"identifier": "legacy-7", "username": hand["Username"], "firstName": "Old"}]}
    )
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    account = setup.sandbox.simulator.account
    assert "legacy-7" in account.users and hand["Employee ID"] not in account.users
    assert account.users["legacy-7"].first_name == hand["First Name"]
    assert len(account.users) == 10
    assert hand["Username"] not in setup.sandbox.admin.counters()["creates"]
    second = setup.reconcile()
    assert second.returncode == 0 and planned_calls(setup) == 0


def test_token_expiry_and_injected_faults_mid_run_still_converge(world):
    rows = company(30)
    setup = world(rows)
    setup.sandbox.admin.post("/settings", {"token_lifetime_seconds": 0.3})
    setup.sandbox.admin.set_faults(
        error_rate=0.15, error_statuses=[500, 502, 503, 504], drop_rate=0.05, seed=7
    )
    run = setup.reconcile()
    for _ in range(3):
        if run.returncode == 0:
            break
        run = setup.reconcile()
    assert run.returncode == 0, result(run)
    setup.sandbox.admin.clear_faults()
    assert_in_sync(setup, rows)
    counters = setup.sandbox.admin.counters()
    assert set(counters["creates"].values()) == {1}
    assert sum(counters["requests"]["POST /api/v1/token"].values()) > 1
    assert counters["faults"], "faults were injected"
    assert planned_calls(setup) == 0


def test_kill_9_mid_run_then_rerun_converges_without_duplicates(world):
    rows = company(30)
    setup = world(rows, requests=20, per_seconds=1.0)
    for round_ in range(3):
        mark = setup.log_mark()
        proc = setup.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(setup.writes_since(mark)) >= 10 + 7 * round_:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    final = setup.subprocess_run("reconcile")
    assert final.returncode == 0, result(final)
    assert_in_sync(setup, rows)
    counters = setup.sandbox.admin.counters()
    assert set(counters["creates"].values()) == {1} and len(counters["creates"]) == 30
    assert planned_calls(setup) == 0


FULL_MEMBERSHIPS = "options = { full_memberships = true }"
USER_GROUPS = "GET /api/v1/users/{identifier}/groups"
ADD_MEMBER = "POST /api/v1/groups/{groupIdentifier}/users/{userIdentifier}"


def take_out_of_group_by_hand(setup: Setup, uid: str) -> str:
    """An administrator's own script removes ``uid`` from its group through the API; the
    group's identifier."""
    account = setup.sandbox.simulator.account
    (group,) = [g.identifier for g in account.groups.values() if uid in g.members]
    base, credentials = setup.sandbox.base_url, setup.sandbox.credentials
    with httpx.Client(base_url=base, timeout=5) as http:
        token = http.post(
            "/api/v1/token",
            params={"clientKey": credentials["clientKey"], "secret": credentials["secret"]},
        ).json()["access_token"]
        gone = http.delete(
            f"/api/v1/groups/{group}/users/{uid}", headers={"Authorization": f"Bearer {token}"}
        )
    assert gone.status_code == 200, gone.text
    assert uid not in account.groups[group].members
    return group


def summary_calls(proc: subprocess.CompletedProcess[str]) -> int:
    """The ``calls`` column of the reconcile summary (one connection: ``lms``)."""
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "connection" in line and "calls" in line)
    row = next(line for line in lines if re.match(r"│\s*lms\s*│", line))
    columns = [c.strip() for c in re.split(r"[│┃]", header)]
    return int([c.strip() for c in re.split(r"[│┃]", row)][columns.index("calls")])


@pytest.mark.parametrize("checked", [True, False], ids=["full_memberships", "default"])
def test_a_full_run_re_adds_a_membership_removed_by_hand_only_when_asked(world, checked):
    rows = company(8)
    setup = world(rows, options=FULL_MEMBERSHIPS if checked else "")
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    assert api_calls(setup)[USER_GROUPS] == 0, "a plain run never reads users' groups"
    uid = rows[1]["Employee ID"]
    group = take_out_of_group_by_hand(setup, uid)
    before = api_calls(setup)
    full = setup.reconcile("--full")
    assert full.returncode == 0, result(full)
    spent = api_calls(setup) - before
    members = setup.sandbox.simulator.account.groups[group].members
    listing = {"GET /api/v3/users": 1, "GET /api/v1/groups/list": 1}
    if checked:
        assert "repaired: 1 membership re-added" in full.stdout, result(full)
        assert uid in members
        assert spent == Counter({**listing, USER_GROUPS: 8, ADD_MEMBER: 1}), spent
        assert summary_calls(full) == 1 + 1 + 8 + 1
        assert_in_sync(setup, rows)
    else:
        assert "nothing to change" in full.stdout and "repaired" not in full.stdout, result(full)
        assert uid not in members, "unchecked: the record says it is there"
        assert spent == Counter(listing), spent
        assert summary_calls(full) == 2
    again = setup.reconcile()
    assert again.returncode == 0 and "nothing to change" in again.stdout, result(again)
