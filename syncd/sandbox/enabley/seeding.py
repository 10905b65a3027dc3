"""Loading a whole Enabley account at once (``POST /_sandbox/seed``, ``syncd sandbox --seed``).

The seed is one JSON object; every key is optional::

    {
      "clients": {"other-client": "other-secret"},        # more API credentials
      "subAccounts": ["sandbox", "east"],                   # replaces the list
      "hierarchy": ["COMPANY", "DIVISION", "TEAM"],         # replaces the group levels
      "users": [UserData, ...],                             # as PUT /api/v2/users takes it
      "groups": [GroupData + {"members": [userId, ...]}],   # parents before children
      "channels": [ChannelData + {"categories", "duration", "created",
                    "learners": [userId], "instructors": [userId],
                    "groups": [{"identifier", "recursive"}],
                    "events": [{"name", "fromDate", "untilDate", ...}]}],
      "masters": [{"identifier", "name", "published", "subAccountName", "categories"}],
      "certificates": [{"externalCertificateId", "name", "courseIds", "status",
                        "expiration": {"duration", "period"}}],
      "activity": [{"user", "channel", "action", "progress", "score", "at"}]
    }

``courses`` is accepted as another name for ``channels``. Entities go through the same
validation as the API, and a seed is all or nothing: the first bad item is reported as
``channels[2]: type must be one of STREAM, COURSE`` and nothing of the seed is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from syncd.sandbox.enabley import channels, groups, progress, users
from syncd.sandbox.enabley.errors import EnableyError, invalid
from syncd.sandbox.enabley.fields import flag, one_of, require_object, text
from syncd.sandbox.enabley.model import (
    CERTIFICATE_STATUSES,
    EXPIRATION_PERIODS,
    Certificate,
    MasterChannel,
    TrainingEvent,
    parse_date,
)
from syncd.sandbox.enabley.state import Account

KNOWN_KEYS = frozenset(
    {
        "clients",
        "subAccounts",
        "hierarchy",
        "users",
        "groups",
        "channels",
        "courses",
        "masters",
        "certificates",
        "activity",
    }
)


def seed(account: Account, data: Mapping[str, Any]) -> dict[str, int]:
    """Apply ``data`` to ``account`` atomically; ValueError names the first bad item."""
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown seed keys {', '.join(unknown)}; known: {sorted(KNOWN_KEYS)}")
    with account.lock:
        saved = account.snapshot()
        try:
            return _apply(account, data)
        except EnableyError as exc:
            account.restore(saved)
            raise ValueError(exc.description) from None
        except BaseException:
            account.restore(saved)
            raise


def _apply(account: Account, data: Mapping[str, Any]) -> dict[str, int]:
    if "clients" in data:
        clients = data["clients"]
        if not isinstance(clients, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in clients.items()
        ):
            raise invalid("clients must map client keys to secrets (non-empty strings)")
        account.clients.update(clients)
    if "subAccounts" in data:
        account.sub_accounts = _names(data["subAccounts"], "subAccounts")
    if "hierarchy" in data:
        account.hierarchy = _names(data["hierarchy"], "hierarchy")
    counts = {
        "users": _each(data, "users", lambda item: users.upsert(account, item)),
        "groups": _each(data, "groups", lambda item: _group(account, item)),
        "masters": _each(data, "masters", lambda item: _master(account, item)),
        "channels": _each(data, "channels", lambda item: _channel(account, item))
        + _each(data, "courses", lambda item: _channel(account, item)),
        "certificates": _each(data, "certificates", lambda item: _certificate(account, item)),
        "activity": _each(data, "activity", lambda item: progress.record_activity(account, item)),
    }
    return counts


def _names(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"{key} must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise invalid(f"{key} must not repeat a name")
    return list(value)


def _each(data: Mapping[str, Any], key: str, apply: Callable[[Any], object]) -> int:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise invalid(f"{key} must be a list")
    for index, item in enumerate(items):
        try:
            apply(item)
        except EnableyError as exc:
            raise EnableyError(
                exc.status, exc.error, f"{key}[{index}]: {exc.description}"
            ) from None
    return len(items)


def _id_list(item: Mapping[str, Any], key: str) -> list[str]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{key} must be a list of identifiers")
    return value


def _group(account: Account, body: Any) -> None:
    data = require_object(body, name="group")
    group, _ = groups.upsert(account, {k: v for k, v in data.items() if k != "members"})
    for member in _id_list(data, "members"):
        groups.add_user(account, group.identifier, member, replace=False)


def _channel(account: Account, body: Any) -> None:
    data = require_object(body, name="channel")
    base_keys = ("identifier", "name", "status", "subAccountName", "type")
    channel, _ = channels.upsert(account, {k: data[k] for k in base_keys if k in data})
    categories = _id_list(data, "categories")
    channel.categories = categories
    duration = data.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
        raise invalid("duration must be an integer")
    channel.duration = duration
    created = text(data, "created")
    if created is not None:
        channel.created = parse_date(created, name="created")
    for learner in _id_list(data, "learners"):
        channels.assign_user(account, channel.identifier, learner, ["LEARNER"])
    for instructor in _id_list(data, "instructors"):
        channels.assign_user(account, channel.identifier, instructor, ["INSTRUCTOR"])
    links = data.get("groups", [])
    if not isinstance(links, list):
        raise invalid("groups must be a list")
    for link in links:
        link_data = require_object(link, name="groups[]")
        group_id = text(link_data, "identifier", required=True)
        assert group_id is not None
        recursive = flag(link_data.get("recursive"), name="recursive", default=False)
        channels.assign_group(
            account, channel.identifier, group_id, recursive=bool(recursive), role="LEARNER"
        )
    events = data.get("events", [])
    if not isinstance(events, list):
        raise invalid("events must be a list")
    channel.events = [_event(e) for e in events]


def _event(body: Any) -> TrainingEvent:
    data = require_object(body, name="event")
    name = text(data, "name", required=True)
    start = text(data, "fromDate", required=True)
    end = text(data, "untilDate", required=True)
    assert name is not None and start is not None and end is not None
    return TrainingEvent(
        name=name,
        from_date=parse_date(start, name="fromDate"),
        until_date=parse_date(end, name="untilDate"),
        description=text(data, "description"),
        location=text(data, "location"),
        all_day=bool(flag(data.get("allDayEvent"), name="allDayEvent", default=False)),
        include_grade=bool(flag(data.get("includeGrade"), name="includeGrade", default=False)),
        published=bool(flag(data.get("isPublished"), name="isPublished", default=True)),
        live_session=bool(flag(data.get("liveSession"), name="liveSession", default=False)),
    )


def _master(account: Account, body: Any) -> None:
    data = require_object(body, name="master")
    identifier = text(data, "identifier", required=True)
    name = text(data, "name", required=True)
    assert identifier is not None and name is not None
    account.masters[identifier] = MasterChannel(
        identifier=identifier,
        name=name,
        created=account.now(),
        published=bool(flag(data.get("published"), name="published", default=True)),
        sub_account=account.sub_account(text(data, "subAccountName")),
        categories=_id_list(data, "categories"),
    )


def _certificate(account: Account, body: Any) -> None:
    data = require_object(body, name="certificate")
    identifier = text(data, "externalCertificateId") or text(data, "identifier")
    if not identifier:
        raise invalid("externalCertificateId is required")
    name = text(data, "name", required=True)
    assert name is not None
    course_ids = _id_list(data, "courseIds")
    for course in course_ids:
        account.channel(course)
    status = one_of(text(data, "status") or "ACTIVE", CERTIFICATE_STATUSES, name="status")
    assert status is not None
    duration = period = None
    expiration = data.get("expiration")
    if expiration is not None:
        exp = require_object(expiration, name="expiration")
        duration = exp.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
            raise invalid("expiration.duration must be a positive integer")
        period = one_of(text(exp, "period", required=True), EXPIRATION_PERIODS, name="period")
    account.certificates[identifier] = Certificate(
        identifier=identifier,
        name=name,
        created=account.now(),
        course_ids=course_ids,
        status=status,
        duration=duration,
        period=period,
    )
