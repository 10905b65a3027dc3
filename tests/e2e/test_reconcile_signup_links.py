"""`python -m syncd reconcile` with signup links declared for a Litmos and a SCORM Cloud
connection on their simulators: created by the first run, untouched by the second, one
update for a changed limit, usage shown, a broken link reported (exit 4) without stopping
the others, and a dry run that asks the vendors nothing about them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from syncd.limiter import forget_limiters
from syncd.sandbox.running import RunningSandbox
from tests.e2e.kit import (
    KEY_ENV,
    SCORM_APP_ENV,
    SCORM_SECRET_ENV,
    SOURCE_CONFIG,
    Setup,
    company,
    shown,
    write_export,
)

CONFIG = (
    SOURCE_CONFIG
    + """\
[connections.lm]
vendor = "litmos"
base_url = "{litmos_url}"
credentials = {{ api_key = "${{{key_env}}}" }}
options = {{ source = "syncd-e2e" }}
groups = ["org"]
timeout_seconds = 2

[[connections.lm.rules]]
name = "everyone"
assign = {{ courses = ["{course}"] }}

[[connections.lm.signup_links]]
name = "safety-walk-in"
target = "{course}"
limit = {litmos_limit}
expires = 2031-06-30

[[connections.lm.signup_links]]
name = "join-sales"
kind = "team"
target = "org:Commercial/Sales"
code = "JOIN-SALES"

[connections.sc]
vendor = "scormcloud"
base_url = "{scorm_url}"
credentials = {{ app_id = "${{{app_env}}}", secret_key = "${{{secret_env}}}" }}
options = {{ creating_user_email = "lms-admin@corp.test" }}
timeout_seconds = 2

[[connections.sc.rules]]
name = "everyone"
assign = {{ courses = ["SAFE101"] }}

[[connections.sc.signup_links]]
name = "safety-public"
target = "SAFE101"
limit = 30
tags = ["walk-in"]
{extra}"""
)

BROKEN = """
[[connections.sc.signup_links]]
name = "broken"
target = "NO-SUCH-COURSE"
"""


@dataclass
class LinksSetup(Setup):
    """Both sandboxes, one config: the Litmos key and the SCORM Cloud pair from ``${ENV}``."""

    scorm: RunningSandbox | None = None

    def env(self, **extra: str) -> dict[str, str]:
        assert self.scorm is not None
        env = super().env(**extra)
        env[SCORM_APP_ENV] = self.scorm.credentials["app_id"]
        env[SCORM_SECRET_ENV] = self.scorm.credentials["secret_key"]
        return env

    def configure(self, *, litmos_limit: int = 40, extra: str = "") -> None:
        assert self.scorm is not None
        self.config.write_text(
            CONFIG.format(
                db_url=self.db_url,
                litmos_url=f"{self.sandbox.base_url}/v1.svc",
                scorm_url=f"{self.scorm.base_url}/api/v2",
                key_env=KEY_ENV,
                app_env=SCORM_APP_ENV,
                secret_env=SCORM_SECRET_ENV,
                course=self.course,
                litmos_limit=litmos_limit,
                extra=extra,
            ),
            encoding="utf-8",
        )

    def link_writes(self) -> list[tuple[str, str]]:
        """Writes to the link endpoints of both vendors so far."""
        found = []
        for running in (self.sandbox, self.scorm):
            assert running is not None and running.admin is not None
            for entry in running.admin.log():
                path = entry["path"]
                if entry["method"] in ("POST", "PUT", "DELETE") and (
                    path.endswith("/tokens") or "/invitations" in path
                ):
                    found.append((entry["method"], path))
        return found

    def tokens(self) -> dict[str, dict[str, object]]:
        with httpx.Client(base_url=f"{self.sandbox.base_url}/v1.svc", timeout=5) as http:
            answer = http.get(
                "/tokens",
                params={"source": "syncd-e2e", "format": "json"},
                headers={"apikey": self.sandbox.credentials["apikey"]},
            )
        return {t["TokenCode"]: t for t in answer.json()}

    def invitations(self) -> list[dict[str, object]]:
        assert self.scorm is not None
        auth = (self.scorm.credentials["app_id"], self.scorm.credentials["secret_key"])
        with httpx.Client(base_url=f"{self.scorm.base_url}/api/v2", auth=auth, timeout=5) as http:
            return list(http.get("/invitations/public").json()["invitations"])


@pytest.fixture
def setup(sandbox, db_url, tmp_path: Path) -> Iterator[LinksSetup]:
    forget_limiters()
    litmos, scorm = sandbox("litmos"), sandbox("scormcloud")
    assert litmos.admin is not None and scorm.admin is not None
    course = litmos.admin.seed({"courses": [{"code": "SAFE101", "name": "Safety basics"}]})
    scorm.admin.seed({"courses": [{"id": "SAFE101"}]})
    export = tmp_path / "export.csv"
    write_export(export, company(6))
    found = LinksSetup(
        litmos,
        tmp_path,
        tmp_path / "syncd.toml",
        export,
        db_url,
        course["courses"]["SAFE101"],
        scorm=scorm,
    )
    found.configure()
    yield found
    forget_limiters()


def links_logged(stderr: str) -> dict[str, list[dict[str, object]]]:
    """Connection -> the links of its ``reconcile.links`` log line."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("{") and '"reconcile.links"' in line:
            entry = json.loads(line)
            found[entry["connection"]] = entry["links"]
    return found


def test_links_are_created_once_then_left_alone_then_updated_with_usage_shown(setup):
    first = setup.subprocess_run("reconcile")
    assert first.returncode == 0, shown(first)
    assert "lm: signup links" in first.stdout and "sc: signup links" in first.stdout
    tokens = setup.tokens()
    assert set(tokens) == {"safety-walk-in", "JOIN-SALES"}
    assert tokens["safety-walk-in"]["MaximumActivations"] == 40
    assert tokens["JOIN-SALES"]["TokenType"] == 2  # the team syncd just made for the group
    logged = links_logged(first.stderr)
    assert {row["name"]: row["action"] for row in logged["lm"]} == {
        "safety-walk-in": "created",
        "join-sales": "created",
    }
    (invitation,) = setup.invitations()
    assert logged["sc"] == [
        {
            "name": "safety-public",
            "action": "created",
            "vendor_id": invitation["id"],
            "target": "SAFE101",
            "used": 0,
            "limit": 30,
            "expires": None,
            "active": True,
            "changed": [],
            "url": invitation["url"],
            "reason": "",
        }
    ]
    created = setup.link_writes()
    assert len(created) == 3

    assert setup.scorm is not None and setup.scorm.admin is not None
    for n in (1, 2):
        setup.scorm.admin.post(
            f"/invitations/public/{invitation['id']}/visit", {"email": f"walk{n}@corp.test"}
        )
    second = setup.subprocess_run("reconcile")
    assert second.returncode == 0, shown(second)
    assert setup.link_writes() == created
    assert "2 / 30" in second.stdout and "unchanged" in second.stdout
    assert {row["action"] for rows in links_logged(second.stderr).values() for row in rows} == {
        "unchanged"
    }

    setup.configure(litmos_limit=60)
    third = setup.syncd("reconcile")
    assert third.returncode == 0, shown(third)
    assert sorted(setup.link_writes()) == sorted([*created, ("PUT", "/v1.svc/tokens")])
    assert setup.tokens()["safety-walk-in"]["MaximumActivations"] == 60
    assert "changed: limit" in third.stdout
    assert len(setup.invitations()) == 1


def test_a_broken_link_fails_alone_with_exit_4_and_a_dry_run_asks_nothing(setup):
    setup.configure(extra=BROKEN)
    dry = setup.syncd("reconcile", "--dry-run")
    assert dry.returncode == 2, shown(dry)
    assert dry.stdout.count("checked at reconcile") == 4
    assert setup.link_writes() == []
    for running in (setup.sandbox, setup.scorm):
        assert running is not None and running.admin is not None
        assert not [e for e in running.admin.log() if "token" in e["path"] or "invit" in e["path"]]

    real = setup.syncd("reconcile")
    assert real.returncode == 4, shown(real)
    assert "NO-SUCH-COURSE" in real.stdout and "failed" in real.stdout
    assert set(setup.tokens()) == {"safety-walk-in", "JOIN-SALES"}
    assert len(setup.invitations()) == 1
    for secret in (
        setup.sandbox.credentials["apikey"],
        setup.env()[SCORM_SECRET_ENV],
    ):
        assert secret not in real.stdout + real.stderr
