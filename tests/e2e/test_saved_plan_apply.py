"""Saved plans as a user meets them against the Litmos sandbox: `syncd plan --out` writes a
file a reviewer reads, `syncd apply` sends exactly its ops, and refuses (exit 3, not one
vendor call) once what it was computed against moved: the mirror (an apply or a reconcile
since), the export, or the file itself."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.kit import Setup, company, lms, mirror, result, write_export

ROWS = company(12)


def planned(setup: Setup, out: Path) -> dict[str, object]:
    """`syncd plan --out` (with the JSON summary, whose ``calls`` the apply must match)."""
    proc = setup.syncd("plan", "--format", "json", "--out", str(out))
    assert proc.returncode == 2, result(proc)
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def first_sync(world) -> Setup:
    setup = world(ROWS[:9])
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    write_export(setup.export, ROWS)
    return setup


def vendor_calls(setup: Setup, mark: int) -> int:
    assert setup.sandbox.admin is not None
    return len(setup.sandbox.admin.log(since=mark))


def test_apply_sends_exactly_the_plan_once(world, tmp_path):
    setup = first_sync(world)
    out = tmp_path / "plan.json"
    summary = planned(setup, out)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["format"] == "syncd-plan/1"
    (entry,) = saved["connections"]
    assert entry["name"] == "lms" and entry["vendor"] == "litmos"
    assert entry["source"]["rows_read"] == 12 and len(entry["source"]["sha256"]) == 64
    assert entry["summary"][0].startswith("lms (litmos): changes pending:")
    assert len(entry["ops"]) == summary["ops"]
    assert setup.sandbox.credentials["apikey"] not in out.read_text(encoding="utf-8")

    mark = setup.log_mark()
    applied = setup.syncd("apply", str(out))
    assert applied.returncode == 0, result(applied)
    assert entry["summary"][0] in applied.stdout, "the reviewer's summary is shown"
    assert vendor_calls(setup, mark) == summary["calls"]
    assert lms(setup.sandbox) == mirror(setup.db_url)

    mark = setup.log_mark()
    again = setup.syncd("apply", str(out))
    assert again.returncode == 3, result(again)
    assert "lms: the mirror moved on since the plan was made" in " ".join(again.stdout.split())
    assert "--allow-mass-change" not in again.stdout, "no override passes a stale plan"
    assert vendor_calls(setup, mark) == 0
    after = setup.reconcile()
    assert after.returncode == 0 and "nothing to change" in after.stdout, result(after)


def test_apply_refuses_what_changed_since(world, tmp_path):
    setup = first_sync(world)
    out = tmp_path / "plan.json"
    planned(setup, out)
    text = out.read_text(encoding="utf-8")
    mark = setup.log_mark()

    write_export(setup.export, [*ROWS[:11], {**ROWS[11], "Title": "Director"}])
    changed = setup.syncd("apply", str(out))
    assert changed.returncode == 3, result(changed)
    assert "lms: the export changed since the plan was made" in " ".join(changed.stdout.split())
    write_export(setup.export, ROWS)

    edited = out.with_name("edited.json")
    document = json.loads(text)
    document["connections"][0]["ops"][0]["payload"]["match_value"] = "someone@else.test"
    edited.write_text(json.dumps(document), encoding="utf-8")
    refused = setup.syncd("apply", str(edited))
    assert refused.returncode == 3, result(refused)
    assert "connection lms: the plan was edited after it was made" in refused.stderr
    assert vendor_calls(setup, mark) == 0, "not one vendor call"

    between = setup.reconcile()
    assert between.returncode == 0, result(between)
    mark = setup.log_mark()
    stale = setup.syncd("apply", str(out))
    assert stale.returncode == 3, result(stale)
    assert "the mirror moved on" in " ".join(stale.stdout.split())
    assert vendor_calls(setup, mark) == 0


def test_apply_stores_held_ops_held(world, tmp_path):
    setup = world(company(30))
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    config = setup.config.read_text(encoding="utf-8")
    grouping = 'columns = ["division", "department"]'
    setup.config.write_text(config.replace(grouping, 'columns = ["job_title"]'), encoding="utf-8")

    out = tmp_path / "plan.json"
    plan = setup.syncd("plan", "--out", str(out))
    assert plan.returncode in (2, 7), result(plan)
    (entry,) = json.loads(out.read_text(encoding="utf-8"))["connections"]
    assert entry["held"], "the mapping change holds the group moves"
    assert any(line.startswith("held ") for line in entry["summary"])

    applied = setup.syncd("apply", str(out))
    assert applied.returncode == 7, result(applied)
    queue = setup.syncd("queue", "list", "--state", "held", "--limit", "1000", "--format", "json")
    (listed,) = json.loads(queue.stdout)
    held = {op["key"] for op in listed["ops"] if op["state"] == "held"}
    assert held == set(entry["held"])
