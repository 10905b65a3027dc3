"""`syncd status` after a reconcile against the Litmos sandbox, without a running service:
the table a person reads and the JSON a script reads, from the state database alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.e2e.kit import company, shown

SCHEDULE = 'schedule = { roster = "15m", results = "0 6 * * *" }\n'


def scheduled(setup) -> None:
    """Give the test connection a schedule (a key of its table, before its sub-tables)."""
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(
        text.replace("timeout_seconds = 1\n", "timeout_seconds = 1\n" + SCHEDULE, 1),
        encoding="utf-8",
    )


def test_status_shows_runs_queue_dead_letters_rate_and_next_runs(world):
    setup = world(company(6))
    scheduled(setup)
    setup.sandbox.admin.set_faults(
        error_rate=1.0,
        error_statuses=[500],
        methods=["POST"],
        path_pattern="/courses$",
        max_faults=1,
    )
    before = datetime.now(UTC)
    proc = setup.reconcile(SYNCD_RETRY_MAX_ATTEMPTS="1")
    assert proc.returncode == 4, shown(proc)

    as_json = setup.syncd("status", "--format", "json")
    assert as_json.returncode == 0, shown(as_json)
    report = json.loads(as_json.stdout)
    assert report["service"] is False and report["scheduler_running"] is None
    (conn,) = report["connections"]
    assert (conn["name"], conn["vendor"]) == ("lms", "litmos")
    (run,) = conn["runs"]
    assert (run["kind"], run["status"], run["dead"]) == ("reconcile", "partial", 1)
    assert run["done"] == run["planned"] - 1 and run["duration_seconds"] >= 0
    assert conn["queue"]["dead"] == 1 and conn["queue"]["waiting"] == 0
    (dead,) = conn["problems"]
    assert dead["kind"] == "assign_courses" and "-> 500" in dead["reason"]
    assert conn["last_success"] is None, "the only run was partial"
    assert conn["rejected_rows"] == 0
    (rate,) = conn["rate"]
    assert rate["limit"] == 60 and rate["saved_held"] >= run["calls"]
    roster, results = conn["jobs"]
    assert (roster["kind"], roster["schedule"]) == ("roster", "15m")
    next_roster = datetime.fromisoformat(roster["next_run"])
    assert 0 < (next_roster - before).total_seconds() <= 15 * 60 + 60
    assert results["schedule"] == "0 6 * * *" and results["next_run"] is not None
    assert conn["owner"]["holder"] is None, "the reconcile released its lease"
    assert conn["results"]["watermark"] is None

    table = setup.syncd("status")
    assert table.returncode == 0, shown(table)
    for expected in (
        "lms (litmos)",
        "dead letters, held and blocked ops",
        "assign_courses",
        "-> 500",
        "partial",
        "15m",
        "0 6 * * *",
        "never",
    ):
        assert expected in table.stdout, expected


def test_status_of_an_unknown_connection_is_one_plain_error(world):
    setup = world(company(2))
    assert setup.reconcile().returncode == 0
    proc = setup.syncd("status", "--connection", "nope")
    assert proc.returncode != 0
    assert "no connection named `nope`" in proc.stdout + proc.stderr
    wrong = setup.syncd("status", "--format", "yaml")
    assert wrong.returncode != 0 and "--format" in wrong.stdout + wrong.stderr
