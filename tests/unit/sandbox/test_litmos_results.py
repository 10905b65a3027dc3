"""Litmos simulator: courses, assignments, learning paths, module results, result pulls
(``/results/details`` and the ``/org`` date-range deltas) and learner activity."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import SEED, around_now, client, xml


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> RunningSandbox:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.seed(SEED)
    return litmos_sandbox


@pytest.fixture
def api(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded) as http:
        yield http


def _ids(api: httpx.Client) -> tuple[dict[str, str], dict[str, str]]:
    users = {u["UserName"]: u["Id"] for u in api.get("/users").json()}
    courses = {c["Code"]: c["Id"] for c in api.get("/courses").json()}
    return users, courses


def _activity(sandbox: RunningSandbox, **body: object) -> dict[str, object]:
    assert sandbox.admin is not None
    return dict(sandbox.admin.post("activity", body))


def test_courses_and_modules(api: httpx.Client) -> None:
    course = api.get("/courses", params={"search": "safety"}).json()[0]
    assert list(course) == [
        "Id",
        "Code",
        "Name",
        "Active",
        "ForSale",
        "OriginalId",
        "Description",
        "EcommerceShortDescription",
        "EcommerceLongDescription",
        "CourseCodeForBulkImport",
        "Price",
        "AccessTillDate",
        "AccessTillDays",
        "CourseTeamLibrary",
        "CreatedBy",
    ]
    assert course["CourseTeamLibrary"] is False
    assert '"Price":0.00' in api.get(f"/courses/{course['Id']}").text
    modules = api.get(f"/courses/{course['Id']}/modules").json()
    assert [list(m) for m in modules] == [["Id", "Code", "Name", "Description"]] * 2
    missing = api.get("/courses/nope")
    assert (missing.status_code, missing.json()["Detail"]) == (
        404,
        "The course nope does not exist.",
    )


def test_assign_list_remove_courses(api: httpx.Client) -> None:
    users, courses = _ids(api)
    ann = users["ann.lee@example.com"]
    body = [{"Id": courses["SAFE101"]}, {"Id": courses["GDPR1"]}, {"Id": "bogus"}]
    assigned = api.post(f"/users/{ann}/courses", params={"sendmessage": "false"}, json=body)
    assert (assigned.status_code, assigned.text) == (201, "")
    assert api.post(f"/users/{ann}/courses", json=body).status_code == 201, "repeat is ignored"
    rows = api.get(f"/users/{ann}/courses").json()
    assert sorted(r["Code"] for r in rows) == ["GDPR1", "SAFE101"]
    assert list(rows[0])[:6] == ["Id", "Code", "Name", "Active", "Complete", "PercentageComplete"]
    course_users = api.get(f"/courses/{courses['GDPR1']}/users").json()
    assert [u["UserName"] for u in course_users] == ["ann.lee@example.com"]
    removed = api.delete(f"/users/{ann}/courses/{courses['GDPR1']}")
    assert (removed.status_code, removed.text) == (200, "")
    assert [r["Code"] for r in api.get(f"/users/{ann}/courses").json()] == ["SAFE101"]
    assert api.delete(f"/users/{ann}/courses/{courses['GDPR1']}").status_code == 404
    assert api.post("/users/nobody/courses", json=body).status_code == 404


def test_assign_courses_with_an_xml_body(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        users, courses = _ids(api)
    body = f"<Courses><Course><Id>{courses['LEAD1']}</Id></Course></Courses>"
    with client(seeded, fmt=None) as api:
        ann = users["ann.lee@example.com"]
        answer = api.post(
            f"/users/{ann}/courses", content=body, headers={"content-type": "application/xml"}
        )
        assert answer.status_code == 201
        assert xml(api.get(f"/users/{ann}/courses"))[0].findtext("Code") == "LEAD1"


def test_course_results_with_modules_and_reset(seeded: RunningSandbox, api: httpx.Client) -> None:
    users, courses = _ids(api)
    ann, safe = users["ann.lee@example.com"], courses["SAFE101"]
    api.post(f"/users/{ann}/courses", json=[{"Id": safe}])
    _activity(seeded, user=ann, course="SAFE101", action="progress", module="Intro", score=70)
    result = api.get(f"/users/{ann}/courses/{safe}").json()[0]
    assert result["PercentageComplete"] == 50.0 and result["Complete"] is False
    assert [m["Completed"] for m in result["Modules"]] == [True, False]
    assert result["Modules"][0]["Score"] == 70
    _activity(seeded, user=ann, course="SAFE101", action="complete", score=95)
    done = api.get(f"/users/{ann}/courses").json()[0]
    assert done["Complete"] is True and done["PercentageComplete"] == 100.0
    assert re.fullmatch(r"/Date\(\d+-0000\)/", done["DateCompleted"])
    reset = api.put(f"/users/{ann}/courses/{safe}/reset")
    assert (reset.status_code, reset.text) == (200, "")
    again = api.get(f"/users/{ann}/courses").json()[0]
    assert (again["Complete"], again["PercentageComplete"], again["DateCompleted"]) == (
        False,
        0.0,
        None,
    )
    assert api.put(f"/users/{ann}/courses/{courses['GDPR1']}/reset").status_code == 404


def test_course_results_xml_nest_modules(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        users, courses = _ids(api)
        api.post(
            f"/users/{users['bob.stone@example.com']}/courses", json=[{"Id": courses["SAFE101"]}]
        )
    with client(seeded, fmt=None) as api:
        root = xml(api.get(f"/users/{users['bob.stone@example.com']}/courses/{courses['SAFE101']}"))
    assert root.tag == "Courses"
    assert [m.findtext("Name") for m in root.iter("Module")] == ["Intro", "Quiz"]


def test_batch_courses_for_up_to_25_users(api: httpx.Client) -> None:
    users, courses = _ids(api)
    for user_id in users.values():
        api.post(f"/users/{user_id}/courses", json=[{"Id": courses["GDPR1"]}])
    body = [{"Id": user_id} for user_id in users.values()]
    answer = api.post("/users/courses", json=body)
    assert answer.status_code == 200
    rows = answer.json()
    assert [row["Id"] for row in rows] == list(users.values())
    assert all(row["Courses"][0]["UserId"] == row["Id"] for row in rows)
    assert api.post("/users/courses", json=[{"Id": "x"}] * 26).status_code == 400


def test_learning_paths_for_users(api: httpx.Client) -> None:
    users, courses = _ids(api)
    ann = users["ann.lee@example.com"]
    path = api.get("/learningpaths").json()[0]
    assert [c["Code"] for c in api.get(f"/learningpaths/{path['Id']}/courses").json()] == [
        "SAFE101",
        "GDPR1",
    ]
    assert api.post(f"/users/{ann}/learningpaths", json=[{"Id": path["Id"]}]).status_code == 201
    assert [u["Id"] for u in api.get(f"/learningpaths/{path['Id']}/users").json()] == [ann]
    rows = api.get(f"/users/{ann}/courses").json()
    assert sorted((r["Code"], r["IsLearningPath"]) for r in rows) == [
        ("", True),
        ("GDPR1", False),
        ("SAFE101", False),
    ]
    blocked = api.delete(f"/users/{ann}/courses/{courses['GDPR1']}")
    assert blocked.status_code == 406
    removed = api.delete(f"/users/{ann}/learningpaths/{path['Id']}")
    assert (removed.status_code, removed.text) == (201, ""), "the docs say 201 for a removal"
    assert api.get(f"/users/{ann}/learningpaths").json() == []
    assert api.get(f"/users/{ann}/courses").json() == []


def test_module_result_json_needs_wcf_dates(seeded: RunningSandbox, api: httpx.Client) -> None:
    users, courses = _ids(api)
    ann, safe = users["ann.lee@example.com"], courses["SAFE101"]
    api.post(f"/users/{ann}/courses", json=[{"Id": safe}])
    module = api.get(f"/courses/{safe}/modules").json()[0]
    body = {
        "UpdatedAt": "/Date(1497801750508)/",
        "CourseId": safe,
        "UserId": ann,
        "Note": "",
        "Completed": True,
        "Score": 100,
    }
    ok = api.put(f"/results/modules/{module['Id']}", json=body)
    assert (ok.status_code, ok.text) == (200, "")
    result = api.get(f"/users/{ann}/courses/{safe}").json()[0]
    assert result["Modules"][0]["Completed"] is True
    assert result["Modules"][0]["DateCompleted"] == "/Date(1497801750508-0000)/"
    iso = api.put(
        f"/results/modules/{module['Id']}", json={**body, "UpdatedAt": "2017-06-05T15:00:17Z"}
    )
    assert iso.status_code == 500
    assert iso.headers["content-type"] == "text/html"
    assert "'InternalServerError'" in iso.text
    wrong_course = api.put(
        f"/results/modules/{module['Id']}", json={**body, "CourseId": courses["GDPR1"]}
    )
    assert wrong_course.status_code == 404


def test_module_result_xml_in_contract_order(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        users, courses = _ids(api)
        ann, lead = users["ann.lee@example.com"], courses["LEAD1"]
        api.post(f"/users/{ann}/courses", json=[{"Id": lead}])
        module = api.get(f"/courses/{lead}/modules").json()[0]
    body = (
        f"<ModuleResult><CourseId>{lead}</CourseId><UserId>{ann}</UserId><Score>88</Score>"
        "<Completed>true</Completed><UpdatedAt>2024-03-01T10:00:00Z</UpdatedAt></ModuleResult>"
    )
    with client(seeded, fmt=None) as api:
        answer = api.put(
            f"/results/modules/{module['Id']}", content=body, headers={"content-type": "text/xml"}
        )
        assert answer.status_code == 200
    with client(seeded) as api:
        course = api.get(f"/users/{ann}/courses").json()[0]
    assert course["Complete"] is True


def _prepare_results(seeded: RunningSandbox, api: httpx.Client) -> dict[str, str]:
    users, courses = _ids(api)
    ann, bob = users["ann.lee@example.com"], users["bob.stone@example.com"]
    _activity(seeded, user=ann, course="SAFE101", action="complete", at="2024-03-02T10:00:00Z")
    _activity(seeded, user=bob, course="GDPR1", action="start", at="2024-03-20T08:30:00Z")
    _activity(
        seeded,
        user=bob,
        course="LEAD1",
        action="progress",
        percentage=100,
        at="2024-03-21T09:00:00Z",
    )
    return {"ann": ann, "bob": bob, **courses}


def test_results_details_since_and_to(seeded: RunningSandbox, api: httpx.Client) -> None:
    ids = _prepare_results(seeded, api)
    everything = api.get("/results/details", params={"since": "2024-03-01"}).json()
    assert sorted(r["Code"] for r in everything) == ["GDPR1", "LEAD1", "SAFE101"]
    row = next(r for r in everything if r["Code"] == "SAFE101")
    assert row["Id"] == ids["ann"] and row["Complete"] is True
    assert re.fullmatch(r"/Date\(\d+-0000\)/", row["UpdatedDate"])
    later = api.get("/results/details", params={"since": "2024-03-20 08:30"}).json()
    assert sorted(r["Code"] for r in later) == ["GDPR1", "LEAD1"]
    window = api.get(
        "/results/details", params={"since": "2024-03-01", "to": "2024-03-20 08:30:00"}
    ).json()
    assert [r["Code"] for r in window] == ["SAFE101"], "to is exclusive"
    for params in ({}, {"since": "03/01/2024"}, {"since": "2024-03-01", "to": "soon"}):
        answer = api.get("/results/details", params=params)
        assert answer.status_code == 406
        assert answer.json()["Detail"].startswith("Please provide a valid 'since=' query")
    assert (
        api.get("/results/details", params={"since": "2024-01-01", "limit": 1001}).status_code
        == 406
    )


def test_results_details_xml_root(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        _prepare_results(seeded, api)
    with client(seeded, fmt=None) as api:
        root = xml(api.get("/results/details", params={"since": "2024-01-01"}))
    assert root.tag == "Users" and {child.tag for child in root} == {"User"}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2024-03-01"},
        {"to": "2024-03-05"},
        {"since": "2024-03-01", "to": "2024-03-08 00:00:01"},
        {"since": "2024-03-05", "to": "2024-03-01"},
        {"since": "bad", "to": "2024-03-05"},
    ],
)
def test_org_window_rules(api: httpx.Client, params: dict[str, str]) -> None:
    answer = api.get("/org/results/details", params=params)
    assert answer.status_code == 406
    assert answer.json() == {
        "Detail": "Please provide a valid since and to query string parameters"
    }


def test_org_results_in_a_seven_day_window(seeded: RunningSandbox, api: httpx.Client) -> None:
    ids = _prepare_results(seeded, api)
    week = api.get(
        "/org/results/details", params={"since": "2024-03-18", "to": "2024-03-25"}
    ).json()
    assert sorted((r["UserId"], r["Code"]) for r in week) == sorted(
        [(ids["bob"], "GDPR1"), (ids["bob"], "LEAD1")]
    )
    lead = next(r for r in week if r["Code"] == "LEAD1")
    assert lead["Completed"] is True and lead["TeamAssignment"] is False
    exactly_seven = api.get(
        "/org/results/details", params={"since": "2024-03-01 00:00:00", "to": "2024-03-08 00:00:00"}
    )
    assert [r["Code"] for r in exactly_seven.json()] == ["SAFE101"]
    modules = api.get(
        "/org/modules/results", params={"since": "2024-03-01", "to": "2024-03-08"}
    ).json()
    assert len(modules) == 2 and all(m["Completed"] for m in modules)


def test_org_reports_removals_as_inactive_rows(seeded: RunningSandbox, api: httpx.Client) -> None:
    users, courses = _ids(api)
    ann = users["ann.lee@example.com"]
    teams = {t["Name"]: t["Id"] for t in api.get("/teams").json()}
    api.post(f"/teams/{teams['Sales']}/users", json=[{"Id": ann}])
    api.post(f"/users/{ann}/courses", json=[{"Id": courses["GDPR1"]}])
    api.delete(f"/teams/{teams['Sales']}/users/{ann}")
    api.delete(f"/users/{ann}/courses/{courses['GDPR1']}")
    window = {"since": "2000-01-01", "to": "2000-01-02"}
    assert api.get("/org/teams/users", params=window).json() == []
    window = around_now()
    team_users = api.get("/org/teams/users", params=window).json()
    assert [(r["Id"], r["Active"]) for r in team_users] == [(ann, False)]
    user_courses = api.get("/org/users/courses", params=window).json()
    assert [(r["Id"], r["Active"]) for r in user_courses] == [(courses["GDPR1"], False)]
    org_users = api.get("/org/users/details", params=window).json()
    assert {"OriginalUserId", "UpdatedDate"} <= set(org_users[0])
    for path in ("/org/teams", "/org/courses", "/org/learningpaths", "/org/teams/courses"):
        assert api.get(path, params=window).status_code == 200


def test_org_logins_follow_activity(seeded: RunningSandbox, api: httpx.Client) -> None:
    users, _ = _ids(api)
    _activity(
        seeded, user=users["bob.stone@example.com"], action="login", at="2024-05-02T07:00:00Z"
    )
    logins = api.get("/org/users/logins", params={"since": "2024-05-01", "to": "2024-05-03"}).json()
    assert [u["UserName"] for u in logins] == ["bob.stone@example.com"]
    profile = api.get(f"/users/{users['bob.stone@example.com']}").json()
    assert profile["LastLogin"] == "2024-05-02T07:00:00Z"


def test_activity_refuses_bad_requests(seeded: RunningSandbox) -> None:
    assert seeded.admin is not None
    for body, message in (
        ({"user": "nobody", "course": "SAFE101", "action": "start"}, "no user"),
        ({"user": "cy.lee", "course": "NOPE", "action": "start"}, "no course"),
        ({"user": "cy.lee", "course": "SAFE101", "action": "dance"}, "action must be"),
        ({"user": "cy.lee", "course": "SAFE101", "action": "complete", "score": 101}, "score"),
    ):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            seeded.admin.post("activity", body)
        assert caught.value.response.status_code == 422
        assert message in caught.value.response.json()["error"]


ORG_ROOTS = {
    "/org/users/details": ("Users", "User", "OriginalUserId"),
    "/org/users/logins": ("Users", "User", "OriginalUserId"),
    "/org/results/details": ("UserResults", "UserResult", "OriginalCourseId"),
    "/org/users/courses": ("UserCourses", "UserCourse", "OriginalCourseId"),
    "/org/modules/results": ("ModuleResults", "ModuleResult", "ModuleResultId"),
    "/org/learningpaths/results": (
        "LearningPathResults",
        "LearningPathResult",
        "OriginalLearningPathId",
    ),
    "/org/learningpaths/users": ("LearningPathUsers", "LearningPathUser", "LearningPathId"),
    "/org/teams": ("Teams", "Team", "OriginalTeamId"),
    "/org/teams/users": ("TeamUsers", "TeamUser", "IsTeamLeader"),
    "/org/teams/courses": ("TeamCourses", "TeamCourse", "IsInTeamLibrary"),
    "/org/teams/learningpaths": ("TeamLearningPaths", "TeamLearningPath", "TeamId"),
    "/org/courses": ("Courses", "Course", "UpdatedDate"),
    "/org/modules": ("Modules", "Module", "OriginalModuleId"),
    "/org/learningpaths": ("LearningPaths", "LearningPath", "UpdatedDate"),
}


@pytest.mark.parametrize("path", sorted(ORG_ROOTS))
def test_every_org_endpoint_in_xml_and_json(seeded: RunningSandbox, path: str) -> None:
    with client(seeded) as api:
        users, courses = _ids(api)
        ann = users["ann.lee@example.com"]
        teams = {t["Name"]: t["Id"] for t in api.get("/teams").json()}
        path_id = api.get("/learningpaths").json()[0]["Id"]
        api.post(f"/teams/{teams['Sales']}/users", json=[{"Id": ann}])
        api.post(f"/teams/{teams['Sales']}/courses", json=[{"Id": courses["LEAD1"]}])
        api.post(f"/teams/{teams['Sales']}/learningpaths", json=[{"Id": path_id}])
    _activity(seeded, user=ann, course="SAFE101", action="complete", at="2024-06-03T12:00:00Z")
    _activity(seeded, user=ann, action="login", at="2024-06-03T12:00:00Z")
    recent = around_now(days_before=3)
    june = {"since": "2024-06-01", "to": "2024-06-07"}
    window = june if path in {"/org/users/logins", "/org/modules/results"} else recent
    root_name, item_name, member = ORG_ROOTS[path]
    with client(seeded) as api:
        rows = api.get(path, params=window).json()
    assert isinstance(rows, list) and rows, f"{path} found nothing"
    assert member in rows[0]
    with client(seeded, fmt=None) as api:
        root = xml(api.get(path, params=window))
    assert root.tag == root_name
    assert {child.tag for child in root} == {item_name}


def test_course_details_and_learning_path_get(api: httpx.Client) -> None:
    """A single course (and its details) is the listed course plus ``Tags``; a path reads
    the same alone as listed (its members: ``test_litmos_recorded_xml``)."""
    course = api.get("/courses").json()[0]
    assert api.get(f"/courses/{course['Id']}/details").json() == {**course, "Tags": None}
    path = api.get("/learningpaths").json()[0]
    assert api.get(f"/learningpaths/{path['Id']}").json() == path
    assert api.get("/learningpaths/nope").status_code == 404
    assert api.get("/learningpaths", params={"search": "onboard"}).json() == [path]


def test_path_results_change_only_with_their_own_courses(
    seeded: RunningSandbox, api: httpx.Client
) -> None:
    """Progress in a course leaves the learner's other paths out of the delta, and a path
    whose course is reset is no longer complete (nor dated)."""
    assert seeded.admin is not None
    seeded.admin.seed({"learning_paths": [{"name": "Leaders", "courses": ["LEAD1"]}]})
    users, courses = _ids(api)
    ann = users["ann.lee@example.com"]
    paths = {p["Name"]: p["Id"] for p in api.get("/learningpaths").json()}
    body = [{"Id": path_id} for path_id in paths.values()]
    assert api.post(f"/users/{ann}/learningpaths", json=body).status_code == 201
    _activity(seeded, user=ann, course="LEAD1", action="complete", at="2024-06-03T12:00:00Z")
    june = {"since": "2024-06-01", "to": "2024-06-07"}
    rows = api.get("/org/learningpaths/results", params=june).json()
    assert [(r["Id"], r["Completed"]) for r in rows] == [(paths["Leaders"], True)]
    for code in ("SAFE101", "GDPR1"):
        _activity(seeded, user=ann, course=code, action="complete", at="2024-07-02T12:00:00Z")
    assert api.put(f"/users/{ann}/courses/{courses['SAFE101']}/reset").status_code == 200
    mine = {p["Name"]: p for p in api.get(f"/users/{ann}/learningpaths").json()}
    assert (mine["Onboarding"]["Complete"], mine["Onboarding"]["DateCompleted"]) == (False, None)
    assert mine["Leaders"]["Complete"] is True
