"""``ScormCloudConnector.results(window)`` against the SCORM Cloud simulator over loopback.

Learners start, progress, complete and are reset through the sandbox admin API and the
vendor API on a settable clock; each window must bring exactly the registrations changed
in it, with the reads the vendor's paging allows: one for a window with nothing new,
ceil(n / page) for n changes. The official client (Rustici's own) reads the same window
with the same parameters and must see the same registrations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from syncd.errors import CredentialRefused
from syncd.sandbox.running import RunningSandbox
from syncd.sandbox.scormcloud import create_simulator
from syncd.vendors.base import ResultRecord, ResultStatus, Window
from syncd.vendors.scormcloud.connector import ScormCloudConnector
from syncd.vendors.scormcloud.results import window_params
from tests.contract.kit import ScormCloudHarness
from tests.fixtures.sandbox import SandboxFactory
from tests.unit.sandbox.kit import FakeClock, official_client

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
PAGE = 3


@dataclass
class World:
    """A simulator on a fake clock, its harness, and a connector pointed at it."""

    clock: FakeClock
    vendor: ScormCloudHarness
    connector: ScormCloudConnector

    @property
    def now(self) -> datetime:
        return self.clock.now

    def advance(self, **delta: float) -> datetime:
        self.clock.advance(timedelta(**delta).total_seconds())
        return self.clock.now

    def register(self, *numbers: int, course: str = "C1") -> list[str]:
        ids = [f"R{n:03d}" for n in numbers]
        self.vendor.running.admin.seed(
            {
                "registrations": [
                    {
                        "registrationId": rid,
                        "courseId": course,
                        "learner": {
                            "id": f"E{n:03d}",
                            "email": f"user{n}@corp.test",
                            "firstName": f"First{n}",
                            "lastName": f"Last{n}",
                        },
                    }
                    for n, rid in zip(numbers, ids, strict=True)
                ]
            }
        )
        return ids

    def activity(self, registration_id: str, **body: Any) -> None:
        self.vendor.running.admin.post(f"/registrations/{registration_id}/activity", body)

    def pull(self, since: datetime, until: datetime) -> tuple[dict[str, ResultRecord], int]:
        """The window's records by registration id, and the ``GET /registrations`` it cost
        (counted by the simulator and by the connector's client: they must agree)."""
        before_vendor = self.vendor.counted("GET", "/registrations")
        before_client = self.connector.client.calls.total
        records = list(self.connector.results(Window(since, until)))
        reads = self.vendor.counted("GET", "/registrations") - before_vendor
        assert self.connector.client.calls.total - before_client == reads
        by_id = {r.item_id: r for r in records}
        assert len(by_id) == len(records), "a registration came twice in one window"
        return by_id, reads


@pytest.fixture
def world(sandbox: SandboxFactory) -> Iterator[World]:
    clock = FakeClock(T0)
    running: RunningSandbox = sandbox(create_simulator(page_size=PAGE, clock=clock))
    vendor = ScormCloudHarness(running)
    running.admin.post("/courses", {"courses": [{"id": "C1", "title": "Fire safety"}]})
    connector = ScormCloudConnector(vendor.connection(rate=(10_000, 1.0)))
    yield World(clock, vendor, connector)
    connector.close()


def test_each_window_brings_exactly_the_registrations_changed_in_it(world: World) -> None:
    world.register(1, 2, 3, 4, 5)
    created = world.advance(hours=1)
    fresh, reads = world.pull(T0, created)
    assert sorted(fresh) == ["R001", "R002", "R003", "R004", "R005"]
    assert {r.status for r in fresh.values()} == {ResultStatus.NOT_STARTED}
    assert reads == math.ceil(5 / PAGE)

    world.advance(hours=1)
    world.activity("R001", action="start")
    world.advance(minutes=5)
    world.activity("R002", action="progress", seconds=300, completionAmount=0.4)
    world.advance(minutes=5)
    world.activity("R003", action="complete", seconds=1200, score=92.5, success="PASSED")
    world.activity("R004", action="complete", seconds=600, score=40, success="FAILED")
    done_at = world.advance(minutes=1)
    world.activity("R005", action="complete", seconds=60)
    until = world.advance(hours=1)

    changed, reads = world.pull(created, until)
    assert sorted(changed) == ["R001", "R002", "R003", "R004", "R005"]
    assert reads == math.ceil(5 / PAGE)
    got = {
        rid: (r.status, r.completed, r.passed, r.percentage, r.score, r.seconds)
        for rid, r in changed.items()
    }
    assert got == {
        "R001": (ResultStatus.IN_PROGRESS, False, None, 0.0, None, 0),
        "R002": (ResultStatus.IN_PROGRESS, False, None, 40.0, None, 300),
        "R003": (ResultStatus.PASSED, True, True, 100.0, 92.5, 1200),
        "R004": (ResultStatus.FAILED, True, False, 100.0, 40.0, 600),
        "R005": (ResultStatus.COMPLETED, True, None, 100.0, None, 60),
    }
    r5 = changed["R005"]
    assert (r5.remote_user_id, r5.external_id, r5.username) == ("E005", "E005", "user5@corp.test")
    assert (r5.course_id, r5.item_name, r5.item_kind) == ("C1", "Fire safety", "registration")
    assert r5.completed_at == done_at and r5.started_at == done_at == r5.updated_at
    assert r5.assigned_at is not None and T0 <= r5.assigned_at < created
    assert changed["R001"].started_at == created + timedelta(hours=1)

    world.advance(hours=1)
    world.activity("R002", action="complete", success="PASSED", score=70)
    later = world.advance(hours=1)
    again, reads = world.pull(until, later)
    assert list(again) == ["R002"] and reads == 1
    assert again["R002"].status == ResultStatus.PASSED
    assert again["R002"].seconds == 300  # time from the earlier session is kept


def test_a_window_with_nothing_new_is_exactly_one_read(world: World) -> None:
    world.register(1, 2, 3, 4, 5, 6, 7)
    world.activity("R001", action="complete")
    quiet = world.advance(days=1)
    records, reads = world.pull(quiet, world.advance(days=7))
    assert (records, reads) == ({}, 1)


def test_paging_over_many_changes_costs_ceil_n_over_page(world: World) -> None:
    for n in (1, 2, 3, 6, 7, 9, 10):
        world.register(*range(1000, 1000 + n))
        since = world.advance(minutes=1)
        for k in range(1000, 1000 + n):
            world.activity(f"R{k:03d}", action="complete", success="PASSED")
        records, reads = world.pull(since, world.advance(minutes=1))
        assert len(records) == n
        assert reads == math.ceil(n / PAGE), n
        world.vendor.running.admin.reset()
        world.vendor.running.admin.post("/courses", {"courses": [{"id": "C1", "title": "X"}]})


def test_the_until_end_is_left_to_the_next_window(world: World) -> None:
    """SCORM Cloud's ``until`` is inclusive; the window is half-open: a change at exactly
    ``until`` comes with the next window, and once only."""
    world.register(1, 2)
    edge = world.advance(hours=1)
    world.activity("R001", action="complete")  # updated == edge, to the millisecond
    world.advance(seconds=1)
    world.activity("R002", action="start")
    end = world.advance(hours=1)
    before, _ = world.pull(T0 + timedelta(minutes=1), edge)
    after, _ = world.pull(edge, end)
    assert list(before) == [] and sorted(after) == ["R001", "R002"]
    assert after["R001"].updated_at == edge


def test_a_change_made_while_the_pages_are_walked_is_read_in_its_newer_state(
    world: World,
) -> None:
    """With ``until`` ahead of the vendor's clock, a registration that changes after its
    page was read must come again (``updated_asc``), or the next window, starting at
    ``until``, would never see that change."""
    world.register(*range(1, 7))
    since = world.advance(minutes=1)
    for n in range(1, 7):
        world.activity(f"R{n:03d}", action="start")
    world.advance(minutes=1)
    stream = world.connector.results(Window(since, world.now + timedelta(days=1)))
    first = next(stream)
    assert first.item_id == "R001" and first.status == ResultStatus.IN_PROGRESS
    world.advance(minutes=1)
    world.activity("R001", action="complete", success="PASSED")
    rest = list(stream)
    assert [r.item_id for r in rest] == ["R002", "R003", "R004", "R005", "R006", "R001"]
    assert rest[-1].status == ResultStatus.PASSED


def test_activity_dated_weeks_apart_lands_in_its_own_window(world: World) -> None:
    """The admin API's ``at`` dates a session (activity over simulated weeks); each
    week's window brings only that week's sessions, with their dates."""
    world.register(1, 2)
    week = timedelta(days=7)
    start = T0 + week
    world.activity("R001", action="start", at=(start + timedelta(hours=3)).isoformat())
    done = start + week + timedelta(days=2, milliseconds=250)
    world.activity("R001", action="complete", success="PASSED", at=done.isoformat())
    world.activity("R002", action="start", at="2024-03-16T09:00:00Z")
    first, reads_first = world.pull(start, start + week)
    second, reads_second = world.pull(start + week, start + 2 * week)
    assert (list(first), reads_first) == ([], 1)  # R001's start was overtaken by its end
    assert sorted(second) == ["R001", "R002"] and reads_second == 1
    r1 = second["R001"]
    assert (r1.status, r1.started_at, r1.completed_at, r1.updated_at) == (
        ResultStatus.PASSED,
        start + timedelta(hours=3),
        done,
        done,
    )


def test_a_reset_course_comes_back_as_not_started(world: World) -> None:
    """A registration whose progress is wiped moves its ``updated``: the pull sees it go
    backwards and can record that."""
    world.register(1)
    world.advance(hours=1)
    world.activity("R001", action="complete", success="PASSED", score=80)
    since = world.advance(hours=1)
    world.connector.client.request("DELETE", "/registrations/R001/progress")
    records, reads = world.pull(since, world.advance(hours=1))
    assert reads == 1
    reset = records["R001"]
    assert (reset.status, reset.completed, reset.score, reset.completed_at) == (
        ResultStatus.NOT_STARTED,
        False,
        None,
        None,
    )


def test_private_invitation_learners_carry_no_hris_key(world: World) -> None:
    """With private invitations the learner id is an e-mail address: the pull resolves
    the person from the mirror, so the record does not claim it as the HRIS key."""
    world.register(1)
    since = world.advance(minutes=1)
    world.activity("R001", action="start")
    until = world.advance(minutes=1)
    invited = ScormCloudConnector(
        world.vendor.connection(
            rate=(10_000, 1.0),
            assign_by="private_invitation",
            creating_user_email="admin@corp.test",
        )
    )
    with invited:
        [record] = invited.results(Window(since, until))
    assert (record.remote_user_id, record.external_id) == ("E001", "")


def test_a_refused_key_stops_the_pull_without_showing_the_secret(world: World) -> None:
    wrong = world.vendor.connection(rate=(10_000, 1.0)).model_copy(
        update={
            "credentials": {
                "app_id": SecretStr(world.vendor.app_id),
                "secret_key": SecretStr("not-the-key-s3cr3t"),
            }
        }
    )
    with ScormCloudConnector(wrong) as refused, pytest.raises(CredentialRefused) as caught:
        list(refused.results(Window(T0, world.advance(hours=1))))
    shown = f"{caught.value} {caught.value.fields}"
    assert "not-the-key-s3cr3t" not in shown and world.vendor.secret_key not in shown


def test_the_official_client_reads_the_same_changes_with_the_same_parameters(
    world: World,
) -> None:
    sc = pytest.importorskip("rustici_software_cloud_v2")
    world.register(*range(1, 8))
    since = world.advance(hours=1)
    for n in (2, 3, 5, 7):
        world.activity(f"R{n:03d}", action="complete", score=50 + n, success="PASSED")
        world.advance(seconds=10)
    world.activity("R004", action="progress", completionAmount=0.5, seconds=30)
    until = world.advance(hours=1)

    ours, _ = world.pull(since, until)
    params = window_params(Window(since, until))
    client = official_client(world.vendor.running.base_url)
    try:
        api = sc.RegistrationApi(client)
        page = api.get_registrations(
            since=params["since"],
            until=params["until"],
            datetime_filter=params["datetimeFilter"],
            order_by=params["orderBy"],
        )
        theirs = list(page.registrations)
        pages = 1
        while page.more:
            page = api.get_registrations(more=page.more)
            theirs += page.registrations
            pages += 1
    finally:
        client.rest_client.pool_manager.clear()

    assert [r.id for r in theirs] == list(ours) == ["R002", "R003", "R005", "R007", "R004"]
    assert pages == math.ceil(5 / PAGE)
    for reg in theirs:
        mine = ours[reg.id]
        assert reg.updated == mine.updated_at and since <= reg.updated < until
        assert reg.registration_completion == ("COMPLETED" if mine.completed else "INCOMPLETE")
        assert reg.learner.id == mine.remote_user_id and reg.course.id == mine.course_id
        assert (reg.score.scaled if reg.score else None) == mine.score
