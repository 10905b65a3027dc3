"""The SCORM Cloud account as plain JSON data, and back, checked field by field
(with the row helpers of the Litmos account, which check the same way).

What :mod:`syncd.sandbox.account_file` stores for a ``sandbox:`` SCORM Cloud connection:
every application's courses, registrations (with the learner each carries), learner tags
and invitations, plus the store's insertion counter and last timestamp so that listing
order and ``more`` tokens continue where they were. Tables keyed by id are stored as lists
and rebuilt from the rows. Loading checks every field's type (pydantic over the store's own
dataclasses, unknown fields refused), that dates carry a time zone, that ids are unique,
that each registration names a course of its application and each user invitation a
registration that exists, and that only known applications appear. Background work still
pending (a learner update, an invitation's send job) is finished before a snapshot: the
real service finishes it whatever happens to the caller, and a closure cannot be stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from syncd.sandbox.account_file import first_problem, keyed_rows, utc_dates
from syncd.sandbox.scormcloud.model import AppData, Course, Invitation, Registration, Store


class AppAccount(BaseModel):
    """One application's data."""

    model_config = ConfigDict(extra="forbid")

    courses: list[Course]
    registrations: list[Registration]
    learner_tags: dict[str, list[str]]
    invitations: list[Invitation]


class ScormCloudAccount(BaseModel):
    """Every application's data and the store's counters."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    last_stamp: datetime | None
    apps: dict[str, AppAccount]


def dump(store: Store) -> bytes:
    """The account as JSON, pending background work applied first."""
    store.flush()
    apps = {
        app_id: AppAccount.model_construct(
            courses=list(app.courses.values()),
            registrations=list(app.registrations.values()),
            learner_tags={k: list(v) for k, v in app.learner_tags.items()},
            invitations=list(app.invitations.values()),
        )
        for app_id, app in store._apps.items()
    }
    account = ScormCloudAccount.model_construct(
        seq=store._seq, last_stamp=store._last_stamp, apps=apps
    )
    return account.model_dump_json().encode("utf-8")


def load(store: Store, data: bytes, known_apps: Collection[str]) -> None:
    """Replace the store's data in place; ValueError names the first problem."""
    try:
        account = ScormCloudAccount.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None
    if account.last_stamp is not None and account.last_stamp.tzinfo is None:
        raise ValueError(f"last_stamp: {account.last_stamp} has no time zone")
    apps = {}
    for app_id, app in account.apps.items():
        if app_id not in known_apps:
            raise ValueError(f"apps: {app_id!r} is not an application of this simulator")
        apps[app_id] = _app(app_id, app)
    with store._lock:
        store._deferred.clear()
        store._apps.clear()
        store._apps.update(apps)
        store._seq = account.seq
        store._last_stamp = account.last_stamp.astimezone(UTC) if account.last_stamp else None


def _app(app_id: str, account: AppAccount) -> AppData:
    where = f"apps.{app_id}"
    for row in _rows(account):
        utc_dates(row)
    app = AppData(
        courses=keyed_rows(account.courses, f"{where}.courses", lambda c: c.id),
        registrations=keyed_rows(account.registrations, f"{where}.registrations", lambda r: r.id),
        learner_tags=dict(account.learner_tags),
        invitations=keyed_rows(account.invitations, f"{where}.invitations", lambda i: i.id),
    )
    for reg in app.registrations.values():
        if reg.course_id not in app.courses:
            raise ValueError(
                f"{where}.registrations: course {reg.course_id!r} of {reg.id!r} is gone"
            )
    return app


def _rows(account: AppAccount) -> Iterable[Any]:
    yield from account.courses
    yield from account.registrations
    for invitation in account.invitations:
        yield invitation
        yield from invitation.users
