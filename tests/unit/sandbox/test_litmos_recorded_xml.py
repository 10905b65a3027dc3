"""Litmos XML as recorded in 2019, and the members a live-API test saw later.

Evidence, beyond the 2016-2017 JSON cassettes that ``test_litmos_replay`` covers:

- XML answers recorded from the real API in January 2019 and kept (e-mails obfuscated) as
  test assets of Trifoia's Node SDK, which talks XML only: a user profile, the echo of a
  create, a search, the learning-path list, a user's learning paths and an empty 201.
- That SDK's integration test, run against the live API, listing the members it expects
  on courses, a single course, learning paths, teams and a user.

The facts are written out here by hand (element names, their order, nil or empty); the
recordings themselves are not part of this project. Trifoia's SDK itself ran unchanged
against the simulator; its three failures were its own bugs (see the issue report).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import NIL, around_now, children, client, xml

# <User> of GET /users/{id} (2019-01-29), after <Points>: the members the API had gained.
RECORDED_2019_PROFILE_TAIL = [
    "Points",
    "Brand",
    "ManagerId",
    "ManagerName",
    "EnableTextNotification",
    "Website",
    "Twitter",
    "ExpirationDate",
]
# <LearningPath> of GET /learningpaths (2019-01-29), in order.
RECORDED_2019_PATH = [
    "Id",
    "Name",
    "Description",
    "Active",
    "OriginalId",
    "ForSale",
    "Price",
    "EcommerceShortDescription",
    "EcommerceLongDescription",
    "AccessTillDate",
    "AccessTillDays",
]
# <LearningPath> of GET /users/{id}/learningpaths (2019-01-29), in order.
RECORDED_2019_USER_PATH = [
    "Id",
    "Name",
    "Active",
    "OriginalId",
    "Complete",
    "PercentageComplete",
    "AssignedDate",
    "StartDate",
    "DateCompleted",
    "ResultId",
    "AccessTillDate",
]
# Members the SDK's live-API integration test asserts (names only, no order).
LIVE_COURSE = {"CourseTeamLibrary"}
LIVE_SINGLE_COURSE = {"CourseTeamLibrary", "Tags"}
LIVE_PATH = {"IsEquivalency", "LearningPathTeamLibrary"}
LIVE_PROFILE = {"JobRole"}


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> RunningSandbox:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.seed(
        {
            "courses": [{"code": "SAFE101", "name": "Safety basics"}],
            "learning_paths": [{"name": "Onboarding", "courses": ["SAFE101"]}],
            "teams": [{"name": "Sales"}],
            "users": [
                {"username": "daniel.blasher@example.com", "first_name": "Daniel", "last_name": "B"}
            ],
        }
    )
    return litmos_sandbox


@pytest.fixture
def api(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded) as http:
        yield http


@pytest.fixture
def api_xml(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded, fmt=None) as http:
        yield http


def _create_xml(http: httpx.Client, username: str) -> ET.Element:
    """A create as the SDK sends it: a short ordered body, empty TimeZone, no Id value."""
    body = (
        f"<User><Id></Id><UserName>{username}</UserName><FirstName>Joshua</FirstName>"
        "<LastName>Evans</LastName><FullName></FullName>"
        f"<Email>{username}</Email><AccessLevel>Learner</AccessLevel>"
        "<DisableMessages>true</DisableMessages><Active>true</Active><LastLogin></LastLogin>"
        "<LoginKey></LoginKey><IsCustomUsername>false</IsCustomUsername>"
        "<SkipFirstLogin>false</SkipFirstLogin><TimeZone></TimeZone></User>"
    )
    answer = http.post("/users", content=body, headers={"content-type": "application/xml"})
    assert answer.status_code == 201
    return xml(answer)


def _member(element: ET.Element, name: str) -> ET.Element:
    found = element.find(name)
    assert found is not None, f"no <{name}> in {children(element)}"
    return found


def test_create_echo_in_xml_as_recorded(api_xml: httpx.Client) -> None:
    """The 2019 echo of a create: after ``Points`` the later members in recorded order;
    no manager is ``<ManagerId>0</ManagerId>`` with an empty ``<ManagerName/>``; Website,
    Twitter and ExpirationDate are empty elements, the Salesforce ids nil."""
    user = _create_xml(api_xml, "test0@email.com")
    tags = children(user)
    at = tags.index("Points")
    assert tags[at : at + len(RECORDED_2019_PROFILE_TAIL)] == RECORDED_2019_PROFILE_TAIL
    assert _member(user, "ManagerId").text == "0"
    for name in ("ManagerName", "Website", "Twitter", "ExpirationDate", "LastLogin"):
        element = _member(user, name)
        assert (element.text, element.get(NIL)) == (None, None), name
    assert _member(user, "SalesforceId").get(NIL) == "true"
    assert _member(user, "TimeZone").text, "an empty TimeZone takes the account's default"
    assert _member(user, "FullName").text == "Joshua Evans"


def test_manager_round_trip(api: httpx.Client) -> None:
    """With a manager, ``ManagerId`` is the manager's Id and ``ManagerName`` reads
    "Daniel Blasher test1@email.com" in the 2019 recording: full name, then the address.
    A client that PUTs back the ``"0"`` it read (GET-modify-PUT, as the vendor's docs ask)
    must not be refused, and sending ``"0"`` again takes the manager away."""
    manager = api.get("/users", params={"search": "daniel.blasher"}).json()[0]
    created = api.post("/users", json=_json_user("ann.lee@example.com")).json()
    assert (created["ManagerId"], created["ManagerName"]) == ("0", "")
    round_trip = api.put(f"/users/{created['Id']}", json=created)
    assert (round_trip.status_code, round_trip.content) == (200, b"")
    assert (
        api.put(f"/users/{created['Id']}", json={**created, "ManagerId": manager["Id"]}).status_code
        == 200
    )
    profile = api.get(f"/users/{created['Id']}").json()
    assert profile["ManagerId"] == manager["Id"]
    assert profile["ManagerName"] == "Daniel B daniel.blasher@example.com"
    assert api.put(f"/users/{created['Id']}", json={**profile, "ManagerId": "0"}).status_code == 200
    assert api.get(f"/users/{created['Id']}").json()["ManagerId"] == "0"


def _json_user(username: str) -> dict[str, Any]:
    return {"Id": "", "UserName": username, "FirstName": "Ann", "LastName": "Lee"}


def test_user_list_items_carry_brand(api_xml: httpx.Client) -> None:
    """Recorded 2018 and 2019 ``<Users>`` items: the 2016 members, then ``Brand``."""
    users = xml(api_xml.get("/users", params={"search": "daniel"}))
    assert [children(u) for u in users] == [
        ["Id", "UserName", "FirstName", "LastName", "Active", "Email", "AccessLevel", "Brand"]
    ]


def test_learning_paths_in_xml_as_recorded_then_later_members(api_xml: httpx.Client) -> None:
    """``<LearningPaths>`` as recorded in 2019, with ``Price`` 0.00 and the nil
    ``AccessTill*``; the two members asserted later on the live API follow."""
    paths = xml(api_xml.get("/learningpaths"))
    assert paths.tag == "LearningPaths"
    tags = children(paths[0])
    assert tags[: len(RECORDED_2019_PATH)] == RECORDED_2019_PATH
    assert set(tags[len(RECORDED_2019_PATH) :]) == LIVE_PATH
    assert _member(paths[0], "Price").text == "0.00"
    assert _member(paths[0], "ForSale").text == "false"
    assert _member(paths[0], "AccessTillDays").get(NIL) == "true"
    one = xml(api_xml.get(f"/learningpaths/{_member(paths[0], 'Id').text}"))
    assert children(one) == tags


def test_user_learning_paths_post_and_list_as_recorded(
    api: httpx.Client, api_xml: httpx.Client
) -> None:
    """``POST /users/{id}/learningpaths`` with the XML list body: 201, no body, no content
    type (2019); the user's paths list then has the recorded members, dates in XML form."""
    user = api.get("/users").json()[0]["Id"]
    path = api.get("/learningpaths").json()[0]["Id"]
    body = f"<LearningPaths><LearningPath><Id>{path}</Id></LearningPath></LearningPaths>"
    posted = api.post(
        f"/users/{user}/learningpaths",
        content=body,
        headers={"content-type": "application/xml"},
    )
    assert (posted.status_code, posted.content) == (201, b"")
    assert "content-type" not in posted.headers
    paths = xml(api_xml.get(f"/users/{user}/learningpaths"))
    assert [children(p) for p in paths] == [RECORDED_2019_USER_PATH]
    assert _member(paths[0], "StartDate").get(NIL) == "true"
    assigned = _member(paths[0], "AssignedDate").text or ""
    assert len(assigned) >= 19 and assigned[10] == "T" and "+" not in assigned


def test_course_members_seen_on_the_live_api(api: httpx.Client) -> None:
    """Listed courses carry ``CourseTeamLibrary``; a single course also ``Tags``; both
    after the 13 members of the 2017 recording."""
    listed = api.get("/courses").json()[0]
    assert set(listed) >= LIVE_COURSE and "Tags" not in listed
    assert list(listed)[13:] == ["CourseTeamLibrary", "CreatedBy"]
    single = api.get(f"/courses/{listed['Id']}").json()
    assert set(single) >= LIVE_SINGLE_COURSE
    assert single == {**listed, "Tags": None}
    assert api.get(f"/courses/{listed['Id']}/details").json() == single


def test_team_library_flags_are_echoed(api: httpx.Client) -> None:
    """python-litmos-api assigns team courses as ``[{"Id", "CourseTeamLibrary"}]``: the
    flag comes back on the team's courses (and as ``IsInTeamLibrary`` on the delta row);
    the same for a learning path's ``LearningPathTeamLibrary``."""
    team = api.get("/teams").json()[0]["Id"]
    course = api.get("/courses").json()[0]["Id"]
    path = api.get("/learningpaths").json()[0]["Id"]
    assigned = api.post(f"/teams/{team}/courses", json=[{"Id": course, "CourseTeamLibrary": True}])
    assert assigned.status_code == 201
    assert [c["CourseTeamLibrary"] for c in api.get(f"/teams/{team}/courses").json()] == [True]
    api.post(f"/teams/{team}/courses", json=[{"Id": course, "CourseTeamLibrary": False}])
    assert [c["CourseTeamLibrary"] for c in api.get(f"/teams/{team}/courses").json()] == [False]
    api.post(f"/teams/{team}/learningpaths", json=[{"Id": path, "LearningPathTeamLibrary": True}])
    paths = api.get(f"/teams/{team}/learningpaths").json()
    assert [p["LearningPathTeamLibrary"] for p in paths] == [True]
    window = around_now()
    rows = api.get("/org/teams/courses", params=window).json()
    assert [(r["Active"], r["IsInTeamLibrary"]) for r in rows] == [(True, False)]


def test_profile_members_seen_on_the_live_api(api: httpx.Client) -> None:
    user = api.get("/users").json()[0]["Id"]
    assert set(api.get(f"/users/{user}").json()) >= LIVE_PROFILE
