"""In-memory state of the SCORM Cloud simulator: one ``AppData`` per application (app id).

SCORM Cloud scopes courses, registrations and invitations per application and has no
learner objects: what it knows of a learner lives on each of that learner's registrations
(plus learner tags). The state mirrors that, so learner info updates must fan out over
registrations exactly as the real service does.

Some operations are asynchronous on the real service (learner info updates, private
invitation send jobs). ``Store`` models them as deferred actions with a due time; they are
applied, in order, at the start of the next operation on the store once due (no background
thread, so tests stay deterministic), or at once by ``Store.flush``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from syncd.sandbox.scormcloud.wire import truncate_ms

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def add_tags(current: list[str], new: list[str]) -> None:
    """Tags are additive and unique, in first-seen order."""
    for tag in new:
        if tag not in current:
            current.append(tag)


def remove_tags(current: list[str], gone: list[str]) -> None:
    """Removing an absent tag is not an error (the reference says so)."""
    current[:] = [tag for tag in current if tag not in gone]


@dataclass
class Learner:
    """The learner fields a registration carries (``LearnerSchema``)."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass
class Course:
    id: str
    title: str
    version: int
    created: datetime
    updated: datetime
    seq: int
    learning_standard: str = "SCORM20043RDEDITION"
    tags: list[str] = field(default_factory=list)


@dataclass
class InstanceRecord:
    """A past attempt of a registration, frozen when ``POST .../instances`` starts the next
    one (``GET /registrations/{id}/instances`` lists these and the current one)."""

    instance: int
    course_version: int
    updated: datetime
    completion: str = "UNKNOWN"
    completion_amount: float = 0.0
    success: str = "UNKNOWN"
    score: float | None = None
    total_seconds: float = 0.0
    first_access: datetime | None = None
    last_access: datetime | None = None
    completed_date: datetime | None = None


@dataclass
class LaunchRecord:
    """One launch of a registration (``LaunchHistorySchema``): a learner's session."""

    id: str
    instance: int
    launch_time: datetime
    last_runtime_update: datetime
    exit_time: datetime | None = None
    completion: str = "UNKNOWN"
    success: str = "UNKNOWN"
    score: float | None = None
    total_seconds: float = 0.0


@dataclass
class StatementRecord:
    """One xAPI statement SCORM Cloud's LRS records for a registration's progress."""

    id: str
    verb: str
    instance: int
    timestamp: datetime
    seq: int
    score: float | None = None
    success: bool | None = None
    completion: bool | None = None


@dataclass
class Registration:
    id: str
    course_id: str
    course_version: int
    learner: Learner
    xapi_registration_id: str
    created: datetime
    updated: datetime
    seq: int
    tags: list[str] = field(default_factory=list)
    instance: int = 0
    completion: str = "UNKNOWN"
    completion_amount: float = 0.0
    success: str = "UNKNOWN"
    score: float | None = None
    total_seconds: float = 0.0
    first_access: datetime | None = None
    last_access: datetime | None = None
    completed_date: datetime | None = None
    post_back: dict[str, object] | None = None
    past_instances: list[InstanceRecord] = field(default_factory=list)
    launches: list[LaunchRecord] = field(default_factory=list)
    statements: list[StatementRecord] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    """Configuration settings set explicitly at the registration level, by setting id."""

    def reset_progress(self) -> None:
        """Wipe results, as ``DELETE /registrations/{id}/progress`` and new instances do."""
        self.completion = "UNKNOWN"
        self.completion_amount = 0.0
        self.success = "UNKNOWN"
        self.score = None
        self.total_seconds = 0.0
        self.first_access = None
        self.last_access = None
        self.completed_date = None


@dataclass
class UserInvitation:
    """One learner reached by an invitation (an e-mail sent, or a public link used)."""

    email: str
    url: str
    registration_id: str
    created: datetime
    updated: datetime
    seq: int


@dataclass
class InvitationJob:
    """The asynchronous send job of a private invitation (``InvitationJobStatusSchema``)."""

    status: str
    total: int
    processed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Invitation:
    id: str
    is_public: bool
    course_id: str
    creating_user_email: str
    created: datetime
    updated: datetime
    seq: int
    url: str = ""
    allow_launch: bool = True
    allow_new_registrations: bool = True
    registration_cap: int = 0
    expiration_date: datetime | None = None
    post_back: dict[str, object] | None = None
    tags: list[str] = field(default_factory=list)
    email_subject: str | None = None
    email_body: str | None = None
    addresses: list[str] = field(default_factory=list)
    duplicate_option: str | None = None
    users: list[UserInvitation] = field(default_factory=list)
    job: InvitationJob | None = None


@dataclass
class AppData:
    """Everything one application (app id) holds."""

    courses: dict[str, Course] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    learner_tags: dict[str, list[str]] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)

    def registrations_of_learner(self, learner_id: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.learner.id == learner_id]

    def registrations_of_course(self, course_id: str) -> list[Registration]:
        return [r for r in self.registrations.values() if r.course_id == course_id]


@dataclass(order=True)
class _Deferred:
    due: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


class Store:
    """All applications' data, one lock, one clock, and the queue of deferred actions."""

    def __init__(self, *, clock: Clock = utc_now, async_delay: float = 1.0) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._apps: dict[str, AppData] = {}
        self._deferred: list[_Deferred] = []
        self._seq = 0
        self._last_stamp: datetime | None = None
        self.async_delay = async_delay

    def next_seq(self) -> int:
        """A process-wide insertion counter: the tie-breaker of every listing order."""
        self._seq += 1
        return self._seq

    def stamp(self) -> datetime:
        """Now, in whole milliseconds, strictly after the previous stamp.

        Distinct stamps make ``since``/``until`` boundaries unambiguous, as they are on a
        real service where two writes rarely share a millisecond.
        """
        moment = truncate_ms(self._clock().astimezone(UTC))
        if self._last_stamp is not None and moment <= self._last_stamp:
            moment = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = moment
        return moment

    @contextmanager
    def app(self, app_id: str) -> Iterator[AppData]:
        """Lock the store, apply due deferred actions, and hand out one app's data."""
        with self._lock:
            self._settle(self._clock())
            yield self._apps.setdefault(app_id, AppData())

    def defer(self, action: Callable[[], None]) -> None:
        """Run ``action`` once ``async_delay`` seconds have passed (caller holds the lock)."""
        due = self._clock() + timedelta(seconds=self.async_delay)
        self._deferred.append(_Deferred(due, self.next_seq(), action))
        self._deferred.sort()

    def pending(self) -> int:
        """How many deferred actions have not run yet."""
        with self._lock:
            return len(self._deferred)

    def flush(self) -> int:
        """Apply every deferred action now; returns how many ran."""
        with self._lock:
            count = len(self._deferred)
            self._settle(None)
            return count

    def reset(self) -> None:
        """Forget every application and every pending action."""
        with self._lock:
            self._apps.clear()
            self._deferred.clear()
            self._last_stamp = None

    def _settle(self, now: datetime | None) -> None:
        while self._deferred and (now is None or self._deferred[0].due <= now):
            self._deferred.pop(0).action()
