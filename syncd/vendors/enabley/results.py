"""Enabley results: channel performance and user certificates as syncd ResultRecords.

Enabley has no changed-since filter on anything a result comes from, so a pull is a full
scan (the pull stage diffs it against the results table). The scan makes the fewest reads
the documented endpoints allow (vendor-docs ``enabley-api.txt`` 3.3, 3.4.1, 3.6.2):

1. ``GET /api/v1/certificates``: every certificate of the account in one read (a bare
   array; v2 pages the same list), for the channels that lead to one (``courseIds``).
2. ``GET /api/v1/channels``: every channel of the account, one read (a bare array; v3
   pages it). Both are account metadata, small beside the results. The performance v2
   reference asks for "a specific channel, or a specific user, or both", so the scan goes
   channel by channel: channels are far fewer than users.
3. ``GET /api/v2/performance?channelIdentifier=`` per channel, walked by ``paginationKey``:
   one read per page, at least one per channel (an empty channel is learnt empty only by
   asking; its member count would cost the same read).
4. ``GET /api/v1/certificates/users/{id}`` once per user who learns in at least one channel
   a certificate names: only they can hold any (a user-certificate connection comes from
   the certificate's courses). None at all when the account has no certificate.

Reads of a scan = 2 + sum over channels of max(1, pages(rows)) + users connected to a
certificate. Token requests come on top, paced but counted apart.
Memory holds one page, the certificate channels and the identifiers of the connected
users: never the scan's records.

Mapping (the reference defines no status on either answer):

- performance -> ``course``: ``item_id`` the channel's identifier, ``percentage`` the
  ``progress`` (0-100), ``score`` the "Total score" as given, ``completed_at`` the
  ``completionDate``. Completed when a completion date is set or progress is 100 (no
  pass/fail verdict: ``passed`` None); in progress above 0; else not started, whose
  default score of 0 is left out (a not-started course has no score, not a zero);
- certificates -> ``certificate``: ``item_id`` the ``externalCertificateId``,
  ``completed_at`` the ``certificationDate``, ``expires_at`` the ``expirationDate``.
  ``CERTIFIED``/``ABOUT_TO_EXPIRE`` are passed, or expired once the expiration date has
  passed (Enabley may move the state later than the date); ``EXPIRED`` expired;
  ``IN_PROGRESS``/``AWAITS_LEARNER_CONFIRMATION`` in progress; ``INIT`` not started;
  ``REVOKED`` failed (no longer held, by a verdict). ``raw`` keeps ``state`` and
  ``isRequired``; the PDF link is left out (it may carry a signed token).

``updated_at`` is the completion (certification) date: the only change time either answer
carries; empty before it. Never the time of the read, so an unchanged result reads the same.

The user in every record is the identifier, which syncd sets to the person's HRIS key:
``remote_user_id``, ``username`` and ``external_id`` all carry it (no answer has the
username). Dates are the reference's ``YYYY-MM-DDTHH:mm:ss.SSSZ``; an offset, no fraction,
no zone (UTC) or epoch milliseconds (Jackson's default) are read too, anything else is
left empty rather than failing the scan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from syncd.log import get_logger
from syncd.vendors.base import ResultRecord, ResultStatus
from syncd.vendors.enabley import wire
from syncd.vendors.paging import TokenPaginator

log = get_logger("syncd.vendors.enabley")

Get = Callable[[str, Mapping[str, str | int] | None], Any]
"""One API read: (path, query) -> the decoded JSON answer (the connector's ``_get``)."""

CERTIFICATES = "/api/v1/certificates"
CHANNELS = "/api/v1/channels"
PERFORMANCE = "/api/v2/performance"
USER_CERTIFICATES = "/api/v1/certificates/users/{user}"

_PASSED_STATES = frozenset({"CERTIFIED", "ABOUT_TO_EXPIRE"})
_STATUS_OF_STATE: Mapping[str, ResultStatus] = {
    "EXPIRED": ResultStatus.EXPIRED,
    "IN_PROGRESS": ResultStatus.IN_PROGRESS,
    "AWAITS_LEARNER_CONFIRMATION": ResultStatus.IN_PROGRESS,
    "INIT": ResultStatus.NOT_STARTED,
    "REVOKED": ResultStatus.FAILED,
}


# --------------------------------------------------------------------------- the scan


def scan(get: Get, *, now: datetime) -> Iterator[ResultRecord]:
    """Every current result of the account, page by page (see the module docstring).

    ``now`` decides whether a certificate past its expiration date is expired."""
    certificate_channels = _certificate_channels(get)
    connected: dict[str, None] = {}
    for channel in _channel_ids(get):
        for item in _pages(get, PERFORMANCE, {"channelIdentifier": channel}, _row_user):
            record = performance_record(item)
            if record is None:
                continue
            if channel in certificate_channels:
                connected.setdefault(record.remote_user_id, None)
            yield record
    for user in connected:
        for item in _user_certificates(get, user):
            found = certificate_record(user, item, now=now)
            if found is not None:
                yield found


def _pages(
    get: Get, path: str, first: Mapping[str, str], key: Callable[[dict[str, Any]], str]
) -> Iterator[dict[str, Any]]:
    """A ``PaginationResponse`` walk: filters on the first read, then only the key."""

    def fetch(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        page = get(path, {"paginationKey": token} if token else dict(first))
        following = page.get("paginationKey") if isinstance(page, dict) else None
        return wire.records(page), following if isinstance(following, str) else None

    return iter(TokenPaginator(fetch=fetch, key=key, what=f"enabley {path}", bounded=True))


def _certificate_channels(get: Get) -> frozenset[str]:
    return certificate_channels_of(wire.records(get(CERTIFICATES, None)))


def _channel_ids(get: Get) -> list[str]:
    ids = (wire.as_text(c.get("identifier")) for c in wire.records(get(CHANNELS, None)))
    return list(dict.fromkeys(i for i in ids if i))


def _user_certificates(get: Get, user: str) -> list[dict[str, Any]]:
    """The user's certificate states; none once the user is gone (deleted mid-scan)."""
    try:
        return wire.records(get(USER_CERTIFICATES.format(user=quote(user, safe="")), None))
    except wire.Missing:
        log.info("enabley.results_user_gone", user=user)
        return []


def _row_user(item: dict[str, Any]) -> str:
    return wire.as_text(item.get("externalUserId"))


# --------------------------------------------------------------------------- mapping


def performance_record(item: Mapping[str, Any]) -> ResultRecord | None:
    """An ``External user channel performance`` row; None without a user or channel."""
    user = wire.as_text(item.get("externalUserId")).strip()
    channel = wire.as_text(item.get("externalChannelId")).strip()
    if not user or not channel:
        return None
    progress = _number(item.get("progress"))
    percentage = None if progress is None else min(max(progress, 0.0), 100.0)
    completed_at = parse_date(item.get("completionDate"))
    score = _number(item.get("score"))
    if completed_at is not None or (percentage is not None and percentage >= 100):
        status = ResultStatus.COMPLETED
    elif percentage:
        status = ResultStatus.IN_PROGRESS
    else:
        status = ResultStatus.NOT_STARTED
        score = None if score == 0 else score
    return ResultRecord(
        remote_user_id=user,
        username=user,
        external_id=user,
        item_kind="course",
        item_id=channel,
        item_name=wire.as_text(item.get("channelName")),
        status=status,
        completed=status is ResultStatus.COMPLETED,
        percentage=percentage,
        score=score,
        completed_at=completed_at,
        updated_at=completed_at,
    )


def certificate_record(user: str, item: Mapping[str, Any], *, now: datetime) -> ResultRecord | None:
    """An ``ExternalUserCertificateState`` of ``user``; None without a certificate id."""
    certificate = wire.as_text(item.get("externalCertificateId")).strip()
    if not certificate or not user:
        return None
    state = wire.as_text(item.get("state")).strip().upper()
    certified_at = parse_date(item.get("certificationDate"))
    expires_at = parse_date(item.get("expirationDate"))
    status = certificate_status(state, certified_at, expires_at, now=now)
    held_once = status in (ResultStatus.PASSED, ResultStatus.EXPIRED)
    raw: dict[str, Any] = {"state": state}
    if isinstance(item.get("isRequired"), bool):
        raw["isRequired"] = item["isRequired"]
    return ResultRecord(
        remote_user_id=user,
        username=user,
        external_id=user,
        item_kind="certificate",
        item_id=certificate,
        item_name=wire.as_text(item.get("name")),
        status=status,
        completed=held_once,
        passed=True if held_once else (False if status is ResultStatus.FAILED else None),
        completed_at=certified_at,
        expires_at=expires_at,
        updated_at=certified_at,
        raw=raw,
    )


def certificate_status(
    state: str, certified_at: datetime | None, expires_at: datetime | None, *, now: datetime
) -> ResultStatus:
    """The status of a certificate ``state``; an unknown state counts as held when it
    carries a certification date, else as not started."""
    if state in _STATUS_OF_STATE:
        return _STATUS_OF_STATE[state]
    if state in _PASSED_STATES or certified_at is not None:
        if expires_at is not None and expires_at <= now:
            return ResultStatus.EXPIRED
        return ResultStatus.PASSED
    return ResultStatus.NOT_STARTED


def certificate_channels_of(items: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The channel identifiers ``Certificate information`` items name (``courseIds``)."""
    found: set[str] = set()
    for item in items:
        course_ids = item.get("courseIds")
        if isinstance(course_ids, list):
            found.update(wire.as_text(c) for c in course_ids if c not in (None, ""))
    return frozenset(found)


# --------------------------------------------------------------------------- values

_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_FRACTION = re.compile(r"\.(\d{6})\d+")


def parse_date(value: Any) -> datetime | None:
    """A reference date as tz-aware UTC; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            return None
    text = str(value).strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(r".\1", _OFFSET.sub(r"\1:\2", text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        log.debug("enabley.unreadable_date", value=str(value)[:40])
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _number(value: Any) -> float | None:
    """An int32 field as a float; None for null or a non-number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
