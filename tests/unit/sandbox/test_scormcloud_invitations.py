"""SCORM Cloud simulator over HTTP: every operation of the invitations service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox, start_sandbox
from syncd.sandbox.scormcloud import create_simulator
from tests.unit.sandbox.kit import ISO_MS_Z, FakeClock, ScormEnv, client_for

_CLOCK = FakeClock()
_START = _CLOCK.now


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator(page_size=2, async_delay=10, clock=_CLOCK)) as running:
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
        scorm = ScormEnv(server, http)
        scorm.seed_courses("C1", "C2")
        yield scorm


def _private(env: ScormEnv, addresses: list[str], **extra: Any) -> dict[str, Any]:
    body = {
        "courseId": "C1",
        "creatingUserEmail": "admin@example.com",
        "invitationEmail": {"subject": "Please", "body": "Take it", "addresses": addresses},
        **extra,
    }
    response = env.http.post("/invitations/private", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _public(env: ScormEnv, **extra: Any) -> dict[str, Any]:
    body = {"courseId": "C1", "creatingUserEmail": "admin@example.com", **extra}
    response = env.http.post("/invitations/public", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --------------------------------------------------------------------------- private


def test_private_invitation_job_creates_registrations_later(
    env: ScormEnv, clock: FakeClock
) -> None:
    summary = _private(env, ["a@example.com", "b@example.com"], tags=["wave"])
    assert set(summary) == {"id", "courseId", "isPublic", "createDate", "updated"}
    assert summary["isPublic"] is False and summary["courseId"] == "C1"
    assert re.match(ISO_MS_Z, summary["createDate"])
    inv = summary["id"]

    status = env.http.get(f"/invitations/private/{inv}/jobStatus").json()
    assert status == {"status": "STARTED", "errors": [], "total": 2, "processed": 0}
    assert env.http.get("/registrations").json()["registrations"] == []

    clock.advance(10)
    status = env.http.get(f"/invitations/private/{inv}/jobStatus").json()
    assert status == {"status": "COMPLETE", "errors": [], "total": 2, "processed": 2}
    regs = env.http.get("/registrations", params={"courseId": "C1"}).json()["registrations"]
    assert sorted(r["learner"]["id"] for r in regs) == ["a@example.com", "b@example.com"]
    assert all(r["learner"]["email"] == r["learner"]["id"] for r in regs)

    users = env.http.get(
        f"/invitations/private/{inv}/userInvitations", params={"includeRegistrationReport": "true"}
    ).json()
    assert set(users) == {"userInvitations"}
    first = users["userInvitations"][0]
    assert set(first) == {
        "email",
        "url",
        "isStarted",
        "updated",
        "registrationId",
        "registrationReport",
    }
    assert first["isStarted"] is False
    assert first["registrationReport"] == {
        "complete": "UNKNOWN",
        "success": "UNKNOWN",
        "totalSecondsTracked": 0.0,
    }
    assert {u["registrationId"] for u in users["userInvitations"]} == {r["id"] for r in regs}

    env.activity(first["registrationId"], action="complete", score=90, success="PASSED")
    report = env.http.get(
        f"/invitations/private/{inv}/userInvitations",
        params={"includeRegistrationReport": "true", "filter": first["registrationId"]},
    ).json()["userInvitations"]
    assert len(report) == 1
    assert report[0]["isStarted"] is True
    assert report[0]["registrationReport"]["complete"] == "COMPLETED"
    assert report[0]["registrationReport"]["score"] == {"scaled": 90.0}

    detail = env.http.get(
        f"/invitations/private/{inv}", params={"includeRegistrationCount": "true"}
    ).json()
    assert detail["invitationEmail"] == {
        "subject": "Please",
        "body": "Take it",
        "addresses": ["a@example.com", "b@example.com"],
    }
    assert detail["registrationCount"] == 2 and detail["launchedRegistrationCount"] == 1
    assert detail["courseTitle"] == "Title C1" and detail["allowLaunch"] is True
    plain = env.http.get(f"/invitations/private/{inv}").json()
    assert "registrationCount" not in plain


def test_private_invitation_flush_runs_the_job_at_once(env: ScormEnv) -> None:
    inv = _private(env, ["a@example.com"])["id"]
    assert env.admin.post("/flush") == {"applied": 1}
    assert env.http.get(f"/invitations/private/{inv}/jobStatus").json()["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("option", "registrations", "instance", "errors"),
    [
        ("FAIL", 1, 0, 1),
        ("SEND_EXISTING", 1, 0, 0),
        ("INSTANCE_EXISTING", 1, 1, 0),
        ("CREATE_NEW", 2, 0, 0),
    ],
)
def test_duplicate_registration_option(
    env: ScormEnv, option: str, registrations: int, instance: int, errors: int
) -> None:
    assert env.create("EXISTING", learner="a@example.com").status_code == 204
    inv = _private(env, ["a@example.com"], duplicateRegistrationOption=option)["id"]
    env.admin.post("/flush")
    status = env.http.get(f"/invitations/private/{inv}/jobStatus").json()
    assert len(status["errors"]) == errors and status["processed"] == 1
    regs = env.http.get("/registrations", params={"learnerId": "a@example.com"}).json()
    assert len(regs["registrations"]) == registrations
    existing = env.http.get("/registrations/EXISTING").json()
    assert existing["instance"] == instance


def test_invalid_address_is_a_job_error(env: ScormEnv) -> None:
    inv = _private(env, ["not-an-address"])["id"]
    env.admin.post("/flush")
    status = env.http.get(f"/invitations/private/{inv}/jobStatus").json()
    assert status["status"] == "ERROR" and "not-an-address" in status["errors"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"creatingUserEmail": "a@b.c", "invitationEmail": {"addresses": ["x@y.z"]}}, "courseId"),
        ({"courseId": "C1", "invitationEmail": {"addresses": ["x@y.z"]}}, "creatingUserEmail"),
        ({"courseId": "C1", "creatingUserEmail": "a@b.c"}, "invitationEmail"),
        ({"courseId": "C1", "creatingUserEmail": "a@b.c", "invitationEmail": {}}, "addresses"),
        (
            {
                "courseId": "C1",
                "creatingUserEmail": "a@b.c",
                "invitationEmail": {"addresses": ["x@y.z"]},
                "duplicateRegistrationOption": "MAYBE",
            },
            "duplicateRegistrationOption",
        ),
        (
            {
                "courseId": "C1",
                "creatingUserEmail": "a@b.c",
                "invitationEmail": {"addresses": ["x@y.z"]},
                "expirationDate": "soon",
            },
            "expirationDate",
        ),
    ],
)
def test_invalid_private_bodies_are_400(env: ScormEnv, body: dict[str, Any], field: str) -> None:
    response = env.http.post("/invitations/private", json=body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert env.http.get("/invitations").json()["invitations"] == []


def test_unknown_course_is_404(env: ScormEnv) -> None:
    response = env.http.post(
        "/invitations/public", json={"courseId": "NOPE", "creatingUserEmail": "a@b.c"}
    )
    assert response.status_code == 404
    assert response.json() == {"message": "Could not find course [NOPE]"}


def test_update_private_changes_only_listed_fields(env: ScormEnv, clock: FakeClock) -> None:
    created = _private(env, ["a@example.com"])
    clock.advance(5)
    response = env.http.put(
        f"/invitations/private/{created['id']}",
        json={
            "allowLaunch": False,
            "invitationEmail": {"subject": "New subject"},
            "expirationDate": "2024-04-01T00:00:00Z",
            "courseId": "C2",  # not updatable: ignored
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["allowLaunch"] is False
    assert body["invitationEmail"]["subject"] == "New subject"
    assert body["invitationEmail"]["body"] == "Take it"
    assert body["expirationDate"] == "2024-04-01T00:00:00.000Z"
    assert body["courseId"] == "C1"
    assert body["updated"] > created["updated"]
    assert env.http.put("/invitations/private/NOPE", json={}).status_code == 404


# --------------------------------------------------------------------------- public


def test_public_invitation_shape_update_and_visits(env: ScormEnv) -> None:
    created = _public(env, registrationCap=2, tags=["open"])
    assert created["allowNewRegistrations"] is True and created["registrationCap"] == 2
    assert created["url"].startswith(env.base_url) and created["id"] in created["url"]
    assert "registrationCount" not in created
    inv = created["id"]

    for email in ("p1@example.com", "p2@example.com"):
        user = env.admin.post(f"/invitations/public/{inv}/visit", {"email": email})
        assert user["email"] == email
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        env.admin.post(f"/invitations/public/{inv}/visit", {"email": "p3@example.com"})

    detail = env.http.get(
        f"/invitations/public/{inv}", params={"includeRegistrationCount": "true"}
    ).json()
    assert detail["registrationCount"] == 2
    users, pages = env.list_all(f"/invitations/public/{inv}/userInvitations", "userInvitations")
    assert [u["email"] for u in users] == ["p1@example.com", "p2@example.com"] and pages == 1

    closed = env.http.put(
        f"/invitations/public/{inv}", json={"allowNewRegistrations": False, "registrationCap": 0}
    )
    assert closed.status_code == 200
    assert closed.json()["allowNewRegistrations"] is False and closed.json()["registrationCap"] == 0
    with pytest.raises(httpx.HTTPStatusError, match="403"):
        env.admin.post(f"/invitations/public/{inv}/visit", {"email": "p3@example.com"})


def test_public_and_private_paths_do_not_mix(env: ScormEnv) -> None:
    public = _public(env)["id"]
    private = _private(env, ["a@example.com"])["id"]
    assert env.http.get(f"/invitations/private/{public}").status_code == 404
    assert env.http.get(f"/invitations/public/{private}").status_code == 404
    assert env.http.get(f"/invitations/public/{public}/userInvitations").status_code == 200
    assert env.http.get(f"/invitations/private/{public}/userInvitations").status_code == 404
    assert env.http.get(f"/invitations/private/{public}/jobStatus").status_code == 404
    assert env.http.get("/invitations/public/NOPE").json() == {
        "message": "Could not find invitation [NOPE]"
    }


# --------------------------------------------------------------------------- lists, tags


def test_lists_filters_and_more(env: ScormEnv, clock: FakeClock) -> None:
    ids = []
    for index in range(3):
        clock.advance(60)
        ids.append(_public(env, courseId="C1" if index else "C2")["id"])
    for _ in range(2):
        clock.advance(60)
        ids.append(_private(env, ["a@example.com"])["id"])

    every, pages = env.list_all("/invitations", "invitations")
    assert [i["id"] for i in every] == ids and pages == 3  # updated_asc, page size 2
    assert {i["isPublic"] for i in every} == {True, False}
    public, _ = env.list_all("/invitations/public", "invitations")
    assert [i["id"] for i in public] == ids[:3]
    private, _ = env.list_all("/invitations/private", "invitations")
    assert [i["id"] for i in private] == ids[3:]
    assert "invitationEmail" in private[0]
    by_course, _ = env.list_all("/invitations", "invitations", courseId="C2")
    assert [i["id"] for i in by_course] == [ids[0]]
    # created 12:01..12:05; since/until inclusive on createDate
    window, _ = env.list_all(
        "/invitations",
        "invitations",
        since="2024-03-01T12:02:00Z",
        until="2024-03-01T12:03:00Z",
        datetimeFilter="created",
    )
    assert [i["id"] for i in window] == ids[1:3]
    newest_first, _ = env.list_all("/invitations", "invitations", orderBy="created_desc")
    assert [i["id"] for i in newest_first] == list(reversed(ids))
    one, _ = env.list_all("/invitations", "invitations", filter=ids[4][:8])
    assert [i["id"] for i in one] == [ids[4]]
    counted = env.http.get("/invitations/public", params={"includeTotalCount": "true"})
    assert counted.headers["X-Total-Count"] == "3"
    assert env.http.get("/invitations", params={"orderBy": "title_asc"}).status_code == 400


def test_invitation_tags_single_and_batch(env: ScormEnv) -> None:
    first = _public(env, tags=["t0"])["id"]
    second = _private(env, ["a@example.com"])["id"]
    assert env.http.put(f"/invitations/{first}/tags", json={"tags": ["a"]}).status_code == 204
    assert env.http.get(f"/invitations/{first}/tags").json() == {"tags": ["t0", "a"]}
    removed = env.http.request("DELETE", f"/invitations/{first}/tags", json={"tags": ["t0", "zz"]})
    assert removed.status_code == 204
    assert env.http.get(f"/invitations/{first}/tags").json() == {"tags": ["a"]}
    batch = env.http.put("/invitations/tags", json={"ids": [first, second], "tags": ["batch"]})
    assert batch.status_code == 204
    assert env.http.get(f"/invitations/{second}/tags").json() == {"tags": ["batch"]}
    tagged, _ = env.list_all("/invitations", "invitations", tags="batch")
    assert {i["id"] for i in tagged} == {first, second}
    unknown = env.http.put("/invitations/tags", json={"ids": [first, "NOPE"], "tags": ["late"]})
    assert unknown.status_code == 404
    assert "late" not in env.http.get(f"/invitations/{first}/tags").json()["tags"]
    assert env.http.put("/invitations/tags", json={"tags": ["x"]}).status_code == 400
    assert env.http.get("/invitations/NOPE/tags").status_code == 404
    assert env.http.put(f"/invitations/{first}/tags", json={}).status_code == 400


def test_user_invitation_more_token_is_bound_to_its_invitation(env: ScormEnv) -> None:
    inv = _private(env, ["a@example.com", "b@example.com", "c@example.com"])["id"]
    other = _private(env, ["d@example.com"])["id"]
    env.admin.post("/flush")
    page = env.http.get(f"/invitations/private/{inv}/userInvitations").json()
    assert len(page["userInvitations"]) == 2
    wrong = env.http.get(
        f"/invitations/private/{other}/userInvitations", params={"more": page["more"]}
    )
    assert wrong.status_code == 400
    users, pages = env.list_all(f"/invitations/private/{inv}/userInvitations", "userInvitations")
    assert len(users) == 3 and pages == 2
