"""The result-pull stage against the Litmos simulator over loopback and a real state
database: a first pull backfills, later pulls read from the watermark minus the overlap
in 7-day windows, repeats and overlaps write nothing, a reset is recorded as going back,
and a pull stopped midway resumes from its last finished window."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from syncd.config import ResultsConfig
from syncd.results.pull import pull
from syncd.sandbox.running import RunningSandbox
from syncd.state import results as store
from syncd.state.db import session_factory
from syncd.state.mirror import upsert_user
from syncd.state.models import Result
from syncd.vendors.litmos.connector import LitmosConnector
from tests.fixtures.sandbox import SandboxFactory
from tests.integration.kit import T0, Clock, api, ids, learn, litmos_connection, litmos_on, person

CONN = "lms"
DAY = timedelta(days=1)
SETTINGS = ResultsConfig(start=T0.date())
PEOPLE = ("ann", "bob", "cy", "dee")
ENDPOINTS = ("/org/results/details", "/org/users/courses", "/results/details")


@pytest.fixture
def running(sandbox: SandboxFactory, clock: Clock) -> RunningSandbox:
    return litmos_on(
        sandbox,
        clock,
        {
            "courses": [
                {"code": "SAFE", "name": "Safety", "modules": [{"name": "A"}, {"name": "B"}]},
                {"code": "GDPR", "name": "Privacy", "modules": [{"name": "A"}]},
            ],
            "users": [person(name, courses=["SAFE", "GDPR"]) for name in PEOPLE],
        },
    )


@pytest.fixture
def sessions(state_engine, running):
    """Sessions on the state database, whose mirror knows the four people by HRIS key."""
    made = session_factory(state_engine)
    remote = ids(running)
    with made.begin() as db:
        for n, name in enumerate(PEOPLE):
            upsert_user(
                db,
                CONN,
                f"E{n}",
                match_value=name,
                attrs={},
                active=True,
                remote_id=remote[f"{name}@corp.test"],
                now=T0,
            )
    return made


@pytest.fixture
def connector(running: RunningSandbox) -> Iterator[LitmosConnector]:
    with LitmosConnector(litmos_connection(running)) as made:
        yield made


def reads(running: RunningSandbox) -> int:
    assert running.admin is not None
    table = running.admin.counters()["requests"]
    return sum(sum(table.get(f"GET /v1.svc{path}", {}).values()) for path in ENDPOINTS)


def rows(sessions) -> dict[tuple[str | None, str], tuple[str, datetime | None]]:
    with sessions() as db:
        found = db.query(Result).filter_by(connection=CONN).all()
    codes = {"Safety": "SAFE", "Privacy": "GDPR"}
    keyed = {(r.external_id, codes[r.item_name]): (r.status, r.completed_at) for r in found}
    assert len(keyed) == len(found), "one row per person x course"
    return keyed


def started(sessions) -> dict[tuple[str | None, str], tuple[str, datetime | None]]:
    return {key: value for key, value in rows(sessions).items() if value[0] != "not_started"}


def test_first_pull_backfills_and_later_pulls_read_only_new_windows(running, sessions, connector):
    learn(running, "ann@corp.test", "SAFE", "complete", T0 + 2 * DAY)
    learn(running, "bob@corp.test", "GDPR", "progress", T0 + 10 * DAY, percentage=100)
    learn(running, "cy@corp.test", "SAFE", "progress", T0 + 20 * DAY, percentage=50)

    first = pull(connector, sessions, CONN, SETTINGS, now=T0 + 25 * DAY)
    assert (first.windows, first.reads) == (1, 1), "one /results/details walk backfills"
    assert first.records == first.changed == 8, "every assignment of 4 people x 2 courses"
    assert started(sessions) == {
        ("E0", "SAFE"): ("completed", T0 + 2 * DAY),
        ("E1", "GDPR"): ("completed", T0 + 10 * DAY),
        ("E2", "SAFE"): ("in_progress", None),
    }

    quiet = pull(connector, sessions, CONN, SETTINGS, now=T0 + 25 * DAY + timedelta(hours=1))
    assert (quiet.windows, quiet.reads, quiet.changed) == (1, 2, 0)

    learn(running, "dee@corp.test", "GDPR", "complete", T0 + 27 * DAY)
    learn(running, "cy@corp.test", "SAFE", "complete", T0 + 40 * DAY)
    before = reads(running)
    later = pull(connector, sessions, CONN, SETTINGS, now=T0 + 45 * DAY)
    assert later.windows == 3, "20 days and an hour are three 7-day windows"
    assert later.reads == reads(running) - before == 6, "one read per endpoint per window"
    assert later.changed == 2
    with sessions() as db:
        assert store.watermark(db, CONN) == T0 + 45 * DAY
    assert rows(sessions)[("E3", "GDPR")] == ("completed", T0 + 27 * DAY)
    assert rows(sessions)[("E2", "SAFE")] == ("completed", T0 + 40 * DAY)


def test_the_overlap_rereads_without_duplicating(running, sessions, connector):
    minutes = timedelta(minutes=1)
    pull(connector, sessions, CONN, SETTINGS, now=T0 + 5 * DAY)
    learn(running, "ann@corp.test", "SAFE", "complete", T0 + 5 * DAY - 20 * minutes)
    late = pull(connector, sessions, CONN, SETTINGS, now=T0 + 6 * DAY)
    assert late.changed == 1, "a change the vendor stamped before the watermark is caught"
    repeat = pull(connector, sessions, CONN, SETTINGS, now=T0 + 6 * DAY + 30 * minutes)
    assert (repeat.records, repeat.changed) == (0, 0)
    learn(running, "bob@corp.test", "GDPR", "complete", T0 + 6 * DAY + 10 * minutes)
    fresh = pull(connector, sessions, CONN, SETTINGS, now=T0 + 6 * DAY + 40 * minutes)
    assert (fresh.records, fresh.changed) == (1, 1)
    again = pull(connector, sessions, CONN, SETTINGS, now=T0 + 6 * DAY + 50 * minutes)
    assert (again.records, again.changed) == (1, 0), "the overlap reads it again, writes nothing"
    assert len(rows(sessions)) == 8
    assert started(sessions) == {
        ("E0", "SAFE"): ("completed", T0 + 5 * DAY - 20 * minutes),
        ("E1", "GDPR"): ("completed", T0 + 6 * DAY + 10 * minutes),
    }


def test_a_reset_course_is_recorded_as_going_back(running, sessions, connector, clock):
    learn(running, "ann@corp.test", "SAFE", "complete", T0 + DAY)
    pull(connector, sessions, CONN, SETTINGS, now=T0 + 2 * DAY)
    remote = ids(running)
    clock.now = T0 + 3 * DAY
    with api(running) as http:
        answer = http.put(f"/users/{remote['ann@corp.test']}/courses/{remote['SAFE']}/reset")
        assert answer.status_code < 300, answer.text
    after = pull(connector, sessions, CONN, SETTINGS, now=T0 + 4 * DAY)
    assert after.changed == 1
    with sessions() as db:
        (row,) = (
            db.query(Result).filter_by(connection=CONN, external_id="E0", item_name="Safety").all()
        )
    assert row.status in ("not_started", "in_progress") and row.previous_status == "completed"
    assert row.regressed_at is not None


def test_a_stopped_pull_resumes_from_its_last_finished_window(running, sessions, connector):
    pull(connector, sessions, CONN, SETTINGS, now=T0 + DAY)
    for n, name in enumerate(PEOPLE):
        learn(running, f"{name}@corp.test", "SAFE", "complete", T0 + (3 + 7 * n) * DAY)
    stop = threading.Event()

    class StopAfterSecondWindow:
        def window(self, connection, index, count, window):
            if index == 2:
                stop.set()

        def records(self, connection, read, changed):
            return None

    now = T0 + 30 * DAY
    cut = pull(
        connector, sessions, CONN, SETTINGS, now=now, progress=StopAfterSecondWindow(), stop=stop
    )
    assert cut.stopped and cut.windows == 2
    with sessions() as db:
        mark = store.watermark(db, CONN)
    assert mark is not None and mark < now
    rest = pull(connector, sessions, CONN, SETTINGS, now=now)
    assert not rest.stopped and rest.since == mark - SETTINGS.overlap_delta
    assert {k for k, v in started(sessions).items() if v[0] == "completed"} == {
        (f"E{n}", "SAFE") for n in range(len(PEOPLE))
    }
