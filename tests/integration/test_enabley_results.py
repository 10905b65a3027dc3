"""Enabley result pulls against the simulator over loopback: what ``results()`` returns is
exactly the account's current state, at the fewest reads a full scan allows."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog

from syncd import log as syncd_log
from syncd.config import ConnectionConfig
from syncd.sandbox.running import RunningSandbox
from syncd.vendors.base import ResultRecord, ResultStatus, Window
from syncd.vendors.enabley import EnableyConnector

WINDOW = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
READS = (
    "GET /api/v1/certificates",
    "GET /api/v1/channels",
    "GET /api/v2/performance",
    "GET /api/v1/certificates/users/{externalUserId}",
)


@pytest.fixture
def enabley(sandbox: Any) -> RunningSandbox:
    running: RunningSandbox = sandbox("enabley")
    return running


def connector_for(running: RunningSandbox) -> EnableyConnector:
    return EnableyConnector(
        ConnectionConfig(
            vendor="enabley",
            base_url=running.base_url,
            credentials={
                "client_id": running.credentials["clientKey"],
                "client_secret": running.credentials["secret"],
            },
            timeout_seconds=5.0,
        )
    )


def users(ids: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {"identifier": i, "username": f"{i.lower()}@corp.test", "firstName": i, "lastName": "X"}
        for i in ids
    ]


def channel(identifier: str, learners: list[str]) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": f"Course {identifier}",
        "type": "COURSE",
        "learners": learners,
    }


def act(running: RunningSandbox, user: str, channel_id: str, action: str, **extra: Any) -> None:
    assert running.admin is not None
    running.admin.post(
        "/activity", {"user": user, "channel": channel_id, "action": action, **extra}
    )


def reads(running: RunningSandbox) -> dict[str, int]:
    """Requests per read endpoint, any status."""
    assert running.admin is not None
    table = running.admin.counters()["requests"]
    return {name: sum(table.get(name, {}).values()) for name in READS}


def by_key(records: Iterable[ResultRecord]) -> dict[tuple[str, str, str], ResultRecord]:
    found: dict[tuple[str, str, str], ResultRecord] = {}
    for record in records:
        key = (record.remote_user_id, record.item_kind, record.item_id)
        assert key not in found, f"{key} read twice"
        found[key] = record
    return found


def statuses(records: dict[tuple[str, str, str], ResultRecord]) -> dict[tuple[str, str, str], str]:
    return {key: str(record.status) for key, record in records.items()}


def seed_company(running: RunningSandbox) -> None:
    assert running.admin is not None
    running.admin.seed(
        {
            "users": users(["E1", "E2", "E3", "E4"]),
            "channels": [
                channel("C-SAFE", ["E1", "E2", "E3", "E4"]),
                channel("C-FIRE", ["E1", "E2"]),
                channel("C-EMPTY", []),
            ],
            "certificates": [
                {
                    "externalCertificateId": "CERT-SAFETY",
                    "name": "Safety certificate",
                    "courseIds": ["C-SAFE", "C-FIRE"],
                    "expiration": {"duration": 1, "period": "YEAR"},
                },
                {
                    "externalCertificateId": "CERT-NOBODY",
                    "name": "Unused",
                    "courseIds": ["C-EMPTY"],
                },
            ],
        }
    )


def test_a_scan_returns_exactly_the_current_results_at_the_minimum_reads(enabley):
    seed_company(enabley)
    act(enabley, "E1", "C-SAFE", "complete", score=90, at="2030-01-05T10:00:00.000Z")
    act(enabley, "E1", "C-FIRE", "complete", score=75, at="2030-01-06T11:30:00.000Z")
    act(enabley, "E2", "C-SAFE", "progress", progress=40)
    act(enabley, "E3", "C-SAFE", "start")

    with connector_for(enabley) as connector:
        found = by_key(connector.results(WINDOW))

    assert statuses(found) == {
        ("E1", "course", "C-SAFE"): "completed",
        ("E2", "course", "C-SAFE"): "in_progress",
        ("E3", "course", "C-SAFE"): "not_started",
        ("E4", "course", "C-SAFE"): "not_started",
        ("E1", "course", "C-FIRE"): "completed",
        ("E2", "course", "C-FIRE"): "not_started",
        ("E1", "certificate", "CERT-SAFETY"): "passed",
        ("E2", "certificate", "CERT-SAFETY"): "in_progress",
        ("E3", "certificate", "CERT-SAFETY"): "in_progress",
        ("E4", "certificate", "CERT-SAFETY"): "not_started",
    }
    safe = found[("E1", "course", "C-SAFE")]
    assert (safe.percentage, safe.score, safe.external_id, safe.item_name) == (
        100.0,
        90.0,
        "E1",
        "Course C-SAFE",
    )
    assert safe.completed_at == datetime(2030, 1, 5, 10, tzinfo=UTC)
    assert found[("E2", "course", "C-SAFE")].percentage == 40.0
    certificate = found[("E1", "certificate", "CERT-SAFETY")]
    assert certificate.completed_at == datetime(2030, 1, 6, 11, 30, tzinfo=UTC)
    assert certificate.expires_at == datetime(2031, 1, 6, 11, 30, tzinfo=UTC)
    assert certificate.item_name == "Safety certificate"
    # 1 certificate list + 1 channel list + 1 performance page per channel (3) + one
    # certificate read per user learning in a certificate's channel (E1-E4).
    assert reads(enabley) == dict(zip(READS, (1, 1, 3, 4), strict=True))
    assert enabley.admin is not None
    assert enabley.admin.counters()["total"] == 9 + 1  # and one token request


def test_reads_of_a_scan_over_several_pages_are_pinned_and_the_window_is_ignored(enabley):
    assert enabley.admin is not None
    enabley.admin.post("/settings", {"page_size": 3})
    team = [f"E{n:02d}" for n in range(10)]
    enabley.admin.seed(
        {
            "users": users(team),
            "channels": [channel("C-ALL", team), channel("C-FEW", team[:4])],
            "certificates": [
                {"externalCertificateId": f"CERT-{n}", "name": f"Cert {n}", "courseIds": ["C-FEW"]}
                for n in range(4)
            ],
        }
    )
    for n, user in enumerate(team):
        act(enabley, user, "C-ALL", "progress", progress=10 * n + 5)

    with connector_for(enabley) as connector:
        scan = connector.results(WINDOW)
        head = next(scan)
        assert reads(enabley) == dict(zip(READS, (1, 1, 1, 0), strict=True)), "streamed"
        first = by_key([head, *scan])
        after_first = reads(enabley)
        later = Window(datetime(2031, 5, 1, tzinfo=UTC), datetime(2031, 5, 8, tzinfo=UTC))
        second = by_key(connector.results(later))

    # 4 certificates: 1 read, whatever the page size; channels: 1; C-ALL 10 rows in pages
    # of 3: 4; C-FEW 4 rows: 2; the four learners of C-FEW: 4 certificate reads (one per
    # user covers all four certificates).
    assert after_first == dict(zip(READS, (1, 1, 6, 4), strict=True))
    assert len(first) == 10 + 4 + 4 * 4
    assert first[("E07", "course", "C-ALL")].percentage == 75.0
    assert second == first, "a scan with nothing new returns the very same records"
    assert reads(enabley) == {name: 2 * count for name, count in after_first.items()}


def test_progress_completion_and_a_reset_show_in_the_next_scan(enabley):
    seed_company(enabley)
    with connector_for(enabley) as connector:
        before = statuses(by_key(connector.results(WINDOW)))
        act(enabley, "E2", "C-SAFE", "complete", at="2030-02-01T00:00:00.000Z")
        act(enabley, "E2", "C-FIRE", "complete", at="2030-02-02T00:00:00.000Z")
        act(enabley, "E4", "C-SAFE", "progress", progress=60)
        during = by_key(connector.results(WINDOW))
        act(enabley, "E2", "C-FIRE", "reset")
        after = statuses(by_key(connector.results(WINDOW)))

    changed = {k: v for k, v in statuses(during).items() if before[k] != v}
    assert changed == {
        ("E2", "course", "C-SAFE"): "completed",
        ("E2", "course", "C-FIRE"): "completed",
        ("E2", "certificate", "CERT-SAFETY"): "passed",
        ("E4", "course", "C-SAFE"): "in_progress",
        ("E4", "certificate", "CERT-SAFETY"): "in_progress",
    }
    assert during[("E2", "certificate", "CERT-SAFETY")].completed_at == datetime(
        2030, 2, 2, tzinfo=UTC
    )
    went_back = {k: v for k, v in after.items() if statuses(during)[k] != v}
    assert went_back == {
        ("E2", "course", "C-FIRE"): "not_started",
        ("E2", "certificate", "CERT-SAFETY"): "in_progress",
    }


def test_a_certificate_past_its_expiry_is_expired(enabley):
    assert enabley.admin is not None
    enabley.admin.seed(
        {
            "users": users(["E1"]),
            "channels": [channel("C-SAFE", ["E1"])],
            "certificates": [
                {
                    "externalCertificateId": "CERT-DAY",
                    "name": "Day pass",
                    "courseIds": ["C-SAFE"],
                    "expiration": {"duration": 2, "period": "DAY"},
                }
            ],
        }
    )
    act(enabley, "E1", "C-SAFE", "complete")
    with connector_for(enabley) as connector:
        valid = by_key(connector.results(WINDOW))[("E1", "certificate", "CERT-DAY")]
        enabley.admin.post("/clock", {"advance_seconds": 3 * 86_400})
        expired = by_key(connector.results(WINDOW))[("E1", "certificate", "CERT-DAY")]

    assert (valid.status, valid.raw["state"]) == (ResultStatus.PASSED, "ABOUT_TO_EXPIRE")
    assert (expired.status, expired.raw["state"]) == (ResultStatus.EXPIRED, "EXPIRED")
    assert expired.expires_at == valid.expires_at
    assert valid.expires_at is not None and valid.completed_at is not None
    assert valid.expires_at - valid.completed_at == timedelta(days=2)


def test_a_token_expiring_mid_scan_is_renewed_once_and_the_scan_continues(enabley):
    assert enabley.admin is not None
    enabley.admin.post("/settings", {"page_size": 2})
    team = [f"E{n}" for n in range(6)]
    enabley.admin.seed({"users": users(team), "channels": [channel("C-ALL", team)]})
    for user in team[:3]:
        act(enabley, user, "C-ALL", "complete")

    with connector_for(enabley) as connector:
        scan = connector.results(WINDOW)
        first = next(scan)
        enabley.admin.post("/clock", {"advance_seconds": 2 * 3600})  # past the token's hour
        found = by_key([first, *scan])

    assert set(statuses(found).values()) == {"completed", "not_started"}
    assert len(found) == 6
    table = enabley.admin.counters()["requests"]
    assert sum(table["POST /api/v1/token"].values()) == 2
    assert table["GET /api/v2/performance"] == {"200": 3, "401": 1}
    secret = enabley.credentials["secret"]
    assert all(secret not in repr(record) for record in found.values())


def test_a_user_deleted_mid_scan_is_skipped_and_no_secret_is_logged(enabley):
    seed_company(enabley)
    act(enabley, "E1", "C-SAFE", "complete")
    buffer = io.StringIO()
    syncd_log.configure(level="debug", fmt="json", stream=buffer)
    try:
        with connector_for(enabley) as connector:
            scan = connector.results(WINDOW)
            courses = [next(scan) for _ in range(6)]  # every performance row, no certificate
            assert {r.item_kind for r in courses} == {"course"}
            delete_user(enabley, "E3")
            certificates = by_key(scan)
    finally:
        structlog.reset_defaults()
    assert set(certificates) == {
        ("E1", "certificate", "CERT-SAFETY"),
        ("E2", "certificate", "CERT-SAFETY"),
        ("E4", "certificate", "CERT-SAFETY"),
    }
    assert reads(enabley)["GET /api/v1/certificates/users/{externalUserId}"] == 4
    text = buffer.getvalue()
    assert "enabley.results_user_gone" in text
    assert enabley.credentials["secret"] not in text


def delete_user(running: RunningSandbox, user: str) -> None:
    """Through the API with a token of its own, as an administrator would."""
    with httpx.Client(base_url=running.base_url, timeout=5) as http:
        token = http.post("/api/v1/token", params=dict(running.credentials)).json()
        http.delete(
            f"/api/v2/users/{user}",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).raise_for_status()
