"""`syncd results pull` and `syncd results export` as a user runs them, on the Litmos
sandbox: learners complete the course syncd assigned, the pull finds exactly those
changes, the export holds each completion once under the person's employee id, and a
pull killed with SIGKILL between its windows loses nothing when run again."""

from __future__ import annotations

import csv
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from syncd.sandbox.running import RunningSandbox
from syncd.state import results as store
from syncd.state.db import session_factory
from tests.e2e.kit import company, make_setup, shown, start_killable

RESULTS = """
[results]
start = "{start}"
outbound = "outbound"
columns = ["employee_id", "item_id", "status", "completed_at"]
dates = "datetime"
changes_only = true
"""


def with_results(setup, start: datetime) -> None:
    text = setup.config.read_text(encoding="utf-8")
    setup.config.write_text(text + RESULTS.format(start=start.date().isoformat()), encoding="utf-8")


def learn(sandbox: RunningSandbox, username: str, course: str, at: datetime) -> None:
    assert sandbox.admin is not None
    sandbox.admin.post(
        "/activity",
        {"user": username, "course": course, "action": "complete", "at": at.isoformat()},
    )


def exported(setup, proc) -> list[dict[str, str]]:
    assert proc.returncode == 0, shown(proc)
    path = Path(proc.stdout.split(":")[0].strip())
    assert path.parent == setup.folder / "outbound", proc.stdout
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def whole_seconds(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_completions_reach_the_export_once_each_under_the_employee_id(world):
    people = company(12)
    setup = world(people)
    assert setup.reconcile().returncode == 0
    now = datetime.now(UTC).replace(microsecond=0)
    with_results(setup, now - timedelta(days=30))
    early = {people[n]["Username"]: now - timedelta(days=20 - n) for n in range(4)}
    for username, at in early.items():
        learn(setup.sandbox, username, setup.course, at)

    first = setup.syncd("results", "pull")
    assert first.returncode == 0, shown(first)
    rows = exported(setup, setup.syncd("results", "export"))
    done = {r["employee_id"]: r["completed_at"] for r in rows if r["status"] == "completed"}
    by_user = {p["Username"]: p["Employee ID"] for p in people}
    assert done == {by_user[u]: whole_seconds(at) for u, at in early.items()}
    assert {r["item_id"] for r in rows} == {setup.course}
    assert len(rows) == len(people), "every assignment once, completed or not"

    late = datetime.now(UTC).replace(microsecond=0)
    learn(setup.sandbox, people[7]["Username"], setup.course, late)
    second = setup.syncd("results", "pull")
    assert second.returncode == 0, shown(second)
    changes = exported(setup, setup.syncd("results", "export"))
    assert [(r["employee_id"], r["status"]) for r in changes] == [
        (people[7]["Employee ID"], "completed")
    ], "only the change since the last export"

    quiet = setup.syncd("results", "pull")
    assert quiet.returncode == 0, shown(quiet)
    assert exported(setup, setup.syncd("results", "export")) == []


def test_a_pull_killed_between_windows_loses_nothing(tmp_path, db_url):
    sandbox, switch = start_killable("litmos")
    try:
        people = company(8)
        setup = make_setup(sandbox, tmp_path, db_url, people)
        assert setup.reconcile().returncode == 0, "first sync"
        now = datetime.now(UTC).replace(microsecond=0)
        with_results(setup, now - timedelta(days=40))
        engine = create_engine(db_url)
        try:
            with session_factory(engine).begin() as db:
                store.set_watermark(db, "lms", now - timedelta(days=30))
        finally:
            engine.dispose()
        stamps = {people[n]["Username"]: now - timedelta(days=27 - 6 * n) for n in range(5)}
        for username, at in stamps.items():
            learn(sandbox, username, setup.course, at)

        proc = setup.spawn("results", "pull", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        switch.arm(proc.pid, 5, "answered")
        try:
            proc.communicate(timeout=120)
        finally:
            switch.disarm()
        assert switch.fired.is_set() and proc.returncode == -signal.SIGKILL

        engine = create_engine(db_url)
        try:
            with session_factory(engine)() as db:
                mark = store.watermark(db, "lms")
        finally:
            engine.dispose()
        assert mark is not None and now - timedelta(days=30) < mark < now, "it stopped midway"

        again = setup.syncd("results", "pull")
        assert again.returncode == 0, shown(again)
        rows = exported(setup, setup.syncd("results", "export"))
        done = {r["employee_id"] for r in rows if r["status"] == "completed"}
        by_user = {p["Username"]: p["Employee ID"] for p in people}
        assert done == {by_user[u] for u in stamps}
        assert len(rows) == len({r["employee_id"] for r in rows}), "no one twice"
    finally:
        sandbox.stop()
