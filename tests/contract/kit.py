"""What the shared connector contract needs from each vendor: one small harness per vendor.

The contract tests speak in syncd's terms (ops, refs, outcomes, listings). A harness knows
the vendor-specific rest: how to configure a connection against the simulator, which LMS
fields a user has, how to pre-seed the vendor through the sandbox admin API, and how to read
back what the vendor now holds (through the vendor's own API, with plain httpx, so a
connector bug cannot hide behind itself). A vendor in ``REGISTRY`` without a harness fails
the suite: adding a connector means adding its harness here.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from syncd.config import ConnectionConfig, RateConfig
from syncd.plan.ops import Attrs
from syncd.sandbox.running import RunningSandbox
from syncd.vendors.scormcloud.wire import registration_id


@dataclass
class _Readouts:
    """What every harness reads of its simulator's own counters and request log (the
    admin API), the same for every vendor."""

    api_root: ClassVar[str] = ""
    running: RunningSandbox

    def creates(self) -> dict[str, int]:
        return self.running.admin.counters()["creates"]

    def rate_limited(self) -> int:
        return self.running.admin.counters()["rate_limited"]

    def requests(self) -> int:
        return self.running.admin.counters()["total"]

    def counted(self, method: str, path: str) -> int:
        """Requests of one endpoint template (``POST``, ``/registrations``), any status."""
        table = self.running.admin.counters()["requests"].get(f"{method} {self.api_root}{path}")
        return sum(table.values()) if table else 0

    def log(self) -> list[dict[str, Any]]:
        return self.running.admin.log()


@dataclass
class LitmosHarness(_Readouts):
    """The Litmos simulator, driven and inspected the way the vendor would be."""

    vendor: ClassVar[str] = "litmos"
    api_root: ClassVar[str] = "/v1.svc"
    users_path: ClassVar[str] = "/users"
    create_method: ClassVar[str] = "POST"
    setup_requests: ClassVar[int] = 0
    """Requests a fresh connector makes before its first op's own (none for Litmos)."""
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

    def account_secret(self, remote_id: str) -> str | None:
        """A secret of the account the API hands out but syncd must never pass on."""
        return self.remote_user(remote_id).get("LoginKey")

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

    def remote_tokens(self) -> dict[str, dict[str, Any]]:
        """Self-signup tokens by code, read through the vendor's API."""
        return {t["TokenCode"]: t for t in self._api("/tokens", limit=1000)}

    def hand_made_token(self, code: str, course: str) -> str:
        """A token made outside syncd (in the Litmos admin screens); returns its id."""
        with httpx.Client(base_url=self.running.base_url + self.api_root, timeout=5) as http:
            answer = http.post(
                "/tokens",
                params={"source": self.source, "format": "json"},
                headers={"apikey": self.api_key},
                json=[{"TokenCode": code, "TokenType": 1, "TokenTypeId": course, "Active": True}],
            )
        answer.raise_for_status()
        return str(answer.json()[0]["TokenId"])

    # ------------------------------------------------------------------ simulator counters


@dataclass
class ScormCloudHarness(_Readouts):
    """The SCORM Cloud simulator, driven and inspected the way the vendor would be.

    Learners exist only through registrations, so what the vendor holds of a person is
    read from their registrations (through the API with plain httpx and basic auth).
    """

    vendor: ClassVar[str] = "scormcloud"
    api_root: ClassVar[str] = "/api/v2"

    @property
    def app_id(self) -> str:
        return self.running.credentials["app_id"]

    @property
    def secret_key(self) -> str:
        return self.running.credentials["secret_key"]

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an outcome."""
        basic = base64.b64encode(f"{self.app_id}:{self.secret_key}".encode()).decode()
        return [self.secret_key, basic]

    def connection(
        self,
        *,
        rate: tuple[int, float] | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> ConnectionConfig:
        return ConnectionConfig(
            vendor="scormcloud",
            base_url=self.running.base_url + self.api_root,
            credentials={"app_id": self.app_id, "secret_key": self.secret_key},
            options=options,
            rate=RateConfig(requests=rate[0], per_seconds=rate[1]) if rate else None,
            timeout_seconds=timeout,
        )

    # ------------------------------------------------------------------ data in syncd terms

    def user_attrs(self, n: int, **override: str) -> Attrs:
        values = {
            "email": f"user{n}@corp.test",
            "firstName": f"First{n}",
            "lastName": f"Last{n}",
            **override,
        }
        return tuple(values.items())

    # ------------------------------------------------------------------ seeding (admin API)

    def seed_courses(self, *codes: str) -> list[str]:
        self.running.admin.post(
            "/courses", {"courses": [{"id": code, "title": f"Course {code}"} for code in codes]}
        )
        return list(codes)

    def seed_registration(self, registration_id: str, course: str, learner: dict[str, str]) -> None:
        """A registration made outside syncd (by hand, or by an earlier tool)."""
        self.running.admin.seed(
            {
                "registrations": [
                    {"registrationId": registration_id, "courseId": course, "learner": learner}
                ]
            }
        )

    def complete(self, learner: str, course: str, at: str | None = None) -> None:
        """The learner finishes the course in syncd's registration (at ``at``, ISO)."""
        body = {"action": "complete"} | ({"at": at} if at else {})
        path = f"/registrations/{registration_id(learner, course)}/activity"
        self.running.admin.post(path, body)

    def settings(self, **values: Any) -> dict[str, Any]:
        return self.running.admin.post("/settings", values)

    def flush(self) -> int:
        """Finish the simulator's background work now (learner updates, invitation jobs)."""
        return int(self.running.admin.post("/flush", {})["applied"])

    # ------------------------------------------------------------------ reading back

    def _api(self, path: str, **params: Any) -> Any:
        with httpx.Client(
            base_url=self.running.base_url + self.api_root,
            timeout=5,
            auth=(self.app_id, self.secret_key),
        ) as http:
            answer = http.get(path, params=params)
        answer.raise_for_status()
        return answer.json()

    def registrations(self, **filters: str) -> list[dict[str, Any]]:
        """Every registration the filters match, following ``more``."""
        found: list[dict[str, Any]] = []
        params: dict[str, str] = dict(filters)
        while True:
            page = self._api("/registrations", **params)
            found += page.get("registrations", [])
            if not page.get("more"):
                return found
            params = {"more": page["more"]}

    def remote_courses(self, learner_id: str) -> set[str]:
        return {r["course"]["id"] for r in self.registrations(learnerId=learner_id)}

    def public_invitations(self) -> dict[str, dict[str, Any]]:
        """Public invitations by id, each with its ``tags`` and ``registrationCount``."""
        found = {}
        for item in self._api("/invitations/public", includeRegistrationCount="true")[
            "invitations"
        ]:
            item["tags"] = self._api(f"/invitations/{item['id']}/tags")["tags"]
            found[item["id"]] = item
        return found

    def hand_made_invitation(self, course: str, *tags: str) -> str:
        """A public invitation made outside syncd; returns its id."""
        body = {"courseId": course, "creatingUserEmail": "admin@corp.test", "tags": list(tags)}
        with httpx.Client(
            base_url=self.running.base_url + self.api_root,
            timeout=5,
            auth=(self.app_id, self.secret_key),
        ) as http:
            answer = http.post("/invitations/public", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def visit(self, invitation_id: str, email: str) -> None:
        """Someone follows the public link and registers."""
        self.running.admin.post(f"/invitations/public/{invitation_id}/visit", {"email": email})

    def remote_learners(self) -> dict[str, dict[str, str]]:
        """Learner id -> the details its registrations carry (all must agree)."""
        learners: dict[str, dict[str, str]] = {}
        for registration in self.registrations():
            learner = {k: v or "" for k, v in registration["learner"].items()}
            seen = learners.setdefault(learner["id"], learner)
            assert seen == learner, f"registrations of {learner['id']} disagree"
        return learners

    # ------------------------------------------------------------------ simulator counters


@dataclass
class EnableyHarness(_Readouts):
    """The Enabley simulator, driven and inspected the way the vendor would be.

    Reading back goes through the API with its own token (plain httpx). ``requests``
    counts API calls only: token requests are paced but priced by no op. Enabley cannot
    list a group's members nor a user's channels, so those are read per user
    (``/api/v1/users/{id}/groups``) and from performance rows (learners only).
    """

    vendor: ClassVar[str] = "enabley"
    api_root: ClassVar[str] = ""
    users_path: ClassVar[str] = "/api/v2/users"
    create_method: ClassVar[str] = "PUT"
    setup_requests: ClassVar[int] = 1
    """The token request a fresh connector makes before its first op's own."""
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def client_key(self) -> str:
        return self.running.credentials["clientKey"]

    @property
    def secret(self) -> str:
        return self.running.credentials["secret"]

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or an outcome."""
        return [self.secret]

    def connection(
        self,
        *,
        rate: tuple[int, float] | None = None,
        timeout: float = 5.0,
        page_size: int | None = None,
        **options: Any,
    ) -> ConnectionConfig:
        if page_size is not None:
            self.settings(page_size=page_size)
        return ConnectionConfig(
            vendor="enabley",
            base_url=self.running.base_url,
            credentials={"client_id": self.client_key, "client_secret": self.secret},
            options=options,
            rate=RateConfig(requests=rate[0], per_seconds=rate[1]) if rate else None,
            timeout_seconds=timeout,
        )

    def settings(self, **values: Any) -> dict[str, Any]:
        """Token lifetime and page size of the simulator."""
        return self.running.admin.post("/settings", values)

    # ------------------------------------------------------------------ data in syncd terms

    def user_attrs(self, n: int, **override: str) -> Attrs:
        values = {
            "username": f"user{n}@corp.test",
            "firstName": f"First{n}",
            "lastName": f"Last{n}",
            "email": f"user{n}@corp.test",
            "JobTitle": "Engineer",
            **override,
        }
        return tuple(values.items())

    def bad_user_attrs(self) -> Attrs:
        """Attributes the vendor refuses for a reason that will not change (a 400)."""
        return self.user_attrs(0, username="ab", email="ab")

    # ------------------------------------------------------------------ seeding (admin API)

    @staticmethod
    def _user(entry: Mapping[str, Any]) -> dict[str, Any]:
        """A seed user as ``UserData``; the contract's neutral names are translated."""
        names = {"first_name": "firstName", "last_name": "lastName"}
        user = {names.get(k, k): v for k, v in entry.items()}
        user.setdefault("identifier", f"hand-{user['username']}")
        return user

    def seed(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(payload)
        if "users" in data:
            data["users"] = [self._user(u) for u in data["users"]]
        return self.running.admin.seed(data)

    def seed_user(self, n: int, **fields: Any) -> str:
        """An account made by hand in the LMS before syncd ran (with a password, which
        the API never gives back); returns its identifier."""
        entry = {
            "identifier": f"hand-{n}",
            "username": f"user{n}@corp.test",
            "firstName": f"Hand{n}",
            "lastName": f"Made{n}",
            "email": f"user{n}@corp.test",
            "password": f"pw-{n}-do-not-leak",
            **fields,
        }
        self.seed({"users": [entry]})
        self.passwords[entry["identifier"]] = entry["password"]
        return str(entry["identifier"])

    def account_secret(self, remote_id: str) -> str | None:
        """A secret of the account the API must never hand out (its password)."""
        return self.passwords.get(remote_id)

    def seed_courses(self, *codes: str) -> list[str]:
        self.seed(
            {
                "channels": [
                    {"identifier": code, "name": f"Course {code}", "type": "COURSE"}
                    for code in codes
                ]
            }
        )
        return list(codes)

    def complete(self, user: str, course: str, at: str) -> None:
        self.running.admin.post(
            "/activity", {"action": "complete", "user": user, "channel": course, "at": at}
        )

    # ------------------------------------------------------------------ reading back

    def _api(self, path: str, **params: Any) -> Any:
        with httpx.Client(base_url=self.running.base_url, timeout=5) as http:
            token = http.post(
                "/api/v1/token", params={"clientKey": self.client_key, "secret": self.secret}
            )
            token.raise_for_status()
            answer = http.get(
                path,
                params=params,
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
        answer.raise_for_status()
        return answer.json()

    def remote_user(self, remote_id: str) -> dict[str, Any]:
        return self._api(f"/api/v2/users/{remote_id}")

    def remote_active(self, remote_id: str) -> bool:
        return bool(self.remote_user(remote_id)["isActive"])

    def remote_attrs(self, remote_id: str) -> dict[str, str]:
        """Profile fields and custom attributes as strings (dates left out: they move)."""
        user = self.remote_user(remote_id)
        custom = user.pop("customAttributes") or {}
        flat = {
            k: "" if v is None else str(v)
            for k, v in user.items()
            if k not in {"created", "modified"}
        }
        flat.update({k: str(v) for k, v in custom.items()})
        return flat

    def remote_team(self, remote_id: str) -> dict[str, Any]:
        group = self._api(f"/api/v1/groups/{remote_id}")
        return {"name": group["name"], "parent": group.get("parentIdentifier") or ""}

    def remote_users(self) -> list[dict[str, Any]]:
        return self._api("/api/v2/users", limit=200)

    def remote_members(self, team_id: str) -> set[str]:
        return {
            user["identifier"]
            for user in self.remote_users()
            if any(
                g["identifier"] == team_id
                for g in self._api(f"/api/v1/users/{user['identifier']}/groups")
            )
        }

    def remote_courses(self, user_id: str) -> set[str]:
        rows = self._api("/api/v1/performance", externalUserId=user_id)
        return {row["externalChannelId"] for row in rows}

    # ------------------------------------------------------------------ simulator counters

    def tokens(self) -> int:
        return self.counted("POST", "/api/v1/token")

    def requests(self) -> int:
        """API requests, token requests left out."""
        return int(self.running.admin.counters()["total"]) - self.tokens()


Harness = LitmosHarness | ScormCloudHarness | EnableyHarness

HARNESSES: dict[str, type[Harness]] = {
    "enabley": EnableyHarness,
    "litmos": LitmosHarness,
    "scormcloud": ScormCloudHarness,
}
