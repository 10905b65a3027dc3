"""Recorded real Litmos traffic, replayed against the simulator: same status, same shape.

The recordings are the VCR cassettes of ``charliequinn/python-litmos-api`` (2016-2017),
cited as [WIRE] in ``vendor-docs/litmos-notes.md``. Each test replays one cassette's
requests (ids replaced by the simulator's own) and compares the status, the content type,
whether the body is empty, and the JSON shape: every recorded member, in recorded order,
with a compatible type. Members the API gained after the recordings may follow them.

Every cassette is covered: create-new-user and users-create (same requests), create-user-
already-exists, find-user, get-users, users-all-paginated, search-users, search-users-not-
found, find-and-update-user, deactivate-user, delete-user, teams-create with add-sub-team
and get-sub-teams, teams-all-paginated, add-users with get-team-users, promote-and-demote-
user, remove-user and remove-teams-from-user, end-to-end-integration-test, and
mark-module-complete with module_complete. The HTTP reason phrase (the recorded 409 says
"UserName already exists", the 500 the WCF sentence) reaches the wire only through the
sandbox server, so it is compared over real HTTP in ``test_litmos_fidelity.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import client, new_user_body

# The user profile as recorded on 2016-12-20 (POST /users answer), in wire order.
RECORDED_PROFILE_2016 = json.loads(
    '{"Id":"-yJ1NfrpHz41","UserName":"u@pieshop.net","FirstName":"Charlie","LastName":"Quinn",'
    '"FullName":"Charlie Quinn","Email":"u@pieshop.net","AccessLevel":"Learner",'
    '"DisableMessages":true,"Active":true,"Skype":"","PhoneWork":"","PhoneMobile":"",'
    '"LastLogin":"","LoginKey":"https://pieshop.litmos.com//login.aspx?loginkey=x",'
    '"IsCustomUsername":false,"Password":"","SkipFirstLogin":false,"TimeZone":"UTC",'
    '"SalesforceId":null,"OriginalId":5091912,"Street1":"","Street2":"","City":"","State":"",'
    '"PostalCode":"","Country":"","CompanyName":"","JobTitle":"","CustomField1":"",'
    '"CustomField2":"","CustomField3":"","Culture":"en-US","CustomField4":"",'
    '"CustomField5":"","CustomField6":"","CustomField7":"","CustomField8":"",'
    '"CustomField9":"","CustomField10":"","SalesforceContactId":null,'
    '"SalesforceAccountId":null,"CreatedDate":"2016-12-20T15:24:16Z","Points":0}'
)
# GET /users/{id} as recorded on 2017-06-19: the same plus "Brand" at the end.
RECORDED_PROFILE_2017 = {**RECORDED_PROFILE_2016, "Brand": "Default"}
RECORDED_USER_ITEM = json.loads(
    '{"Id":"mVN_K4Q9yuQ1","UserName":"paul.hirst@pieshop.net","FirstName":"Paul",'
    '"LastName":"Hirst","Active":true,"Email":"paul.hirst@pieshop.net",'
    '"AccessLevel":"Team_Leader"}'
)
RECORDED_TEAM = {"Id": "JyLa085jwVs1", "Name": "Max Chandler", "Description": ""}
RECORDED_TEAM_ITEM = {
    "Id": "rUxaeaSvSBg1",
    "Name": "Caroline Ross",
    "TeamCodeForBulkImport": "404487-CarolineRoss",
}
RECORDED_COURSE = json.loads(
    '{"Id":"RuzXNaD42Sw1","Code":"TST001","Name":"Test Why bother","Active":true,'
    '"ForSale":false,"OriginalId":590874,"Description":"","EcommerceShortDescription":"",'
    '"EcommerceLongDescription":"","CourseCodeForBulkImport":"590874-TST001","Price":0.00,'
    '"AccessTillDate":null,"AccessTillDays":null}'
)
RECORDED_MODULE = {"Id": "0jnDHEIbXQo1", "Code": "", "Name": "Test", "Description": ""}
JSON_OK = "application/json; charset=utf-8"


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def assert_shape(recorded: dict[str, Any], ours: dict[str, Any], *, exact: bool = False) -> None:
    """Recorded members first and in order; types equal, a recorded null fits any scalar."""
    keys = list(ours)
    assert keys[: len(recorded)] == list(recorded), f"members differ: {keys} vs {list(recorded)}"
    if exact:
        assert len(keys) == len(recorded)
    for name, value in recorded.items():
        if value is not None and ours[name] is not None:
            assert kind(ours[name]) == kind(value), f"{name}: {ours[name]!r} vs {value!r}"


def assert_empty_ok(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status
    assert answer.content == b""
    assert answer.headers["content-length"] == "0"


@pytest.fixture
def api(litmos_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with client(litmos_sandbox) as http:
        yield http


@pytest.fixture
def legacy(litmos_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """The recordings that carry ``apikey`` in the query string instead of a header."""
    key = litmos_sandbox.credentials["apikey"]
    with httpx.Client(
        base_url=f"{litmos_sandbox.base_url}/v1.svc",
        params={"apikey": key, "source": "app-name12345", "format": "json"},
    ) as http:
        yield http


def _seed(sandbox: RunningSandbox, payload: dict[str, Any]) -> dict[str, Any]:
    assert sandbox.admin is not None
    return sandbox.admin.seed(payload)


def test_create_new_user(legacy: httpx.Client) -> None:
    answer = legacy.post("/users", json=new_user_body("charlie.quinn123@pieshop.net"))
    assert answer.status_code == 201
    assert answer.headers["content-type"] == JSON_OK
    body = answer.json()
    assert_shape(RECORDED_PROFILE_2016, body)
    assert body["SkipFirstLogin"] is False, "the recorded echo ignores SkipFirstLogin=true"
    assert body["FullName"] == "Jo Baba"


def test_create_user_already_exists(api: httpx.Client) -> None:
    api.post("/users", json=new_user_body("jobaba7@pieshop.net"))
    answer = api.post("/users", json=new_user_body("jobaba7@pieshop.net"))
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/json"
    assert answer.text == '{"Detail":"UserName already exists"}'


def test_find_user(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    ids = _seed(
        litmos_sandbox,
        {
            "users": [
                {"username": "janine.butcher@pieshop.net", "first_name": "J", "last_name": "B"}
            ]
        },
    )
    answer = legacy.get(f"/users/{ids['users']['janine.butcher@pieshop.net']}")
    assert answer.status_code == 200 and answer.headers["content-type"] == JSON_OK
    assert_shape(RECORDED_PROFILE_2017, answer.json())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", answer.json()["CreatedDate"])


def test_users_all_paginated(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    _seed(
        litmos_sandbox,
        {
            "users": [
                {"username": f"u{n}@pieshop.net", "first_name": "U", "last_name": str(n)}
                for n in range(650)
            ]
        },
    )
    sizes = []
    for start in (0, 200, 400, 600, 800):
        params = {"limit": 200, **({"start": start} if start else {})}
        page = legacy.get("/users", params=params)
        assert page.status_code == 200 and page.headers["content-type"] == JSON_OK
        sizes.append(len(page.json()))
        if page.json():
            assert_shape(RECORDED_USER_ITEM, page.json()[0])
        else:
            assert page.text == "[]"
    assert sizes == [200, 200, 200, 50, 0]


def test_get_users_without_paging(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    """get-users.yml: ``GET /users`` with no paging parameters, a bare array of list items."""
    names = [("john.smith", "John", "Smith"), ("paul.daniels", "Paul", "Daniels")]
    _seed(
        litmos_sandbox,
        {
            "users": [
                {"username": f"{u}@pieshop.net", "first_name": f, "last_name": last}
                for u, f, last in names
            ]
        },
    )
    answer = legacy.get("/users")
    assert answer.status_code == 200 and answer.headers["content-type"] == JSON_OK
    assert [u["UserName"] for u in answer.json()] == [f"{u}@pieshop.net" for u, _, _ in names]
    for item in answer.json():
        assert_shape(RECORDED_USER_ITEM, item)


def test_search_users_finds_the_one(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    """search-users.yml: searching a full username answers that user alone, list-item form."""
    _seed(
        litmos_sandbox,
        {
            "users": [
                {
                    "username": "charlie.smith@pieshop.net",
                    "first_name": "Charlie",
                    "last_name": "Smith",
                    "access_level": "Account_Owner",
                },
                {"username": "charlie.smyth@pieshop.net", "first_name": "C", "last_name": "S"},
            ]
        },
    )
    answer = legacy.get("/users", params={"search": "charlie.smith@pieshop.net"})
    assert answer.status_code == 200
    assert [u["UserName"] for u in answer.json()] == ["charlie.smith@pieshop.net"]
    assert_shape(RECORDED_USER_ITEM, answer.json()[0])
    assert answer.json()[0]["AccessLevel"] == "Account_Owner"


def test_search_users_not_found(legacy: httpx.Client) -> None:
    answer = legacy.get("/users", params={"search": "beelzebub@pieshop.net"})
    assert (answer.status_code, answer.text) == (200, "[]")


def test_find_and_update_user(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    """find-and-update-user.yml: the PUT carried ``IsCustomUsername: false`` for the
    non-e-mail username ``charlie.quinn`` and was answered 200 with no body, so the e-mail
    rule for usernames only holds for a new or changed username."""
    _seed(
        litmos_sandbox,
        {
            "users": [
                {
                    "username": "charlie.quinn",
                    "first_name": "Charlie",
                    "last_name": "Quinn",
                    "email": "charlie.quinn@pieshop.net",
                    "access_level": "Account_Owner",
                },
                {
                    "username": "charlie.quinn123",
                    "first_name": "Mark",
                    "last_name": "Smith",
                    "email": "charlesquinn1984@gmail.com",
                },
                {
                    "username": "charlie.quinn@pieshop.net",
                    "first_name": "Mark",
                    "last_name": "Quinn",
                    "email": "Charlie.Quinn@pieshop.net",
                },
            ]
        },
    )
    found = legacy.get("/users", params={"search": "charlie.quinn"})
    assert found.status_code == 200
    assert [u["UserName"] for u in found.json()] == [
        "charlie.quinn",
        "charlie.quinn123",
        "charlie.quinn@pieshop.net",
    ]
    first = found.json()[0]
    body = new_user_body(
        "charlie.quinn",
        Id=first["Id"],
        FirstName="Charlie",
        LastName="Quinn",
        Email="charlie.quinn@pieshop.net",
        AccessLevel="Account_Owner",
        Skype="skypeeeeeewoo",
    )
    assert body["IsCustomUsername"] is False, "as recorded: a non-e-mail username kept as is"
    assert_empty_ok(legacy.put(f"/users/{first['Id']}", json=body), 200)
    assert legacy.get(f"/users/{first['Id']}").json()["Skype"] == "skypeeeeeewoo"


def test_deactivate_user(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    """deactivate-user.yml: the full body with ``Active: false`` (and, again, a kept
    non-e-mail username with ``IsCustomUsername: false``) is 200; the list then says so."""
    _seed(
        litmos_sandbox,
        {
            "users": [
                {
                    "username": "paul.smith2",
                    "first_name": "Paul",
                    "last_name": "Jacobson",
                    "email": "paul.smith1@pieshop.com",
                }
            ]
        },
    )
    before = legacy.get("/users", params={"search": "paul.smith2"}).json()
    assert before[0]["Active"] is True
    body = new_user_body(
        "paul.smith2",
        Id=before[0]["Id"],
        FirstName="Paul",
        LastName="Jacobson",
        Email="paul.smith1@pieshop.com",
        Active=False,
    )
    assert_empty_ok(legacy.put(f"/users/{before[0]['Id']}", json=body), 200)
    after = legacy.get("/users", params={"search": "paul.smith2"}).json()
    assert_shape(RECORDED_USER_ITEM, after[0])
    assert after[0]["Active"] is False


def test_delete_user(api: httpx.Client) -> None:
    created = api.post("/users", json=new_user_body("gone@pieshop.net")).json()
    assert_empty_ok(api.delete(f"/users/{created['Id']}"), 200)


def test_teams_create_and_sub_teams(api: httpx.Client) -> None:
    team = api.post("/teams", json={"Id": "", "Name": "jobaba", "Description": "Jobaba's A team"})
    assert team.status_code == 201 and team.headers["content-type"] == JSON_OK
    assert_shape(RECORDED_TEAM, team.json())
    got = api.get(f"/teams/{team.json()['Id']}")
    assert got.status_code == 200
    assert_shape(RECORDED_TEAM, got.json())
    sub = api.post(
        f"/teams/{team.json()['Id']}/teams",
        json={"Id": "", "Name": "Bob's A-Team", "Description": "Make Pies Great Again"},
    )
    assert sub.status_code == 201
    assert_shape(RECORDED_TEAM, sub.json())
    subs = api.get(f"/teams/{team.json()['Id']}/teams")
    assert subs.status_code == 200
    assert_shape(RECORDED_TEAM_ITEM, subs.json()[0])
    assert re.fullmatch(r"\d+-Bob'sA-Team", subs.json()[0]["TeamCodeForBulkImport"])


def test_teams_all_paginated(litmos_sandbox: RunningSandbox, legacy: httpx.Client) -> None:
    _seed(litmos_sandbox, {"teams": [{"name": f"Team {n}"} for n in range(204)]})
    sizes = []
    for start in (0, 200, 400):
        page = legacy.get("/teams", params={"limit": 200, **({"start": start} if start else {})})
        assert page.status_code == 200
        sizes.append(len(page.json()))
    assert sizes == [200, 4, 0]
    assert_shape(RECORDED_TEAM_ITEM, legacy.get("/teams").json()[0])


def test_team_users_add_leaders_remove(api: httpx.Client) -> None:
    team = api.post("/teams", json={"Id": "", "Name": "Max Chandler", "Description": ""}).json()
    users = [
        api.post("/users", json=new_user_body(f"jobaba{n}@pieshop.net")).json() for n in (1, 2)
    ]
    body = [
        {"Id": u["Id"], "UserName": u["UserName"], "FirstName": "Jo", "LastName": "Baba"}
        for u in users
    ]
    assert_empty_ok(api.post(f"/teams/{team['Id']}/users", json=body), 201)
    members = api.get(f"/teams/{team['Id']}/users")
    assert members.status_code == 200
    assert_shape(RECORDED_USER_ITEM, members.json()[0])
    assert_empty_ok(api.put(f"/teams/{team['Id']}/leaders/{users[0]['Id']}"), 200)
    assert_empty_ok(api.delete(f"/teams/{team['Id']}/leaders/{users[0]['Id']}"), 200)
    assert_empty_ok(api.delete(f"/teams/{team['Id']}/users/{users[1]['Id']}"), 200)
    assert_empty_ok(api.delete(f"/users/{users[0]['Id']}/teams"), 200)


def test_end_to_end_nested_teams_and_leaders(api: httpx.Client) -> None:
    """end-to-end-integration-test.yml: three levels of teams (each POST 201 with the new
    team), the same two users added to two sub-teams (201, no body), two leaders on one
    team, one demoted (200, no body each)."""
    first = api.post("/users", json=new_user_body("jobaba66@pieshop.net")).json()
    second = api.post("/users", json=new_user_body("jobaba72@pieshop.net")).json()
    top = api.post("/teams", json={"Id": "", "Name": "jobaba66", "Description": "B team"})
    assert top.status_code == 201
    middle = api.post(f"/teams/{top.json()['Id']}/teams", json={"Id": "", "Name": "jobaba33"})
    assert middle.status_code == 201
    leaves = []
    for name in ("jobaba001", "jobaba002"):
        leaf = api.post(f"/teams/{middle.json()['Id']}/teams", json={"Id": "", "Name": name})
        assert leaf.status_code == 201
        assert_shape(RECORDED_TEAM, leaf.json())
        leaves.append(leaf.json()["Id"])
    members = [{"Id": u["Id"], "UserName": u["UserName"]} for u in (first, second)]
    for leaf in leaves:
        assert_empty_ok(api.post(f"/teams/{leaf}/users", json=members), 201)
    assert_empty_ok(api.put(f"/teams/{leaves[0]}/leaders/{first['Id']}"), 200)
    assert_empty_ok(api.put(f"/teams/{leaves[1]}/leaders/{first['Id']}"), 200)
    assert_empty_ok(api.put(f"/teams/{leaves[1]}/leaders/{second['Id']}"), 200)
    assert_empty_ok(api.delete(f"/teams/{leaves[1]}/leaders/{first['Id']}"), 200)
    leaders = api.get(f"/teams/{leaves[1]}/leaders").json()
    assert [u["Id"] for u in leaders] == [second["Id"]]
    assert [t["Id"] for t in api.get(f"/teams/{middle.json()['Id']}/teams").json()] == leaves


def test_mark_module_complete(litmos_sandbox: RunningSandbox, api: httpx.Client) -> None:
    ids = _seed(
        litmos_sandbox,
        {
            "courses": [
                {"code": "TST001", "name": "Test Why bother", "modules": [{"name": "Test"}]}
            ],
            "users": [
                {
                    "username": "charlie.quinn@pieshop.net",
                    "first_name": "Charlie",
                    "last_name": "Quinn",
                    "courses": ["TST001"],
                }
            ],
        },
    )
    course_id = ids["courses"]["TST001"]
    course = api.get(f"/courses/{course_id}")
    assert course.status_code == 200
    assert_shape(RECORDED_COURSE, course.json())
    assert '"Price":0.00' in course.text
    modules = api.get(f"/courses/{course_id}/modules", params={"limit": 200})
    assert_shape(RECORDED_MODULE, modules.json()[0], exact=True)
    assert (
        api.get(f"/courses/{course_id}/modules", params={"limit": 200, "start": 200}).text == "[]"
    )
    user_id = ids["users"]["charlie.quinn@pieshop.net"]
    assert_shape(RECORDED_PROFILE_2017, api.get(f"/users/{user_id}").json())
    body = {
        "UpdatedAt": "/Date(1497801750508)/",
        "CourseId": course_id,
        "UserId": user_id,
        "Note": "",
        "Completed": True,
        "Score": 100,
    }
    assert_empty_ok(api.put(f"/results/modules/{modules.json()[0]['Id']}", json=body), 200)
    iso = {**body, "UpdatedAt": "2017-06-05T15:00:17Z"}
    fault = api.put(f"/results/modules/{modules.json()[0]['Id']}", json=iso)
    assert fault.status_code == 500
    assert fault.headers["content-type"] == "text/html"
    assert fault.text.startswith("<html") and "Request Error" in fault.text
