"""The Enabley entities the simulator holds, and their wire shapes.

Field names, enums and the date format (``YYYY-MM-DDTHH:mm:ss.SSSZ``) come from the
Definitions section of the reference (UserInfo, GroupInfo, ChannelInfo, Certificate
information, ...). Keys are emitted in the order the reference lists them, and absent
optional values are ``null`` rather than missing, as a Java/Jackson backend writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from syncd.sandbox.enabley.errors import invalid

USER_ROLES: Final[tuple[str, ...]] = (
    "SITE_ADMIN",
    "LEARNER",
    "INSTRUCTOR",
    "EDITOR",
    "PREVIEW",
    "MANAGER",
    "HR_MANAGER",
    "SITE_TRAINING_MANAGER",
    "EVALUATOR",
)
CHANNEL_ROLES: Final[tuple[str, ...]] = ("LEARNER", "INSTRUCTOR")
CHANNEL_TYPES: Final[tuple[str, ...]] = ("STREAM", "COURSE")
CHANNEL_STATUSES: Final[tuple[str, ...]] = ("ACTIVE", "INACTIVE")
CERTIFICATE_STATUSES: Final[tuple[str, ...]] = ("ACTIVE", "INACTIVE", "ARCHIVED")
EXPIRATION_PERIODS: Final[tuple[str, ...]] = ("MONTH", "YEAR", "DAY")
ENTITY_TYPES: Final[tuple[str, ...]] = ("COURSE", "GROUP", "WORKSPACE")
ENTITLEMENT_ROLES: Final[tuple[str, ...]] = ("MANAGER", "EDITOR", "INSTRUCTOR")
PERMISSIONS: Final[tuple[str, ...]] = (
    "INSTRUCTOR_CREATE_COURSE_INSTANCE",
    "INSTRUCTOR_CREATE_COURSE",
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$")


def format_date(ts: float) -> str:
    """A Unix time as ``2017-12-13T13:14:28.317Z`` (UTC, milliseconds, literal ``Z``)."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_date(text: str, *, name: str) -> float:
    """Parse the reference's date format (``Z`` or a numeric offset) into a Unix time."""
    if not _DATE.match(text):
        raise invalid(f"{name} must look like 2017-12-13T13:14:28.317Z, got {text!r}")
    normalized = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(normalized).timestamp()
    except ValueError as exc:
        raise invalid(f"{name} is not a valid date: {text!r}") from exc


def _date_or_none(ts: float | None) -> str | None:
    return None if ts is None else format_date(ts)


@dataclass
class User:
    """An account user, keyed by the identifier the external provider chose."""

    identifier: str
    username: str
    created: float
    modified: float
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    is_active: bool = True
    possible_roles: list[str] = field(default_factory=lambda: ["LEARNER"])
    sub_accounts: list[str] = field(default_factory=list)
    has_password: bool = False
    permissions: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """``UserInfo``; the password is write-only and never comes back."""
        return {
            "address": self.address,
            "created": format_date(self.created),
            "customAttributes": dict(self.custom_attributes),
            "email": self.email,
            "firstName": self.first_name,
            "identifier": self.identifier,
            "isActive": self.is_active,
            "lastName": self.last_name,
            "modified": format_date(self.modified),
            "phone": self.phone,
            "possibleRoles": list(self.possible_roles),
            "userSubAccountNames": list(self.sub_accounts),
            "username": self.username,
        }


@dataclass
class UserProfile:
    """A named profile users are mapped to (``UserProfileInfo``)."""

    identifier: str
    name: str
    created: float
    modified: float
    members: set[str] = field(default_factory=set)

    def info(self) -> dict[str, Any]:
        """``UserProfileInfo``."""
        return {
            "created": format_date(self.created),
            "identifier": self.identifier,
            "modified": format_date(self.modified),
            "name": self.name,
        }


@dataclass
class Group:
    """A node of the account's group tree; ``type`` is one level of the hierarchy."""

    identifier: str
    name: str
    type: str
    created: float
    modified: float
    parent: str | None = None
    sub_account: str | None = None
    members: set[str] = field(default_factory=set)

    def info(self) -> dict[str, Any]:
        """``GroupInfo``."""
        return {
            "created": format_date(self.created),
            "identifier": self.identifier,
            "modified": format_date(self.modified),
            "name": self.name,
            "parentIdentifier": self.parent,
            "subAccountName": self.sub_account,
            "type": self.type,
        }


@dataclass
class TrainingEvent:
    """A scheduled session of a course channel (``TrainingEvent``)."""

    name: str
    from_date: float
    until_date: float
    description: str | None = None
    location: str | None = None
    all_day: bool = False
    include_grade: bool = False
    published: bool = True
    live_session: bool = False

    def info(self) -> dict[str, Any]:
        """``TrainingEvent``."""
        return {
            "allDayEvent": self.all_day,
            "description": self.description,
            "fromDate": format_date(self.from_date),
            "includeGrade": self.include_grade,
            "isPublished": self.published,
            "liveSession": self.live_session,
            "location": self.location,
            "name": self.name,
            "untilDate": format_date(self.until_date),
        }


@dataclass
class Channel:
    """A course or stream; learners reach it directly or through assigned groups."""

    identifier: str
    name: str
    type: str
    created: float
    status: str = "ACTIVE"
    sub_account: str | None = None
    categories: list[str] = field(default_factory=list)
    duration: int | None = None
    master_id: str | None = None
    users: dict[str, set[str]] = field(default_factory=dict)
    groups: dict[str, bool] = field(default_factory=dict)
    events: list[TrainingEvent] = field(default_factory=list)

    def info(self, *, include_categories: bool) -> dict[str, Any]:
        """``ChannelInfo``; ``categories`` is filled only when the caller asked for it."""
        return {
            "availability": {
                "schedule": None,
                "status": "ACTIVE" if self.status == "ACTIVE" else "NONACTIVE",
            },
            "categories": list(self.categories) if include_categories else None,
            "created": format_date(self.created),
            "directLink": f"https://enabley.sandbox.invalid/channel/{self.identifier}",
            "duration": self.duration,
            "identifier": self.identifier,
            "masterChannelId": self.master_id,
            "masterChannelInstance": self.master_id is not None,
            "name": self.name,
            "subAccountName": self.sub_account,
            "type": self.type,
        }


@dataclass
class MasterChannel:
    """A master course from which channel instances are created."""

    identifier: str
    name: str
    created: float
    published: bool = True
    sub_account: str | None = None
    categories: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """``ExternalMasterChannelGet``."""
        return {
            "categories": list(self.categories),
            "created": format_date(self.created),
            "identifier": self.identifier,
            "name": self.name,
            "published": self.published,
            "subAccountName": self.sub_account,
        }


@dataclass
class Activity:
    """One learner's progress in one channel; survives removal so re-adding restores it."""

    progress: int = 0
    score: int = 0
    started: float | None = None
    completed: float | None = None


@dataclass
class Certificate:
    """An account certificate, earned by completing every channel in ``course_ids``."""

    identifier: str
    name: str
    created: float
    course_ids: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    duration: int | None = None
    period: str | None = None
    required: dict[str, bool] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """``Certificate information``."""
        expiration = (
            None if self.duration is None else {"duration": self.duration, "period": self.period}
        )
        return {
            "courseIds": list(self.course_ids),
            "created": format_date(self.created),
            "expiration": expiration,
            "externalCertificateId": self.identifier,
            "name": self.name,
            "status": self.status,
        }


def user_certificate_state(
    *,
    certificate: Certificate,
    user: str,
    state: str,
    certified: float | None,
    expires: float | None,
    required: bool,
) -> dict[str, Any]:
    """``ExternalUserCertificateState`` for one user and one certificate."""
    pdf = (
        f"https://enabley.sandbox.invalid/certificates/{certificate.identifier}/{user}.pdf"
        if certified is not None
        else None
    )
    return {
        "certificationDate": _date_or_none(certified),
        "expirationDate": _date_or_none(expires),
        "externalCertificateId": certificate.identifier,
        "isRequired": required,
        "name": certificate.name,
        "pdfUrl": pdf,
        "state": state,
    }
