"""Helpers of the simulator tests (no tests here).

Litmos: clients, a seed, XML helpers. SCORM Cloud: a fake clock and clients that drive the
simulator over real HTTP on loopback exactly as a client would (basic auth with the demo app
id and secret key, JSON bodies, paths under ``/api/v2``). And :class:`ToySimulator`, a
minimal vendor simulator that tests the sandbox core on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from syncd.sandbox.admin import AdminClient, tls_context
from syncd.sandbox.core import RateRule, record_create
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.scormcloud import DEMO_APP_ID, DEMO_SECRET_KEY

# --------------------------------------------------------------------------- Litmos

XSI = "http://www.w3.org/2001/XMLSchema-instance"
NIL = f"{{{XSI}}}nil"

SEED: dict[str, Any] = {
    "courses": [
        {
            "code": "SAFE101",
            "name": "Safety basics",
            "modules": [{"name": "Intro", "code": "M1"}, {"name": "Quiz", "passmark": 80}],
        },
        {"code": "GDPR1", "name": "Data protection"},
        {"code": "LEAD1", "name": "Leading teams", "modules": [{"name": "Only"}]},
    ],
    "learning_paths": [{"name": "Onboarding", "courses": ["SAFE101", "GDPR1"]}],
    "teams": [{"name": "Company"}, {"name": "Sales", "parent": "Company"}],
    "users": [
        {"username": "ann.lee@example.com", "first_name": "Ann", "last_name": "Lee"},
        {"username": "bob.stone@example.com", "first_name": "Bob", "last_name": "Stone"},
        {
            "username": "cy.lee",
            "first_name": "Cy",
            "last_name": "Archer",
            "email": "cy@example.org",
            "active": False,
        },
    ],
}


def client(sandbox: RunningSandbox, *, fmt: str | None = "json", **kwargs: Any) -> httpx.Client:
    """An httpx client on ``/v1.svc`` with the demo key (header) and ``source``."""
    params = {"source": sandbox.credentials["source"]}
    if fmt:
        params["format"] = fmt
    return httpx.Client(
        base_url=f"{sandbox.base_url}/v1.svc",
        headers={"apikey": sandbox.credentials["apikey"]},
        params=params,
        timeout=10,
        verify=tls_context(),
        **kwargs,
    )


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("application/xml")
    return ET.fromstring(response.content)


def children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def new_user_body(username: str, **changes: Any) -> dict[str, Any]:
    """The ordered create body the recorded client sent (``Id: ""``, no CustomField3)."""
    body: dict[str, Any] = {
        "Id": "",
        "UserName": username,
        "FirstName": "Jo",
        "LastName": "Baba",
        "FullName": "",
        "Email": username,
        "AccessLevel": "Learner",
        "DisableMessages": True,
        "Active": True,
        "Skype": "",
        "PhoneWork": "",
        "PhoneMobile": "",
        "LastLogin": "",
        "LoginKey": "",
        "IsCustomUsername": False,
        "Password": "",
        "SkipFirstLogin": True,
        "TimeZone": "UTC",
        "Street1": "",
        "Street2": "",
        "City": "",
        "State": "",
        "PostalCode": "",
        "Country": "",
        "CompanyName": "",
        "JobTitle": "",
        "CustomField1": "",
        "CustomField2": "",
        "CustomField4": "",
        "CustomField5": "",
        "CustomField6": "",
        "CustomField7": "",
        "CustomField8": "",
        "CustomField9": "",
        "CustomField10": "",
        "Culture": "",
    }
    body.update(changes)
    return body


def around_now(days_before: int = 1, days_after: int = 1) -> dict[str, str]:
    """``since``/``to`` of a date-range window around now ("to" in the future, as the vendor
    says it must be to see today's changes)."""
    now = datetime.now(UTC)
    return {
        "since": (now - timedelta(days=days_before)).strftime("%Y-%m-%d %H:%M:%S"),
        "to": (now + timedelta(days=days_after)).strftime("%Y-%m-%d %H:%M:%S"),
    }


# --------------------------------------------------------------------------- SCORM Cloud

ISO_MS_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


class FakeClock:
    """A settable UTC clock for the simulator's timestamps and token expiry."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class ScormEnv:
    """A running SCORM Cloud simulator with an authenticated HTTP client."""

    running: RunningSandbox
    http: httpx.Client

    @property
    def admin(self) -> AdminClient:
        assert self.running.admin is not None
        return self.running.admin

    @property
    def base_url(self) -> str:
        return self.running.base_url

    def seed_courses(self, *ids: str, **fields: Any) -> None:
        self.admin.seed(
            {"courses": [{"id": cid, "title": f"Title {cid}", **fields} for cid in ids]}
        )

    def create(
        self, reg_id: str, course: str = "C1", learner: str = "L1", **extra: Any
    ) -> httpx.Response:
        body = {
            "courseId": course,
            "registrationId": reg_id,
            "learner": {"id": learner, "firstName": "Ada", "lastName": "Lovelace"},
            **extra,
        }
        return self.http.post("/registrations", json=body)

    def activity(self, reg_id: str, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.admin.post(f"/registrations/{reg_id}/activity", body)
        return result

    def list_all(self, path: str, key: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Follow ``more`` to the end; returns the items and the number of pages."""
        items: list[dict[str, Any]] = []
        pages = 0
        response = self.http.get(path, params=params)
        while True:
            assert response.status_code == 200, response.text
            pages += 1
            body = response.json()
            items.extend(body[key])
            if not body.get("more"):
                return items, pages
            response = self.http.get(path, params={"more": body["more"]})


def client_for(
    base_url: str, app_id: str = DEMO_APP_ID, secret: str = DEMO_SECRET_KEY
) -> httpx.Client:
    return httpx.Client(base_url=f"{base_url}/api/v2", auth=(app_id, secret), timeout=10)


def official_client(base_url: str, app_id: str = DEMO_APP_ID, secret: str = DEMO_SECRET_KEY) -> Any:
    """The official ``rustici_software_cloud_v2`` client on the simulator, host as shipped
    (ending in ``/``, so it calls ``/api/v2//...`` as it does against cloud.scorm.com).
    Close it with ``client.rest_client.pool_manager.clear()``."""
    import rustici_software_cloud_v2 as sc

    config = sc.Configuration()
    config.host = f"{base_url}/api/v2/"
    config.username = app_id
    config.password = secret
    return sc.ApiClient(config)


# --------------------------------------------------------------------------- the core


class ToySimulator:
    """Users keyed by name; the key is the ``key`` header or the ``key`` query parameter."""

    name = "toy"
    default_rate = RateRule(requests=100, per_seconds=60)
    rate_counts_rejected = False
    secret_params = frozenset({"key"})
    credentials: Mapping[str, str] = {"key": "toy-key"}

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.routes = [
            Route("/api/users", self.list_users, methods=["GET"]),
            Route("/api/users", self.create_user, methods=["POST"]),
            Route("/api/users/{name}", self.get_user, methods=["GET"]),
            Route("/api/echo", self.echo, methods=["POST"]),
            Route("/api/xml", self.xml, methods=["GET"]),
        ]
        self.admin_routes = [Route("/toy/count", self.count, methods=["GET"])]

    def credential(self, request: Request) -> str | None:
        return request.headers.get("key") or request.query_params.get("key")

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return PlainTextResponse("slow down", status_code=429)

    def error_response(self, status: int) -> Response:
        return PlainTextResponse(f"toy error {status}", status_code=status)

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        names = data.get("users")
        if not isinstance(names, list):
            raise ValueError("users must be a list of names")
        for name in names:
            self.users[name] = {"name": name}
        return {"users": len(names)}

    def reset(self) -> None:
        self.users.clear()

    async def list_users(self, request: Request) -> Response:
        return JSONResponse(sorted(self.users.values(), key=lambda user: user["name"]))

    async def create_user(self, request: Request) -> Response:
        body = await request.json()
        if body["name"] in self.users:
            return JSONResponse({"error": "exists"}, status_code=409)
        self.users[body["name"]] = {"name": body["name"]}
        record_create(request, body["name"])
        return JSONResponse(self.users[body["name"]], status_code=201)

    async def get_user(self, request: Request) -> Response:
        user = self.users.get(request.path_params["name"])
        return JSONResponse(user) if user else JSONResponse({}, status_code=404)

    async def echo(self, request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    async def xml(self, request: Request) -> Response:
        return Response("<Users><User><Id>1</Id></User></Users>", media_type="application/xml")

    async def count(self, request: Request) -> Response:
        return JSONResponse({"users": len(self.users)})
