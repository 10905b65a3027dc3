"""Litmos simulator: teams, sub-teams, members, leaders and admins, team courses and paths."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import SEED, children, client, xml


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> RunningSandbox:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.seed(SEED)
    return litmos_sandbox


@pytest.fixture
def api(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded) as http:
        yield http


def _ids(api: httpx.Client) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    teams = {t["Name"]: t["Id"] for t in api.get("/teams").json()}
    users = {u["UserName"]: u["Id"] for u in api.get("/users").json()}
    courses = {c["Code"]: c["Id"] for c in api.get("/courses").json()}
    return teams, users, courses


def test_create_team_201_then_409_on_duplicate_name(api: httpx.Client) -> None:
    created = api.post("/teams", json={"Id": "", "Name": "Pie makers", "Description": "Crust"})
    assert created.status_code == 201
    team = created.json()
    assert list(team)[:3] == ["Id", "Name", "Description"]
    assert team["ParentTeamId"] == ""
    assert api.get(f"/teams/{team['Id']}").json()["Name"] == "Pie makers"
    duplicate = api.post("/teams", json={"Id": "", "Name": "pie MAKERS"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"Detail": "Team name already exists"}
    assert api.post("/teams", json={"Id": "", "Name": ""}).status_code == 400
    assert api.post("/teams", json={"Id": "", "Name": "x" * 101}).status_code == 400


def test_sub_teams_and_parent_rules(api: httpx.Client) -> None:
    teams, _, _ = _ids(api)
    child = api.post(f"/teams/{teams['Sales']}/teams", json={"Id": "", "Name": "Sales North"})
    assert child.status_code == 201
    assert child.json()["ParentTeamId"] == teams["Sales"]
    listed = api.get(f"/teams/{teams['Sales']}/teams").json()
    assert [t["Name"] for t in listed] == ["Sales North"]
    assert list(listed[0])[:3] == ["Id", "Name", "TeamCodeForBulkImport"]
    assert api.post("/teams/missing/teams", json={"Id": "", "Name": "Orphan"}).status_code == 404
    via_body = api.post("/teams", json={"Id": "", "Name": "B", "ParentTeamId": "missing"})
    assert via_body.status_code == 404


def test_get_missing_team_is_404(api: httpx.Client) -> None:
    answer = api.get("/teams/nope")
    assert answer.status_code == 404
    assert answer.json()["Detail"] == "No team with this teamId exists in your organization"


def test_update_and_delete_team(api: httpx.Client) -> None:
    teams, _, _ = _ids(api)
    sales = teams["Sales"]
    mismatch = api.put(f"/teams/{sales}", json={"Id": "other", "Name": "X"})
    assert mismatch.status_code == 404
    renamed = api.put(f"/teams/{sales}", json={"Id": sales, "Name": "Revenue"})
    assert (renamed.status_code, renamed.text) == (200, "")
    assert api.get(f"/teams/{sales}").json()["Name"] == "Revenue"
    clash = api.put(f"/teams/{sales}", json={"Id": sales, "Name": "Company"})
    assert clash.status_code == 409
    cycle = api.put(
        f"/teams/{teams['Company']}", json={"Id": teams["Company"], "ParentTeamId": sales}
    )
    assert cycle.status_code == 400
    child = api.post(f"/teams/{sales}/teams", json={"Id": "", "Name": "Inner"}).json()
    assert api.delete(f"/teams/{sales}").status_code == 200
    assert api.get(f"/teams/{sales}").status_code == 404
    assert api.get(f"/teams/{child['Id']}").json()["ParentTeamId"] == teams["Company"]
    assert api.delete(f"/teams/{sales}").status_code == 404


def test_members_add_ignores_existing_and_unknown_ids(api: httpx.Client) -> None:
    teams, users, _ = _ids(api)
    sales = teams["Sales"]
    body = [
        {"Id": users["ann.lee@example.com"], "UserName": "ignored"},
        {"Id": "no-such-user"},
    ]
    first = api.post(f"/teams/{sales}/users", json=body)
    assert (first.status_code, first.text) == (201, "")
    again = api.post(f"/teams/{sales}/users", json=[*body, {"Id": users["cy.lee"]}])
    assert again.status_code == 201
    members = api.get(f"/teams/{sales}/users").json()
    assert [m["UserName"] for m in members] == ["ann.lee@example.com"], "inactive cy not listed"
    assert api.post(f"/teams/{sales}/users", json=[]).status_code == 404
    assert api.post("/teams/none/users", json=body).status_code == 404


def test_members_add_with_xml_body(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        teams, users, _ = _ids(api)
    body = f"<Users><User><Id>{users['bob.stone@example.com']}</Id></User></Users>"
    with client(seeded, fmt=None) as api:
        answer = api.post(
            f"/teams/{teams['Company']}/users", content=body, headers={"content-type": "text/xml"}
        )
        assert answer.status_code == 201
        members = xml(api.get(f"/teams/{teams['Company']}/users"))
        assert children(members) == ["User"]


def test_remove_member(api: httpx.Client) -> None:
    teams, users, _ = _ids(api)
    sales, ann = teams["Sales"], users["ann.lee@example.com"]
    api.post(f"/teams/{sales}/users", json=[{"Id": ann}])
    assert api.delete(f"/teams/{sales}/users/{ann}").status_code == 200
    assert api.get(f"/teams/{sales}/users").json() == []
    assert api.delete(f"/teams/{sales}/users/{ann}").status_code == 404


@pytest.mark.parametrize("role", ["leaders", "admins"])
def test_leaders_and_admins_must_be_members(api: httpx.Client, role: str) -> None:
    teams, users, _ = _ids(api)
    sales, bob = teams["Sales"], users["bob.stone@example.com"]
    refused = api.put(f"/teams/{sales}/{role}/{bob}")
    assert refused.status_code == 404
    api.post(f"/teams/{sales}/users", json=[{"Id": bob}])
    promoted = api.put(f"/teams/{sales}/{role}/{bob}")
    assert (promoted.status_code, promoted.text) == (200, "")
    assert [u["Id"] for u in api.get(f"/teams/{sales}/{role}").json()] == [bob]
    assert api.delete(f"/teams/{sales}/{role}/{bob}").status_code == 200
    assert api.get(f"/teams/{sales}/{role}").json() == []
    api.put(f"/teams/{sales}/{role}/{bob}")
    api.delete(f"/teams/{sales}/users/{bob}")
    api.post(f"/teams/{sales}/users", json=[{"Id": bob}])
    assert api.get(f"/teams/{sales}/{role}").json() == [], "leaving the team drops the role"


def test_team_courses_reach_members_now_and_later(api: httpx.Client) -> None:
    teams, users, courses = _ids(api)
    sales = teams["Sales"]
    ann, bob = users["ann.lee@example.com"], users["bob.stone@example.com"]
    api.post(f"/teams/{sales}/users", json=[{"Id": ann}])
    assigned = api.post(
        f"/teams/{sales}/courses",
        params={"sendmessage": "false"},
        json=[{"Id": courses["GDPR1"]}, {"Id": "nope"}],
    )
    assert (assigned.status_code, assigned.text) == (201, "")
    assert [c["Code"] for c in api.get(f"/teams/{sales}/courses").json()] == ["GDPR1"]
    assert [c["Code"] for c in api.get(f"/users/{ann}/courses").json()] == ["GDPR1"]
    api.post(f"/teams/{sales}/users", json=[{"Id": bob}])
    assert [c["Code"] for c in api.get(f"/users/{bob}/courses").json()] == ["GDPR1"]
    removed = api.request("DELETE", f"/teams/{sales}/courses", json=[{"Id": courses["GDPR1"]}])
    assert removed.status_code == 200
    assert api.get(f"/teams/{sales}/courses").json() == []


def test_team_courses_can_include_sub_teams(api: httpx.Client) -> None:
    teams, _, courses = _ids(api)
    api.post(
        f"/teams/{teams['Company']}/courses",
        params={"includesubteams": "true"},
        json=[{"Id": courses["LEAD1"]}],
    )
    assert [c["Code"] for c in api.get(f"/teams/{teams['Sales']}/courses").json()] == ["LEAD1"]


def test_team_learning_paths(api: httpx.Client) -> None:
    teams, users, courses = _ids(api)
    sales, ann = teams["Sales"], users["ann.lee@example.com"]
    path = api.get("/learningpaths").json()[0]
    api.post(f"/teams/{sales}/users", json=[{"Id": ann}])
    assert api.post(f"/teams/{sales}/learningpaths", json=[{"Id": path["Id"]}]).status_code == 201
    assert [p["Name"] for p in api.get(f"/teams/{sales}/learningpaths").json()] == ["Onboarding"]
    assert [p["Name"] for p in api.get(f"/users/{ann}/learningpaths").json()] == ["Onboarding"]
    blocked = api.request("DELETE", f"/teams/{sales}/courses", json=[{"Id": courses["SAFE101"]}])
    assert blocked.status_code == 403
    assert "Learning Path" in blocked.json()["Detail"]
    gone = api.request("DELETE", f"/teams/{sales}/learningpaths", json=[{"Id": path["Id"]}])
    assert gone.status_code == 200
    assert api.get(f"/teams/{sales}/learningpaths").json() == []


def test_team_list_search_and_paging(api: httpx.Client) -> None:
    for index in range(5):
        api.post("/teams", json={"Id": "", "Name": f"Squad {index}"})
    assert len(api.get("/teams", params={"search": "squad"}).json()) == 5
    assert [t["Name"] for t in api.get("/teams", params={"start": 6, "limit": 5}).json()] == [
        "Squad 4"
    ]
