"""The status report's JSON shape, the page rendered from it, and the pure decisions of the
endpoint (loopback binds, addresses, endpoint classes, next runs, saved rate histories)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from syncd.errors import ConfigError
from syncd.limiter import Limiter, RateRule, history_use
from syncd.service import page
from syncd.service.http import is_loopback, parse_address
from syncd.service.metrics import endpoint_class
from syncd.service.status import (
    ConnectionStatus,
    JobInfo,
    OpInfo,
    OwnerInfo,
    QueueInfo,
    RateInfo,
    ResultsInfo,
    RunInfo,
    StatusReport,
    next_run,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def report(reason: str = "litmos: POST /users -> 400 Bad email") -> StatusReport:
    conn = ConnectionStatus(
        name="litmos-main",
        vendor="litmos",
        runs=[
            RunInfo(
                7,
                "reconcile",
                "partial",
                NOW - timedelta(minutes=5),
                NOW,
                300.0,
                12,
                11,
                2,
                1,
                0,
                14,
                "1 op dead",
            )
        ],
        last_success=NOW - timedelta(hours=1),
        rejected_rows=3,
        queue=QueueInfo({"dead": 1, "done": 11, "pending": 2}, 2, 1, 0, 0, NOW, 42.0),
        problems=[OpInfo(5, "create_user:1001", "create_user", "dead", 10, reason, NOW)],
        rate=[RateInfo("0123456789ab", 100, 60.0, 7, NOW, 0.25, 1, 0.0)],
        results=ResultsInfo(True, NOW, NOW, NOW, 4, 3),
        jobs=[JobInfo("roster", "15m", NOW + timedelta(minutes=15), last_outcome="ok")],
        owner=OwnerInfo("host:42:ab", NOW + timedelta(minutes=1), True, True),
    )
    return StatusReport(NOW, True, True, [], [conn])


class _Text(HTMLParser):
    """The page as a browser shows it: text nodes, and whether any script element exists."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def test_json_has_one_entry_per_connection_with_every_section_and_iso_times():
    data = report().as_json()
    json.dumps(data)  # plain JSON values only
    assert data["generated_at"] == "2025-03-04T12:00:00+00:00"
    assert data["service"] is True and data["scheduler_running"] is True
    (conn,) = data["connections"]
    assert set(conn) == {
        "name", "vendor", "runs", "last_success", "rejected_rows", "queue", "problems",
        "rate", "results", "jobs", "owner", "pending_deactivations",
    }  # fmt: skip
    assert conn["queue"]["by_state"] == {"dead": 1, "done": 11, "pending": 2}
    assert conn["queue"]["oldest_waiting_seconds"] == 42.0
    assert conn["runs"][0]["duration_seconds"] == 300.0
    assert conn["problems"][0]["reason"] == "litmos: POST /users -> 400 Bad email"
    assert conn["jobs"][0]["next_run"] == "2025-03-04T12:15:00+00:00"
    assert conn["rate"][0]["live_utilization"] == 0.25
    assert conn["owner"] == {
        "holder": "host:42:ab",
        "expires_at": "2025-03-04T12:01:00+00:00",
        "live": True,
        "here": True,
    }


def test_page_refreshes_itself_needs_nothing_external_and_shows_each_section():
    html = page.render(report())
    assert '<meta http-equiv="refresh" content="30">' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external resource"
    text = " ".join(parsed(html).text)
    for expected in (
        "litmos-main",
        "create_user:1001",
        "litmos: POST /users -> 400 Bad email",
        "Dead letters, held and blocked ops",
        "Last runs",
        "Next runs",
        "Rate limit",
        "Results",
        "2025-03-04 12:15:00 UTC",
        "100 per 60s",
    ):
        assert expected in text, expected
    assert "script" not in parsed(html).tags


def test_a_script_in_a_vendor_reason_is_shown_as_text_never_as_markup():
    html = page.render(report(reason=HOSTILE))
    tree = parsed(html)
    assert "script" not in tree.tags and "img" not in tree.tags
    assert HOSTILE in "".join(tree.text), "the reason, character for character, as text"
    assert "&lt;script&gt;" in html


def test_the_page_policy_forbids_scripts_and_allows_only_its_own_style():
    assert "default-src 'none'" in page.CSP and "script-src" not in page.CSP
    assert "'unsafe-inline'" not in page.CSP
    style_hash = re.search(r"'sha256-([^']+)'", page.CSP)
    assert style_hash is not None
    import base64
    import hashlib

    assert base64.b64encode(hashlib.sha256(page.STYLE.encode()).digest()).decode() == (
        style_hash.group(1)
    )


def test_a_page_without_a_service_says_it_read_the_database():
    without = StatusReport(NOW, False, None, [], report().connections)
    assert "No running service" in page.render(without)


def test_stuck_connections_are_listed_escaped():
    stuck = StatusReport(NOW, True, False, ["lms: roster running for 2h <b>"], [])
    html = page.render(stuck)
    assert "not running" in html and "lms: roster running for 2h &lt;b&gt;" in html


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
    ],
)
def test_only_127_0_0_0_8_and_ipv6_loopback_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("address", "parsed_address"),
    [
        ("127.0.0.1:9090", ("127.0.0.1", 9090)),
        (":0", ("127.0.0.1", 0)),
        ("[::1]:8080", ("::1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_addresses_are_host_and_port(address, parsed_address):
    assert parse_address(address) == parsed_address


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:http", "1.2.3.4:70000", ""])
def test_a_bad_address_is_one_plain_error(address):
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_address(address)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/users/jane.doe%40corp.test", "GET /users/{id}"),
        ("post", "/teams/abc123/users", "POST /teams/{id}/users"),
        ("DELETE", "/users/u1/courses/c9", "DELETE /users/{id}/courses/{id}"),
        ("GET", "/users?source=x&search=jane", "GET /users"),
        ("PUT", "/api/v2/users/identityManagement", "PUT /api/v2/users/identityManagement"),
        ("POST", "/api/v2/channels/SAFE101/users/jane", "POST /api/v2/channels/{id}/users/{id}"),
        ("GET", "/invitations/private/77/jobStatus", "GET /invitations/private/{id}/jobStatus"),
    ],
)
def test_endpoint_classes_never_carry_ids_or_queries(method, path, expected):
    assert endpoint_class(method, path) == expected


def test_next_runs_of_intervals_follow_the_last_run_and_crons_their_next_time():
    assert next_run("15m", None, NOW) == NOW, "never run: due now"
    assert next_run("15m", NOW - timedelta(minutes=5), NOW) == NOW + timedelta(minutes=10)
    assert next_run("15m", NOW - timedelta(hours=5), NOW) == NOW, "overdue: due now"
    fire = next_run("0 * * * *", None, NOW + timedelta(minutes=1))
    assert fire is not None and fire > NOW and fire.minute == 0
    assert fire - NOW <= timedelta(hours=1)


def test_a_saved_history_counts_what_is_still_in_the_window():
    wall = [1_000.0]
    clock = [0.0]
    limiter = Limiter(RateRule(10, 60), clock=lambda: clock[0], wall=lambda: wall[0])
    for _ in range(3):
        with limiter.slot():
            pass
    assert limiter.utilization() == pytest.approx(0.3)
    assert limiter.in_flight == 0
    text = limiter.snapshot(clean=True)
    use = history_use(text, RateRule(10, 60), 1_030.0)
    assert use is not None and use.held == 3 and use.clean
    later = history_use(text, RateRule(10, 60), 1_061.0)
    assert later is not None and later.held == 0
    assert history_use("garbage", RateRule(10, 60), 1_000.0) is None
    unclean = history_use(limiter.snapshot(clean=False), RateRule(10, 60), 1_001.0, unrecorded=4)
    assert unclean is not None and unclean.held == 3 + 4
