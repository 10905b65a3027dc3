"""Litmos result pulls against the simulator over loopback: learners progress and complete
courses and learning paths through the sandbox admin API, and ``results(window)`` finds
exactly those changes with the fewest reads the delta endpoints' paging allows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from syncd.config import Assign, ConnectionConfig, Rule
from syncd.sandbox.running import RunningSandbox
from syncd.vendors.base import ResultRecord, ResultStatus, Window
from syncd.vendors.litmos.connector import LitmosConnector
from syncd.vendors.litmos.results import AssignmentRow
from tests.fixtures.sandbox import SandboxFactory
from tests.integration.kit import T0, Clock, api, ids, learn, litmos_connection, litmos_on, person

T1 = T0 + timedelta(days=30)
WEEK = timedelta(days=7)
ENDPOINTS = ("/org/learningpaths/results", "/org/users/courses", "/org/results/details")


@pytest.fixture
def running(sandbox: SandboxFactory, clock: Clock) -> RunningSandbox:
    return litmos_on(
        sandbox,
        clock,
        {
            "courses": [
                {"code": "SAFE", "name": "Safety", "modules": [{"name": "A"}, {"name": "B"}]},
                {"code": "GDPR", "name": "Privacy", "modules": [{"name": "A"}]},
                {"code": "LEAD", "name": "Leading", "modules": [{"name": "A"}]},
            ],
            "learning_paths": [{"name": "Onboarding", "courses": ["SAFE", "GDPR"]}],
            "users": [
                person("ann", courses=["SAFE", "LEAD"]),
                person("bob", courses=["GDPR"]),
                person("cy", learning_paths=["Onboarding"]),
                *(person(f"u{n}", courses=["LEAD"]) for n in range(5)),
            ],
        },
    )


def connection(running: RunningSandbox, **options: Any) -> ConnectionConfig:
    base = litmos_connection(running)
    return base.model_copy(update={"options": {**base.options, **options}})


@pytest.fixture
def connector(running: RunningSandbox) -> Iterator[LitmosConnector]:
    with LitmosConnector(connection(running, learning_path_results=True)) as made:
        yield made


def reads(running: RunningSandbox) -> dict[str, int]:
    """GET requests per delta endpoint so far."""
    assert running.admin is not None
    table = running.admin.counters()["requests"]
    return {
        path: sum(table.get(f"GET /v1.svc{path}", {}).values())
        for path in (*ENDPOINTS, "/results/details")
    }


def pull(
    running: RunningSandbox, connector: LitmosConnector, window: Window
) -> tuple[dict[tuple[str, str, str], ResultRecord], dict[str, int]]:
    before = reads(running)
    records = list(connector.results(window))
    after = reads(running)
    keyed = {(r.remote_user_id, r.item_kind, r.item_id): r for r in records}
    assert len(keyed) == len(records), "one record per person x item"
    return keyed, {path: after[path] - before[path] for path in after}


def test_a_week_of_learning_is_found_exactly_with_one_read_per_endpoint(running, connector):
    at = ids(running)
    learn(running, "ann@corp.test", "SAFE", "complete", T1)
    learn(running, "bob@corp.test", "GDPR", "progress", T1 + timedelta(hours=1), percentage=50)
    learn(running, "cy@corp.test", "SAFE", "complete", T1 + timedelta(hours=2))
    learn(running, "ann@corp.test", "LEAD", "start", T1 + timedelta(days=6))

    found, spent = pull(running, connector, Window(T1 - timedelta(days=1), T1 + timedelta(days=6)))

    ann, bob, cy = at["ann@corp.test"], at["bob@corp.test"], at["cy@corp.test"]
    assert set(found) == {
        (ann, "course", at["SAFE"]),
        (bob, "course", at["GDPR"]),
        (cy, "course", at["SAFE"]),
        (cy, "learning_path", at["Onboarding"]),
    }
    done = found[(ann, "course", at["SAFE"])]
    assert (done.status, done.completed, done.percentage) == (ResultStatus.COMPLETED, True, 100)
    assert done.completed_at == T1 and done.started_at == T1 and done.updated_at == T1
    assert done.assigned_at == T0 and done.item_name == "Safety"
    assert done.username == "ann@corp.test" and done.course_id == at["SAFE"]
    half = found[(bob, "course", at["GDPR"])]
    assert (half.status, half.percentage, half.completed_at) == (
        ResultStatus.IN_PROGRESS,
        50,
        None,
    )
    path = found[(cy, "learning_path", at["Onboarding"])]
    assert (path.status, path.percentage, path.item_name) == (
        ResultStatus.IN_PROGRESS,
        50,
        "Onboarding",
    )
    assert path.assigned_at == T0 and path.updated_at == T1 + timedelta(hours=2)
    assert spent == {**dict.fromkeys(ENDPOINTS, 1), "/results/details": 0}


def test_a_completed_learning_path(running, connector):
    at = ids(running)
    learn(running, "cy@corp.test", "SAFE", "complete", T1)
    learn(running, "cy@corp.test", "GDPR", "complete", T1 + timedelta(days=2))
    found, _ = pull(running, connector, Window(T1 + timedelta(days=1), T1 + timedelta(days=3)))
    path = found[(at["cy@corp.test"], "learning_path", at["Onboarding"])]
    assert (path.status, path.completed, path.percentage) == (ResultStatus.COMPLETED, True, 100)
    assert path.completed_at == T1 + timedelta(days=2)
    assert set(found) == {
        (at["cy@corp.test"], "course", at["GDPR"]),
        (at["cy@corp.test"], "learning_path", at["Onboarding"]),
    }


def test_nothing_new_costs_one_read_per_endpoint(running, connector):
    found, spent = pull(running, connector, Window(T1, T1 + WEEK))
    assert found == {}
    assert spent == {**dict.fromkeys(ENDPOINTS, 1), "/results/details": 0}


def test_learning_paths_are_read_only_where_the_connection_syncs_them(running):
    learn(running, "cy@corp.test", "SAFE", "complete", T1)
    with LitmosConnector(connection(running)) as plain:
        found, spent = pull(running, plain, Window(T1, T1 + WEEK))
    assert {kind for _, kind, _ in found} == {"course"}
    assert spent["/org/learningpaths/results"] == 0
    rule = Rule(name="onboard", assign=Assign(learning_paths=["LP1"]))
    by_rule = connection(running).model_copy(update={"rules": [rule]})
    with LitmosConnector(by_rule) as reads_paths:
        assert reads_paths.learning_path_results
    off = connection(running, learning_path_results=False).model_copy(update={"rules": [rule]})
    with LitmosConnector(off) as told_not_to:
        assert not told_not_to.learning_path_results


@pytest.mark.parametrize(("changes", "expected"), [(5, 3), (4, 3), (1, 1)])
def test_reads_are_the_fewest_the_paging_allows(running, changes, expected):
    """Pages of 2 rows: a window of n changed rows costs floor(n/2)+1 reads per endpoint
    (the last, short or empty, page is how the endpoint says it is done)."""
    learners = [f"u{n}@corp.test" for n in range(changes)]
    for n, learner in enumerate(learners):
        learn(running, learner, "LEAD", "complete", T1 + timedelta(minutes=n))
    with LitmosConnector(connection(running, page_size=2)) as small_pages:
        found, spent = pull(running, small_pages, Window(T1, T1 + WEEK))
    assert len(found) == changes
    assert spent["/org/results/details"] == expected == changes // 2 + 1
    assert spent["/org/users/courses"] == expected


def test_assignment_changes_appear(running, connector, clock):
    at = ids(running)
    dan = at["bob@corp.test"]
    clock.now = T1 + timedelta(hours=3)
    with api(running) as http:
        assert http.post(f"/users/{dan}/courses", json=[{"Id": at["LEAD"]}]).status_code == 201
        clock.now = T1 + timedelta(hours=4)
        assert http.delete(f"/users/{dan}/courses/{at['GDPR']}").status_code == 200
    found, spent = pull(running, connector, Window(T1, T1 + timedelta(days=1)))
    new = found[(dan, "course", at["LEAD"])]
    assert (new.status, new.assigned_at, new.updated_at) == (
        ResultStatus.NOT_STARTED,
        T1 + timedelta(hours=3),
        T1 + timedelta(hours=3),
    )
    assert new.raw["Active"] == "true"
    removed = found[(dan, "course", at["GDPR"])]
    assert removed.raw["Active"] == "false" and removed.assigned_at == T0
    assert len(found) == 2
    assert spent == {**dict.fromkeys(ENDPOINTS, 1), "/results/details": 0}


def test_a_window_is_widened_to_whole_seconds(running, connector):
    at = ids(running)
    moment = T1 + timedelta(seconds=10)
    learn(running, "ann@corp.test", "SAFE", "complete", moment)
    inside = Window(moment + timedelta(microseconds=300), moment + timedelta(microseconds=600))
    found, spent = pull(running, connector, inside)
    assert set(found) == {(at["ann@corp.test"], "course", at["SAFE"])}
    assert spent["/org/results/details"] == 1


def test_a_window_longer_than_seven_days_is_read_in_pieces(running, connector):
    learn(running, "ann@corp.test", "SAFE", "complete", T1 + timedelta(days=10))
    found, spent = pull(running, connector, Window(T1, T1 + timedelta(days=15)))
    assert len(found) == 1
    assert spent["/org/results/details"] == 3


def test_backfill_reads_results_since_a_date_in_one_walk(running, connector):
    at = ids(running)
    learn(running, "ann@corp.test", "SAFE", "complete", T1)
    learn(running, "bob@corp.test", "GDPR", "progress", T1 + timedelta(days=20), percentage=50)
    learn(running, "cy@corp.test", "GDPR", "complete", T1 + timedelta(days=40))
    before = reads(running)
    records = list(connector.results_backfill(T1, T1 + timedelta(days=35)))
    after = reads(running)
    spent = {path: after[path] - before[path] for path in after}
    courses = {(r.remote_user_id, r.item_id): r for r in records if r.item_kind == "course"}
    assert set(courses) == {(at["ann@corp.test"], at["SAFE"]), (at["bob@corp.test"], at["GDPR"])}
    done = courses[(at["ann@corp.test"], at["SAFE"])]
    assert (done.status, done.completed_at, done.item_name) == (
        ResultStatus.COMPLETED,
        T1,
        "Safety",
    )
    assert "LoginKey" not in done.raw and not any("loginkey" in v for v in done.raw.values())
    assert spent["/results/details"] == 1
    assert spent["/org/learningpaths/results"] == 5, "35 days of path results: 5 windows"
    assert spent["/org/results/details"] == spent["/org/users/courses"] == 0


def test_assignments_without_their_result_row_are_read_25_users_a_call(running, connector):
    """Where an assignment changed but its result row did not (not something the simulator
    does by itself), the pair's current state comes from ``POST /users/courses``; a removed
    assignment is not asked for (Litmos no longer lists it)."""
    at = ids(running)
    learners = ["ann@corp.test", *(f"u{n}@corp.test" for n in range(5))]
    changed = {(at[name], at["LEAD"]): AssignmentRow(T0, T1, True) for name in learners}
    changed[(at["bob@corp.test"], at["GDPR"])] = AssignmentRow(T0, T1, False)
    assert running.admin is not None
    before = running.admin.counters()["requests"].get("POST /v1.svc/users/courses", {})
    records = list(connector._assignments_alone(changed))
    after = running.admin.counters()["requests"]["POST /v1.svc/users/courses"]
    assert sum(after.values()) - sum(before.values()) == 1
    assert {(r.remote_user_id, r.item_id) for r in records} == {
        (at[name], at["LEAD"]) for name in learners
    }
    assert all(r.assigned_at == T0 and r.status is ResultStatus.NOT_STARTED for r in records)
