"""Shared bits of the Litmos simulator tests: clients, a seed, XML helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx

from syncd.sandbox.admin import tls_context
from syncd.sandbox.running import RunningSandbox

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
