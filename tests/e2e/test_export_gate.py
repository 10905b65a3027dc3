"""The export integrity gate as a cron job meets it: `syncd reconcile` on the Litmos sandbox.

After a good first sync, each bad export (truncated, the same file again, stale, a new
column, a column gone blank) stops the run with one line naming the file and the check,
makes no vendor call at all, and is recorded; the next good export goes through.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from sqlalchemy import select

from syncd.state.db import create_engine_for, session_factory
from syncd.state.models import Run, SourceFile
from syncd.state.runs import gate_failures
from tests.e2e.kit import HEADER, company, result, write_export

PEOPLE = 60
"""Above the gate's default ``empty_min_rows`` (50), so the empty-share check applies."""


def _write(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _calls_since(setup, mark: int) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    assert setup.sandbox.admin is not None
    return list(setup.sandbox.admin.log(since=mark))


def _runs(db_url: str) -> list[tuple[str, str | None]]:
    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as db:
            return [(r.status, r.message) for r in db.scalars(select(Run).order_by(Run.id))]
    finally:
        engine.dispose()


def _gate_checks(db_url: str) -> tuple[list[str | None], dict[tuple[str, str, str], int]]:
    engine = create_engine_for(db_url)
    try:
        with session_factory(engine)() as db:
            checks = list(db.scalars(select(SourceFile.gate_check).order_by(SourceFile.id)))
            return checks, gate_failures(db)
    finally:
        engine.dispose()


def test_bad_exports_stop_before_any_call_and_the_next_good_one_goes_through(world):
    rows = company(PEOPLE)
    setup = world(rows)
    with setup.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[sources.hris.integrity]\nmax_age = "26h"\nsame_file = true\n')
    first = setup.reconcile()
    assert first.returncode == 0, result(first)

    # The same file again (a cron rerun): nothing new, exit 0, not a call.
    mark = setup.log_mark()
    again = setup.reconcile()
    assert again.returncode == 0, result(again)
    assert "nothing new" in again.stdout and "already processed" in again.stdout
    assert _calls_since(setup, mark) == []

    bad: list[tuple[str, str, object]] = [
        ("min_source_ratio", "truncated", rows[: PEOPLE // 2]),
        ("header", "a new column", ("Site", rows)),
        ("empty_share", "Title gone blank", [{**r, "Title": ""} for r in rows]),
        ("stale", "three days old", "stale"),
    ]
    for check, what, export in bad:
        if isinstance(export, tuple):
            column, data = export
            _write(setup.export, [{**r, column: "HQ"} for r in data], [*HEADER, column])
        elif export == "stale":
            write_export(setup.export, [*rows[1:], rows[0]])
            old = time.time() - 3 * 86400
            os.utime(setup.export, (old, old))
        else:
            assert isinstance(export, list)
            write_export(setup.export, export)
        mark = setup.log_mark()
        if check == "min_source_ratio":
            # A safeguard, not the gate: safe ops would flow, destructive ones are held,
            # the file is not the next baseline and its absences count for nobody.
            shrunk = setup.reconcile()
            assert shrunk.returncode == 7, f"{what}: {result(shrunk)}"
            assert "min_source_ratio" in shrunk.stdout and "looks truncated" in shrunk.stdout
            assert _calls_since(setup, mark) == [], what
            status, message = _runs(setup.db_url)[-1]
            assert status == "partial" and message is not None and check in message, what
            continue
        # --allow-mass-change passes a safeguard, never the gate.
        refused = setup.reconcile("--allow-mass-change")
        assert refused.returncode == 3, f"{what}: {result(refused)}"
        assert check in refused.stdout, f"{what}: {result(refused)}"
        assert _calls_since(setup, mark) == [], what
        status, message = _runs(setup.db_url)[-1]
        assert status == "refused" and message is not None and check in message, what
        assert str(setup.export) in refused.stdout.replace("\n", ""), what
        planned = setup.syncd("plan")
        assert planned.returncode == 3, f"plan, {what}: {result(planned)}"
        assert f"integrity gate ({check})" in planned.stderr + planned.stdout

    checks, failures = _gate_checks(setup.db_url)
    assert [c for c in checks if c] == ["header", "empty_share", "stale"]
    assert failures == {
        ("lms", "hris", "header"): 1,
        ("lms", "hris", "empty_share"): 1,
        ("lms", "hris", "stale"): 1,
    }

    # A deliberate rerun of the stale file passes that check only.
    mark = setup.log_mark()
    accepted = setup.reconcile("--accept-file", "stale")
    assert accepted.returncode == 0, result(accepted)

    # The next good export: a hire goes through.
    hire = {**rows[0], "Employee ID": "9999", "Email": "new.hire@corp.test"}
    hire["Username"] = hire["Email"]
    write_export(setup.export, [*rows, hire])
    mark = setup.log_mark()
    good = setup.reconcile()
    assert good.returncode == 0, result(good)
    assert any(e["method"] == "POST" for e in _calls_since(setup, mark))
    assert _runs(setup.db_url)[-1][0] == "succeeded"
