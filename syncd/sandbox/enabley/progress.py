"""Learner progress: performance rows, certificate states, and simulated learner activity.

Performance has one row per (learner, channel) the learner is assigned to, with
``progress`` 0-100, ``score`` and a ``completionDate`` once complete, in channel then user
creation order. A certificate is earned by completing every channel in its ``courseIds``;
the user-certificate connection the compliance update needs exists once the user learns in
any of those channels.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any, Final

from syncd.sandbox.enabley.errors import EnableyError, invalid, missing
from syncd.sandbox.enabley.fields import flag, require_object, text
from syncd.sandbox.enabley.model import (
    Activity,
    Certificate,
    format_date,
    parse_date,
    user_certificate_state,
)
from syncd.sandbox.enabley.state import Account

ABOUT_TO_EXPIRE_DAYS: Final = 30
ACTIONS: Final = ("start", "progress", "complete", "reset")


def activity_of(account: Account, user_id: str, channel_id: str) -> Activity:
    """The (created on demand) activity record of one learner in one channel."""
    return account.activity.setdefault((user_id, channel_id), Activity())


def performance(
    account: Account, *, channel_id: str | None, user_id: str | None
) -> list[dict[str, Any]]:
    """``External user channel performance`` rows, filtered by channel and/or user."""
    with account.lock:
        channels = [account.channel(channel_id)] if channel_id else account.channels.values()
        if user_id:
            account.user(user_id)
        rows = []
        for channel in channels:
            for learner in account.learners(channel):
                if user_id and learner != user_id:
                    continue
                record = account.activity.get((learner, channel.identifier), Activity())
                completed = record.completed
                rows.append(
                    {
                        "channelName": channel.name,
                        "completionDate": None if completed is None else format_date(completed),
                        "externalChannelId": channel.identifier,
                        "externalUserId": learner,
                        "progress": record.progress,
                        "score": record.score,
                    }
                )
        return rows


def record_activity(account: Account, body: Any) -> dict[str, Any]:
    """Admin: a learner starts, progresses in or completes a channel they are assigned to,
    or an administrator resets it (progress, score and dates back to nothing, so a result
    can go backwards; certificates built on it follow).

    Body: ``{"user", "channel", "action": start|progress|complete|reset, "progress"?,
    "score"?, "at"?}``; ``at`` is a date in the API's format and defaults to now.
    """
    data = require_object(body, name="activity")
    user_id = text(data, "user", required=True)
    channel_id = text(data, "channel", required=True)
    action = text(data, "action", required=True)
    assert user_id is not None and channel_id is not None
    if action not in ACTIONS:
        raise invalid(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    progress = _percent(data.get("progress"), name="progress")
    score = _percent(data.get("score"), name="score")
    at_text = text(data, "at")
    with account.lock:
        channel = account.channel(channel_id)
        account.user(user_id)
        if user_id not in account.learners(channel):
            raise missing(f"user {user_id!r} is not a learner of channel {channel_id!r}")
        at = account.now() if at_text is None else parse_date(at_text, name="at")
        record = activity_of(account, user_id, channel_id)
        if action == "reset":
            record.progress, record.score, record.started, record.completed = 0, 0, None, None
        elif record.started is None:
            record.started = at
        if action == "progress":
            if progress is None or progress >= 100:
                raise invalid("progress must be given and below 100 (use complete)")
            record.progress = progress
        elif action == "complete":
            record.progress = 100
            record.completed = at
        if score is not None:
            record.score = score
        return {
            "user": user_id,
            "channel": channel_id,
            "progress": record.progress,
            "score": record.score,
        }


def _percent(value: Any, *, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise invalid(f"{name} must be an integer from 0 to 100")
    return value


def _add_period(ts: float, duration: int, period: str) -> float:
    moment = datetime.fromtimestamp(ts, tz=UTC)
    if period == "DAY":
        return ts + duration * 86_400
    months = duration * (12 if period == "YEAR" else 1)
    year, month0 = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day).timestamp()


def _connected(account: Account, certificate: Certificate, user_id: str) -> bool:
    return any(
        c in account.channels and user_id in account.learners(account.channels[c])
        for c in certificate.course_ids
    )


def user_certificates(account: Account, user_id: str) -> list[dict[str, Any]]:
    """``ExternalUserCertificateState`` for every certificate the user is connected to."""
    with account.lock:
        account.user(user_id)
        now = account.now()
        states = []
        for certificate in account.certificates.values():
            if not _connected(account, certificate, user_id):
                continue
            records = [account.activity.get((user_id, c)) for c in certificate.course_ids]
            done = [r.completed for r in records if r is not None and r.completed is not None]
            certified = expires = None
            if certificate.course_ids and len(done) == len(certificate.course_ids):
                certified = max(done)
                if certificate.duration is not None and certificate.period is not None:
                    expires = _add_period(certified, certificate.duration, certificate.period)
                state = "CERTIFIED"
                if expires is not None and expires <= now:
                    state = "EXPIRED"
                elif expires is not None and expires - now <= ABOUT_TO_EXPIRE_DAYS * 86_400:
                    state = "ABOUT_TO_EXPIRE"
            elif any(r is not None and r.started is not None for r in records):
                state = "IN_PROGRESS"
            else:
                state = "INIT"
            states.append(
                user_certificate_state(
                    certificate=certificate,
                    user=user_id,
                    state=state,
                    certified=certified,
                    expires=expires,
                    required=certificate.required.get(user_id, False),
                )
            )
        return states


def set_requirement(account: Account, body: Any) -> None:
    """``PUT /api/v1/certificates/compliance``: 404 unknown user/certificate, 409 unconnected."""
    data = require_object(body, name="requirementUpdate")
    certificate_id = text(data, "certificateIdentifier", required=True)
    user_id = text(data, "userIdentifier", required=True)
    required = flag(data.get("isRequired"), name="isRequired")
    if required is None:
        raise invalid("isRequired is required")
    assert certificate_id is not None and user_id is not None
    with account.lock:
        certificate = account.certificates.get(certificate_id)
        if user_id not in account.users or certificate is None:
            raise EnableyError(404, "not_found", "user or certificate not found")
        if not _connected(account, certificate, user_id):
            raise EnableyError(
                409,
                "item_not_exists",
                f"user {user_id!r} has no connection to certificate {certificate_id!r}",
            )
        certificate.required[user_id] = required
