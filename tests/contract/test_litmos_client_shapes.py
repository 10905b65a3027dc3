"""Requests shaped exactly as the public Litmos client libraries send them, replayed
against the Litmos simulator over loopback (issue 13.7). Each test names its client; the
requests are written here from reading those clients (paths, query, headers, body shape,
XML or JSON), no client code is used. What each client then reads from the answer must be
there. The recorded cassettes of charliequinn/python-litmos-api are replayed in
tests/unit/sandbox/test_litmos_replay.py; here are its other write shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import SEED

XML_HEADERS = {"Content-Type": "application/xml"}


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> dict[str, Any]:
    assert litmos_sandbox.admin is not None
    return dict(litmos_sandbox.admin.seed(SEED))


@pytest.fixture
def raw(litmos_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """No default query or headers: each test sends what its client sends."""
    with httpx.Client(base_url=litmos_sandbox.base_url, timeout=10) as http:
        yield http


def _key(sandbox: RunningSandbox) -> str:
    return sandbox.credentials["apikey"]


def _src(sandbox: RunningSandbox) -> str:
    return sandbox.credentials["source"]


def _items(answer: httpx.Response, root: str, item: str) -> list[ET.Element]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    element = ET.fromstring(answer.content)
    assert element.tag == root
    return element.findall(item)


def test_trifoia_sdk_pages_users_in_xml_until_a_short_page(
    litmos_sandbox: RunningSandbox, seeded: dict[str, Any], raw: httpx.Client
) -> None:
    """Trifoia/litmos-sdk (Node, lib/request/process-opts.js, request.js): every request
    carries ``Content-Type: application/xml`` and the ``apikey`` header, the query is
    ``?source=<app>&start=<n>&limit=<perPage>`` built by hand, and it asks again while a
    page holds at least ``limit`` items."""
    headers = {**XML_HEADERS, "apikey": _key(litmos_sandbox)}
    seen: list[str] = []
    start, limit, calls = 0, 2, 0
    while True:
        answer = raw.get(
            f"/v1.svc/users?source={_src(litmos_sandbox)}&start={start}&limit={limit}",
            headers=headers,
        )
        calls += 1
        users = _items(answer, "Users", "User")
        seen += [str(u.findtext("UserName")) for u in users]
        if len(users) < limit:
            break
        start += len(users)
    assert sorted(seen) == sorted(u["username"] for u in SEED["users"])
    assert calls == 2


def test_trifoia_sdk_creates_a_user_with_its_generated_xml(
    litmos_sandbox: RunningSandbox, raw: httpx.Client
) -> None:
    """Trifoia/litmos-sdk lib/generators/generate-user.js: the ``User`` element in its
    fixed order with ``Id``, ``FullName``, ``LastLogin`` and ``LoginKey`` empty, booleans as
    the strings ``true``/``false``, ``TimeZone`` empty for the account's default; a POST
    body is wrapped by process-body.js in the single ``User`` root."""
    body = (
        "<User><Id></Id><UserName>tri.user@example.com</UserName><FirstName>Tri</FirstName>"
        "<LastName>Foia</LastName><FullName></FullName><Email>tri.user@example.com</Email>"
        "<AccessLevel>Learner</AccessLevel><DisableMessages>true</DisableMessages>"
        "<Active>true</Active><LastLogin></LastLogin><LoginKey></LoginKey>"
        "<IsCustomUsername>false</IsCustomUsername><SkipFirstLogin>false</SkipFirstLogin>"
        "<TimeZone></TimeZone><JobTitle>Engineer</JobTitle></User>"
    )
    answer = raw.post(
        f"/v1.svc/users?source={_src(litmos_sandbox)}",
        content=body,
        headers={**XML_HEADERS, "apikey": _key(litmos_sandbox)},
    )
    assert answer.status_code == 201, answer.text
    user = ET.fromstring(answer.content)
    assert user.tag == "User" and user.findtext("Id")
    assert user.findtext("JobTitle") == "Engineer" and user.findtext("Active") == "true"


def test_trifoia_sdk_team_writes_use_list_roots(
    litmos_sandbox: RunningSandbox, seeded: dict[str, Any], raw: httpx.Client
) -> None:
    """Trifoia/litmos-sdk lib/endpoints/teams.js: team users and team courses are posted
    as ``<Users><User>…`` and ``<Courses><Course>…`` (its ``_reqPath`` pairs)."""
    headers = {**XML_HEADERS, "apikey": _key(litmos_sandbox)}
    team = seeded["teams"]["Sales"]
    query = f"?source={_src(litmos_sandbox)}"
    user = seeded["users"]["ann.lee@example.com"]
    users = raw.post(
        f"/v1.svc/teams/{team}/users{query}",
        content=f"<Users><User><Id>{user}</Id></User></Users>",
        headers=headers,
    )
    assert users.status_code in (200, 201), users.text
    course = seeded["courses"]["GDPR1"]
    courses = raw.post(
        f"/v1.svc/teams/{team}/courses{query}",
        content=f"<Courses><Course><Id>{course}</Id></Course></Courses>",
        headers=headers,
    )
    assert courses.status_code in (200, 201), courses.text
    members = _items(
        raw.get(f"/v1.svc/teams/{team}/users{query}", headers=headers), "Users", "User"
    )
    assert [m.findtext("Id") for m in members] == [user]
    linked = _items(
        raw.get(f"/v1.svc/teams/{team}/courses{query}", headers=headers), "Courses", "Course"
    )
    assert [c.findtext("Id") for c in linked] == [course]


@pytest.mark.parametrize(
    "path,root,item",
    [
        ("/v1.svc/users", "Users", "User"),
        ("/v1.svc/teams", "Teams", "Team"),
        ("/v1.svc/courses", "Courses", "Course"),
    ],
)
def test_baton_lists_in_xml_with_accept_header_and_page_500(
    litmos_sandbox: RunningSandbox,
    seeded: dict[str, Any],
    raw: httpx.Client,
    path: str,
    root: str,
    item: str,
) -> None:
    """ConductorOne/baton-litmos pkg/litmos/client.go: ``apikey`` header, ``Accept:
    application/xml``, query ``limit=500&source=<app>&start=<n>`` (Go's sorted encoding;
    ``start`` left out on the first page), one page when it holds fewer than 500."""
    answer = raw.get(
        f"{path}?limit=500&source={_src(litmos_sandbox)}",
        headers={"apikey": _key(litmos_sandbox), "Accept": "application/xml"},
    )
    rows = _items(answer, root, item)
    assert 0 < len(rows) < 500
    assert all(row.findtext("Id") for row in rows)
    if root == "Users":
        # The fields baton's User struct reads.
        for name in ("UserName", "FirstName", "LastName", "Active", "Email", "AccessLevel"):
            assert rows[0].find(name) is not None, name
        assert rows[0].find("Brand") is not None


def test_baton_reads_course_users_and_modules(
    litmos_sandbox: RunningSandbox, seeded: dict[str, Any], raw: httpx.Client
) -> None:
    """ConductorOne/baton-litmos: ``/courses/{id}``, ``/courses/{id}/users`` (with
    ``AccessTillDate``), ``/courses/{id}/modules`` and ``/teams/{id}/users``, all XML, the
    last three paged with ``limit=500&start=500`` until short."""
    headers = {"apikey": _key(litmos_sandbox), "Accept": "application/xml"}
    src = _src(litmos_sandbox)
    course = seeded["courses"]["SAFE101"]
    detail = raw.get(f"/v1.svc/courses/{course}?source={src}", headers=headers)
    assert detail.status_code == 200
    assert ET.fromstring(detail.content).findtext("Id") == course
    modules = _items(
        raw.get(f"/v1.svc/courses/{course}/modules?limit=500&source={src}", headers=headers),
        "Modules",
        "Module",
    )
    assert len(modules) == 2
    beyond = raw.get(
        f"/v1.svc/courses/{course}/modules?limit=500&source={src}&start=500", headers=headers
    )
    assert _items(beyond, "Modules", "Module") == []
    team = seeded["teams"]["Company"]
    assert (
        _items(
            raw.get(f"/v1.svc/teams/{team}/users?limit=500&source={src}", headers=headers),
            "Users",
            "User",
        )
        == []
    )
    ann = seeded["users"]["ann.lee@example.com"]
    given = raw.post(
        f"/v1.svc/users/{ann}/courses?source={src}&sendmessage=false",
        content=f"<Courses><Course><Id>{course}</Id></Course></Courses>",
        headers={**headers, **XML_HEADERS},
    )
    assert given.status_code in (200, 201), given.text
    assigned = _items(
        raw.get(f"/v1.svc/courses/{course}/users?limit=500&source={src}", headers=headers),
        "Users",
        "User",
    )
    assert [u.findtext("Id") for u in assigned] == [ann]
    assert assigned[0].find("AccessTillDate") is not None


def test_java_integration_writes_xml_with_text_xml(
    litmos_sandbox: RunningSandbox, seeded: dict[str, Any], raw: httpx.Client
) -> None:
    """jackdog040506/litmos-api-integration (Java, LitmosApiClient.java, LitmosUserApi.java):
    ``apikey`` header, only ``?source=`` in the query, bodies written with XMLStreamWriter as
    ``text/xml``: a user (``UserName`` … ``TimeZone``, no ``Id``), a top-level team
    (``Id``/``ParentTeamId`` empty), a sub-team, the user's teams, learning paths and the
    batch course lookup ``POST /users/courses``; course assignment goes as JSON
    ``[{"Id": …}]`` (Jackson, UpperCamelCase)."""
    headers = {"apikey": _key(litmos_sandbox), "Content-Type": "text/xml"}
    query = f"?source={_src(litmos_sandbox)}"
    user_xml = (
        "<User><UserName>java.user@example.com</UserName><FirstName>Java</FirstName>"
        "<LastName>Duke</LastName><FullName>Java Duke</FullName>"
        "<Email>java.user@example.com</Email><AccessLevel>Learner</AccessLevel>"
        "<DisableMessages>true</DisableMessages><Active>true</Active><LastLogin></LastLogin>"
        "<LoginKey></LoginKey><IsCustomUsername>false</IsCustomUsername>"
        "<SkipFirstLogin>true</SkipFirstLogin><TimeZone>UTC</TimeZone></User>"
    )
    created = raw.post(f"/v1.svc/users{query}", content=user_xml, headers=headers)
    assert created.status_code == 201, created.text
    user_id = ET.fromstring(created.content).findtext("Id")

    team_xml = (
        "<Team><Id></Id><Name>Java Team</Name><Description>From Java</Description>"
        "<ParentTeamId></ParentTeamId></Team>"
    )
    team = raw.post(f"/v1.svc/teams{query}", content=team_xml, headers=headers)
    assert team.status_code == 201, team.text
    team_id = ET.fromstring(team.content).findtext("Id")
    sub_xml = (
        "<Team><Id></Id><Name>Java Sub</Name><Description>x</Description>"
        "<ParentTeamId></ParentTeamId></Team>"
    )
    sub = raw.post(f"/v1.svc/teams/{team_id}/teams{query}", content=sub_xml, headers=headers)
    assert sub.status_code == 201, sub.text
    assert ET.fromstring(sub.content).findtext("ParentTeamId") == team_id

    joined = raw.post(
        f"/v1.svc/users/{user_id}/teams{query}",
        content=f"<Teams><Team><Id>{team_id}</Id></Team></Teams>",
        headers=headers,
    )
    assert joined.status_code in (200, 201), joined.text
    path_id = seeded["learning_paths"]["Onboarding"]
    paths = raw.post(
        f"/v1.svc/users/{user_id}/learningpaths{query}",
        content=f"<LearningPaths><LearningPath><Id>{path_id}</Id></LearningPath></LearningPaths>",
        headers=headers,
    )
    assert paths.status_code in (200, 201), paths.text
    course_id = seeded["courses"]["LEAD1"]
    assigned = raw.post(
        f"/v1.svc/users/{user_id}/courses{query}",
        json=[{"Id": course_id}],
        headers={"apikey": _key(litmos_sandbox), "Accept": "application/json"},
    )
    assert assigned.status_code in (200, 201), assigned.text
    batch = raw.post(
        f"/v1.svc/users/courses{query}",
        content=f"<Users><User><Id>{user_id}</Id></User></Users>",
        headers=headers,
    )
    assert batch.status_code == 200, batch.text
    assert course_id in batch.text
    teams = _items(
        raw.get(f"/v1.svc/users/{user_id}/teams{query}", headers={"apikey": _key(litmos_sandbox)}),
        "Teams",
        "Team",
    )
    assert [t.findtext("Id") for t in teams] == [team_id]


def test_python_litmos_api_team_writes_in_json(
    litmos_sandbox: RunningSandbox, seeded: dict[str, Any], raw: httpx.Client
) -> None:
    """charliequinn/python-litmos-api src/litmos/team.py: ``?source=<app>&format=json``,
    ``apikey`` header, JSON bodies: ``add_users`` posts ``[{Id, UserName, FirstName,
    LastName}]``, ``assign_courses`` ``[{Id, CourseTeamLibrary}]``, ``unassign_courses``
    the same list in a DELETE body, ``promote_team_leader`` a PUT with no body."""
    headers = {"apikey": _key(litmos_sandbox)}
    query = f"?source={_src(litmos_sandbox)}&format=json"
    team = seeded["teams"]["Sales"]
    user = seeded["users"]["bob.stone@example.com"]
    added = raw.post(
        f"/v1.svc/teams/{team}/users{query}",
        json=[
            {
                "Id": user,
                "UserName": "bob.stone@example.com",
                "FirstName": "Bob",
                "LastName": "Stone",
            }
        ],
        headers=headers,
    )
    assert added.status_code in (200, 201), added.text
    course = seeded["courses"]["SAFE101"]
    assign = raw.post(
        f"/v1.svc/teams/{team}/courses{query}",
        json=[{"Id": course, "CourseTeamLibrary": False}],
        headers=headers,
    )
    assert assign.status_code in (200, 201), assign.text
    assert [
        c["Id"] for c in raw.get(f"/v1.svc/teams/{team}/courses{query}", headers=headers).json()
    ] == [course]
    promoted = raw.put(f"/v1.svc/teams/{team}/leaders/{user}{query}", headers=headers)
    assert promoted.status_code == 200, promoted.text
    leaders = raw.get(f"/v1.svc/teams/{team}/leaders{query}", headers=headers).json()
    assert [u["Id"] for u in leaders] == [user]
    removed = raw.request(
        "DELETE",
        f"/v1.svc/teams/{team}/courses{query}",
        json=[{"Id": course, "CourseTeamLibrary": False}],
        headers=headers,
    )
    assert removed.status_code == 200, removed.text
    assert raw.get(f"/v1.svc/teams/{team}/courses{query}", headers=headers).json() == []
