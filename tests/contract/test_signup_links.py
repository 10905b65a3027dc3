"""Signup links against the simulators over loopback HTTP: Litmos self-signup tokens and
SCORM Cloud public invitations made to match the declaration, never twice, never deleted.

The stage (:func:`syncd.pipeline.links.sync_links`) drives the connector; what the vendor
then holds is read back through its own API with plain httpx (``tests/contract/kit.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from syncd.config import ConnectionConfig, SignupLink
from syncd.limiter import forget_limiters
from syncd.pipeline.links import CREATED, FAILED, UNCHANGED, UPDATED, LinksReport, sync_links
from syncd.vendors import connect
from tests.contract.kit import LitmosHarness, ScormCloudHarness

WRITES = ("POST", "PUT", "DELETE")
LATER = "2031-06-30T12:00:00"


@pytest.fixture
def litmos(litmos_sandbox) -> Iterator[LitmosHarness]:
    forget_limiters()
    harness = LitmosHarness(litmos_sandbox)
    harness.seed_courses("C1", "C2")
    harness.seed_learning_path("Onboarding", "C1")
    harness.seed({"teams": [{"name": "Sales", "description": ""}]})
    yield harness
    forget_limiters()


@pytest.fixture
def scorm(sandbox) -> Iterator[ScormCloudHarness]:
    forget_limiters()
    harness = ScormCloudHarness(sandbox("scormcloud"))
    harness.seed_courses("C1", "C2")
    yield harness
    forget_limiters()


def with_links(
    connection: ConnectionConfig, *links: dict[str, Any], **extra: Any
) -> ConnectionConfig:
    declared = [SignupLink.model_validate(link) for link in links]
    updated: ConnectionConfig = connection.model_copy(update={"signup_links": declared, **extra})
    return updated


def sync(
    connection: ConnectionConfig, groups: dict[str, str] | None = None, name: str = "lms"
) -> LinksReport:
    with connect(connection) as connector:
        return sync_links(connector, name, groups or {})


def actions(report: LinksReport) -> dict[str, str]:
    return {row.name: row.action for row in report.rows}


def writes(harness: LitmosHarness | ScormCloudHarness, since: int) -> list[tuple[str, str]]:
    return [
        (e["method"], e["template"])
        for e in harness.log()
        if e["seq"] > since and e["method"] in WRITES
    ]


def mark(harness: LitmosHarness | ScormCloudHarness) -> int:
    return max((e["seq"] for e in harness.log()), default=0)


# --------------------------------------------------------------------------- Litmos


def litmos_links(harness: LitmosHarness) -> list[dict[str, Any]]:
    ids = harness.ids
    return [
        {"name": "safety", "target": ids["courses"]["C1"], "limit": 50, "expires": LATER},
        {"name": "onboard", "target": ids["learning_paths"]["Onboarding"], "kind": "learning_path"},
        {"name": "sales", "target": "org:Sales", "kind": "team", "code": "JOIN-SALES"},
        {"name": "catalog", "target": "cat-1", "kind": "collection", "active": False},
    ]


def test_litmos_first_sync_creates_each_token_once_and_a_rerun_writes_nothing(litmos):
    team = litmos.ids["teams"]["Sales"]
    connection = with_links(litmos.connection(), *litmos_links(litmos))
    first = sync(connection, {"org:Sales": team})
    assert actions(first) == dict.fromkeys(("safety", "onboard", "sales", "catalog"), CREATED)
    assert first.calls == 1 + 4  # one listing page, one POST per link
    tokens = litmos.remote_tokens()
    assert set(tokens) == {"safety", "onboard", "JOIN-SALES", "catalog"}
    assert tokens["safety"]["TokenType"] == 1
    assert tokens["safety"]["MaximumActivations"] == 50
    assert tokens["safety"]["TokenExpiration"].replace(" ", "T").startswith(LATER)
    assert (tokens["onboard"]["TokenType"], tokens["onboard"]["TokenTypeId"]) == (
        3,
        litmos.ids["learning_paths"]["Onboarding"],
    )
    assert (tokens["JOIN-SALES"]["TokenType"], tokens["JOIN-SALES"]["TokenTypeId"]) == (2, team)
    assert (tokens["catalog"]["TokenType"], tokens["catalog"]["Active"]) == (4, False)
    row = next(r for r in first.rows if r.name == "safety")
    assert row.vendor_id == tokens["safety"]["TokenId"]
    assert row.usage == "- / 50"  # Litmos lists no activation count

    before = mark(litmos)
    again = sync(connection, {"org:Sales": team})
    assert actions(again) == dict.fromkeys(("safety", "onboard", "sales", "catalog"), UNCHANGED)
    assert writes(litmos, before) == []
    assert again.calls == 1
    assert litmos.remote_tokens() == tokens


@pytest.mark.parametrize(
    ("change", "field", "check"),
    [
        ({"limit": 7}, "limit", lambda t: t["MaximumActivations"] == 7),
        ({"expires": "2032-01-31"}, "expires", lambda t: "2032-01-31" in t["TokenExpiration"]),
        ({"expires": None}, "expires", lambda t: not t["TokenExpiration"]),
        ({"active": False}, "active", lambda t: t["Active"] is False),
        ({"code": "SAFETY"}, "code", lambda t: t["TokenCode"] == "SAFETY"),
        ({"kind": "collection", "target": "cat-9"}, "kind", lambda t: t["TokenType"] == 4),
    ],
)
def test_litmos_a_changed_field_is_one_put_of_that_token(litmos, change, field, check):
    link = {"name": "safety", "target": litmos.ids["courses"]["C1"], "limit": 50, "expires": LATER}
    sync(with_links(litmos.connection(), link))
    (token_id,) = [t["TokenId"] for t in litmos.remote_tokens().values()]
    before = mark(litmos)
    changed = {k: v for k, v in {**link, **change}.items() if v is not None}
    report = sync(with_links(litmos.connection(), changed))
    (row,) = report.rows
    assert row.action == UPDATED and field in row.changed
    assert writes(litmos, before) == [("PUT", "/v1.svc/tokens")]
    (token,) = litmos.remote_tokens().values()
    assert token["TokenId"] == token_id and check(token)
    assert actions(sync(with_links(litmos.connection(), changed))) == {"safety": UNCHANGED}


def test_litmos_tokens_not_declared_are_left_alone_and_not_reported(litmos):
    course = litmos.ids["courses"]["C2"]
    hand = litmos.hand_made_token("WALK-IN", course)
    report = sync(with_links(litmos.connection(), {"name": "safety", "target": course}))
    assert actions(report) == {"safety": CREATED}
    tokens = litmos.remote_tokens()
    assert tokens["WALK-IN"]["TokenId"] == hand and tokens["WALK-IN"]["Active"] is True


def test_litmos_a_token_made_by_hand_with_the_declared_code_is_updated_not_duplicated(litmos):
    course = litmos.ids["courses"]["C1"]
    hand = litmos.hand_made_token("safety", course)
    report = sync(with_links(litmos.connection(), {"name": "safety", "target": course, "limit": 3}))
    assert actions(report) == {"safety": UPDATED}
    assert [(t["TokenId"], t["MaximumActivations"]) for t in litmos.remote_tokens().values()] == [
        (hand, 3)
    ]


def test_litmos_an_error_on_one_link_does_not_stop_the_others(litmos):
    course = litmos.ids["courses"]["C1"]
    connection = with_links(
        litmos.connection(),
        {"name": "broken", "target": "no-such-course"},
        {"name": "safety", "target": course},
        {"name": "nowhere", "target": "org:Nowhere", "kind": "team"},
        groups=["org"],
    )
    report = sync(connection, {"org:Sales": litmos.ids["teams"]["Sales"]})
    assert actions(report) == {"broken": FAILED, "safety": CREATED, "nowhere": FAILED}
    rows = {row.name: row for row in report.rows}
    assert "404" in rows["broken"].reason and "no-such-course" in rows["broken"].reason
    assert rows["nowhere"].reason.startswith("link `nowhere`: group `org:Nowhere` has no team")
    assert "\n" not in rows["broken"].reason + rows["nowhere"].reason
    assert set(litmos.remote_tokens()) == {"safety"}
    assert all(secret not in rows["broken"].reason for secret in litmos.secrets)


# --------------------------------------------------------------------------- SCORM Cloud


def scorm_connection(harness: ScormCloudHarness, *links: dict[str, Any]) -> ConnectionConfig:
    return with_links(harness.connection(creating_user_email="lms-admin@corp.test"), *links)


def invitation_of(harness: ScormCloudHarness, name: str, owner: str = "lms") -> dict[str, Any]:
    (found,) = [
        inv
        for inv in harness.public_invitations().values()
        if f"syncd:{owner}:{name}" in inv["tags"]
    ]
    return found


def test_scorm_first_sync_creates_tagged_invitations_once_and_a_rerun_writes_nothing(scorm):
    connection = scorm_connection(
        scorm,
        {"name": "safety", "target": "C1", "limit": 25, "expires": LATER, "tags": ["hr"]},
        {"name": "closed", "target": "C2", "active": False},
    )
    first = sync(connection)
    assert actions(first) == {"safety": CREATED, "closed": CREATED}
    assert first.calls == 1 + 1 + 2  # listing, POST, POST + PUT (closing)
    safety = invitation_of(scorm, "safety")
    assert sorted(safety["tags"]) == ["hr", "syncd:lms", "syncd:lms:safety"]
    assert (safety["courseId"], safety["registrationCap"]) == ("C1", 25)
    assert safety["expirationDate"].startswith(LATER)
    closed = invitation_of(scorm, "closed")
    assert (closed["allowLaunch"], closed["allowNewRegistrations"]) == (False, False)
    row = next(r for r in first.rows if r.name == "safety")
    assert row.vendor_id == safety["id"] and row.url == safety["url"]
    assert row.usage == "0 / 25"

    before = mark(scorm)
    again = sync(connection)
    assert actions(again) == {"safety": UNCHANGED, "closed": UNCHANGED}
    assert writes(scorm, before) == []
    assert again.calls == 1 + 2  # the listing and the tags of each invitation
    assert len(scorm.public_invitations()) == 2


def test_scorm_usage_is_the_invitations_registration_count(scorm):
    connection = scorm_connection(scorm, {"name": "safety", "target": "C1", "limit": 10})
    sync(connection)
    invitation = invitation_of(scorm, "safety")
    scorm.visit(invitation["id"], "walk.in1@corp.test")
    scorm.visit(invitation["id"], "walk.in2@corp.test")
    (row,) = sync(connection).rows
    assert (row.action, row.used, row.usage) == (UNCHANGED, 2, "2 / 10")


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"limit": 5}, "limit", [("PUT", "/api/v2/invitations/public/{invitationId}")]),
        (
            {"expires": "2032-01-31T08:00:00Z"},
            "expires",
            [("PUT", "/api/v2/invitations/public/{invitationId}")],
        ),
        ({"active": False}, "active", [("PUT", "/api/v2/invitations/public/{invitationId}")]),
        (
            {"tags": ["hr", "new"]},
            "tags",
            [
                ("PUT", "/api/v2/invitations/{invitationId}/tags"),
                ("DELETE", "/api/v2/invitations/{invitationId}/tags"),
            ],
        ),
    ],
)
def test_scorm_a_changed_field_updates_that_invitation(scorm, change, field, expected):
    link = {"name": "safety", "target": "C1", "limit": 25, "expires": LATER, "tags": ["hr", "old"]}
    sync(scorm_connection(scorm, link))
    invitation_id = invitation_of(scorm, "safety")["id"]
    before = mark(scorm)
    (row,) = sync(scorm_connection(scorm, {**link, **change})).rows
    assert row.action == UPDATED and row.changed == (field,)
    assert writes(scorm, before) == expected
    now = invitation_of(scorm, "safety")
    assert now["id"] == invitation_id
    assert row.vendor_id == invitation_id
    if field == "limit":
        assert now["registrationCap"] == 5
    elif field == "expires":
        assert now["expirationDate"].startswith("2032-01-31T08:00:00")
    elif field == "active":
        assert (now["allowLaunch"], now["allowNewRegistrations"]) == (False, False)
    else:
        assert sorted(now["tags"]) == ["hr", "new", "syncd:lms", "syncd:lms:safety"]
    assert actions(sync(scorm_connection(scorm, {**link, **change}))) == {"safety": UNCHANGED}
    assert len(scorm.public_invitations()) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"target": "C2"}, "cannot move to course C2"),
        ({"expires": None}, "cannot take an expiry off"),
    ],
)
def test_scorm_what_an_invitation_cannot_change_fails_with_its_reason(scorm, change, reason):
    link = {"name": "safety", "target": "C1", "expires": LATER}
    sync(scorm_connection(scorm, link))
    before = mark(scorm)
    changed = {k: v for k, v in {**link, **change}.items() if v is not None}
    (row,) = sync(scorm_connection(scorm, changed)).rows
    assert row.action == FAILED and reason in row.reason and "safety" in row.reason
    assert writes(scorm, before) == []


def test_scorm_invitations_not_declared_are_reported_when_ours_and_never_touched(scorm):
    sync(scorm_connection(scorm, {"name": "old", "target": "C2"}))
    hand = scorm.hand_made_invitation("C1", "campaign")
    other = scorm.hand_made_invitation("C1", "syncd:other", "syncd:other:safety")
    before = mark(scorm)
    report = sync(scorm_connection(scorm, {"name": "safety", "target": "C1"}))
    assert actions(report) == {"safety": CREATED, "old": "not declared"}
    assert writes(scorm, before) == [("POST", "/api/v2/invitations/public")]
    held = scorm.public_invitations()
    assert len(held) == 4 and hand in held and other in held
    assert held[hand]["tags"] == ["campaign"]


def test_scorm_an_error_on_one_link_does_not_stop_the_others(scorm):
    report = sync(
        scorm_connection(
            scorm, {"name": "broken", "target": "NO-SUCH"}, {"name": "safety", "target": "C1"}
        )
    )
    assert actions(report) == {"broken": FAILED, "safety": CREATED}
    (broken,) = [row for row in report.rows if row.name == "broken"]
    assert "NO-SUCH" in broken.reason and "\n" not in broken.reason
    assert all(secret not in broken.reason for secret in scorm.secrets)
    assert len(scorm.public_invitations()) == 1


def test_scorm_without_a_creating_user_the_create_fails_naming_the_option(scorm):
    connection = with_links(scorm.connection(), {"name": "safety", "target": "C1"})
    (row,) = sync(connection).rows
    assert row.action == FAILED and "options.creating_user_email" in row.reason
    assert scorm.public_invitations() == {}


def test_expiry_dates_are_compared_to_the_second_in_utc(scorm):
    aware = {"name": "safety", "target": "C1", "expires": datetime(2031, 6, 30, 14, tzinfo=UTC)}
    sync(scorm_connection(scorm, aware))
    same = {**aware, "expires": "2031-06-30T16:00:00+02:00"}
    assert actions(sync(scorm_connection(scorm, same))) == {"safety": UNCHANGED}
