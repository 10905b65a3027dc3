"""Litmos simulator: authentication, formats (WCF XML and JSON), paging rules, dates."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import NIL, SEED, XSI, children, client, xml


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> RunningSandbox:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.seed(SEED)
    return litmos_sandbox


@pytest.fixture
def api(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded) as http:
        yield http


def test_api_key_in_header_or_legacy_query_parameter(seeded: RunningSandbox) -> None:
    url = f"{seeded.base_url}/v1.svc/users"
    key, source = seeded.credentials["apikey"], seeded.credentials["source"]
    by_header = httpx.get(url, params={"source": source}, headers={"apikey": key})
    by_query = httpx.get(url, params={"source": source, "apikey": key})
    by_upper_header = httpx.get(url, params={"source": source}, headers={"APIKey": key})
    assert [r.status_code for r in (by_header, by_query, by_upper_header)] == [200, 200, 200]


@pytest.mark.parametrize(
    ("params", "headers", "status", "detail"),
    [
        ({"source": "app", "format": "json"}, {}, 401, "The API key that you have used"),
        ({"source": "app", "format": "json"}, {"apikey": "wrong"}, 401, "not valid"),
        ({"format": "json"}, {"apikey": "KEY"}, 403, "Forbidden"),
        ({"source": "x" * 51, "format": "json"}, {"apikey": "KEY"}, 403, "Forbidden"),
    ],
)
def test_auth_failures_answer_401_or_403(
    seeded: RunningSandbox,
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    headers = {k: v.replace("KEY", seeded.credentials["apikey"]) for k, v in headers.items()}
    answer = httpx.get(f"{seeded.base_url}/v1.svc/users", params=params, headers=headers)
    assert answer.status_code == status
    assert detail in answer.json()["Detail"]


def test_a_learner_key_is_refused_with_403(seeded: RunningSandbox) -> None:
    assert seeded.admin is not None
    seeded.admin.seed({"api_keys": [{"key": "learner-key", "access_level": "Learner"}]})
    answer = httpx.get(
        f"{seeded.base_url}/v1.svc/users",
        params={"source": "app", "format": "json"},
        headers={"apikey": "learner-key"},
    )
    assert answer.status_code == 403
    assert answer.json() == {"Detail": "You do not have the proper permissions for this call."}


def test_xml_is_the_default_with_wcf_namespace_and_nil(seeded: RunningSandbox) -> None:
    with client(seeded, fmt=None) as http:
        users = http.get("/users")
        root = xml(users)
        assert root.tag == "Users"
        assert f'xmlns:i="{XSI}"' in users.text
        assert children(root) == ["User"] * 3
        assert children(root[0]) == [
            "Id",
            "UserName",
            "FirstName",
            "LastName",
            "Active",
            "Email",
            "AccessLevel",
            "Brand",
        ]
        assert root[0].find("Active").text == "true"  # type: ignore[union-attr]
        profile = xml(http.get(f"/users/{root[0].findtext('Id')}"))
        assert profile.tag == "User"
        assert profile.find("SalesforceId").get(NIL) == "true"  # type: ignore[union-attr]
        assert '<SalesforceId i:nil="true"/>' in http.get(f"/users/{root[0].findtext('Id')}").text


def test_empty_lists_are_an_empty_root_or_a_bare_empty_array(seeded: RunningSandbox) -> None:
    with client(seeded, fmt=None) as http:
        empty_xml = http.get("/users", params={"search": "nobody-matches"})
        assert empty_xml.text == f'<Users xmlns:i="{XSI}"/>'
    with client(seeded) as http:
        empty_json = http.get("/users", params={"search": "nobody-matches"})
        assert (empty_json.status_code, empty_json.text) == (200, "[]")
        assert empty_json.headers["content-type"] == "application/json; charset=utf-8"


def test_json_is_compact_with_escaped_slashes(api: httpx.Client) -> None:
    user = api.get("/users", params={"search": "ann"}).json()[0]
    raw = api.get(f"/users/{user['Id']}").text
    assert '"LoginKey":"https:\\/\\/' in raw
    assert ", " not in raw.split('"LoginKey"')[0]


def test_user_profile_dates_are_iso_strings(api: httpx.Client) -> None:
    user = api.get("/users", params={"search": "ann"}).json()[0]
    profile = api.get(f"/users/{user['Id']}").json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", profile["CreatedDate"])
    assert profile["LastLogin"] == ""


def test_assignment_dates_are_wcf_dates_in_json_and_iso_in_xml(seeded: RunningSandbox) -> None:
    assert seeded.admin is not None
    with client(seeded) as api:
        user = api.get("/users", params={"search": "ann"}).json()[0]
        course = api.get("/courses", params={"search": "SAFE101"}).json()[0]
        api.post(f"/users/{user['Id']}/courses", json=[{"Id": course["Id"]}])
        row = api.get(f"/users/{user['Id']}/courses").json()[0]
        assert re.fullmatch(r"/Date\(\d{13}-0000\)/", row["AssignedDate"])
        assert row["StartDate"] is None
        assert "\\/Date(" in api.get(f"/users/{user['Id']}/courses").text
    with client(seeded, fmt=None) as api:
        row_xml = xml(api.get(f"/users/{user['Id']}/courses"))[0]
        assigned = row_xml.findtext("AssignedDate") or ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?", assigned)
        assert row_xml.find("StartDate").get(NIL) == "true"  # type: ignore[union-attr]
        assert row_xml.findtext("PercentageComplete") == "0.00"


def test_paging_walks_to_the_last_page_then_an_empty_one(seeded: RunningSandbox) -> None:
    assert seeded.admin is not None
    seeded.admin.seed(
        {
            "users": [
                {"username": f"p{i:03d}@example.com", "first_name": "P", "last_name": f"{i}"}
                for i in range(250)
            ]
        }
    )
    with client(seeded) as api:
        seen: list[str] = []
        sizes = []
        start = 0
        while True:
            batch = api.get("/users", params={"start": start, "limit": 100}).json()
            sizes.append(len(batch))
            if not batch:
                break
            seen += [user["Id"] for user in batch]
            start += 100
        assert sizes == [100, 100, 53, 0]
        assert len(set(seen)) == 253
        assert len(api.get("/users").json()) == 100, "default limit is 100"
        assert len(api.get("/users", params={"limit": 1000}).json()) == 253


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": "1001"}, 406),
        ({"limit": "0"}, 400),
        ({"limit": "ten"}, 400),
        ({"start": "-1"}, 400),
        ({"dir": "UP"}, 400),
        ({"search": "x" * 51}, 400),
    ],
)
def test_paging_parameters_are_validated(
    api: httpx.Client, params: dict[str, str], status: int
) -> None:
    answer = api.get("/users", params=params)
    assert answer.status_code == status
    if status == 406:
        assert answer.json()["Detail"].startswith("The maxminum number of records to return")


def test_search_is_a_substring_of_names_username_or_email(api: httpx.Client) -> None:
    def names(term: str) -> list[str]:
        return sorted(u["UserName"] for u in api.get("/users", params={"search": term}).json())

    assert names("lee") == ["ann.lee@example.com", "cy.lee"]
    assert names("ARCHER") == ["cy.lee"]
    assert names("example.org") == ["cy.lee"]
    assert names("ann lee") == ["ann.lee@example.com"]
    assert names("stone@") == ["bob.stone@example.com"]


def test_sort_and_dir(api: httpx.Client) -> None:
    by_last = api.get("/users", params={"sort": "LastName"}).json()
    assert [u["LastName"] for u in by_last] == ["Archer", "Lee", "Stone"]
    by_last_desc = api.get("/users", params={"sort": "lastname", "dir": "DESC"}).json()
    assert [u["LastName"] for u in by_last_desc] == ["Stone", "Lee", "Archer"]


def test_query_parameter_names_are_case_insensitive(api: httpx.Client) -> None:
    assert len(api.get("/users", params={"Limit": "1"}).json()) == 1


def test_unknown_path_is_404(api: httpx.Client) -> None:
    assert api.get("/nothing-here").status_code == 404


def test_counters_name_the_route_that_answered(seeded: RunningSandbox, api: httpx.Client) -> None:
    """``GET /users/courses`` is a user lookup (the POST-only ``/users/courses`` batch route
    comes first in the table): the log and counters must say which route really answered."""
    assert seeded.admin is not None
    answer = api.get("/users/courses")
    assert (answer.status_code, answer.json()) == (404, {"Detail": "User - courses was not found"})
    assert seeded.admin.log()[-1]["template"] == "/v1.svc/users/{user_id}"
    batch = api.post("/users/courses", json=[{"Id": "nobody"}])
    assert batch.status_code == 200
    assert seeded.admin.log()[-1]["template"] == "/v1.svc/users/courses"
    assert seeded.admin.counters()["requests"]["GET /v1.svc/users/{user_id}"] == {"404": 1}
