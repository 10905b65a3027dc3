"""`syncd reconcile` and `syncd queue` as a user runs them, against the Litmos sandbox.

Each test starts the simulator in this process (a thread that outlives the CLI processes it
serves, even when the test kills them) and runs ``python -m syncd ...`` as a subprocess on
a real state database (SQLite file, and PostgreSQL when available), with a shortened rate
window so that a company syncs in seconds.
"""

from __future__ import annotations

import json
import os
import pty
import random
import re
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from syncd.state.db import create_engine_for, session_factory
from syncd.state.ownership import ConnectionLease
from tests.e2e.kit import (
    CONFIG,
    KEY_ENV,
    KILL_CYCLES,
    applied,
    assert_in_sync,
    company,
    effects,
    kill_cycles,
    lms,
    mirror,
    planned_calls,
    result,
    syncd,
    write_export,
    writes_by_status,
)


def test_first_sync_then_a_second_run_makes_no_write(world):
    rows = company(40)
    setup = world(rows)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    assert "in sync" in first.stdout
    assert_in_sync(setup, rows)
    counters = setup.sandbox.admin.counters()
    assert counters["rate_limited"] == 0
    assert set(counters["creates"].values()) == {1} and len(counters["creates"]) == 40
    held = lms(setup.sandbox)
    assert len(held.teams) == 2 + 5, "two divisions with five departments under them"
    assert len(held.members) == 40 and len(held.courses) == 40
    posts = counters["requests"]
    assert sum(posts["POST /v1.svc/users"].values()) == 40
    assert sum(posts["POST /v1.svc/teams/{team_id}/users"].values()) == 5, "one call per team"
    mark = setup.log_mark()
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    assert "nothing to change" in second.stdout
    assert setup.writes_since(mark) == []


def test_hires_leavers_and_moves(world):
    rows = company(30)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    hires = company(33)[30:]
    leaver = rows[3]
    mover = rows[4]
    old_department = mover["Department"]
    changed = [dict(r) for r in rows]
    changed[3] = {**leaver, "Status": "Terminated"}
    assert old_department != "Logistics"
    changed[4] = {**mover, "Division": "Operations", "Department": "Logistics"}
    changed += hires
    write_export(setup.export, changed)
    mark = setup.log_mark()
    proc = setup.reconcile()
    assert proc.returncode == 0, result(proc)
    assert_in_sync(setup, changed)
    held = lms(setup.sandbox)
    names = {v[0]: k for k, v in held.users.items()}
    teams = {name: tid for tid, (name, _) in held.teams.items()}
    mover_id = names[mover["Username"]]
    assert (teams["Logistics"], mover_id) in held.members
    assert (teams[old_department], mover_id) not in held.members
    assert not held.users[names[leaver["Username"]]][1]
    writes = Counter(f"{e['method']} {e['template']}" for e in setup.writes_since(mark))
    assert writes["POST /v1.svc/users"] == 3
    assert writes["DELETE /v1.svc/teams/{team_id}/users/{user_id}"] == 1


def test_an_existing_account_is_adopted_never_created_twice(world):
    rows = company(10)
    setup = world(rows)
    existing = rows[2]["Username"]
    setup.sandbox.admin.seed(
        {"users": [{"username": existing, "first_name": "Someone", "last_name": "Else"}]}
    )
    proc = setup.reconcile()
    assert proc.returncode == 0, result(proc)
    assert_in_sync(setup, rows)
    assert existing not in setup.sandbox.admin.counters()["creates"]
    held = lms(setup.sandbox)
    (adopted,) = [u for u in held.users.values() if u[0] == existing]
    assert adopted[2:] == (rows[2]["First Name"], rows[2]["Last Name"]), "brought in line"


def test_full_reconcile_links_existing_accounts_without_a_create_call(world):
    rows = company(6)
    setup = world(rows)
    setup.sandbox.admin.seed(
        {
            "users": [
                {"username": r["Username"], "first_name": r["First Name"], "last_name": "Old"}
                for r in rows[:3]
            ]
        }
    )
    mark = setup.log_mark()
    proc = setup.reconcile("--full")
    assert proc.returncode == 0, result(proc)
    assert_in_sync(setup, rows)
    creates = [
        e
        for e in setup.writes_since(mark)
        if e["method"] == "POST" and e["template"] == "/v1.svc/users"
    ]
    assert len(creates) == 3


def test_a_permanent_error_dead_letters_one_op_and_blocks_only_its_dependents(world):
    rows = company(12)
    rows[5] = {**rows[5], "Username": "ab"}
    setup = world(rows)
    proc = setup.reconcile()
    assert proc.returncode == 4, result(proc)
    assert "Username must be greater than 3 characters" in proc.stdout
    held = lms(setup.sandbox)
    assert len(held.users) == 11
    assert len(held.courses) == 11
    department = rows[5]["Department"]
    team = next(tid for tid, (name, _) in held.teams.items() if name == department)
    assert len(held.members) == 11, "only its own membership waits (issue 11, item 2)"
    in_team = sum(1 for t, _ in held.members if t == team)
    assert in_team == sum(1 for r in rows if r["Department"] == department) - 1
    assert held == mirror(setup.db_url)
    listing = setup.syncd("queue", "list", "--state", "dead", "--state", "blocked")
    assert listing.returncode == 0, result(listing)
    assert "create_user:1005" in listing.stdout and "blocked" in listing.stdout
    again = setup.reconcile()
    assert again.returncode == 4, "the same request would get the same refusal"
    rows[5] = {**rows[5], "Username": rows[5]["Email"]}
    write_export(setup.export, rows)
    fixed = setup.reconcile()
    assert fixed.returncode == 0, result(fixed)
    assert_in_sync(setup, rows)


def test_queue_retry_and_drop(world):
    rows = company(4)
    rows[1] = {**rows[1], "Username": "xy"}
    setup = world(rows)
    assert setup.reconcile().returncode == 4
    retried = setup.syncd("queue", "retry")
    assert retried.returncode == 0 and "1 op(s) back to pending" in retried.stdout
    listing = setup.syncd("queue", "list", "--format", "json")
    assert '"state": "pending"' in listing.stdout
    dropped = setup.syncd("queue", "drop", "create_user:1001")
    assert dropped.returncode == 0, result(dropped)
    assert "op(s) dropped" in dropped.stdout
    refused = setup.syncd("queue", "drop")
    assert refused.returncode == 1 and "say which ops" in refused.stderr


def test_retries_through_injected_faults(world):
    rows = company(20)
    setup = world(rows)
    setup.sandbox.admin.set_faults(
        seed=11, error_rate=0.15, drop_rate=0.1, slow_rate=0.05, slow_seconds=1.5
    )
    proc = setup.reconcile()
    setup.sandbox.admin.clear_faults()
    assert proc.returncode == 0, result(proc)
    assert '"event": "op.retry"' in proc.stderr
    assert_in_sync(setup, rows)
    assert set(setup.sandbox.admin.counters()["creates"].values()) == {1}


def test_a_truncated_export_sends_nothing_destructive_and_is_not_the_baseline(world):
    rows = company(40)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    write_export(setup.export, rows[:10])
    mark = setup.log_mark()
    proc = setup.reconcile()
    assert proc.returncode == 7, result(proc)
    assert "min_source_ratio" in proc.stdout and "looks truncated" in proc.stdout
    assert setup.writes_since(mark) == []
    listing = setup.syncd("queue", "list", "--format", "json")
    assert '"ops": []' in listing.stdout
    # Measured against the last good export again, not the truncated one.
    again = setup.reconcile()
    assert again.returncode == 7 and "min_source_ratio" in again.stdout, result(again)
    assert setup.writes_since(mark) == []


def test_dry_run_changes_nothing(world):
    rows = company(5)
    setup = world(rows)
    proc = setup.reconcile("--dry-run")
    assert proc.returncode == 2, result(proc)  # as `syncd plan`: changes pending
    assert "dry run: changes pending" in proc.stdout
    assert "create user 1000" in proc.stdout
    assert setup.writes_since(0) == []
    assert mirror(setup.db_url).users == {}


def test_a_dry_run_in_sync_exits_zero_as_plan_does(world):
    setup = world(company(3))
    assert setup.reconcile().returncode == 0
    proc = setup.reconcile("--dry-run")
    assert proc.returncode == 0, result(proc)
    assert "dry run: in sync" in proc.stdout


def test_full_reconcile_repairs_changes_made_by_hand_in_the_lms(world):
    rows = company(8)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    store = setup.sandbox.simulator.store  # what a person editing in the LMS changes
    by_name = {u.fields["UserName"]: u for u in store.users.values()}
    renamed, switched_off = by_name[rows[1]["Username"]], by_name[rows[2]["Username"]]
    renamed.fields["LastName"] = "Changed-By-Hand"
    switched_off.fields["Active"] = False
    mark = setup.log_mark()
    blind = setup.reconcile()
    assert blind.returncode == 0 and setup.writes_since(mark) == [], "the mirror cannot know"
    full = setup.reconcile("--full")
    assert full.returncode == 0, result(full)
    writes = setup.writes_since(mark)
    assert sorted(e["path"].rsplit("/", 1)[1] for e in writes) == sorted(
        [renamed.id, switched_off.id]
    ), "one PUT for each account changed by hand, nothing else"
    assert_in_sync(setup, rows)
    assert lms(setup.sandbox).users[renamed.id][3] == rows[1]["Last Name"]


def test_retries_not_due_before_the_wait_limit_end_with_exit_5_and_are_listed(world):
    rows = company(4)
    setup = world(rows)
    setup.sandbox.admin.set_faults(
        error_rate=1.0, error_statuses=[500], methods=["POST"], path_pattern="/courses$"
    )
    slow = {
        "SYNCD_RETRY_BASE_SECONDS": "30",
        "SYNCD_RETRY_CAP_SECONDS": "60",
        "SYNCD_QUEUE_MAX_WAIT_SECONDS": "0.2",
    }
    proc = setup.reconcile(**slow)
    assert proc.returncode == 5, result(proc)
    assert "4 op(s) still waiting to be retried" in proc.stdout
    listing = setup.syncd("queue", "list", "--state", "retry", "--format", "json")
    assert listing.returncode == 0, result(listing)
    (shown,) = json.loads(listing.stdout)
    assert [op["kind"] for op in shown["ops"]] == ["assign_courses"] * 4
    assert all("-> 500" in op["last_error"] for op in shown["ops"]), "the vendor's answer"
    setup.sandbox.admin.clear_faults()
    requeued = setup.syncd("queue", "retry", "--state", "retry")
    assert "4 op(s) back to pending" in requeued.stdout
    again = setup.reconcile(**slow)
    assert again.returncode == 0, result(again)
    assert_in_sync(setup, rows)


def test_a_connection_driven_by_another_live_process_is_an_error_exit_1(world):
    rows = company(3)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    engine = create_engine_for(setup.db_url)
    try:
        lease = ConnectionLease(
            session_factory(engine),
            "lms",
            "another-host:4242:abcd",
            ttl=timedelta(minutes=5),
            clock=lambda: datetime.now(UTC),
        )
        lease.acquire()
        proc = setup.reconcile()
        lease.release()
    finally:
        engine.dispose()
    assert proc.returncode == 1, result(proc)
    assert "being synced by another-host:4242:abcd" in proc.stdout + proc.stderr
    assert setup.reconcile().returncode == 0, "free again once the holder lets go"


def test_a_refused_api_key_stops_the_run_and_dead_letters_nothing(world):
    rows = company(6)
    setup = world(rows)
    mark = setup.log_mark()
    proc = setup.reconcile(**{KEY_ENV: "not-the-key"})
    assert proc.returncode == 1, result(proc)
    assert "API key" in proc.stdout + proc.stderr
    assert "not-the-key" not in proc.stdout + proc.stderr
    assert len(setup.sandbox.admin.log(since=mark)) == 1, "one refusal, not one per op"
    listing = setup.syncd("queue", "list", "--format", "json")
    assert json.loads(listing.stdout)[0]["counts"] == {"pending": 2 * 6 + 7 + 5}
    fixed = setup.reconcile()
    assert fixed.returncode == 0, result(fixed)
    assert_in_sync(setup, rows)


def test_a_terminal_gets_a_live_progress_display(world):
    """On a terminal: the bar with ops done/total, calls per minute, time left, errors."""
    rows = company(12)
    setup = world(rows)
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(text.replace('format = "json"', 'format = "auto"'), encoding="utf-8")
    setup.sandbox.admin.set_faults(seed=3, error_rate=0.2, error_statuses=[500], methods=["POST"])
    leader, follower = pty.openpty()
    proc = setup.spawn(
        stdout=subprocess.PIPE, stderr=follower, TERM="xterm-256color", COLUMNS="160"
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    stdout = proc.communicate(timeout=120)[0].decode()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert proc.returncode == 0, f"{stdout}\n{shown[-3000:]}"
    assert re.search(r"lms: sync .*\b36/36\b.*calls/min", shown), shown[-3000:]
    assert re.search(r"\d+ retried", shown), "errors are shown as they happen"
    assert re.search(r"\d+:\d\d:\d\d", shown), "time left"
    assert '"event"' not in shown, "readable log lines on a terminal, not JSON"
    assert "in sync" in stdout


@pytest.mark.slow
def test_kill_9_at_random_points_then_rerun_converges(killable):
    """The issue's crash test: SIGKILL at chosen requests of the drain, again and again.

    Each cycle starts ``syncd reconcile`` and kills it at its N-th vendor request, at one
    of three points (the vendor never sees the request / applies it but the answer is lost
    / answers it in full), with a few injected faults on top. N is drawn from the work the
    LMS still lacks, leaving at least one op for every later cycle, so a run that ends
    before its N-th request has lost work. Then one run finishes. Exactly-once is judged by
    the simulator itself: one create per person, every team, membership and assignment
    there, the mirror equal to the LMS, and no more successful writes or 409s than the
    kills and injected cut-short answers explain (each leaves at most one op whose effect
    landed unrecorded). ``SYNCD_KILL_SEED`` replays a failing run's choices.
    """
    seed = int(os.environ.get("SYNCD_KILL_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    rows = company(90, seed=5)
    build, switch = killable
    setup = build(rows, requests=100, per_seconds=1.0)
    about = f"(SYNCD_KILL_SEED={seed})"
    minimum = planned_calls(setup)
    assert minimum == 90 + 7 + 5 + 90, "users, teams, one member call per team, assignments"
    setup.sandbox.admin.set_faults(seed=seed, error_rate=0.03, drop_rate=0.03, malformed_rate=0.02)
    kills = kill_cycles(
        setup, switch, rng, KILL_CYCLES, lambda: minimum - effects(lms(setup.sandbox)), about
    )

    counters = setup.sandbox.admin.counters()
    setup.sandbox.admin.clear_faults()
    final = setup.subprocess_run("reconcile")
    assert final.returncode == 0, f"{about}\n{result(final)}"
    assert_in_sync(setup, rows)
    held = lms(setup.sandbox)
    creates = setup.sandbox.admin.counters()["creates"]
    assert len(creates) == 90 and set(creates.values()) == {1}, f"one create each {about}"
    assert len(held.users) == 90 and len(held.teams) == 7, f"no op lost {about}"
    assert len(held.members) == 90 and len(held.courses) == 90, f"no op lost {about}"
    assert sum(kills.values()) == KILL_CYCLES >= 10
    writes = writes_by_status(setup)
    explained = kills["unanswered"] + kills["answered"] + counters["faults"].get("malformed", 0)
    assert applied(writes) <= minimum + explained, f"an op was applied twice: {writes} {about}"
    assert writes[409] <= explained, f"409s beyond adoption after a lost answer {about}"
    assert setup.sandbox.admin.counters()["rate_limited"] == 0, about
    mark = setup.log_mark()
    assert setup.reconcile().returncode == 0
    assert setup.writes_since(mark) == [], "the mirror holds everything the LMS does"


def test_a_run_started_right_after_a_killed_one_paces_against_what_litmos_still_counts(
    killable,
):
    """The vendor's window outlives the process: the next run must not burst into it.

    The first run is killed at its 38th request, inside its first 6-second window; the
    next one starts at once and must wait for those slots (saved in the state database,
    plus the few a killed worker could not save) instead of being refused by Litmos.
    """
    rows = company(20)
    build, switch = killable
    setup = build(rows, requests=40, per_seconds=6.0)
    proc = setup.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    switch.arm(proc.pid, 38, "answered")
    assert proc.wait(timeout=120) == -signal.SIGKILL
    rerun = setup.subprocess_run("reconcile")
    assert rerun.returncode == 0, result(rerun)
    assert setup.sandbox.admin.counters()["rate_limited"] == 0
    assert '"event": "reconcile.pacing_restored"' in rerun.stderr
    assert_in_sync(setup, rows)


def test_sandbox_base_url_needs_no_account(tmp_path):
    rows = company(8)
    write_export(tmp_path / "export.csv", rows)
    config = tmp_path / "syncd.toml"
    text = CONFIG.format(
        db_url=f"sqlite:///{tmp_path / 'state.db'}",
        base_url="sandbox:",
        key_env=KEY_ENV,
        requests=200,
        per_seconds=1,
        course="C1",
    ).replace(f'credentials = {{ api_key = "${{{KEY_ENV}}}" }}', "credentials = {}")
    config.write_text(text, encoding="utf-8")
    assert KEY_ENV.startswith("SYNCD_"), "the kit leaves no SYNCD_* variable: no API key"
    proc = syncd("reconcile", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, result(proc)
    assert "create_user" in proc.stdout and "in sync" in proc.stdout
    assert "litmos-sandbox-apikey" not in proc.stdout + proc.stderr
