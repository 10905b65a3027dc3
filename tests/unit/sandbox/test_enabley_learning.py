"""Enabley simulator over real HTTP: channels, performance, certificates, admin, limits, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.sandbox.enabley import create_simulator
from syncd.sandbox.running import RunningSandbox, start_sandbox

CHANNEL_INFO_KEYS = {
    "availability",
    "categories",
    "created",
    "directLink",
    "duration",
    "identifier",
    "masterChannelId",
    "masterChannelInstance",
    "name",
    "subAccountName",
    "type",
}
PERFORMANCE_KEYS = {
    "channelName",
    "completionDate",
    "externalChannelId",
    "externalUserId",
    "progress",
    "score",
}
PAGE_KEYS = {"currentPage", "items", "pageSize", "paginationKey", "totalPages"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with start_sandbox(create_simulator()) as running:
        yield running


@pytest.fixture
def admin(server: RunningSandbox) -> Any:
    assert server.admin is not None
    server.admin.reset()
    return server.admin


@pytest.fixture
def api(server: RunningSandbox, admin: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        token = client.post("/api/v1/token", params=dict(server.credentials)).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == code
    return str(body["error_description"])


def roster(admin: Any, **extra: Any) -> None:
    """Three users, a small group tree and two channels."""
    admin.seed(
        {
            "users": [{"identifier": u, "username": u} for u in ("ann", "bob", "cid")],
            "groups": [
                {"identifier": "acme", "name": "Acme", "type": "COMPANY", "members": ["ann"]},
                {
                    "identifier": "ops",
                    "name": "Ops",
                    "type": "TEAM",
                    "parentIdentifier": "acme",
                    "members": ["bob"],
                },
            ],
            "channels": [
                {"identifier": "c1", "name": "Safety", "type": "COURSE", "categories": ["HSE"]},
                {"identifier": "c2", "name": "News", "type": "STREAM"},
            ],
            **extra,
        }
    )


def learners(api: httpx.Client, channel: str) -> int:
    response = api.get(f"/api/v2/channels/channels/{channel}/members/count")
    assert response.status_code == 200 and set(response.json()) == {"learners"}
    return int(response.json()["learners"])


# ------------------------------------------------------------------------------- channels


def test_channel_upsert_creates_then_updates(api: httpx.Client) -> None:
    body = {"identifier": "c9", "name": "Fire", "type": "COURSE", "subAccountName": "sandbox"}
    created = api.put("/api/v1/channels", json=body)
    assert created.status_code == 201
    info = created.json()
    assert set(info) == CHANNEL_INFO_KEYS
    assert info["availability"] == {"schedule": None, "status": "ACTIVE"}
    assert info["masterChannelInstance"] is False and info["masterChannelId"] is None
    updated = api.put("/api/v1/channels", json={"identifier": "c9", "status": "INACTIVE"})
    assert updated.status_code == 200
    assert updated.json()["availability"]["status"] == "NONACTIVE"
    assert updated.json()["name"] == "Fire" and updated.json()["created"] == info["created"]


@pytest.mark.parametrize(
    ("body", "code", "word"),
    [
        ({"identifier": "x", "name": "X", "type": "VIDEO"}, "invalid_request", "type"),
        (
            {"identifier": "x", "name": "X", "type": "COURSE", "status": "ON"},
            "invalid_request",
            "status",
        ),
        ({"identifier": "x", "type": "COURSE"}, "invalid_request", "name"),
        ({"name": "X", "type": "COURSE"}, "invalid_request", "identifier"),
        (
            {"identifier": "x", "name": "X", "type": "COURSE", "subAccountName": "mars"},
            "item_not_exists",
            "mars",
        ),
    ],
)
def test_channel_upsert_validation(
    api: httpx.Client, body: dict[str, Any], code: str, word: str
) -> None:
    assert word in error_of(api.put("/api/v1/channels", json=body), 400, code)
    assert api.get("/api/v1/channels").json() == []


def test_channel_lists_v1_filters(admin: Any, api: httpx.Client) -> None:
    admin.seed(
        {
            "subAccounts": ["sandbox", "east"],
            "channels": [
                {
                    "identifier": "a",
                    "name": "A",
                    "type": "COURSE",
                    "created": "2024-01-01T00:00:00.000Z",
                },
                {
                    "identifier": "b",
                    "name": "B",
                    "type": "COURSE",
                    "created": "2024-03-01T00:00:00.000Z",
                    "subAccountName": "east",
                    "categories": ["HSE"],
                },
            ],
        }
    )
    listed = api.get("/api/v1/channels").json()
    assert [c["identifier"] for c in listed] == ["a", "b"]
    assert listed[1]["categories"] is None
    with_categories = api.get("/api/v1/channels", params={"includeCategories": "true"}).json()
    assert with_categories[1]["categories"] == ["HSE"]
    since = api.get("/api/v1/channels", params={"createdSince": "2024-03-01T00:00:00.000Z"}).json()
    assert [c["identifier"] for c in since] == ["b"]
    east = api.get("/api/v1/channels", params={"subAccountName": "east"}).json()
    assert [c["identifier"] for c in east] == ["b"] and east[0]["subAccountName"] == "east"
    bad = api.get("/api/v1/channels", params={"createdSince": "yesterday"})
    assert "createdSince" in error_of(bad, 400, "invalid_request")


def test_channel_list_v3_pages_to_the_last_page(admin: Any, api: httpx.Client) -> None:
    admin.seed(
        {"channels": [{"identifier": f"c{i}", "name": f"C{i}", "type": "COURSE"} for i in range(5)]}
    )
    admin.post("/settings", {"page_size": 2})
    page = api.get("/api/v3/channels", params={"includeCategories": "true"}).json()
    assert set(page) == PAGE_KEYS and page["totalPages"] == 3
    ids = [c["identifier"] for c in page["items"]]
    while page["paginationKey"] is not None:
        page = api.get("/api/v3/channels", params={"paginationKey": page["paginationKey"]}).json()
        ids.extend(c["identifier"] for c in page["items"])
    assert ids == [f"c{i}" for i in range(5)] and page["currentPage"] == 2
    assert page["items"][0]["categories"] == []
    error_of(api.get("/api/v3/channels", params={"paginationKey": "nope"}), 404, "not_found")


def test_pagination_key_belongs_to_its_endpoint(admin: Any, api: httpx.Client) -> None:
    admin.seed(
        {"channels": [{"identifier": f"c{i}", "name": f"C{i}", "type": "COURSE"} for i in range(3)]}
    )
    admin.post("/settings", {"page_size": 1})
    key = api.get("/api/v3/channels").json()["paginationKey"]
    error_of(api.get("/api/v3/users", params={"paginationKey": key}), 404, "not_found")


def test_get_channel(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    got = api.get("/api/v1/channels/c1", params={"includeCategories": "true"})
    assert got.status_code == 200 and got.json()["categories"] == ["HSE"]
    assert api.get("/api/v1/channels/c1").json()["categories"] is None
    error_of(api.get("/api/v1/channels/zz"), 400, "item_not_exists")


def test_user_assignment_with_roles(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    assigned = api.post("/api/v2/channels/c1/users/ann")
    assert assigned.status_code == 200 and assigned.content == b""
    assert api.post("/api/v2/channels/c1/users/ann").status_code == 200
    assert (
        api.post("/api/v2/channels/c1/users/bob", params={"roles": "INSTRUCTOR"}).status_code == 200
    )
    assert learners(api, "c1") == 1
    both = api.post(
        "/api/v2/channels/c1/users/cid", params=[("roles", "LEARNER"), ("roles", "INSTRUCTOR")]
    )
    assert both.status_code == 200 and learners(api, "c1") == 2
    assert (
        api.post(
            "/api/v2/channels/c1/users/bob", params={"roles": "LEARNER,INSTRUCTOR"}
        ).status_code
        == 200
    )
    assert learners(api, "c1") == 3
    error_of(
        api.post("/api/v2/channels/c1/users/ann", params={"roles": "BOSS"}), 400, "invalid_request"
    )
    error_of(api.post("/api/v2/channels/c1/users/ghost"), 400, "item_not_exists")
    error_of(api.post("/api/v2/channels/zz/users/ann"), 400, "item_not_exists")
    removed = api.delete("/api/v1/channels/c1/users/ann")
    assert removed.status_code == 200 and learners(api, "c1") == 2
    assert api.delete("/api/v1/channels/c1/users/ann").status_code == 200
    error_of(api.delete("/api/v1/channels/c1/users/ghost"), 400, "item_not_exists")


def test_group_assignment_is_live_and_optionally_recursive(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    assert api.post("/api/v1/channels/c1/groups/acme").status_code == 200
    assert learners(api, "c1") == 1
    recursive = api.post(
        "/api/v1/channels/c1/groups/acme", params={"recursive": "true", "userRole": "LEARNER"}
    )
    assert recursive.status_code == 200 and learners(api, "c1") == 2
    api.post("/api/v1/groups/ops/users/cid")
    assert learners(api, "c1") == 3
    error_of(
        api.post("/api/v1/channels/c1/groups/acme", params={"userRole": "INSTRUCTOR"}),
        400,
        "invalid_request",
    )
    error_of(api.post("/api/v1/channels/c1/groups/ghost"), 400, "item_not_exists")
    assert api.delete("/api/v1/channels/c1/groups/acme").status_code == 200
    assert learners(api, "c1") == 0
    error_of(api.delete("/api/v1/channels/c1/groups/ghost"), 400, "item_not_exists")
    error_of(api.get("/api/v2/channels/channels/zz/members/count"), 400, "item_not_exists")


def test_force_complete(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    error_of(api.post("/api/v4/channels/forceComplete/channel/c1/user/ann"), 400, "item_not_exists")
    api.post("/api/v2/channels/c1/users/ann")
    done = api.post("/api/v4/channels/forceComplete/channel/c1/user/ann")
    assert done.status_code == 200 and done.content == b""
    row = api.get("/api/v1/performance", params={"externalUserId": "ann"}).json()[0]
    assert row["progress"] == 100 and row["completionDate"] is not None


def test_master_channels_and_instances(admin: Any, api: httpx.Client) -> None:
    admin.seed(
        {
            "masters": [
                {"identifier": "m1", "name": "Onboarding", "categories": ["HR"]},
                {"identifier": "m2", "name": "Draft", "published": False},
            ]
        }
    )
    masters = api.get("/api/v2/channels/channels/masters").json()
    assert [m["identifier"] for m in masters] == ["m1", "m2"]
    assert set(masters[0]) == {
        "categories",
        "created",
        "identifier",
        "name",
        "published",
        "subAccountName",
    }
    published = api.get(
        "/api/v2/channels/channels/masters", params={"onlyPublished": "true"}
    ).json()
    assert [m["identifier"] for m in published] == ["m1"]
    admin.post("/settings", {"page_size": 1})
    page = api.get("/api/v3/channels/masters").json()
    second = api.get(
        "/api/v3/channels/masters", params={"paginationKey": page["paginationKey"]}
    ).json()
    assert [page["items"][0]["identifier"], second["items"][0]["identifier"]] == ["m1", "m2"]
    assert second["paginationKey"] is None
    body = {"identifier": "i1", "masterCourseIdentifier": "m1", "name": "Onboarding May"}
    instance = api.put("/api/v2/channels/master/instance", json=body)
    assert instance.status_code == 200
    assert (
        instance.json()["masterChannelInstance"] is True
        and instance.json()["masterChannelId"] == "m1"
    )
    assert instance.json()["categories"] == ["HR"]
    error_of(api.put("/api/v2/channels/master/instance", json=body), 400, "item_exists")
    ghost = {**body, "identifier": "i2", "masterCourseIdentifier": "zz"}
    error_of(api.put("/api/v2/channels/master/instance", json=ghost), 400, "item_not_exists")


def test_training_events_and_catalog_item(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    admin.seed(
        {
            "channels": [
                {
                    "identifier": "c1",
                    "events": [
                        {
                            "name": "Fire drill",
                            "fromDate": "2025-05-01T09:00:00.000Z",
                            "untilDate": "2025-05-01T10:00:00.000Z",
                            "location": "Yard",
                        }
                    ],
                }
            ]
        }
    )
    events = api.get("/api/v1/channels/c1/courses/events").json()
    assert events == [
        {
            "allDayEvent": False,
            "description": None,
            "fromDate": "2025-05-01T09:00:00.000Z",
            "includeGrade": False,
            "isPublished": True,
            "liveSession": False,
            "location": "Yard",
            "name": "Fire drill",
            "untilDate": "2025-05-01T10:00:00.000Z",
        }
    ]
    assert api.get("/api/v1/channels/c2/courses/events").json() == []
    item = api.get("/api/v1/catalog/catalogItem", params={"externalChannelId": "c1"})
    assert item.status_code == 200 and set(item.json()) == {"catalogItemId", "link"}
    error_of(api.get("/api/v1/catalog/catalogItem"), 400, "invalid_request")
    error_of(
        api.get("/api/v1/catalog/catalogItem", params={"externalChannelId": "zz"}),
        400,
        "item_not_exists",
    )


# ---------------------------------------------------------------------------- performance


def test_learner_activity_shows_in_performance_v1(admin: Any, api: httpx.Client) -> None:
    roster(admin, activity=[])
    api.post("/api/v2/channels/c1/users/ann")
    api.post("/api/v2/channels/c2/users/ann")
    api.post("/api/v2/channels/c1/users/bob")
    rows = api.get("/api/v1/performance").json()
    assert [(r["externalChannelId"], r["externalUserId"]) for r in rows] == [
        ("c1", "ann"),
        ("c1", "bob"),
        ("c2", "ann"),
    ]
    assert set(rows[0]) == PERFORMANCE_KEYS
    assert rows[0]["progress"] == 0 and rows[0]["completionDate"] is None
    assert (
        admin.post("/activity", {"user": "ann", "channel": "c1", "action": "start"})["progress"]
        == 0
    )
    admin.post(
        "/activity",
        {"user": "ann", "channel": "c1", "action": "progress", "progress": 40, "score": 55},
    )
    admin.post(
        "/activity",
        {
            "user": "bob",
            "channel": "c1",
            "action": "complete",
            "score": 90,
            "at": "2025-01-02T03:04:05.678Z",
        },
    )
    by_user = api.get("/api/v1/performance", params={"externalUserId": "ann"}).json()
    assert [(r["externalChannelId"], r["progress"], r["score"]) for r in by_user] == [
        ("c1", 40, 55),
        ("c2", 0, 0),
    ]
    both = api.get(
        "/api/v1/performance", params={"externalUserId": "bob", "externalChannelId": "c1"}
    ).json()
    assert both == [
        {
            "channelName": "Safety",
            "completionDate": "2025-01-02T03:04:05.678Z",
            "externalChannelId": "c1",
            "externalUserId": "bob",
            "progress": 100,
            "score": 90,
        }
    ]
    error_of(
        api.get("/api/v1/performance", params={"externalUserId": "ghost"}), 400, "item_not_exists"
    )
    error_of(
        api.get("/api/v1/performance", params={"externalChannelId": "zz"}), 400, "item_not_exists"
    )


def test_activity_admin_refusals(admin: Any, api: httpx.Client) -> None:
    roster(admin)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        admin.post("/activity", {"user": "ann", "channel": "c1", "action": "start"})
    assert caught.value.response.status_code == 422
    assert "not a learner" in caught.value.response.json()["error"]
    api.post("/api/v2/channels/c1/users/ann")
    for bad in (
        {"user": "ann", "channel": "c1", "action": "dance"},
        {"user": "ann", "channel": "c1", "action": "progress", "progress": 100},
        {"user": "ann", "channel": "c1", "action": "complete", "score": 101},
    ):
        with pytest.raises(httpx.HTTPStatusError):
            admin.post("/activity", bad)


def test_performance_v2_needs_a_filter_and_pages(admin: Any, api: httpx.Client) -> None:
    users = [f"u{i}" for i in range(5)]
    admin.seed(
        {
            "users": [{"identifier": u, "username": u} for u in users],
            "channels": [
                {"identifier": "c1", "name": "Safety", "type": "COURSE", "learners": users}
            ],
            "activity": [{"user": "u3", "channel": "c1", "action": "complete", "score": 70}],
        }
    )
    error_of(api.get("/api/v2/performance"), 400, "invalid_request")
    admin.post("/settings", {"page_size": 2})
    page = api.get("/api/v2/performance", params={"channelIdentifier": "c1"}).json()
    assert set(page) == PAGE_KEYS and page["totalPages"] == 3
    rows = list(page["items"])
    while page["paginationKey"]:
        page = api.get(
            "/api/v2/performance", params={"paginationKey": page["paginationKey"]}
        ).json()
        rows.extend(page["items"])
    assert [r["externalUserId"] for r in rows] == users
    assert [r["progress"] for r in rows] == [0, 0, 0, 100, 0] and rows[3]["score"] == 70
    one = api.get("/api/v2/performance", params={"userIdentifier": "u3"}).json()
    assert [r["externalUserId"] for r in one["items"]] == ["u3"] and one["paginationKey"] is None
    error_of(api.get("/api/v2/performance", params={"paginationKey": "nope"}), 404, "not_found")


# --------------------------------------------------------------------------- certificates


def seed_certificate(admin: Any) -> None:
    roster(
        admin,
        certificates=[
            {
                "externalCertificateId": "safe",
                "name": "Safe worker",
                "courseIds": ["c1", "c2"],
                "expiration": {"duration": 1, "period": "YEAR"},
            },
            {
                "externalCertificateId": "news",
                "name": "Informed",
                "courseIds": ["c2"],
                "status": "ARCHIVED",
            },
        ],
    )


def test_account_certificates_v1_v2_and_by_id(admin: Any, api: httpx.Client) -> None:
    seed_certificate(admin)
    listed = api.get("/api/v1/certificates").json()
    assert [c["externalCertificateId"] for c in listed] == ["safe", "news"]
    assert set(listed[0]) == {
        "courseIds",
        "created",
        "expiration",
        "externalCertificateId",
        "name",
        "status",
    }
    assert (
        listed[0]["expiration"] == {"duration": 1, "period": "YEAR"}
        and listed[1]["expiration"] is None
    )
    admin.post("/settings", {"page_size": 1})
    page = api.get("/api/v2/certificates").json()
    last = api.get("/api/v2/certificates", params={"paginationKey": page["paginationKey"]}).json()
    assert [page["items"], last["items"]] == [[listed[0]], [listed[1]]] and last[
        "paginationKey"
    ] is None
    assert api.get("/api/v2/certificates/news").json() == listed[1]
    error_of(api.get("/api/v2/certificates/none"), 400, "item_not_exists")


def test_user_certificate_states_follow_progress_and_expiry(
    server: RunningSandbox, admin: Any, api: httpx.Client
) -> None:
    seed_certificate(admin)
    admin.post("/settings", {"token_lifetime_seconds": 400 * 86_400})
    token = api.post("/api/v1/token", params=dict(server.credentials)).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"

    def states() -> dict[str, str]:
        answer = api.get("/api/v1/certificates/users/ann")
        assert answer.status_code == 200
        return {c["externalCertificateId"]: c["state"] for c in answer.json()}

    assert states() == {}
    api.post("/api/v2/channels/c1/users/ann")
    assert states() == {"safe": "INIT"}
    admin.post("/activity", {"user": "ann", "channel": "c1", "action": "complete"})
    assert states() == {"safe": "IN_PROGRESS"}
    api.post("/api/v2/channels/c2/users/ann")
    admin.post("/activity", {"user": "ann", "channel": "c2", "action": "complete"})
    assert states() == {"safe": "CERTIFIED", "news": "CERTIFIED"}
    safe = next(
        c
        for c in api.get("/api/v1/certificates/users/ann").json()
        if c["externalCertificateId"] == "safe"
    )
    assert set(safe) == {
        "certificationDate",
        "expirationDate",
        "externalCertificateId",
        "isRequired",
        "name",
        "pdfUrl",
        "state",
    }
    assert safe["expirationDate"][:4] == str(int(safe["certificationDate"][:4]) + 1)
    assert safe["pdfUrl"] and safe["isRequired"] is False
    admin.post("/clock", {"advance_seconds": 340 * 86_400})
    assert states()["safe"] == "ABOUT_TO_EXPIRE"
    admin.post("/clock", {"advance_seconds": 30 * 86_400})
    assert states() == {"safe": "EXPIRED", "news": "CERTIFIED"}
    error_of(api.get("/api/v1/certificates/users/ghost"), 400, "item_not_exists")


def test_certificate_compliance_update(admin: Any, api: httpx.Client) -> None:
    seed_certificate(admin)
    body = {"certificateIdentifier": "safe", "userIdentifier": "ann", "isRequired": True}
    error_of(api.put("/api/v1/certificates/compliance", json=body), 409, "item_not_exists")
    api.post("/api/v2/channels/c1/users/ann")
    assert api.put("/api/v1/certificates/compliance", json=body).status_code == 200
    assert api.get("/api/v1/certificates/users/ann").json()[0]["isRequired"] is True
    error_of(
        api.put("/api/v1/certificates/compliance", json={**body, "userIdentifier": "x"}),
        404,
        "not_found",
    )
    error_of(
        api.put("/api/v1/certificates/compliance", json={**body, "certificateIdentifier": "x"}),
        404,
        "not_found",
    )
    error_of(
        api.put("/api/v1/certificates/compliance", json={**body, "isRequired": None}),
        400,
        "invalid_request",
    )


# ------------------------------------------------------------------------------------ admin


def test_seed_errors_are_reported_by_the_admin_api(admin: Any) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        admin.seed({"users": [{"identifier": "a", "username": "a"}, {"identifier": "b"}]})
    assert caught.value.response.status_code == 422
    assert "users[1]: username is required" in caught.value.response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/settings", {"page_size": 0}),
        ("/settings", {"token_lifetime_seconds": "long"}),
        ("/clock", {"advance_seconds": -1}),
    ],
)
def test_admin_knobs_validate(admin: Any, path: str, body: dict[str, Any]) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        admin.post(path, body)
    assert caught.value.response.status_code == 422


# ------------------------------------------------------------------------------ rate limit


def test_rate_limit_boundary_per_client(
    server: RunningSandbox, admin: Any, api: httpx.Client
) -> None:
    admin.seed({"clients": {"second-client": "second-secret"}})
    admin.set_rate(5, 60)
    statuses = [api.get("/api/v2/users").status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = api.get("/api/v2/users")
    assert error_of(refused, 503, "service_unavailable") == "Rate limit exceeded"
    assert "retry-after" not in refused.headers
    other = api.post(
        "/api/v1/token", params={"clientKey": "second-client", "secret": "second-secret"}
    )
    assert other.status_code == 200
    headers = {"Authorization": f"Bearer {other.json()['access_token']}"}
    assert api.get("/api/v2/users", headers=headers).status_code == 200
    error_of(api.post("/api/v1/token", params=dict(server.credentials)), 503, "service_unavailable")
    assert admin.counters()["rate_limited"] == 2


def test_rate_window_rolls_at_exactly_per_seconds() -> None:
    now = [0.0]
    with start_sandbox(create_simulator(), clock=lambda: now[0]) as running:
        assert running.admin is not None
        running.admin.set_rate(3, 10)
        with httpx.Client(base_url=running.base_url, timeout=10) as client:
            token = client.post("/api/v1/token", params=dict(running.credentials)).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            now[0] = 1.0
            assert [client.get("/api/v2/users").status_code for _ in range(2)] == [200, 200]
            assert client.get("/api/v2/users").status_code == 503
            now[0] = 9.999
            assert client.get("/api/v2/users").status_code == 503
            now[0] = 10.0
            assert client.get("/api/v2/users").status_code == 200
            assert client.get("/api/v2/users").status_code == 503
            now[0] = 11.0
            assert [client.get("/api/v2/users").status_code for _ in range(3)] == [200, 200, 503]


# ---------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, "general_error"), (503, "service_unavailable")],
)
def test_injected_api_errors_use_error_response(
    admin: Any, api: httpx.Client, status: int, error: str
) -> None:
    admin.set_faults(error_rate=1.0, error_statuses=[status], max_faults=1)
    error_of(api.get("/api/v2/users"), status, error)
    assert api.get("/api/v2/users").status_code == 200


@pytest.mark.parametrize("status", [502, 504])
def test_injected_gateway_errors_are_html(admin: Any, api: httpx.Client, status: int) -> None:
    admin.set_faults(error_rate=1.0, error_statuses=[status], max_faults=1)
    response = api.get("/api/v2/users")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html") and str(status) in response.text


def test_dropped_connection_and_malformed_body(admin: Any, api: httpx.Client) -> None:
    admin.seed({"users": [{"identifier": "a", "username": "a"}]})
    admin.set_faults(drop_rate=1.0, max_faults=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/api/v2/users")
    admin.set_faults(malformed_rate=1.0, max_faults=1)
    broken = api.get("/api/v2/users")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert api.get("/api/v2/users").json()[0]["identifier"] == "a"
