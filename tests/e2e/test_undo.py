"""`syncd undo RUN_ID` as an operator meets it against the Litmos sandbox: a reconcile
deactivates a few people, moves two to another team and changes titles; the undo shows the
inverse and sends nothing; `--apply` puts the LMS back, and a reconcile of the same export
does not make the change again."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from syncd.state.db import create_engine_for
from syncd.state.models import Run
from tests.e2e.kit import Setup, company, lms, mirror, result, write_export


def last_run(setup: Setup) -> int:
    engine = create_engine_for(setup.db_url)
    try:
        with engine.connect() as db:
            return int(db.scalar(select(func.max(Run.id)).where(Run.kind == "reconcile")))
    finally:
        engine.dispose()


def titles(setup: Setup) -> dict[str, str]:
    store = setup.sandbox.simulator.store  # type: ignore[attr-defined]
    return {u.fields["UserName"]: u.fields.get("JobTitle", "") for u in store.users.values()}


def test_undo_shows_the_inverse_then_applies_it_and_a_reconcile_does_not_redo_it(world):
    rows = company(20)
    setup = world(rows)
    first = setup.reconcile()
    assert first.returncode == 0, result(first)
    before, before_titles = lms(setup.sandbox), titles(setup)

    changed = [dict(r) for r in rows]
    for n in (0, 1, 2):
        changed[n]["Status"] = "Terminated"
    for n in (3, 4):
        changed[n]["Department"] = "Finance" if changed[n]["Division"] == "Operations" else "Sales"
    for n in (5, 6):
        changed[n]["Title"] = "Chief " + changed[n]["Title"]
    write_export(setup.export, changed)
    second = setup.reconcile()
    assert second.returncode == 0, result(second)
    run = last_run(setup)
    after = lms(setup.sandbox)
    assert after != before and titles(setup) != before_titles

    mark = setup.log_mark()
    shown = setup.syncd("undo", str(run))
    assert shown.returncode == 2, result(shown)
    assert "reactivate" in shown.stdout and "nothing was sent" in shown.stdout
    data = json.loads(setup.syncd("undo", str(run), "--format", "json").stdout)
    assert data["undo"]["run"] == run and data["counts"]["reactivate_user"] == 3
    assert data["counts"]["update_user"] == 2
    assert setup.sandbox.admin.log(since=mark) == [], "showing an undo sends nothing"

    applied = setup.syncd("undo", str(run), "--apply")
    assert applied.returncode == 0, result(applied)
    assert "Fix the export" in applied.stdout
    assert lms(setup.sandbox) == before, "the LMS is as the run found it"
    assert titles(setup) == before_titles
    assert lms(setup.sandbox) == mirror(setup.db_url)

    mark = setup.log_mark()
    again = setup.reconcile()
    assert again.returncode in (0, 7), result(again)
    assert setup.writes_since(mark) == [], "the undone change is not made again"
    assert lms(setup.sandbox) == before

    nothing = setup.syncd("undo", str(run))
    assert nothing.returncode == 0, result(nothing)
    assert "nothing to undo" in nothing.stdout


def test_an_unknown_run_is_one_plain_line(world):
    setup = world(company(3))
    missing = setup.syncd("undo", "999")
    assert missing.returncode == 1
    lines = [line for line in (missing.stdout + missing.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "no run 999 in the state database" in lines[0], lines
