"""SCORM Cloud simulator over HTTP: auth, registrations, listing with ``more``, learners."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox, start_sandbox
from syncd.sandbox.scormcloud import DEMO_APP_ID, create_simulator
from tests.fixtures.sandbox import SandboxFactory
from tests.unit.sandbox.kit import (
    ISO_MS_Z,
    FakeClock,
    ScormEnv,
    client_for,
)

AUTH_REQUIRED = {"error": "Authorization Required."}


_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    """One server for the module (starting one per test costs ~0.3 s); reset per test."""
    simulator = create_simulator(
        apps={DEMO_APP_ID: "secret-one", "OTHERAPP": "secret-two"},
        page_size=3,
        async_delay=30,
        clock=_CLOCK,
    )
    with start_sandbox(simulator) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    _CLOCK.now = _START
    return _CLOCK


@pytest.fixture
def env(server: RunningSandbox, clock: FakeClock) -> Iterator[ScormEnv]:
    assert server.admin is not None
    server.admin.reset()
    with client_for(server.base_url, DEMO_APP_ID, "secret-one") as http:
        scorm = ScormEnv(server, http)
        scorm.seed_courses("C1", "C2")
        yield scorm


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + "U1lOQ0RTQU5EQk9YOndyb25n"},  # SYNCDSANDBOX:wrong
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer made-up-token"},
        {"Authorization": "Digest abc"},
    ],
)
def test_missing_or_wrong_credentials_get_401_error_body(
    env: ScormEnv, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{env.base_url}/api/v2/registrations", headers=headers)
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


def test_apps_do_not_see_each_other(env: ScormEnv) -> None:
    assert env.create("R1").status_code == 204
    with client_for(env.base_url, "OTHERAPP", "secret-two") as other:
        assert other.head("/registrations/R1").status_code == 404
        assert other.get("/registrations").json() == {"registrations": []}
        # the other app has no courses either
        assert other.get("/courses/C1").status_code == 404


def test_oauth_token_with_scopes_and_expiry(env: ScormEnv, clock: FakeClock) -> None:
    response = env.http.post(
        "/oauth/authenticate/application/token",
        data={"scope": "read:registration write:registration", "expiration": "60"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 60
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    base = f"{env.base_url}/api/v2"
    assert httpx.get(f"{base}/registrations", headers=bearer).status_code == 200
    denied = httpx.get(f"{base}/courses", headers=bearer)
    assert denied.status_code == 403
    assert "read:course" in denied.json()["message"]
    # a token cannot mint tokens
    assert (
        httpx.post(
            f"{base}/oauth/authenticate/application/token", headers=bearer, data={"scope": "read"}
        ).status_code
        == 401
    )
    clock.advance(60)
    expired = httpx.get(f"{base}/registrations", headers=bearer)
    assert expired.status_code == 401 and expired.json() == AUTH_REQUIRED


def test_token_request_needs_scope(env: ScormEnv) -> None:
    response = env.http.post("/oauth/authenticate/application/token", data={"expiration": "60"})
    assert response.status_code == 400
    assert "scope" in response.json()["message"]


def test_ping_and_double_slash_paths(env: ScormEnv) -> None:
    """The official client's default host ends in ``/`` and its paths start with ``/``."""
    ping = env.http.get("/ping")
    assert ping.status_code == 200 and ping.json()["apiMessage"] == "pong"
    assert re.match(ISO_MS_Z, ping.json()["currentTime"])
    about = env.http.get("/about")
    assert about.status_code == 200 and set(about.json()) == {"version", "distribution"}
    assert (
        httpx.get(f"{env.base_url}/api/v2//ping", auth=(DEMO_APP_ID, "secret-one")).status_code
        == 200
    )


# --------------------------------------------------------------------------- create


def test_create_registration_answers_204_without_body(env: ScormEnv) -> None:
    response = env.create("R1", learnerTags=["hr"], registrationTags=["wave1"])
    assert response.status_code == 204
    assert response.content == b""
    assert env.admin.counters()["creates"] == {"R1": 1}


def test_duplicate_registration_id_is_400_already_exists(env: ScormEnv) -> None:
    assert env.create("R1").status_code == 204
    again = env.create("R1", course="C2", learner="someone-else")
    assert again.status_code == 400
    assert again.json()["message"].startswith("Registration with id [R1] already exists")
    # nothing changed: still the first course and learner
    detail = env.http.get("/registrations/R1").json()
    assert detail["course"]["id"] == "C1" and detail["learner"]["id"] == "L1"
    assert env.admin.counters()["creates"] == {"R1": 1}


def test_unknown_course_is_404(env: ScormEnv) -> None:
    response = env.create("R1", course="NOPE")
    assert response.status_code == 404
    assert response.json() == {"message": "Could not find course [NOPE]"}
    assert env.http.head("/registrations/R1").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"registrationId": "R", "learner": {"id": "L"}}, "courseId"),
        ({"courseId": "C1", "learner": {"id": "L"}}, "registrationId"),
        ({"courseId": "C1", "registrationId": "R"}, "learner"),
        ({"courseId": "C1", "registrationId": "R", "learner": {"email": "a@b"}}, "id"),
        ({"courseId": "C1", "registrationId": "R", "learner": {"id": 5}}, "id"),
        (
            {
                "courseId": "C1",
                "registrationId": "R",
                "learner": {"id": "L"},
                "xapiRegistrationId": "x",
            },
            "xapiRegistrationId",
        ),
        (
            {
                "courseId": "C1",
                "registrationId": "R",
                "learner": {"id": "L"},
                "postBack": {"url": "http://x", "authType": "form"},
            },
            "authType",
        ),
        (
            {
                "courseId": "C1",
                "registrationId": "R",
                "learner": {"id": "L"},
                "registrationTags": "a",
            },
            "registrationTags",
        ),
    ],
)
def test_invalid_create_bodies_are_400_naming_the_field(
    env: ScormEnv, body: dict[str, object], field: str
) -> None:
    response = env.http.post("/registrations", json=body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert env.http.get("/registrations").json()["registrations"] == []


def test_malformed_json_is_400_message(env: ScormEnv) -> None:
    response = env.http.post(
        "/registrations", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"message"}


def test_course_version_must_exist(env: ScormEnv) -> None:
    env.seed_courses("V", version=2)
    ok = env.http.post(
        "/registrations",
        params={"courseVersion": 1},
        json={"courseId": "V", "registrationId": "R1", "learner": {"id": "L"}},
    )
    assert ok.status_code == 204
    assert env.http.get("/registrations/R1").json()["course"]["version"] == 1
    missing = env.http.post(
        "/registrations",
        params={"courseVersion": 3},
        json={"courseId": "V", "registrationId": "R2", "learner": {"id": "L"}},
    )
    assert missing.status_code == 404


# --------------------------------------------------------------------------- read, delete


def test_head_is_existence_check_without_body(env: ScormEnv) -> None:
    env.create("R1")
    found = env.http.head("/registrations/R1")
    assert found.status_code == 200 and found.content == b""
    missing = env.http.head("/registrations/R2")
    assert missing.status_code == 404 and missing.content == b""


def test_progress_shape_before_and_after_activity(env: ScormEnv, clock: FakeClock) -> None:
    env.create("R1", registrationTags=["t1"], learner="L1")
    fresh = env.http.get("/registrations/R1").json()
    assert fresh["registrationCompletion"] == "UNKNOWN"
    assert fresh["registrationSuccess"] == "UNKNOWN"
    assert fresh["totalSecondsTracked"] == 0
    assert "score" not in fresh and "completedDate" not in fresh and "activityDetails" not in fresh
    assert fresh["course"] == {"id": "C1", "title": "Title C1", "version": 0}
    assert fresh["learner"] == {"id": "L1", "firstName": "Ada", "lastName": "Lovelace"}
    assert fresh["tags"] == ["t1"] and fresh["instance"] == 0
    assert re.match(ISO_MS_Z, fresh["createdDate"]) and fresh["updated"] == fresh["createdDate"]
    assert re.match(r"^[0-9a-f-]{36}$", fresh["xapiRegistrationId"])

    clock.advance(10)
    env.activity("R1", action="start", seconds=30)
    clock.advance(10)
    env.activity("R1", action="progress", seconds=15, completionAmount=0.5)
    clock.advance(10)
    env.activity("R1", action="complete", score=87.5, success="PASSED", seconds=15)
    done = env.http.get("/registrations/R1", params={"includeChildResults": "true"}).json()
    assert done["registrationCompletion"] == "COMPLETED"
    assert done["registrationSuccess"] == "PASSED"
    assert done["score"] == {"scaled": 87.5}
    assert done["totalSecondsTracked"] == 60
    assert done["registrationCompletionAmount"] == 1.0
    assert done["firstAccessDate"] == "2024-03-01T12:00:10.000Z"
    assert done["completedDate"] == done["lastAccessDate"] == "2024-03-01T12:00:30.000Z"
    assert done["updated"] == "2024-03-01T12:00:30.000Z"
    assert done["activityDetails"]["activityCompletion"] == "COMPLETED"
    assert done["activityDetails"]["timeTracked"] == "0000:01:00.00"


def test_unknown_registration_is_404_message(env: ScormEnv) -> None:
    response = env.http.get("/registrations/NOPE")
    assert response.status_code == 404
    assert response.json() == {"message": "Could not find registration [NOPE]"}


def test_delete_then_404(env: ScormEnv) -> None:
    env.create("R1")
    assert env.http.delete("/registrations/R1").status_code == 204
    assert env.http.head("/registrations/R1").status_code == 404
    assert env.http.delete("/registrations/R1").status_code == 404
    # the id is free again
    assert env.create("R1").status_code == 204


def test_reset_progress_keeps_registration(env: ScormEnv) -> None:
    env.create("R1")
    env.activity("R1", action="complete", score=50, success="FAILED")
    assert env.http.delete("/registrations/R1/progress").status_code == 204
    detail = env.http.get("/registrations/R1").json()
    assert detail["registrationCompletion"] == "UNKNOWN" and "score" not in detail
    assert env.http.post("/registrations/R1/instances").status_code == 204
    assert env.http.get("/registrations/R1").json()["instance"] == 1


def test_registration_tags(env: ScormEnv) -> None:
    env.create("R1")
    env.create("R2")
    assert env.http.put("/registrations/R1/tags", json={"tags": ["a", "b"]}).status_code == 204
    assert env.http.put("/registrations/R1/tags", json={"tags": ["b", "c"]}).status_code == 204
    assert env.http.get("/registrations/R1/tags").json() == {"tags": ["a", "b", "c"]}
    gone = env.http.request("DELETE", "/registrations/R1/tags", json={"tags": ["a", "zz"]})
    assert gone.status_code == 204
    assert env.http.get("/registrations/R1/tags").json() == {"tags": ["b", "c"]}
    batch = env.http.put("/registrations/tags", json={"ids": ["R1", "R2"], "tags": ["x"]})
    assert batch.status_code == 204
    assert env.http.get("/registrations/R2/tags").json() == {"tags": ["x"]}
    missing = env.http.put("/registrations/tags", json={"ids": ["R1", "NOPE"], "tags": ["y"]})
    assert missing.status_code == 404
    assert "y" not in env.http.get("/registrations/R1/tags").json()["tags"]
    assert env.http.put("/registrations/tags", json={"ids": ["R1"]}).status_code == 400
    assert env.http.get("/registrations/NOPE/tags").status_code == 404


def test_launch_link(env: ScormEnv) -> None:
    env.create("R1")
    link = env.http.post("/registrations/R1/launchLink", json={"redirectOnExitUrl": "http://x"})
    assert link.status_code == 200 and "R1" in link.json()["launchLink"]
    bad = env.http.post(
        "/registrations/R1/launchLink", json={"redirectOnExitUrl": "x", "expiry": 5}
    )
    assert bad.status_code == 400
    assert env.http.post("/registrations/R1/launchLink", json={}).status_code == 400


# --------------------------------------------------------------------------- list


def _make(env: ScormEnv, clock: FakeClock, count: int, **kwargs: str) -> None:
    for index in range(count):
        clock.advance(60)
        assert env.create(f"R{index}", **kwargs).status_code == 204


def test_list_pages_through_more_to_the_end(env: ScormEnv, clock: FakeClock) -> None:
    _make(env, clock, 8)
    items, pages = env.list_all("/registrations", "registrations")
    assert pages == 3  # page size 3
    # default order: created_desc
    assert [r["id"] for r in items] == [f"R{i}" for i in reversed(range(8))]
    last = env.http.get("/registrations", params={"orderBy": "created_asc"}).json()
    assert [r["id"] for r in last["registrations"]] == ["R0", "R1", "R2"]
    assert isinstance(last["more"], str)


def test_list_more_with_other_filters_is_400(env: ScormEnv, clock: FakeClock) -> None:
    _make(env, clock, 4)
    more = env.http.get("/registrations").json()["more"]
    refused = env.http.get("/registrations", params={"more": more, "courseId": "C1"})
    assert refused.status_code == 400
    assert "courseId" in refused.json()["message"]
    garbage = env.http.get("/registrations", params={"more": "abc"})
    assert garbage.status_code == 400


def test_list_since_until_default_created(env: ScormEnv, clock: FakeClock) -> None:
    _make(env, clock, 5)  # created 12:01 .. 12:05
    clock.advance(60)
    env.activity("R0", action="start")  # updated 12:06, created 12:01
    window = {"since": "2024-03-01T12:02:00Z", "until": "2024-03-01T12:04:00Z"}
    created, _ = env.list_all("/registrations", "registrations", **window)
    assert sorted(r["id"] for r in created) == ["R1", "R2", "R3"]  # inclusive both ends
    updated, _ = env.list_all(
        "/registrations",
        "registrations",
        since="2024-03-01T12:05:30",  # naive: UTC
        datetimeFilter="updated",
    )
    assert [r["id"] for r in updated] == ["R0"]
    offset, _ = env.list_all(
        "/registrations",
        "registrations",
        since="2024-03-01T13:05:00+01:00",
        until="2024-03-01T12:05:00Z",
    )
    assert [r["id"] for r in offset] == ["R4"]
    bad = env.http.get("/registrations", params={"datetimeFilter": "launched"})
    assert bad.status_code == 400


def test_list_filters_course_learner_tags(env: ScormEnv) -> None:
    env.create("A", course="C1", learner="L1", registrationTags=["red"])
    env.create("B", course="C2", learner="L1", registrationTags=["blue"])
    env.create("C", course="C2", learner="L2")

    def ids(**params: str) -> list[str]:
        items, _ = env.list_all("/registrations", "registrations", **params)
        return sorted(r["id"] for r in items)

    assert ids(courseId="C2") == ["B", "C"]
    assert ids(learnerId="L1") == ["A", "B"]
    assert ids(courseId="C2", learnerId="L1") == ["B"]
    assert ids(tags="red,blue") == ["A", "B"]  # any tag matches
    assert ids(courseId="NOPE") == []  # unknown filter value: 200, empty
    assert ids(filter="b") == ["B"]
    assert ids(filter="ad", filterBy="learner_first_name") == ["A", "B", "C"]


def test_list_total_count_header_only_on_first_page(env: ScormEnv, clock: FakeClock) -> None:
    _make(env, clock, 5)
    first = env.http.get("/registrations", params={"includeTotalCount": "true"})
    assert first.headers["X-Total-Count"] == "5"
    second = env.http.get("/registrations", params={"more": first.json()["more"]})
    assert "X-Total-Count" not in second.headers


def test_list_include_child_results_carries_through_more(env: ScormEnv, clock: FakeClock) -> None:
    _make(env, clock, 4)
    first = env.http.get("/registrations", params={"includeChildResults": "true"}).json()
    assert all("activityDetails" in r for r in first["registrations"])
    second = env.http.get(
        "/registrations", params={"more": first["more"], "includeChildResults": "true"}
    ).json()
    assert all("activityDetails" in r for r in second["registrations"])


# --------------------------------------------------------------------------- learners


def test_learner_info_update_is_async_and_fans_out(env: ScormEnv, clock: FakeClock) -> None:
    env.create("R1", course="C1", learner="L1")
    env.create("R2", course="C2", learner="L1")
    env.create("R3", course="C1", learner="L2")
    before = env.http.get("/registrations/R1").json()["updated"]
    clock.advance(1)
    response = env.http.post(
        "/learner/L1/updateInfo", json={"id": "L1", "email": "ada@example.com", "lastName": ""}
    )
    assert response.status_code == 204
    # accepted, not applied yet: the background job has a delay
    assert env.http.get("/registrations/R1").json()["learner"]["lastName"] == "Lovelace"
    assert env.admin.get("/settings")["pending"] == 1
    clock.advance(30)
    for reg_id in ("R1", "R2"):
        learner = env.http.get(f"/registrations/{reg_id}").json()["learner"]
        # email set, empty string blanks lastName, absent firstName unchanged
        assert learner == {
            "id": "L1",
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "",
        }
    assert env.http.get("/registrations/R3").json()["learner"]["id"] == "L2"
    assert "email" not in env.http.get("/registrations/R3").json()["learner"]
    assert env.http.get("/registrations/R1").json()["updated"] > before


def test_learner_update_flush_and_unknown_learner(env: ScormEnv) -> None:
    env.create("R1", learner="L1")
    assert (
        env.http.post("/learner/L1/updateInfo", json={"id": "L1", "firstName": "Grace"}).status_code
        == 204
    )
    assert env.admin.post("/flush") == {"applied": 1}
    assert env.http.get("/registrations/R1").json()["learner"]["firstName"] == "Grace"
    missing = env.http.post("/learner/NOPE/updateInfo", json={"id": "NOPE", "firstName": "X"})
    assert missing.status_code == 404
    assert env.http.post("/learner/L1/updateInfo", json={"id": "L1", "email": 3}).status_code == 400


def test_learner_tags(env: ScormEnv) -> None:
    env.create("R1", learner="L1", learnerTags=["from-create"])
    assert env.http.get("/learner/L1/tags").json() == {"tags": ["from-create"]}
    assert env.http.put("/learner/L1/tags", json={"tags": ["a"]}).status_code == 204
    assert (
        env.http.put("/learner/tags", json={"ids": ["L1", "L9"], "tags": ["b"]}).status_code == 204
    )
    assert env.http.get("/learner/L1/tags").json() == {"tags": ["from-create", "a", "b"]}
    assert env.http.get("/learner/L9/tags").json() == {"tags": ["b"]}
    assert env.http.request("DELETE", "/learner/L1/tags", json={"tags": ["a"]}).status_code == 204
    assert env.http.get("/learner/L1/tags").json() == {"tags": ["from-create", "b"]}
    assert env.http.get("/learner/NOBODY/tags").status_code == 404


# --------------------------------------------------------------------------- rate limit, faults


def test_rate_limit_boundary_is_429_per_app(env: ScormEnv) -> None:
    env.admin.set_rate(5, 60)
    for _ in range(5):
        assert env.http.get("/ping").status_code == 200
    refused = env.http.get("/ping")
    assert refused.status_code == 429
    assert set(refused.json()) == {"message"}
    assert "Retry-After" not in refused.headers
    # unauthenticated calls are not counted against the app, and are still 401
    assert httpx.get(f"{env.base_url}/api/v2/ping").status_code == 401
    with client_for(env.base_url, "OTHERAPP", "secret-two") as other:
        assert other.get("/ping").status_code == 200
    counters = env.admin.counters()
    assert counters["rate_limited"] == 1


def test_rate_window_rolls(clock: FakeClock) -> None:
    """Exactly ``requests`` per rolling window: the slot frees at ``per_seconds``."""
    now = [0.0]
    simulator = create_simulator(clock=clock)
    with (
        start_sandbox(simulator, clock=lambda: now[0]) as running,
        client_for(running.base_url) as http,
    ):
        assert running.admin is not None
        running.admin.set_rate(3, 10)
        for second in (0.0, 1.0, 2.0):
            now[0] = second
            assert http.get("/ping").status_code == 200
        now[0] = 9.99
        assert http.get("/ping").status_code == 429
        now[0] = 10.0
        assert http.get("/ping").status_code == 200
        assert http.get("/ping").status_code == 429


def test_injected_server_error_is_message_schema(env: ScormEnv) -> None:
    env.admin.set_faults(error_rate=1.0, error_statuses=[503], max_faults=1)
    failed = env.http.get("/registrations")
    assert failed.status_code == 503 and set(failed.json()) == {"message"}
    assert env.http.get("/registrations").status_code == 200


def test_default_simulator_serves_with_demo_credentials(sandbox: SandboxFactory) -> None:
    running: RunningSandbox = sandbox("scormcloud")
    credentials = running.credentials
    assert credentials["app_id"] == DEMO_APP_ID
    with client_for(running.base_url, credentials["app_id"], credentials["secret_key"]) as http:
        assert http.get("/ping").status_code == 200
