"""What the shared connector contract needs from each vendor: one small harness per vendor.

The contract tests speak in syncd's terms (ops, refs, outcomes, listings). A harness knows
the vendor-specific rest: how to configure a connection against the simulator, which LMS
fields a user has, how to pre-seed the vendor through the sandbox admin API, and how to read
back what the vendor now holds (through the vendor's own API, with plain httpx, so a
connector bug cannot hide behind itself). A vendor in ``REGISTRY`` without a harness fails
the suite: adding a connector means adding its harness here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from syncd.config import ConnectionConfig, RateConfig
from syncd.plan.ops import Attrs
from syncd.sandbox.running import RunningSandbox


@dataclass
class LitmosHarness:
    """The Litmos simulator, driven and inspected the way the vendor would be."""

    vendor: ClassVar[str] = "litmos"
    api_root: ClassVar[str] = "/v1.svc"
    running: RunningSandbox
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def api_key(self) -> str:
        return self.running.credentials["apikey"]

    @property
    def source(self) -> str:
        return self.running.credentials["source"]

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an outcome."""
        return [self.api_key, self.source]

    def connection(
        self,
        *,
        rate: tuple[int, float] | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> ConnectionConfig:
        return ConnectionConfig(
            vendor="litmos",
            base_url=self.running.base_url + self.api_root,
            credentials={"api_key": self.api_key},
            options={"source": self.source, **options},
            rate=RateConfig(requests=rate[0], per_seconds=rate[1]) if rate else None,
            timeout_seconds=timeout,
        )

    # ------------------------------------------------------------------ data in syncd terms

    def user_attrs(self, n: int, **override: str) -> Attrs:
        values = {
            "UserName": f"user{n}@corp.test",
            "FirstName": f"First{n}",
            "LastName": f"Last{n}",
            "Email": f"user{n}@corp.test",
            "JobTitle": "Engineer",
            **override,
        }
        return tuple(values.items())

    def bad_user_attrs(self) -> Attrs:
        """Attributes the vendor refuses for a reason that will not change (a 4xx)."""
        return self.user_attrs(0, UserName="ab", Email="ab")

    # ------------------------------------------------------------------ seeding (admin API)

    def seed(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.running.admin.seed(dict(payload))
        for section, mapping in answer.items():
            if isinstance(mapping, dict):
                self.ids.setdefault(section, {}).update(mapping)
        return answer

    def seed_user(self, n: int, **fields: Any) -> str:
        """An account made by hand in the LMS before syncd ran; returns its remote id."""
        entry = {
            "username": f"user{n}@corp.test",
            "first_name": f"Hand{n}",
            "last_name": f"Made{n}",
            "email": f"user{n}@corp.test",
            **fields,
        }
        self.seed({"users": [entry]})
        return self.ids["users"][entry["username"]]

    def seed_courses(self, *codes: str) -> list[str]:
        self.seed(
            {
                "courses": [
                    {"code": code, "name": f"Course {code}", "modules": [{"name": "M1"}]}
                    for code in codes
                ]
            }
        )
        return [self.ids["courses"][code] for code in codes]

    def seed_learning_path(self, name: str, *codes: str) -> str:
        self.seed({"learning_paths": [{"name": name, "courses": list(codes)}]})
        return self.ids["learning_paths"][name]

    def complete(self, user: str, course: str, at: str) -> None:
        self.running.admin.post(
            "/activity", {"action": "complete", "user": user, "course": course, "at": at}
        )

    # ------------------------------------------------------------------ reading back

    def _api(self, path: str, **params: Any) -> Any:
        with httpx.Client(base_url=self.running.base_url + self.api_root, timeout=5) as http:
            answer = http.get(
                path,
                params={"source": self.source, "format": "json", **params},
                headers={"apikey": self.api_key},
            )
        answer.raise_for_status()
        return answer.json()

    def remote_user(self, remote_id: str) -> dict[str, Any]:
        return self._api(f"/users/{remote_id}")

    def remote_active(self, remote_id: str) -> bool:
        return bool(self.remote_user(remote_id)["Active"])

    def remote_attrs(self, remote_id: str) -> dict[str, str]:
        user = self.remote_user(remote_id)
        return {k: "" if v is None else str(v) for k, v in user.items()}

    def remote_team(self, remote_id: str) -> dict[str, Any]:
        team = self._api(f"/teams/{remote_id}")
        return {"name": team["Name"], "parent": team.get("ParentTeamId") or ""}

    def remote_members(self, team_id: str) -> set[str]:
        return {u["Id"] for u in self._api(f"/teams/{team_id}/users", limit=1000)}

    def remote_courses(self, user_id: str) -> set[str]:
        return {
            c["Id"]
            for c in self._api(f"/users/{user_id}/courses", limit=1000)
            if not c.get("IsLearningPath")
        }

    def remote_learning_paths(self, user_id: str) -> set[str]:
        return {p["Id"] for p in self._api(f"/users/{user_id}/learningpaths", limit=1000)}

    # ------------------------------------------------------------------ simulator counters

    def creates(self) -> dict[str, int]:
        return self.running.admin.counters()["creates"]

    def rate_limited(self) -> int:
        return self.running.admin.counters()["rate_limited"]

    def requests(self) -> int:
        return self.running.admin.counters()["total"]

    def log(self) -> list[dict[str, Any]]:
        return self.running.admin.log()


HARNESSES: dict[str, type[LitmosHarness]] = {"litmos": LitmosHarness}
