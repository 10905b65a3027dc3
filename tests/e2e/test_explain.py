"""`syncd explain PERSON` as an operator runs it, after `syncd reconcile` of the test
company against the Litmos sandbox (SQLite and PostgreSQL): read-only, no vendor call, no
secret in the output."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from syncd.state.db import create_engine_for, session_factory
from syncd.state.results import upsert
from tests.e2e.kit import company, result, write_export


def _explained(setup, person, *args):
    """Text and JSON of `syncd explain person`, checked to be read-only and secret-free."""
    mark = setup.log_mark()
    text = setup.syncd("explain", person, *args)
    data = setup.syncd("explain", person, "--format", "json", *args)
    secret = setup.credentials_env()["SYNCD_E2E_LITMOS_KEY"]
    for proc in (text, data):
        assert proc.returncode == 0, result(proc)
        assert secret not in proc.stdout + proc.stderr, "a credential must never be shown"
    assert setup.sandbox.admin.log(since=mark) == [], "explain never calls the vendor"
    return text.stdout, json.loads(data.stdout)


def test_a_synced_person_shows_export_desired_state_and_an_equal_mirror(world):
    rows = company(6)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    text, data = _explained(setup, "1001")
    (lms,) = data["connections"]
    assert lms["hris"]["line"] == 3 and lms["hris"]["fields"]["last_name"] == rows[1]["Last Name"]
    desired, mirror = lms["desired"], lms["mirror"]
    assert desired["items"] == [{"kind": "course", "item_id": setup.course, "rules": ["everyone"]}]
    assert [key for key, _ in desired["groups"]] == ["org:Commercial/Marketing"]
    assert mirror["remote_id"] and mirror["active"]
    assert mirror["attrs"] == desired["attrs"]
    assert [key for key, _ in mirror["groups"]] == [key for key, _ in desired["groups"]]
    assert mirror["items"] == [["course", setup.course]]
    assert lms["plan"] == [] and lms["pending"] == [] and lms["results"] == []
    assert f"course {setup.course} by rule everyone" in text
    assert "nothing to do" in text and "no pending ops" in text


def test_an_unknown_person_is_one_line_and_exit_1(world):
    setup = world(company(3))
    assert setup.reconcile().returncode == 0
    proc = setup.syncd("explain", "9999")
    assert proc.returncode == 1, result(proc)
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "9999" in proc.stderr


def test_a_rejected_row_shows_its_reasons_and_the_account_is_left_alone(world):
    rows = company(6)
    setup = world(rows)
    assert setup.reconcile().returncode == 0
    rows[2]["Email"] = "not-an-address"
    write_export(setup.export, rows)
    text, data = _explained(setup, "1002")
    (lms,) = data["connections"]
    (rejection,) = lms["hris"]["rejected"]
    assert rejection["line"] == 4 and rejection["reason"] == "invalid_email"
    assert rejection["column"] == "Email" and rejection["file"].endswith("export.csv")
    assert lms["desired"] is None and lms["mirror"]["active"], "still synced as it was"
    assert lms["plan"] == []
    assert any("rejected" in note for note in lms["plan_notes"])
    assert "rejected" in text and "line 4" in text and "invalid_email" in text


def test_pending_ops_show_their_queue_position_and_an_estimate(world):
    setup = world(company(4))
    setup.sandbox.admin.set_faults(
        error_rate=1.0, error_statuses=[500], methods=["POST"], path_pattern="/courses$"
    )
    slow = {
        "SYNCD_RETRY_BASE_SECONDS": "300",
        "SYNCD_RETRY_CAP_SECONDS": "600",
        "SYNCD_QUEUE_MAX_WAIT_SECONDS": "0.2",
    }
    assert setup.reconcile(**slow).returncode == 5, "the course assignments wait to be retried"
    setup.sandbox.admin.clear_faults()
    text, data = _explained(setup, "1003")
    (lms,) = data["connections"]
    (op,) = lms["pending"]
    assert op["kind"] == "assign_courses" and op["state"] == "retry" and op["attempts"] >= 1
    assert "500" in op["last_error"]
    assert 0 <= op["position"] <= 3, "at most the other three people's retries are ahead"
    assert op["calls_ahead"] == op["position"], "one call per assignment on Litmos"
    assert op["eta_seconds"] > 60, "not before its retry is due"
    assert "reaches the vendor in about" in text and "estimates assume" in text
    assert lms["mirror"]["items"] == [], "not assigned yet"


def test_results_rows_of_the_person_are_shown(world):
    setup = world(company(3))
    assert setup.reconcile().returncode == 0
    engine = create_engine_for(setup.db_url)
    now = datetime.now(UTC)
    try:
        with session_factory(engine).begin() as db:
            upsert(
                db,
                "lms",
                [
                    {
                        "remote_user_id": "r-1000",
                        "item_kind": "course",
                        "item_id": setup.course,
                        "external_id": "1000",
                        "username": "ann@corp.test",
                        "item_name": "Safety basics",
                        "course_id": setup.course,
                        "status": "passed",
                        "completed": True,
                        "passed": True,
                        "percentage": 92.0,
                        "score": 92.0,
                        "seconds": 600,
                        "assigned_at": now,
                        "started_at": now,
                        "completed_at": now,
                        "expires_at": None,
                        "updated_at": now,
                        "raw": {},
                    }
                ],
                revision=1,
                now=now,
            )
    finally:
        engine.dispose()
    text, data = _explained(setup, "1000")
    (row,) = data["connections"][0]["results"]
    assert row["status"] == "passed" and row["percentage"] == 92.0
    assert row["item_id"] == setup.course
    assert "passed, 92%" in text
