"""SCORM Cloud simulator over HTTP: courses, seeding and the vendor admin endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox, start_sandbox
from syncd.sandbox.scormcloud import create_simulator
from tests.unit.sandbox.kit import ISO_MS_Z, FakeClock, ScormEnv, client_for

_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator(page_size=2, async_delay=0, clock=_CLOCK)) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    _CLOCK.now = _START
    return _CLOCK


@pytest.fixture
def env(server: RunningSandbox, clock: FakeClock) -> Iterator[ScormEnv]:
    assert server.admin is not None
    server.admin.reset()
    with client_for(server.base_url) as http:
        yield ScormEnv(server, http)


def test_course_shape_and_counts(env: ScormEnv) -> None:
    env.admin.seed({"courses": [{"id": "C1", "title": "Safety", "version": 2, "tags": ["ehs"]}]})
    env.create("R1", course="C1")
    body = env.http.get("/courses/C1").json()
    assert body["id"] == "C1" and body["title"] == "Safety" and body["version"] == 2
    assert body["tags"] == ["ehs"] and body["courseLearningStandard"] == "SCORM20043RDEDITION"
    assert re.match(ISO_MS_Z, body["created"]) and re.match(ISO_MS_Z, body["updated"])
    assert "registrationCount" not in body and "metadata" not in body
    counted = env.http.get(
        "/courses/C1", params={"includeRegistrationCount": "true", "includeCourseMetadata": "true"}
    ).json()
    assert counted["registrationCount"] == 1 and counted["metadata"]["title"] == "Safety"
    assert env.http.get("/courses/NOPE").json() == {"message": "Could not find course [NOPE]"}


def test_course_list_paging_and_filters(env: ScormEnv, clock: FakeClock) -> None:
    for cid, title in (("A", "Zeta"), ("B", "alpha"), ("C", "Mid"), ("D", "beta")):
        clock.advance(60)
        env.seed_courses(cid, title=title)
    items, pages = env.list_all("/courses", "courses")
    assert [c["id"] for c in items] == ["D", "C", "B", "A"] and pages == 2  # created_desc
    by_title, _ = env.list_all("/courses", "courses", orderBy="title_asc")
    assert [c["title"] for c in by_title] == ["alpha", "beta", "Mid", "Zeta"]
    found, _ = env.list_all("/courses", "courses", filter="ET", filterBy="title")
    assert sorted(c["id"] for c in found) == ["A", "D"]
    # datetimeFilter defaults to updated for courses: re-seeding A moves it into the window
    clock.advance(600)
    env.seed_courses("A", title="Zeta 2")
    recent, _ = env.list_all("/courses", "courses", since="2024-03-01T12:10:00Z")
    assert [c["id"] for c in recent] == ["A"]
    created, _ = env.list_all(
        "/courses", "courses", since="2024-03-01T12:10:00Z", datetimeFilter="created"
    )
    assert created == []


def test_course_tags_title_and_delete(env: ScormEnv) -> None:
    env.seed_courses("C1", "C2")
    env.create("R1", course="C1")
    assert env.http.put("/courses/C1/tags", json={"tags": ["x", "y"]}).status_code == 204
    assert env.http.request("DELETE", "/courses/C1/tags", json={"tags": ["x"]}).status_code == 204
    assert env.http.get("/courses/C1/tags").json() == {"tags": ["y"]}
    assert (
        env.http.put("/courses/tags", json={"ids": ["C1", "C2"], "tags": ["b"]}).status_code == 204
    )
    assert env.http.get("/courses/C2/tags").json() == {"tags": ["b"]}
    assert env.http.put("/courses/tags", json={"ids": ["NOPE"], "tags": ["b"]}).status_code == 404
    assert env.http.put("/courses/C1/title", json={"title": "Renamed"}).status_code == 204
    assert env.http.get("/registrations/R1").json()["course"]["title"] == "Renamed"
    assert env.http.put("/courses/C1/title", json={}).status_code == 400
    assert env.http.delete("/courses/C1").status_code == 204
    assert env.http.get("/courses/C1").status_code == 404
    assert env.http.head("/registrations/R1").status_code == 404  # went with its course
    assert env.http.delete("/courses/C1").status_code == 404


def test_seed_is_all_or_nothing_and_names_the_entry(env: ScormEnv) -> None:
    bad_course = {"courses": [{"id": "OK"}, {"title": "no id"}]}
    with pytest.raises(httpx.HTTPStatusError) as caught:
        env.admin.seed(bad_course)
    assert caught.value.response.status_code == 422
    assert "courses[1]" in caught.value.response.json()["error"]
    bad_reg = {
        "courses": [{"id": "OK"}],
        "registrations": [
            {"courseId": "OK", "registrationId": "R1", "learner": {"id": "L"}},
            {"courseId": "MISSING", "registrationId": "R2", "learner": {"id": "L"}},
        ],
    }
    with pytest.raises(httpx.HTTPStatusError) as caught:
        env.admin.seed(bad_reg)
    assert "registrations[1]" in caught.value.response.json()["error"]
    assert env.http.get("/courses").json() == {"courses": []}
    assert env.http.get("/registrations").json() == {"registrations": []}
    with pytest.raises(httpx.HTTPStatusError):
        env.admin.seed({"course": []})  # typo of "courses"
    good = env.admin.seed(
        {
            "courses": [{"id": "OK"}],
            "registrations": [{"courseId": "OK", "registrationId": "R1", "learner": {"id": "L"}}],
        }
    )
    assert good == {"appId": "SYNCDSANDBOX", "courses": 1, "registrations": 1}
    assert env.http.head("/registrations/R1").status_code == 200


def test_admin_courses_endpoint_and_activity_validation(env: ScormEnv) -> None:
    seeded = env.admin.post("/courses", {"courses": [{"id": "C1", "title": "One"}]})
    assert [c["id"] for c in seeded["courses"]] == ["C1"]
    env.create("R1", course="C1")
    for bad in (
        {"action": "finish"},
        {"action": "complete", "score": 101},
        {"action": "progress", "completionAmount": 2},
        {"action": "start", "seconds": -1},
        {"action": "complete", "success": "GREAT"},
    ):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            env.activity("R1", **bad)
        assert caught.value.response.status_code == 400
    assert env.http.get("/registrations/R1").json()["registrationCompletion"] == "UNKNOWN"
    with pytest.raises(httpx.HTTPStatusError) as caught:
        env.activity("NOPE", action="start")
    assert caught.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as caught:
        env.activity("R1", action="start", appId="NOT-AN-APP")
    assert caught.value.response.status_code == 422
    started = env.activity("R1", action="start", seconds=5)
    assert started["registrationCompletion"] == "INCOMPLETE" and started["totalSecondsTracked"] == 5


def test_settings_change_page_size_and_reset_restores(env: ScormEnv) -> None:
    assert env.admin.post("/settings", {"page_size": 1})["page_size"] == 1
    env.seed_courses("A", "B")
    assert len(env.http.get("/courses").json()["courses"]) == 1
    with pytest.raises(httpx.HTTPStatusError):
        env.admin.post("/settings", {"page_size": 0})
    env.admin.reset()
    assert env.admin.get("/settings")["page_size"] == 2
