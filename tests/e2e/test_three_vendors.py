"""One configuration, three vendors: the example syncs the sample company into Litmos,
SCORM Cloud and Enabley in one `syncd reconcile`, each on its in-process simulator.

Afterwards each simulated account is opened from the file the run kept it in and read the
way an outside client would (the official SCORM Cloud client; plain HTTP as each vendor's
API documents it): every accepted, active person is there exactly once, with the courses
the rules give, and a second run has nothing to do.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import pytest

from syncd.config import load
from syncd.hris import read_roster
from syncd.sandbox import create_simulator
from syncd.sandbox.account_file import account_path, restore_account
from syncd.sandbox.running import RunningSandbox, start_sandbox
from tests.e2e.kit import EXAMPLE, shown, syncd

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where `syncd reconcile` ran twice on the example."""
    folder = tmp_path_factory.mktemp("three")
    first = syncd("reconcile", "--config", str(EXAMPLE), cwd=folder)
    assert first.returncode == 0, shown(first)
    table = {
        name: line
        for line in first.stdout.splitlines()
        for name in ("litmos", "scorm", "enabley")
        if line.startswith(f"│ {name} ")
    }
    assert set(table) == {"litmos", "scorm", "enabley"}, first.stdout
    for line in table.values():
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert cells[-1] == "in sync" and cells[7] == "0" and cells[8] == "0", line
    again = syncd("reconcile", "--config", str(EXAMPLE), cwd=folder)
    assert again.returncode == 0, shown(again)
    for name, vendor in (("litmos", "litmos"), ("scorm", "scormcloud"), ("enabley", "enabley")):
        assert f"{name} ({vendor}): plan of 0 op(s), 0 vendor call(s)" in again.stdout
    return folder


@pytest.fixture(scope="module")
def people() -> dict[str, dict[str, str]]:
    """The accepted, active people of the sample export, by employee id."""
    config = load(EXAMPLE)
    roster = read_roster(config.source_path("hris"), config.sources["hris"], today=date.today())
    active = roster.people[roster.people["active"]]
    return {row["external_id"]: dict(row) for row in active.to_dict("records")}


@contextmanager
def opened(folder: Path, connection: str, vendor: str) -> Iterator[RunningSandbox]:
    simulator = create_simulator(vendor)
    assert restore_account(simulator, account_path(connection, folder), vendor)
    with start_sandbox(simulator) as running:
        yield running


def test_litmos_holds_each_person_once_with_their_teams(synced, people):
    with opened(synced, "litmos", "litmos") as running:
        key, source = running.credentials["apikey"], running.credentials["source"]
        with httpx.Client(base_url=f"{running.base_url}/v1.svc", timeout=10) as http:
            users = http.get(
                "/users/details",
                params={"source": source, "format": "json", "limit": 1000},
                headers={"apikey": key},
            ).json()
    active = [u for u in users if u["Active"]]
    ids = Counter(u["ExternalEmployeeId"] for u in active)
    assert set(ids) == set(people) and set(ids.values()) == {1}


def test_scorm_cloud_registers_each_person_once_per_course_with_their_details(synced, people):
    sc = pytest.importorskip("rustici_software_cloud_v2")
    with opened(synced, "scorm", "scormcloud") as running:
        configuration = sc.Configuration()
        configuration.host = f"{running.base_url}/api/v2"
        configuration.username = running.credentials["app_id"]
        configuration.password = running.credentials["secret_key"]
        api = sc.RegistrationApi(sc.ApiClient(configuration))
        found, more = [], None
        while True:
            page = api.get_registrations(more=more) if more else api.get_registrations()
            found += page.registrations or []
            more = page.more
            if not more:
                break
    pairs = Counter((r.learner.id, r.course.id) for r in found)
    assert set(pairs.values()) == {1}, "no duplicate registration"
    leaders = {k for k, p in people.items() if p.get("job_title") in ("Manager", "Director")}
    wanted = {(k, c) for k in people for c in ("ONB101", "SEC201")}
    wanted |= {(k, "LDR300") for k in leaders}
    assert set(pairs) == wanted
    for registration in found:
        person = people[registration.learner.id]
        assert registration.learner.first_name == person["first_name"]
        assert registration.learner.last_name == person["last_name"]
        assert registration.learner.email == person["email"]


def test_enabley_holds_each_person_once_and_links_operations_to_its_channel(synced, people):
    with (
        opened(synced, "enabley", "enabley") as running,
        httpx.Client(base_url=running.base_url, timeout=10) as http,
    ):
        token = http.post(
            "/api/v1/token",
            params={
                "clientKey": running.credentials["clientKey"],
                "secret": running.credentials["secret"],
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        users, key = [], None
        while True:
            page = http.get(
                "/api/v3/users", params={"paginationKey": key} if key else {}, headers=auth
            ).json()
            users += page["items"]
            key = page.get("paginationKey")
            if not key:
                break
        groups = http.get("/api/v1/groups/list", headers=auth).json()
    active = Counter(u["identifier"] for u in users if u.get("isActive", True))
    assert set(active) == set(people) and set(active.values()) == {1}
    names = {g["name"] for g in groups}
    assert {"Operations", "Customer Success"} <= names
    assert all(re.fullmatch(r"[\w.-]+", g["identifier"]) for g in groups)
