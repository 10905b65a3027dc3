"""Shared helpers of the SCORM Cloud simulator tests (no tests here).

Tests drive the simulator over real HTTP on loopback exactly as a client would: basic auth
with the demo app id and secret key, JSON bodies, paths under ``/api/v2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from syncd.sandbox.admin import AdminClient
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.scormcloud import DEMO_APP_ID, DEMO_SECRET_KEY

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
