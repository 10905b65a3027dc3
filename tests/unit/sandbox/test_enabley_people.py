"""Enabley simulator over real HTTP: token and bearer auth, users, groups."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.enabley import create_simulator
from syncd.sandbox.running import RunningSandbox, start_sandbox

USER_INFO_KEYS = {
    "address",
    "created",
    "customAttributes",
    "email",
    "firstName",
    "identifier",
    "isActive",
    "lastName",
    "modified",
    "phone",
    "possibleRoles",
    "userSubAccountNames",
    "username",
}
GROUP_INFO_KEYS = {
    "created",
    "identifier",
    "modified",
    "name",
    "parentIdentifier",
    "subAccountName",
    "type",
}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator()) as running:
        yield running


@pytest.fixture
def anon(server: RunningSandbox) -> Iterator[httpx.Client]:
    """A client without a token, on a freshly reset sandbox."""
    assert server.admin is not None
    server.admin.reset()
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def api(server: RunningSandbox, anon: httpx.Client) -> httpx.Client:
    """The same client holding a valid bearer token."""
    answer = anon.post("/api/v1/token", params=dict(server.credentials))
    anon.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return anon


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Assert an ``ErrorResponse`` answer and return its description."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == code
    return str(body["error_description"])


def put_user(api: httpx.Client, identifier: str, **fields: Any) -> httpx.Response:
    body = {"identifier": identifier, "username": f"{identifier}-name", **fields}
    return api.put("/api/v2/users", json=body)


def put_group(api: httpx.Client, identifier: str, kind: str = "COMPANY", **fields: Any) -> Any:
    body = {"identifier": identifier, "name": identifier.upper(), "type": kind, **fields}
    return api.put("/api/v1/groups", json=body)


# ---------------------------------------------------------------------------------- token


def test_token_is_a_jwt_bearer_with_expires_in_milliseconds(
    server: RunningSandbox, anon: httpx.Client
) -> None:
    response = anon.post("/api/v1/token", params=dict(server.credentials))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3_600_000
    header, payload, _ = body["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "HS256"
    assert claims["sub"] == server.credentials["clientKey"]
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)


def test_token_refusals(server: RunningSandbox, anon: httpx.Client) -> None:
    key = server.credentials["clientKey"]
    error_of(anon.post("/api/v1/token"), 400, "invalid_request")
    error_of(anon.post("/api/v1/token", params={"clientKey": key}), 400, "invalid_request")
    # The older JSON-body form of the public clients is not read (they moved to the query).
    body_form = anon.post("/api/v1/token", json=dict(server.credentials))
    error_of(body_form, 400, "invalid_request")
    wrong = anon.post("/api/v1/token", params={"clientKey": key, "secret": "nope"})
    error_of(wrong, 401, "invalid_client")
    unknown = anon.post("/api/v1/token", params={"clientKey": "who", "secret": "x"})
    error_of(unknown, 401, "invalid_client")


def test_token_secret_is_masked_in_the_request_log(
    server: RunningSandbox, anon: httpx.Client
) -> None:
    anon.post("/api/v1/token", params=dict(server.credentials))
    assert server.admin is not None
    entry = server.admin.log()[-1]
    assert server.credentials["secret"] not in json.dumps(entry)
    assert "secret=***" in entry["query"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not.a.jwt", "Basic c2FuZGJveDpzYW5kYm94", "Bearer a.b"],
)
def test_missing_or_invalid_token_is_401(anon: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    error_of(anon.get("/api/v2/users", headers=headers), 401, "access_denied")


def test_token_signed_with_another_key_is_401(server: RunningSandbox, api: httpx.Client) -> None:
    token = api.headers["Authorization"].split(" ", 1)[1]
    header, payload, _ = token.split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).rstrip(b'=').decode()}"
    response = api.get("/api/v2/users", headers={"Authorization": f"Bearer {forged}"})
    error_of(response, 401, "access_denied")


def test_scheme_is_case_insensitive(api: httpx.Client) -> None:
    token = api.headers["Authorization"].split(" ", 1)[1]
    assert api.get("/api/v2/users", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_token_expires_after_its_lifetime(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    assert api.get("/api/v2/users").status_code == 200
    server.admin.post("/clock", {"advance_seconds": 3599})
    assert api.get("/api/v2/users").status_code == 200
    server.admin.post("/clock", {"advance_seconds": 1})
    assert error_of(api.get("/api/v2/users"), 401, "access_denied") == "Invalid JWT token"
    fresh = api.post("/api/v1/token", params=dict(server.credentials)).json()["access_token"]
    assert api.get("/api/v2/users", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_token_lifetime_is_settable(server: RunningSandbox, anon: httpx.Client) -> None:
    assert server.admin is not None
    assert (
        server.admin.post("/settings", {"token_lifetime_seconds": 2})["token_lifetime_seconds"] == 2
    )
    answer = anon.post("/api/v1/token", params=dict(server.credentials)).json()
    assert answer["expires_in"] == 2000
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    server.admin.post("/clock", {"advance_seconds": 2})
    error_of(anon.get("/api/v2/users", headers=headers), 401, "access_denied")


def test_auth_is_checked_before_the_body(anon: httpx.Client) -> None:
    error_of(anon.put("/api/v2/users", content=b"not json"), 401, "access_denied")


# ---------------------------------------------------------------------------------- users


def test_user_upsert_creates_then_updates_only_given_fields(
    server: RunningSandbox, api: httpx.Client
) -> None:
    assert server.admin is not None
    created = put_user(
        api,
        "e1",
        firstName="Ann",
        lastName="Lee",
        email="ann@example.com",
        password="pw-never-returned",
        subAccountName="sandbox",
        customAttributes={"site": "Lyon"},
    )
    assert created.status_code == 201
    info = created.json()
    assert set(info) == USER_INFO_KEYS
    assert info["possibleRoles"] == ["LEARNER"] and info["isActive"] is True
    assert info["userSubAccountNames"] == ["sandbox"]
    assert "pw-never-returned" not in created.text
    server.admin.post("/clock", {"advance_seconds": 5})
    updated = api.put("/api/v2/users", json={"identifier": "e1", "lastName": "Lee-Smith"})
    assert updated.status_code == 200
    after = updated.json()
    assert after["lastName"] == "Lee-Smith" and after["firstName"] == "Ann"
    assert after["email"] == "ann@example.com" and after["customAttributes"] == {"site": "Lyon"}
    assert after["created"] == info["created"] and after["modified"] > info["modified"]
    assert server.admin.counters()["creates"] == {"e1-name": 1}


@pytest.mark.parametrize(
    ("body", "status", "code", "word"),
    [
        ({"username": "x"}, 400, "invalid_request", "identifier"),
        ({"identifier": "n1"}, 400, "invalid_request", "username"),
        (
            {"identifier": "n1", "username": "x", "possibleRoles": ["BOSS"]},
            400,
            "invalid_request",
            "possibleRoles",
        ),
        (
            {"identifier": "n1", "username": "x", "isActive": "maybe"},
            400,
            "invalid_request",
            "isActive",
        ),
        ({"identifier": "n1", "username": "x", "email": "nope"}, 400, "invalid_request", "email"),
        (
            {"identifier": "n1", "username": "x", "subAccountName": "mars"},
            400,
            "item_not_exists",
            "mars",
        ),
        ({"identifier": "n1", "username": "taken"}, 400, "item_exists", "taken"),
        ({"identifier": "n1", "username": "TAKEN"}, 400, "item_exists", "TAKEN"),
        (["not", "an", "object"], 400, "invalid_request", "object"),
    ],
)
def test_user_upsert_validation(
    api: httpx.Client, body: Any, status: int, code: str, word: str
) -> None:
    assert put_user(api, "owner", username="taken").status_code == 201
    assert word in error_of(api.put("/api/v2/users", json=body), status, code)
    assert [u["identifier"] for u in api.get("/api/v2/users").json()] == ["owner"]


def test_user_upsert_needs_a_json_body(api: httpx.Client) -> None:
    error_of(api.put("/api/v2/users"), 400, "invalid_request")
    error_of(api.put("/api/v2/users", content=b"{bad"), 400, "invalid_request")


def test_user_roles_and_sub_accounts_accumulate(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    server.admin.seed({"subAccounts": ["sandbox", "east"]})
    put_user(api, "e1", subAccountName="sandbox")
    answer = put_user(api, "e1", subAccountName="east", possibleRoles=["LEARNER", "MANAGER"])
    assert answer.json()["userSubAccountNames"] == ["sandbox", "east"]
    assert answer.json()["possibleRoles"] == ["LEARNER", "MANAGER"]


def seed_people(server: RunningSandbox, count: int) -> None:
    assert server.admin is not None
    server.admin.seed(
        {
            "subAccounts": ["sandbox", "east"],
            "users": [
                {
                    "identifier": f"u{i:03d}",
                    "username": f"user{i:03d}",
                    "firstName": "Ann" if i % 2 else "Bob",
                    "lastName": f"Family{i % 5}",
                    "email": f"user{i:03d}@{'acme' if i % 3 else 'other'}.com",
                    "subAccountName": "east" if i % 4 == 0 else "sandbox",
                }
                for i in range(count)
            ],
        }
    )


def test_v2_search_pages_with_start_and_limit_to_the_last_page(
    server: RunningSandbox, api: httpx.Client
) -> None:
    seed_people(server, 450)
    seen: list[str] = []
    start = 0
    sizes = []
    while True:
        page = api.get("/api/v2/users", params={"start": start, "limit": 200})
        assert page.status_code == 200 and isinstance(page.json(), list)
        sizes.append(len(page.json()))
        seen.extend(u["identifier"] for u in page.json())
        if len(page.json()) < 200:
            break
        start += 200
    assert sizes == [200, 200, 50]
    assert seen == [f"u{i:03d}" for i in range(450)]
    assert api.get("/api/v2/users", params={"start": 450}).json() == []
    assert len(api.get("/api/v2/users").json()) == 200


@pytest.mark.parametrize("params", [{"limit": 201}, {"limit": 0}, {"start": -1}, {"limit": "x"}])
def test_v2_search_rejects_out_of_range_paging(api: httpx.Client, params: dict[str, Any]) -> None:
    name = next(iter(params))
    assert name in error_of(api.get("/api/v2/users", params=params), 400, "invalid_request")


def test_v2_search_filters(server: RunningSandbox, api: httpx.Client) -> None:
    seed_people(server, 20)

    def ids(**params: Any) -> list[str]:
        return [u["identifier"] for u in api.get("/api/v2/users", params=params).json()]

    assert ids(identifier="u007") == ["u007"]
    assert ids(identifier="u07") == []
    assert ids(usernameSubstring="ER01") == [f"u{i:03d}" for i in range(10, 20)]
    assert ids(emailSubstring="@OTHER") == [f"u{i:03d}" for i in range(0, 20, 3)]
    assert ids(firstNameSubstring="bo", lastNameSubstring="ily4") == ["u004", "u014"]
    assert ids(subAccountName="east") == [f"u{i:03d}" for i in range(0, 20, 4)]
    error_of(api.get("/api/v2/users", params={"subAccountName": "mars"}), 400, "item_not_exists")


def test_v3_search_walks_pagination_keys_to_the_last_page(
    server: RunningSandbox, api: httpx.Client
) -> None:
    seed_people(server, 450)
    page = api.get("/api/v3/users").json()
    assert set(page) == {"currentPage", "items", "pageSize", "paginationKey", "totalPages"}
    pages = [page]
    while page["paginationKey"] is not None:
        page = api.get("/api/v3/users", params={"paginationKey": page["paginationKey"]}).json()
        pages.append(page)
    assert [len(p["items"]) for p in pages] == [200, 200, 50]
    assert [p["currentPage"] for p in pages] == [0, 1, 2]
    assert {p["totalPages"] for p in pages} == {3} and {p["pageSize"] for p in pages} == {200}
    ids = [u["identifier"] for p in pages for u in p["items"]]
    assert ids == [f"u{i:03d}" for i in range(450)]
    assert set(pages[0]["items"][0]) == USER_INFO_KEYS


def test_v3_search_filters_and_small_pages(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    seed_people(server, 20)
    server.admin.post("/settings", {"page_size": 2})
    page = api.get("/api/v3/users", params={"subAccountName": "east"}).json()
    ids = [u["identifier"] for u in page["items"]]
    while page["paginationKey"]:
        page = api.get("/api/v3/users", params={"paginationKey": page["paginationKey"]}).json()
        ids.extend(u["identifier"] for u in page["items"])
    assert ids == ["u000", "u004", "u008", "u012", "u016"] and page["totalPages"] == 3
    empty = api.get("/api/v3/users", params={"usernameSubstring": "zzz"}).json()
    assert empty["items"] == [] and empty["paginationKey"] is None


def test_v3_invalid_pagination_key_is_404(api: httpx.Client) -> None:
    response = api.get("/api/v3/users", params={"paginationKey": "bogus"})
    error_of(response, 404, "not_found")


def test_get_user(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    server.admin.seed({"subAccounts": ["sandbox", "east"]})
    put_user(api, "e1", subAccountName="sandbox")
    got = api.get("/api/v2/users/e1")
    assert got.status_code == 200 and set(got.json()) == USER_INFO_KEYS
    assert api.get("/api/v2/users/e1", params={"subAccountName": "sandbox"}).status_code == 200
    error_of(api.get("/api/v2/users/e1", params={"subAccountName": "east"}), 400, "item_not_exists")
    error_of(api.get("/api/v2/users/nobody"), 400, "item_not_exists")


def test_user_status_update(api: httpx.Client) -> None:
    put_user(api, "e1")
    off = api.put("/api/v2/users/e1", params={"isActive": "false"})
    assert off.status_code == 200 and off.json()["isActive"] is False
    assert api.get("/api/v2/users/e1").json()["isActive"] is False
    assert api.put("/api/v2/users/e1").json()["isActive"] is True
    error_of(api.put("/api/v2/users/e1", params={"isActive": "maybe"}), 400, "invalid_request")
    error_of(api.put("/api/v2/users/nobody", params={"isActive": "true"}), 400, "item_not_exists")


def test_user_delete_removes_memberships(api: httpx.Client) -> None:
    put_user(api, "e1")
    put_group(api, "g1")
    api.post("/api/v1/groups/g1/users/e1")
    deleted = api.delete("/api/v2/users/e1")
    assert deleted.status_code == 200 and deleted.content == b""
    error_of(api.get("/api/v2/users/e1"), 400, "item_not_exists")
    error_of(api.delete("/api/v2/users/e1"), 400, "item_not_exists")
    put_user(api, "e1")
    assert api.get("/api/v1/users/e1/groups").json() == []


def test_identifier_change_moves_everything(api: httpx.Client) -> None:
    put_user(api, "old")
    put_user(api, "other")
    put_group(api, "g1")
    api.post("/api/v1/groups/g1/users/old")
    changed = api.put(
        "/api/v2/users/identityManagement",
        json={"currentUserIdentifier": "old", "newUserIdentifier": "new"},
    )
    assert changed.status_code == 200 and changed.json()["identifier"] == "new"
    error_of(api.get("/api/v2/users/old"), 400, "item_not_exists")
    assert [g["identifier"] for g in api.get("/api/v1/users/new/groups").json()] == ["g1"]
    taken = {"currentUserIdentifier": "new", "newUserIdentifier": "other"}
    error_of(api.put("/api/v2/users/identityManagement", json=taken), 400, "item_exists")
    gone = {"currentUserIdentifier": "old", "newUserIdentifier": "x"}
    error_of(api.put("/api/v2/users/identityManagement", json=gone), 400, "item_not_exists")
    half = {"currentUserIdentifier": "new"}
    error_of(api.put("/api/v2/users/identityManagement", json=half), 400, "invalid_request")


def test_remove_user_from_sub_account(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    server.admin.seed({"subAccounts": ["sandbox", "east"]})
    put_user(api, "e1", subAccountName="sandbox")
    put_user(api, "e1", subAccountName="east")
    removed = api.delete("/api/v2/users/e1/subAccountName/east")
    assert removed.status_code == 200
    assert api.get("/api/v2/users/e1").json()["userSubAccountNames"] == ["sandbox"]
    error_of(api.delete("/api/v2/users/e1/subAccountName/east"), 400, "item_not_exists")
    error_of(api.delete("/api/v2/users/e1/subAccountName/mars"), 400, "item_not_exists")
    error_of(api.delete("/api/v2/users/nobody/subAccountName/east"), 400, "item_not_exists")


# --------------------------------------------------------------------------------- groups


def test_hierarchy_is_an_array_of_level_names(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    assert api.get("/api/v1/groups/hierarchy").json() == [
        "COMPANY",
        "DIVISION",
        "DEPARTMENT",
        "TEAM",
    ]
    server.admin.seed({"hierarchy": ["CONTA", "REGIONAL", "UNIDADE"]})
    assert api.get("/api/v1/groups/hierarchy").json() == ["CONTA", "REGIONAL", "UNIDADE"]


def test_group_upsert_creates_then_updates(server: RunningSandbox, api: httpx.Client) -> None:
    created = put_group(api, "g1", subAccountName="sandbox")
    assert created.status_code == 201
    info = created.json()
    assert set(info) == GROUP_INFO_KEYS and info["parentIdentifier"] is None
    assert info["subAccountName"] == "sandbox" and info["type"] == "COMPANY"
    child = put_group(api, "g2", "TEAM", parentIdentifier="g1")
    assert child.status_code == 201 and child.json()["parentIdentifier"] == "g1"
    renamed = api.put("/api/v1/groups", json={"identifier": "g2", "name": "Night shift"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Night shift" and renamed.json()["parentIdentifier"] == "g1"
    assert api.get("/api/v1/groups/g2").json()["name"] == "Night shift"


def test_group_parent_must_exist(api: httpx.Client) -> None:
    response = put_group(api, "g2", "TEAM", parentIdentifier="ghost")
    assert "ghost" in error_of(response, 400, "item_not_exists")
    assert api.get("/api/v1/groups/list").json() == []


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"identifier": "x", "type": "COMPANY"}, "name"),
        ({"identifier": "x", "name": "X"}, "type"),
        ({"identifier": "x", "name": "X", "type": "GALAXY"}, "GALAXY"),
        ({"identifier": "x", "name": "X", "type": "COMPANY", "parentIdentifier": "team"}, "below"),
        (
            {"identifier": "top", "name": "X", "type": "COMPANY", "parentIdentifier": "team"},
            "subtree",
        ),
        ({"identifier": "top", "name": "X", "type": "TEAM"}, "above"),
        ({"name": "X", "type": "COMPANY"}, "identifier"),
    ],
)
def test_group_upsert_validation(api: httpx.Client, body: dict[str, Any], word: str) -> None:
    put_group(api, "top")
    put_group(api, "team", "TEAM", parentIdentifier="top")
    before = api.get("/api/v1/groups/list").json()
    assert word in error_of(api.put("/api/v1/groups", json=body), 400, "invalid_request")
    assert api.get("/api/v1/groups/list").json() == before


def test_group_list_and_get(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    server.admin.seed({"subAccounts": ["sandbox", "east"]})
    put_group(api, "g1", subAccountName="sandbox")
    put_group(api, "g2", subAccountName="east")
    listed = api.get("/api/v1/groups/list").json()
    assert [g["identifier"] for g in listed] == ["g1", "g2"] and set(listed[0]) == GROUP_INFO_KEYS
    east = api.get("/api/v1/groups/list", params={"subAccountName": "east"}).json()
    assert [g["identifier"] for g in east] == ["g2"]
    error_of(
        api.get("/api/v1/groups/list", params={"subAccountName": "mars"}), 400, "item_not_exists"
    )
    assert api.get("/api/v1/groups/g1").json()["identifier"] == "g1"
    error_of(
        api.get("/api/v1/groups/g1", params={"subAccountName": "east"}), 400, "item_not_exists"
    )
    error_of(api.get("/api/v1/groups/none"), 400, "item_not_exists")


def test_group_delete(api: httpx.Client) -> None:
    put_group(api, "g1")
    put_group(api, "g2", "TEAM", parentIdentifier="g1")
    assert "g2" in error_of(api.delete("/api/v1/groups/g1"), 400, "invalid_request")
    assert api.delete("/api/v1/groups/g2").status_code == 200
    assert api.delete("/api/v1/groups/g1").status_code == 200
    error_of(api.delete("/api/v1/groups/g1"), 400, "item_not_exists")
    assert api.get("/api/v1/groups/list").json() == []


def test_group_membership(api: httpx.Client) -> None:
    put_user(api, "e1")
    put_group(api, "g1")
    put_group(api, "g2")
    put_group(api, "g3")
    added = api.post("/api/v1/groups/g1/users/e1")
    assert added.status_code == 200 and added.content == b""
    assert api.post("/api/v1/groups/g1/users/e1").status_code == 200
    api.post("/api/v1/groups/g2/users/e1", params={"replace": "false"})

    def groups() -> list[str]:
        return [g["identifier"] for g in api.get("/api/v1/users/e1/groups").json()]

    assert groups() == ["g1", "g2"]
    assert set(api.get("/api/v1/users/e1/groups").json()[0]) == GROUP_INFO_KEYS
    api.post("/api/v1/groups/g3/users/e1", params={"replace": "true"})
    assert groups() == ["g3"]
    assert api.delete("/api/v1/groups/g3/users/e1").status_code == 200
    assert api.delete("/api/v1/groups/g3/users/e1").status_code == 200
    assert groups() == []
    error_of(api.post("/api/v1/groups/g1/users/ghost"), 400, "item_not_exists")
    error_of(api.post("/api/v1/groups/ghost/users/e1"), 400, "item_not_exists")
    error_of(api.delete("/api/v1/groups/ghost/users/e1"), 400, "item_not_exists")
    error_of(api.get("/api/v1/users/ghost/groups"), 400, "item_not_exists")
    bad = api.post("/api/v1/groups/g1/users/e1", params={"replace": "sometimes"})
    error_of(bad, 400, "invalid_request")


def test_user_groups_filtered_by_sub_account(server: RunningSandbox, api: httpx.Client) -> None:
    assert server.admin is not None
    server.admin.seed({"subAccounts": ["sandbox", "east"]})
    put_user(api, "e1")
    put_group(api, "g1", subAccountName="sandbox")
    put_group(api, "g2", subAccountName="east")
    api.post("/api/v1/groups/g1/users/e1")
    api.post("/api/v1/groups/g2/users/e1")
    east = api.get("/api/v1/users/e1/groups", params={"subAccountName": "east"}).json()
    assert [g["identifier"] for g in east] == ["g2"]


def test_usernames_are_freed_by_rename_and_delete(api: httpx.Client) -> None:
    assert put_user(api, "e1", username="first").status_code == 201
    error_of(put_user(api, "e2", username="First"), 400, "item_exists")
    assert put_user(api, "e1", username="second").status_code == 200
    assert put_user(api, "e2", username="first").status_code == 201
    error_of(put_user(api, "e3", username="SECOND"), 400, "item_exists")
    api.delete("/api/v2/users/e1")
    assert put_user(api, "e3", username="second").status_code == 201
    assert put_user(api, "e3", username="SECOND").status_code == 200
