"""Enabley simulator over real HTTP: entitlements, instructor permissions, user profiles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.enabley import EnableySimulator, create_simulator
from syncd.sandbox.running import RunningSandbox, start_sandbox

PROFILE_KEYS = {"created", "identifier", "modified", "name"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator()) as running:
        yield running


@pytest.fixture
def api(server: RunningSandbox) -> Iterator[httpx.Client]:
    assert server.admin is not None
    server.admin.reset()
    server.admin.seed(
        {
            "users": [
                {"identifier": "ann", "username": "ann"},
                {"identifier": "tim", "username": "tim", "possibleRoles": ["INSTRUCTOR"]},
            ],
            "groups": [{"identifier": "acme", "name": "Acme", "type": "COMPANY"}],
            "channels": [{"identifier": "c1", "name": "Safety", "type": "COURSE"}],
        }
    )
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post("/api/v1/token", params=dict(server.credentials)).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == code
    return str(body["error_description"])


def entitlements(server: RunningSandbox) -> set[tuple[str, str, str, str]]:
    simulator = server.simulator
    assert isinstance(simulator, EnableySimulator)
    return set(simulator.account.entitlements)


def test_entitlements_grant_and_revoke(server: RunningSandbox, api: httpx.Client) -> None:
    grant = {
        "userIdentifier": "ann",
        "entityIdentifier": "acme",
        "entityType": "GROUP",
        "userRole": "MANAGER",
    }
    added = api.post("/api/v2/users/entitlements", json=grant)
    assert added.status_code == 200 and added.content == b""
    assert api.post("/api/v2/users/entitlements", json=grant).status_code == 200
    course = {**grant, "entityIdentifier": "c1", "entityType": "COURSE", "userRole": "EDITOR"}
    assert api.post("/api/v2/users/entitlements", json=course).status_code == 200
    assert entitlements(server) == {
        ("ann", "GROUP", "acme", "MANAGER"),
        ("ann", "COURSE", "c1", "EDITOR"),
    }
    removed = api.request("DELETE", "/api/v2/users/entitlements", json=grant)
    assert removed.status_code == 200
    assert api.request("DELETE", "/api/v2/users/entitlements", json=grant).status_code == 200
    assert entitlements(server) == {("ann", "COURSE", "c1", "EDITOR")}
    assert api.get("/api/v2/users/ann").status_code == 200


@pytest.mark.parametrize(
    ("change", "code", "word"),
    [
        ({"userRole": "SITE_ADMIN"}, "invalid_request", "userRole"),
        ({"entityType": "TEAM"}, "invalid_request", "entityType"),
        ({"userIdentifier": None}, "invalid_request", "userIdentifier"),
        ({"userIdentifier": "ghost"}, "item_not_exists", "ghost"),
        ({"entityIdentifier": "ghost"}, "item_not_exists", "ghost"),
        ({"entityType": "COURSE", "entityIdentifier": "ghost"}, "item_not_exists", "ghost"),
        ({"entityType": "WORKSPACE"}, "item_not_exists", "workspace"),
    ],
)
def test_entitlement_validation(
    server: RunningSandbox, api: httpx.Client, change: dict[str, Any], code: str, word: str
) -> None:
    grant = {
        "userIdentifier": "ann",
        "entityIdentifier": "acme",
        "entityType": "GROUP",
        "userRole": "MANAGER",
        **change,
    }
    assert word in error_of(api.post("/api/v2/users/entitlements", json=grant), 400, code)
    assert entitlements(server) == set()


def test_permissions_need_the_instructor_role(server: RunningSandbox, api: httpx.Client) -> None:
    body = {"permissions": ["INSTRUCTOR_CREATE_COURSE"]}
    assert api.put("/api/v2/users/tim/permissions", json=body).status_code == 200
    simulator = server.simulator
    assert isinstance(simulator, EnableySimulator)
    assert simulator.account.users["tim"].permissions == ["INSTRUCTOR_CREATE_COURSE"]
    assert api.put("/api/v2/users/tim/permissions", json={"permissions": []}).status_code == 200
    assert simulator.account.users["tim"].permissions == []
    assert "INSTRUCTOR" in error_of(
        api.put("/api/v2/users/ann/permissions", json=body), 400, "invalid_request"
    )
    error_of(
        api.put("/api/v2/users/tim/permissions", json={"permissions": ["FLY"]}),
        400,
        "invalid_request",
    )
    error_of(api.put("/api/v2/users/tim/permissions", json={}), 400, "invalid_request")
    error_of(api.put("/api/v2/users/ghost/permissions", json=body), 400, "item_not_exists")


def test_user_profiles(api: httpx.Client) -> None:
    created = api.put("/api/v2/userProfiles", json={"identifier": "p1", "name": "Nurse"})
    assert created.status_code == 201 and set(created.json()) == PROFILE_KEYS
    api.put("/api/v2/userProfiles", json={"identifier": "p2", "name": "Doctor"})
    renamed = api.put("/api/v2/userProfiles", json={"identifier": "p1", "name": "Head nurse"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Head nurse"
    found = api.post("/api/v2/getUserProfiles", json=["p2", "ghost", "p1"]).json()
    assert [p["identifier"] for p in found] == ["p2", "p1"]
    error_of(api.post("/api/v2/getUserProfiles", json={"ids": ["p1"]}), 400, "invalid_request")
    error_of(api.put("/api/v2/userProfiles", json={"identifier": "p3"}), 400, "invalid_request")

    def of_ann() -> list[str]:
        answer = api.post("/api/v2/userProfiles/users/ann")
        assert answer.status_code == 200
        return [p["identifier"] for p in answer.json()]

    assert of_ann() == []
    assert api.put("/api/v2/userProfiles/p1/users/ann").status_code == 200
    assert (
        api.put("/api/v2/userProfiles/p2/users/ann", params={"replace": "false"}).status_code == 200
    )
    assert of_ann() == ["p1", "p2"]
    assert (
        api.put("/api/v2/userProfiles/p2/users/ann", params={"replace": "true"}).status_code == 200
    )
    assert of_ann() == ["p2"]
    assert api.delete("/api/v2/userProfiles/p2/users/ann").status_code == 200
    assert api.delete("/api/v2/userProfiles/p2/users/ann").status_code == 200
    assert of_ann() == []
    error_of(api.put("/api/v2/userProfiles/ghost/users/ann"), 400, "item_not_exists")
    error_of(api.put("/api/v2/userProfiles/p1/users/ghost"), 400, "item_not_exists")
    error_of(api.post("/api/v2/userProfiles/users/ghost"), 400, "item_not_exists")


def test_identity_change_and_delete_carry_profiles_and_entitlements(
    server: RunningSandbox, api: httpx.Client
) -> None:
    api.put("/api/v2/userProfiles", json={"identifier": "p1", "name": "Nurse"})
    api.put("/api/v2/userProfiles/p1/users/ann")
    grant = {
        "userIdentifier": "ann",
        "entityIdentifier": "acme",
        "entityType": "GROUP",
        "userRole": "MANAGER",
    }
    api.post("/api/v2/users/entitlements", json=grant)
    api.put(
        "/api/v2/users/identityManagement",
        json={"currentUserIdentifier": "ann", "newUserIdentifier": "anne"},
    )
    assert [p["identifier"] for p in api.post("/api/v2/userProfiles/users/anne").json()] == ["p1"]
    assert entitlements(server) == {("anne", "GROUP", "acme", "MANAGER")}
    api.delete("/api/v2/users/anne")
    assert entitlements(server) == set()
    api.put("/api/v2/users", json={"identifier": "anne", "username": "anne"})
    assert api.post("/api/v2/userProfiles/users/anne").json() == []


def test_every_route_template_is_counted_under_its_own_name(
    server: RunningSandbox, api: httpx.Client
) -> None:
    assert server.admin is not None
    api.request("DELETE", "/api/v2/users/entitlements", json={})
    api.put("/api/v2/users/identityManagement", json={})
    requests = server.admin.counters()["requests"]
    assert requests["DELETE /api/v2/users/entitlements"] == {"400": 1}
    assert requests["PUT /api/v2/users/identityManagement"] == {"400": 1}
    assert api.get("/api/v2/users/ann").status_code == 200
