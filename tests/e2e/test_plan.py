"""`syncd plan` as a user runs it: a subprocess on a config file and a SQLite state database.

The first sync is made by ``syncd reconcile`` against the in-process simulator
(``base_url = "sandbox:"``), which leaves a real mirror and an accepted export in the state
database; every later step only plans. Each test checks the exit code the issue promises
(0 nothing to do, 2 changes pending, 3 refused by a safeguard, 1 error), what the output
says, and that planning left the state database exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tests.e2e.kit import COMPANY, PLAN_CONFIG, SECRET_ENV, next_month, person, shown, world_at


def test_before_any_sync_everything_is_pending_and_no_database_is_created(tmp_path):
    world = world_at(tmp_path)
    proc = world.plan()
    assert proc.returncode == 2, shown(proc)
    assert "create_user" in proc.stdout
    assert "56 changes pending (nothing was changed)" in proc.stdout
    assert not world.db.exists(), "plan must not create the state database"
    code, data = world.plan_json()
    assert code == 2
    assert data["counts"] == {
        "create_user": 24,
        "create_group": 5,
        "add_members": 3,
        "assign_courses": 24,
    }
    assert data["calls"] == 24 + 5 + 3 + 24
    assert data["status"] == "changes_pending"


def test_after_a_reconcile_there_is_nothing_to_do(synced):
    before = synced.dump()
    proc = synced.plan()
    assert proc.returncode == 0, shown(proc)
    assert "in sync: nothing to do" in proc.stdout
    code, data = synced.plan_json()
    assert code == 0
    assert data["status"] == "in_sync"
    assert (data["ops"], data["calls"], data["counts"]) == (0, 0, {})
    assert data["duration_seconds"] == 0.0
    assert {c["limit"] for c in data["safeguards"]["checks"]} >= {"min_source_ratio"}
    assert synced.dump() == before


def test_changes_are_counted_detailed_and_nothing_is_written(synced):
    rows = [*next_month(), person(98, Email="")]  # no email: no username to match by
    synced.export(rows)
    before = synced.dump()
    code, data = synced.plan_json("--limit", "50")
    assert code == 2
    assert data["counts"] == {
        "create_user": 1,
        "update_user": 1,
        "deactivate_user": 1,
        "add_members": 1,
        "remove_member": 1,
        "assign_courses": 2,
    }
    update = next(op for op in data["first_ops"] if op["kind"] == "update_user")
    assert update["subject"] == "1004"
    assert update["changes"] == [{"field": "LastName", "from": "Last4", "to": "Married"}]
    add = next(op for op in data["first_ops"] if op["kind"] == "add_members")
    assert add["subject"] == "org:Commercial/Sales"
    assert add["what"] == "add 2 to org:Commercial/Sales: 1002, 1099"
    remove = next(op for op in data["first_ops"] if op["kind"] == "remove_member")
    assert remove["subject"] == "org:Operations/Finance|1002"
    litmos = {"create_user": 1, "update_user": 2, "deactivate_user": 2}
    assert data["calls"] == sum(litmos.get(k, 1) * n for k, n in data["counts"].items())
    assert data["rate"] == {"requests": 500, "per_seconds": 1.0}
    assert data["source"]["rows_read"] == 26
    assert data["skipped"] == [{"external_id": "1098", "reason": "empty match value"}]
    table = synced.plan("--limit", "50")
    assert table.returncode == 2, shown(table)
    assert "update 1004: LastName: 'Last4' -> 'Married'" in table.stdout
    assert "deactivate 1001 (terminated)" in table.stdout
    assert "skipped 1098: empty match value" in table.stdout
    assert synced.dump() == before


def test_a_truncated_export_trips_the_shrink_limit_and_deactivates_nobody(synced):
    synced.export(COMPANY[:12])
    before = synced.dump()
    proc = synced.plan()
    assert proc.returncode == 2, shown(proc)
    assert "TRIPPED" in proc.stdout and "min_source_ratio" in proc.stdout
    code, data = synced.plan_json()
    assert code == 2
    assert data["safeguards"]["refusal"] is None
    shrink = next(c for c in data["safeguards"]["checks"] if c["limit"] == "min_source_ratio")
    assert shrink["value"] == 0.5 and shrink["threshold"] == 0.9 and shrink["tripped"]
    tripped = {c["limit"] for c in data["safeguards"]["checks"] if c["tripped"]}
    assert tripped == {"min_source_ratio"}
    # The 12 missing people are pending deactivation (absent_exports = 2), not deactivations.
    assert len(data["pending_deactivations"]) == 12
    assert data["counts"] == {} and data["held"] == []
    assert synced.dump() == before
    with sqlite3.connect(synced.db) as db:
        assert db.execute("SELECT count(*) FROM outbox WHERE state != 'done'").fetchone() == (0,)
    code, overridden = synced.plan_json("--allow-mass-change")
    assert code == 0
    assert overridden["safeguards"]["overridden"] is True
    assert overridden["safeguards"]["refusal"] is None
    assert overridden["counts"] == {}
    assert len(overridden["pending_deactivations"]) == 12
    assert synced.dump() == before


def test_errors_exit_one_with_a_message(synced):
    bad = synced.folder / "bad.toml"
    text = synced.config.read_text(encoding="utf-8")
    bad.write_text(text + "\n[connections.lms.safeguards_typo]\nx = 1\n", encoding="utf-8")
    proc = synced.plan(config=bad)
    assert proc.returncode == 1, shown(proc)
    assert "safeguards_typo" in proc.stderr and "unknown key" in proc.stderr
    unknown = synced.plan("--connection", "nope")
    assert unknown.returncode == 1 and "no connection named `nope`" in unknown.stderr
    (synced.folder / "export.csv").unlink()
    missing = synced.plan()
    assert missing.returncode == 1, shown(missing)
    assert "export.csv" in missing.stderr
    with sqlite3.connect(synced.db) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    synced.export(COMPANY)
    newer = synced.plan("--format", "json")
    assert newer.returncode == 1, shown(newer)
    assert "revision 9999" in newer.stderr and newer.stdout == ""


def test_the_calls_a_plan_counts_are_the_calls_the_reconcile_makes(litmos_sandbox, tmp_path):
    """The plan's call count is the vendor's real request count, first sync and after.

    Litmos as simulated: one create per user, one create per team, one member list per
    team, one course list per user; an update or a deactivation reads the user first.
    """
    admin = litmos_sandbox.admin
    courses = admin.seed(
        {"courses": [{"code": "SAFE", "name": "Safety"}, {"code": "CRM", "name": "CRM"}]}
    )
    ids = courses["courses"]
    world = world_at(tmp_path)
    text = PLAN_CONFIG.format(db=world.db, secret_env=SECRET_ENV)
    text = text.replace('base_url = "sandbox:"', f'base_url = "{litmos_sandbox.base_url}/v1.svc"')
    text = text.replace("C-SAFETY", ids["SAFE"]).replace("C-CRM", ids["CRM"])
    world.config.write_text(text, encoding="utf-8")
    admin.set_rate(500, 1.0)
    secret = litmos_sandbox.credentials["apikey"]

    def requests() -> int:
        return sum(sum(by.values()) for by in admin.counters()["requests"].values())

    def plan_then_reconcile(rows: Sequence[dict[str, str]]) -> tuple[int, int]:
        world.export(rows)
        code, data = world.plan_json()
        assert code == 2
        before = requests()
        proc = world.syncd("reconcile", env={SECRET_ENV: secret})
        assert proc.returncode == 0, shown(proc)
        assert world.plan_json()[0] == 0
        return int(data["calls"]), requests() - before

    assert plan_then_reconcile(COMPANY) == (24 + 5 + 3 + 24,) * 2
    predicted, made = plan_then_reconcile(next_month())
    assert predicted == made == 1 + 2 + 2 + 1 + 1 + 2
