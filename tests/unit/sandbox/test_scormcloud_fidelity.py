"""SCORM Cloud gaps closed (issue 13.7): every error is JSON, and the registration
endpoints a full client may call beside the sync's own (instances, launch history, xAPI
statements, configuration, learner PII erase), per scormcloud-v2-reference.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox, start_sandbox
from syncd.sandbox.scormcloud import attempts, create_simulator, registrations
from tests.unit.sandbox.kit import ISO_MS_Z, FakeClock, ScormEnv, client_for

_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator(page_size=2, async_delay=30, clock=_CLOCK)) as running:
        yield running


@pytest.fixture
def env(server: RunningSandbox) -> Iterator[ScormEnv]:
    assert server.admin is not None
    server.admin.reset()
    _CLOCK.now = _START
    with client_for(server.base_url) as http:
        scorm = ScormEnv(server, http)
        scorm.seed_courses("C1")
        yield scorm


def _is_message(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["message"] and isinstance(body["message"], str)
    return str(body["message"])


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/v2/nothing/here"),
        ("GET", "/"),
        ("POST", "/api/v2/registrations/R1/unknownThing"),
        ("GET", "/api/cloud/registration/launch/x"),
    ],
)
def test_unknown_routes_answer_a_message_schema(env: ScormEnv, method: str, path: str) -> None:
    with httpx.Client(base_url=env.base_url, auth=env.http.auth) as raw:
        message = _is_message(raw.request(method, path), 404)
    assert path in message


def test_wrong_method_is_405_message_with_allow(env: ScormEnv) -> None:
    answer = env.http.request("PATCH", "/registrations")
    assert "PATCH" in _is_message(answer, 405)
    assert answer.headers["allow"] == "GET, HEAD, POST"
    # The official client's doubled slash finds the route too.
    doubled = env.http.request("PUT", f"{env.base_url}/api/v2//ping")
    assert (doubled.status_code, doubled.headers["allow"]) == (405, "GET, HEAD")


def test_every_refusal_is_json(env: ScormEnv) -> None:
    with httpx.Client(base_url=f"{env.base_url}/api/v2") as anonymous:
        unauthorized = anonymous.get("/nothing-either")
    assert unauthorized.status_code == 404, "unknown paths are 404 before any auth"
    with httpx.Client(base_url=f"{env.base_url}/api/v2") as anonymous:
        denied = anonymous.get("/registrations")
    assert denied.status_code == 401
    assert denied.json() == {"error": "Authorization Required."}
    _is_message(env.http.get("/registrations/NOPE"), 404)
    _is_message(env.http.post("/registrations", content=b"{not json"), 400)
    assert env.admin is not None
    for status in (500, 502, 503):
        env.admin.set_faults(error_rate=1.0, error_statuses=[status])
        _is_message(env.http.get("/ping"), status)
    env.admin.clear_faults()
    env.admin.set_rate(1, 60)
    env.http.get("/ping")
    _is_message(env.http.get("/ping"), 429)


def test_instances_keep_past_attempts_and_page_with_more(env: ScormEnv) -> None:
    assert env.create("R1").status_code == 204
    env.activity("R1", action="complete", score=80, success="PASSED", seconds=60)
    for _ in range(2):
        _CLOCK.advance(60)
        assert env.http.post("/registrations/R1/instances").status_code == 204
    instances, pages = env.list_all("/registrations/R1/instances", "registrations")
    assert [i["instance"] for i in instances] == [0, 1, 2] and pages == 2
    assert instances[0]["registrationCompletion"] == "COMPLETED"
    assert instances[0]["score"] == {"scaled": 80.0}
    assert instances[2]["registrationCompletion"] == "UNKNOWN" and "score" not in instances[2]
    assert all(i["id"] == "R1" for i in instances)
    recent = env.http.get(
        "/registrations/R1/instances", params={"since": "2024-03-01T12:01:30Z"}
    ).json()
    assert [i["instance"] for i in recent["registrations"]] == [2]
    first = env.http.get("/registrations/R1/instances").json()
    assert env.create("R2").status_code == 204
    foreign = env.http.get("/registrations/R2/instances", params={"more": first["more"]})
    assert "token" in _is_message(foreign, 400)
    _is_message(env.http.get("/registrations/NOPE/instances"), 404)


def test_launch_history_follows_sessions(env: ScormEnv) -> None:
    env.create("R1")
    assert env.http.get("/registrations/R1/launchHistory").json() == {"launchHistory": []}
    env.activity("R1", action="start")
    _CLOCK.advance(90)
    env.activity("R1", action="complete", seconds=90, success="PASSED", score=70)
    history = env.http.get(
        "/registrations/R1/launchHistory", params={"includeHistoryLog": "true"}
    ).json()["launchHistory"]
    assert len(history) == 1
    launch = history[0]
    assert launch["instance"] == 0 and launch["totalSecondsTracked"] == 90
    assert launch["completionStatus"] == "COMPLETED" and launch["successStatus"] == "PASSED"
    assert launch["score"] == {"scaled": 70.0}
    for name in ("launchTime", "exitTime", "lastRuntimeUpdate"):
        assert isinstance(launch[name], str)
    assert launch["launchTime"] < launch["exitTime"]
    assert "historyLog" in launch
    plain = env.http.get("/registrations/R1/launchHistory").json()["launchHistory"][0]
    assert "historyLog" not in plain


def test_xapi_statements_with_since_and_more(env: ScormEnv) -> None:
    env.create("R1")
    env.activity("R1", action="start")
    _CLOCK.advance(60)
    env.activity("R1", action="complete", success="FAILED", score=40)
    statements, pages = env.list_all("/registrations/R1/xAPIStatements", "statements")
    verbs = [s["verb"]["display"]["en-US"] for s in statements]
    assert verbs == ["initialized", "completed", "failed"] and pages == 2
    last = statements[-1]
    assert last["verb"]["id"] == "http://adlnet.gov/expapi/verbs/failed"
    assert last["actor"]["account"] == {"homePage": "https://cloud.scorm.com", "name": "L1"}
    assert last["objectActivity"]["id"] == "urn:scormcloud:C1"
    assert last["result"] == {"score": {"scaled": 0.4}, "success": False, "completion": True}
    assert last["context"]["registration"]
    assert all(re.match(ISO_MS_Z, s["stored"]) for s in statements)
    later = env.http.get(
        "/registrations/R1/xAPIStatements", params={"since": "2024-03-01T12:00:30Z"}
    ).json()
    assert len(later["statements"]) == 2 and "more" not in later


def test_registration_configuration(env: ScormEnv) -> None:
    env.create("R1")
    before = env.http.get("/registrations/R1/configuration").json()["settingItems"]
    url = next(i for i in before if i["id"] == "ApiRollupRegistrationPostBackUrl")
    assert url["effectiveValueSource"] == "default" and "explicitValue" not in url
    body = {
        "settings": [
            {"settingId": "ApiRollupRegistrationPostBackUrl", "value": "https://hr.example/pb"},
            {"settingId": "ApiRollupRegistrationIsJson", "value": "true", "explicit": True},
        ]
    }
    assert env.http.post("/registrations/R1/configuration", json=body).status_code == 204
    items = {
        i["id"]: i
        for i in env.http.get(
            "/registrations/R1/configuration", params={"includeMetadata": "true"}
        ).json()["settingItems"]
    }
    posted = items["ApiRollupRegistrationPostBackUrl"]
    assert posted["effectiveValue"] == posted["explicitValue"] == "https://hr.example/pb"
    assert posted["effectiveValueSource"] == "registration"
    assert posted["metadata"]["default"] == ""
    deleted = env.http.delete("/registrations/R1/configuration/ApiRollupRegistrationPostBackUrl")
    assert deleted.status_code == 204
    again = env.http.delete("/registrations/R1/configuration/ApiRollupRegistrationPostBackUrl")
    assert again.status_code == 204
    after = {
        i["id"]: i for i in env.http.get("/registrations/R1/configuration").json()["settingItems"]
    }
    assert after["ApiRollupRegistrationPostBackUrl"]["effectiveValueSource"] == "default"
    assert after["ApiRollupRegistrationIsJson"]["effectiveValue"] == "true"
    bad = {"settings": [{"settingId": "X", "value": "1"}, {"value": "2"}]}
    assert "settingId" in _is_message(
        env.http.post("/registrations/R1/configuration", json=bad), 400
    )
    assert "X" not in {
        i["id"] for i in env.http.get("/registrations/R1/configuration").json()["settingItems"]
    }, "nothing is kept from a refused body"
    _is_message(env.http.get("/registrations/NOPE/configuration"), 404)


def test_learner_delete_information_is_async(env: ScormEnv) -> None:
    env.create("R1", learner="L1")
    env.create("R2", learner="L2")
    path = "/learner/L1/delete-information"
    assert "userEmail" in _is_message(env.http.post(path), 400)
    _is_message(env.http.post(path, params={"userEmail": "not-an-email"}), 403)
    _is_message(
        env.http.post("/learner/NOBODY/delete-information", params={"userEmail": "a@b.com"}),
        404,
    )
    done = env.http.post(path, params={"userEmail": "admin@example.com"})
    assert (done.status_code, done.content) == (204, b"")
    learner = env.http.get("/registrations/R1").json()["learner"]
    assert learner["firstName"] == "Ada", "not yet: the erase runs in the background"
    _CLOCK.advance(30)
    assert env.http.get("/registrations/R1").json()["learner"] == {"id": "L1"}
    assert env.http.get("/registrations/R2").json()["learner"]["firstName"] == "Ada"


def test_history_survives_the_account_file() -> None:
    """Instances, launches, statements and settings are part of a ``sandbox:`` account."""
    simulator = create_simulator()
    simulator.seed(
        {
            "courses": [{"id": "C1"}],
            "registrations": [{"courseId": "C1", "registrationId": "R1", "learner": {"id": "L1"}}],
        }
    )
    store = simulator.services.store
    with store.app(simulator.default_app) as app:
        reg = app.registrations["R1"]
        attempts.record_activity(store, reg, "start", 0, store.stamp())
        registrations.new_instance(store, app, "R1")
        reg.settings["ApiRollupRegistrationFormat"] = "full"
    again = create_simulator()
    again.restore(simulator.snapshot())
    with again.services.store.app(again.default_app) as app:
        kept = app.registrations["R1"]
    assert kept.instance == 1 and [p.instance for p in kept.past_instances] == [0]
    assert [launch.instance for launch in kept.launches] == [0]
    assert [s.verb for s in kept.statements] == ["initialized"]
    assert kept.settings == {"ApiRollupRegistrationFormat": "full"}
