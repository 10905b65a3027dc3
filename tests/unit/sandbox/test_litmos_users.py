"""Litmos simulator: users — get, create, update, deactivate, delete, teams, details."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncd.sandbox.running import RunningSandbox
from tests.unit.sandbox.kit import SEED, client, new_user_body


@pytest.fixture
def seeded(litmos_sandbox: RunningSandbox) -> RunningSandbox:
    assert litmos_sandbox.admin is not None
    litmos_sandbox.admin.seed(SEED)
    return litmos_sandbox


@pytest.fixture
def api(seeded: RunningSandbox) -> Iterator[httpx.Client]:
    with client(seeded) as http:
        yield http


def _id(api: httpx.Client, username: str) -> str:
    return str(api.get(f"/users/{username}").json()["Id"])


def test_get_by_id_or_username_and_404(api: httpx.Client) -> None:
    user_id = _id(api, "ann.lee@example.com")
    assert api.get(f"/users/{user_id}").json()["UserName"] == "ann.lee@example.com"
    assert api.get("/users/ANN.LEE@example.com").json()["Id"] == user_id
    missing = api.get("/users/nobody")
    assert missing.status_code == 404
    assert missing.json() == {"Detail": "User - nobody was not found"}


def test_create_answers_201_with_the_new_user(seeded: RunningSandbox, api: httpx.Client) -> None:
    created = api.post("/users", json=new_user_body("jo.baba@example.com"))
    assert created.status_code == 201
    body = created.json()
    assert body["Id"] and body["Id"] != ""
    assert body["FullName"] == "Jo Baba"
    assert body["Culture"] == "en-US", "empty culture takes the account default"
    assert body["Password"] == ""
    assert body["CustomField3"] == "" and body["SalesforceId"] is None
    assert api.get(f"/users/{body['Id']}").json()["UserName"] == "jo.baba@example.com"
    assert seeded.admin is not None
    assert seeded.admin.counters()["creates"] == {"jo.baba@example.com": 1}


def test_duplicate_username_is_409_with_detail(api: httpx.Client) -> None:
    answer = api.post("/users", json=new_user_body("ANN.LEE@example.com"))
    assert answer.status_code == 409
    assert answer.json() == {"Detail": "UserName already exists"}
    assert answer.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("changes", "status", "detail"),
    [
        ({"UserName": "a@b"}, 409, "Username must be greater than 3 characters."),
        ({"UserName": "bad name@example.com"}, 409, "Invalid special character's"),
        ({"UserName": "not-an-email"}, 409, "Invalid email address."),
        ({"Email": "nope"}, 409, "Invalid email address."),
        ({"LastName": ""}, 400, "Please check the xml/json"),
        ({"FirstName": "x" * 51}, 400, "FirstName is longer than 50"),
        ({"AccessLevel": "Boss"}, 400, "Please check the xml/json"),
        ({"Culture": "klingon!"}, 409, "Culture is invalid"),
        ({"ManagerId": "nobody"}, 404, "The manager Id in the xml/json is not valid."),
    ],
)
def test_create_validation(
    api: httpx.Client, changes: dict[str, object], status: int, detail: str
) -> None:
    answer = api.post("/users", json=new_user_body("new.person@example.com", **changes))
    assert answer.status_code == status
    assert detail in answer.json()["Detail"]
    assert api.get("/users/new.person@example.com").status_code == 404, "nothing half-made"


def test_custom_usernames_need_the_flag(api: httpx.Client) -> None:
    body = new_user_body("employee0042", IsCustomUsername=True, Email="e42@example.com")
    assert api.post("/users", json=body).status_code == 201


def test_create_with_an_xml_body(seeded: RunningSandbox) -> None:
    body = (
        "<User><Id></Id><UserName>xml.user@example.com</UserName><FirstName>X</FirstName>"
        "<LastName>Ml</LastName><Email>xml.user@example.com</Email>"
        "<AccessLevel>Learner</AccessLevel><DisableMessages>true</DisableMessages>"
        "<Active>true</Active></User>"
    )
    with client(seeded, fmt=None) as api:
        answer = api.post("/users", content=body, headers={"content-type": "text/xml"})
        assert answer.status_code == 201
        assert "<UserName>xml.user@example.com</UserName>" in answer.text
        assert (
            api.post(
                "/users", content="<User><Id>", headers={"content-type": "text/xml"}
            ).status_code
            == 400
        )
        wrong_root = api.post("/users", content="<Team/>", headers={"content-type": "text/xml"})
        assert wrong_root.status_code == 400


def test_out_of_order_xml_elements_are_silently_ignored(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        user_id = _id(api, "ann.lee@example.com")
    body = (
        f"<User><Id>{user_id}</Id><UserName>ann.lee@example.com</UserName>"
        "<FirstName>Annie</FirstName><LastName>Lee</LastName><Skype>ann.skype</Skype>"
        "<JobTitle>Chef</JobTitle><Culture>fr-FR</Culture><Email>late@example.com</Email>"
        "</User>"
    )
    with client(seeded, fmt=None) as api:
        answer = api.put(f"/users/{user_id}", content=body, headers={"content-type": "text/xml"})
        assert (answer.status_code, answer.content) == (200, b"")
    with client(seeded) as api:
        profile = api.get(f"/users/{user_id}").json()
    assert (profile["FirstName"], profile["Skype"], profile["JobTitle"]) == (
        "Annie",
        "ann.skype",
        "Chef",
    )
    assert profile["Culture"] == "fr-FR"
    assert profile["Email"] == "ann.lee@example.com", "Email came after Culture: dropped"


def test_update_needs_matching_ids_and_keeps_unsent_fields(api: httpx.Client) -> None:
    user_id = _id(api, "bob.stone@example.com")
    mismatch = api.put(f"/users/{user_id}", json={"Id": "other", "UserName": "x"})
    assert mismatch.status_code == 404
    assert "They must match" in mismatch.json()["Detail"]
    assert api.put("/users/nope", json={"Id": "nope"}).status_code == 404
    ok = api.put(
        f"/users/{user_id}",
        json={"Id": user_id, "UserName": "bob.stone@example.com", "JobTitle": "Baker"},
    )
    assert (ok.status_code, ok.text) == (200, "")
    profile = api.get(f"/users/{user_id}").json()
    assert (profile["JobTitle"], profile["FirstName"]) == ("Baker", "Bob")
    taken = api.put(f"/users/{user_id}", json={"Id": user_id, "UserName": "ann.lee@example.com"})
    assert taken.status_code == 409


def test_username_rules_hold_for_a_new_username_only(api: httpx.Client) -> None:
    """Kept as it is, a non-e-mail username passes with ``IsCustomUsername: false`` (the
    recorded find-and-update-user PUT got 200); changed, it must follow the rules again."""
    user_id = _id(api, "cy.lee")
    kept = {"Id": user_id, "UserName": "cy.lee", "IsCustomUsername": False, "City": "Porto"}
    assert api.put(f"/users/{user_id}", json=kept).status_code == 200
    renamed = api.put(f"/users/{user_id}", json={**kept, "UserName": "cy.archer"})
    assert (renamed.status_code, renamed.json()) == (409, {"Detail": "Invalid email address."})
    short = api.put(f"/users/{user_id}", json={**kept, "UserName": "cy", "IsCustomUsername": True})
    assert short.json() == {"Detail": "Username must be greater than 3 characters."}
    moved = api.put(f"/users/{user_id}", json={**kept, "UserName": "cy.archer@example.com"})
    assert moved.status_code == 200
    assert api.get(f"/users/{user_id}").json()["UserName"] == "cy.archer@example.com"


def test_deactivate_with_active_false_and_show_inactive(api: httpx.Client) -> None:
    user_id = _id(api, "ann.lee@example.com")
    profile = api.get(f"/users/{user_id}").json()
    profile["Active"] = False
    assert api.put(f"/users/{user_id}", json=profile).status_code == 200
    assert api.get("/users", params={"search": "ann"}).json()[0]["Active"] is False
    active_only = api.get("/users", params={"showInactive": "false"}).json()
    assert sorted(u["UserName"] for u in active_only) == ["bob.stone@example.com"]


def test_delete_is_final(seeded: RunningSandbox, api: httpx.Client) -> None:
    user_id = _id(api, "bob.stone@example.com")
    assert (
        api.delete(f"/users/{user_id}").status_code,
        api.get(f"/users/{user_id}").status_code,
    ) == (
        200,
        404,
    )
    again = api.delete(f"/users/{user_id}")
    assert again.status_code == 404
    assert again.json()["Detail"] == "No user with this id exists in your organization"


def test_user_teams_add_list_and_leave_all(api: httpx.Client) -> None:
    user_id = _id(api, "ann.lee@example.com")
    teams = {t["Name"]: t["Id"] for t in api.get("/teams").json()}
    added = api.post(f"/users/{user_id}/teams", json=[{"Id": teams["Sales"]}])
    assert (added.status_code, added.text) == (201, "")
    again = api.post(f"/users/{user_id}/teams", json=[{"Id": teams["Sales"]}])
    assert again.status_code == 409
    bad = api.post(f"/users/{user_id}/teams", json=[{"Id": "missing"}])
    assert bad.status_code == 404
    too_many = api.post(f"/users/{user_id}/teams", json=[{"Id": teams["Company"]}] * 26)
    assert too_many.status_code == 404
    api.post(f"/users/{user_id}/teams", json=[{"Id": teams["Company"]}])
    assert sorted(t["Name"] for t in api.get(f"/users/{user_id}/teams").json()) == [
        "Company",
        "Sales",
    ]
    assert api.delete(f"/users/{user_id}/teams").status_code == 200
    assert api.get(f"/users/{user_id}/teams").json() == []


def test_paginated_list_reports_the_total(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        page = api.get("/users/paginated", params={"limit": 2, "start": 2}).json()
    assert page["Pagination"] == {
        "BatchParam": "Limit",
        "BatchSize": 2,
        "Start": 2,
        "TotalCount": 3,
    }
    assert len(page["Items"]) == 1
    with client(seeded, fmt=None) as api:
        text = api.get("/users/paginated").text
    assert text.startswith("<UserCollection ") and "<Items><User>" in text


def test_details_since_filters_on_creation(seeded: RunningSandbox) -> None:
    assert seeded.admin is not None
    seeded.admin.seed(
        {
            "users": [
                {
                    "username": "old@example.com",
                    "first_name": "O",
                    "last_name": "Ld",
                    "created": "2020-01-01T00:00:00Z",
                }
            ]
        }
    )
    with client(seeded) as api:
        everyone = api.get("/users/details").json()
        recent = api.get("/users/details", params={"since": "2021-01-01"}).json()
        assert len(everyone) == 4 and "SkipFirstLogin" in everyone[0]
        assert "old@example.com" not in {u["UserName"] for u in recent}
        assert len(recent) == 3
        bad = api.get("/users/details", params={"since": "yesterday"})
        assert bad.status_code == 406
        assert "Valid formats are" in bad.json()["Detail"]


def test_a_snapshot_restores_the_account_into_a_fresh_simulator():
    """`sandbox:` connections keep their account between runs through snapshot/restore."""
    from syncd.sandbox import create_simulator

    first = create_simulator("litmos")
    first.seed(
        {"users": [{"username": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}]}
    )
    second = create_simulator("litmos")
    store = second.store
    second.restore(first.snapshot())
    assert second.store is store, "routes hold the store object: restore must be in place"
    assert store.user_by_name("ann@example.com") is not None
    assert store.new_id() == first.store.new_id(), "ids continue, never reused"
