"""Litmos simulator: self-signup tokens (types 1-4)."""

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


def _token(kind: int, target: str, code: str = "JOIN-2024") -> dict[str, object]:
    return {
        "TokenCode": code,
        "TokenType": kind,
        "TokenTypeId": target,
        "Active": True,
        "MaximumActivations": 50,
        "TokenExpiration": "2030-12-31 23:59:59",
    }


def test_create_get_list_update_tokens(api: httpx.Client) -> None:
    course = api.get("/courses").json()[0]["Id"]
    team = api.get("/teams").json()[0]["Id"]
    created = api.post("/tokens", json=[_token(1, course), _token(2, team, "TEAM-1")])
    assert created.status_code == 201
    tokens = created.json()
    assert [list(t) for t in tokens] == [
        [
            "TokenId",
            "TokenCode",
            "TokenType",
            "TokenTypeId",
            "Active",
            "MaximumActivations",
            "TokenExpiration",
        ]
    ] * 2
    assert tokens[0]["TokenExpiration"] == "2030-12-31T23:59:59"
    token_id = tokens[0]["TokenId"]
    one = api.get(f"/tokens/{token_id}").json()
    assert isinstance(one, list) and one[0]["TokenCode"] == "JOIN-2024"
    assert len(api.get("/tokens").json()) == 2
    updated = api.put(
        "/tokens", json=[{"TokenId": token_id, "MaximumActivations": 5, "Active": False}]
    )
    assert updated.status_code == 200
    assert (updated.json()[0]["MaximumActivations"], updated.json()[0]["Active"]) == (5, False)
    assert updated.json()[0]["TokenCode"] == "JOIN-2024", "unsent members are kept"
    assert api.get("/tokens/nope").status_code == 404


@pytest.mark.parametrize("kind", [0, 5, "course", None])
def test_token_type_must_be_1_to_4(api: httpx.Client, kind: object) -> None:
    answer = api.post("/tokens", json=[{**_token(1, "x"), "TokenType": kind}])
    assert answer.status_code == 400
    assert answer.json()["Detail"] == "Token Type must be an integer value of either 1, 2, 3 or 4."
    assert api.get("/tokens").json() == []


def test_token_targets_must_exist_and_codes_are_unique(api: httpx.Client) -> None:
    path = api.get("/learningpaths").json()[0]["Id"]
    assert api.post("/tokens", json=[_token(1, "no-course")]).status_code == 404
    assert api.post("/tokens", json=[_token(3, path)]).status_code == 201
    assert api.post("/tokens", json=[_token(4, "catalog-1", "LIST")]).status_code == 201
    assert api.post("/tokens", json=[_token(3, path)]).status_code == 409
    both = api.post("/tokens", json=[_token(3, path, "A"), _token(3, path, "a")])
    assert both.status_code == 409
    assert len(api.get("/tokens").json()) == 2, "a refused batch creates nothing"


def test_tokens_in_xml(seeded: RunningSandbox) -> None:
    with client(seeded) as api:
        course = api.get("/courses").json()[0]["Id"]
    body = (
        "<Tokens><Token><TokenCode>XML-1</TokenCode><TokenType>1</TokenType>"
        f"<TokenTypeId>{course}</TokenTypeId><Active>true</Active>"
        "<MaximumActivations>3</MaximumActivations>"
        "<TokenExpiration>2031-01-01 00:00:00</TokenExpiration></Token></Tokens>"
    )
    with client(seeded, fmt=None) as api:
        created = api.post("/tokens", content=body, headers={"content-type": "text/xml"})
        assert created.status_code == 201
        root = xml(created)
        assert root.tag == "Tokens" and children(root) == ["Token"]
        assert root[0].findtext("TokenType") == "1"
