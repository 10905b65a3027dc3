"""SCORM Cloud registrations as syncd ResultRecords, read by what changed in a window.

A registration is one learner on one course, and SCORM Cloud's result of it (notes A3,
reference ``RegistrationSchema``). What changed in ``[since, until)`` is one listing
(notes A4, A8): ``GET /registrations?since&until&datetimeFilter=updated`` followed through
``more`` (sent alone: the token carries the filters). Chosen so:

- ``datetimeFilter=updated``: the default, ``created``, would miss every progress change;
- ``orderBy=updated_asc``: a registration that changes while the pages are walked moves
  behind the cursor and is read again with its newer state (within ``until``), never lost
  behind it as under the default ``created_desc``;
- no ``include*`` switch: the top-level progress (completion, success, score, time,
  dates, learner, course) is all a result needs; child results and runtime data multiply
  the bytes and not one field of ours comes from them. Same calls either way;
- ``since``/``until`` are inclusive on the vendor's side and the window is half-open, so
  ``since`` is sent as is (to the millisecond, rounded down), ``until`` rounded up to the
  millisecond, and a registration updated at or after ``until`` is left to the next window.

Mapping (the vendor's enums ``RegistrationCompletion``/``RegistrationSuccess``):

- status: a success verdict wins (``PASSED`` -> passed, ``FAILED`` -> failed, whatever the
  completion: SCORM 2004 keeps the two apart and a verdict is what HR asks about); else
  ``COMPLETED`` -> completed; else any sign the learner was in the course (a first access,
  tracked time, some completion) -> in_progress; else not_started;
- percentage: 100 when completed, else ``registrationCompletionAmount`` (a 0-1 fraction,
  SCORM's progress measure) x 100;
- score: ``score.scaled`` as given: "scaled score between 0 and 100" (reference, notes A3);
- external id: the learner id when syncd registers people under their HRIS key (``assign_by
  = "registration"``); with private invitations SCORM Cloud names the learner by e-mail,
  so it stays empty and the pull resolves the person by ``remote_user_id``.

A date that cannot be read is left out (the rest of the record still counts: one odd value
must not hold back everyone's results) and its text kept in ``raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from syncd.log import get_logger
from syncd.vendors.base import ResultRecord, ResultStatus, Window
from syncd.vendors.paging import TokenPaginator
from syncd.vendors.scormcloud import wire

log = get_logger("syncd.vendors.scormcloud")

ITEM_KIND = "registration"
PATH = "/registrations"
CHANGED_BY = {"datetimeFilter": "updated", "orderBy": "updated_asc"}

_DATES = ("createdDate", "firstAccessDate", "lastAccessDate", "completedDate", "updated")
_MS = timedelta(milliseconds=1)

_Page = tuple[int, list[dict[str, Any]]]
"""A page of the listing, numbered: the paginator's repeat guard keys pages, not rows."""

Get = Callable[[str, Mapping[str, str] | None], Any]
"""``GET path?params`` -> the decoded JSON answer (the connector's request)."""


def window_params(window: Window) -> dict[str, str]:
    """The query of the first page of ``window``'s changes."""
    return {
        "since": stamp(_floor_ms(window.since)),
        "until": stamp(_ceil_ms(window.until)),
        **CHANGED_BY,
    }


def read_changes(get: Get, window: Window, *, hris_key: bool) -> Iterator[ResultRecord]:
    """The registrations updated in ``window``, one page in memory at a time.

    Paged whole pages at a time through the shared paginator, so its repeat guard holds one
    key per page rather than one per registration: memory stays flat however many
    registrations a backfill walks (a registration read twice is a repeat the pull
    upserts, and its newer state, so it is not dropped here).
    """
    first = window_params(window)
    numbers = count()

    def fetch(token: str | None) -> tuple[list[_Page], str | None]:
        data = get(PATH, {"more": token} if token else first)
        return [(next(numbers), wire.registrations(data))], wire.more(data)

    pages = TokenPaginator(fetch=fetch, key=lambda page: page[0], what="scormcloud results")
    for _, registrations in pages:
        for registration in registrations:
            record = result_record(registration, hris_key=hris_key)
            if record is None:
                log.warning(
                    "scormcloud.result_skipped",
                    reason="registration without an id or a learner id",
                    registration_id=wire.text(registration.get("id")),
                )
                continue
            if record.updated_at is not None and record.updated_at >= window.until:
                continue
            yield record


def result_record(registration: Mapping[str, Any], *, hris_key: bool) -> ResultRecord | None:
    """One listed ``RegistrationSchema`` as a record; None when it names no registration
    or no learner (nothing to key it by)."""
    registration_id = wire.text(registration.get("id")).strip()
    learner = wire.learner_of(registration)
    if not registration_id or not learner["id"]:
        return None
    course = registration.get("course")
    course = course if isinstance(course, Mapping) else {}
    completion = wire.text(registration.get("registrationCompletion")).upper()
    success = wire.text(registration.get("registrationSuccess")).upper()
    amount = _number(registration.get("registrationCompletionAmount"))
    seconds = _number(registration.get("totalSecondsTracked"))
    dates, unreadable = _dates(registration)
    started = dates["firstAccessDate"] is not None or bool(seconds) or bool(amount)
    status = status_of(completion, success, started=started)
    completed = completion == wire.COMPLETED
    raw: dict[str, Any] = {
        "registrationCompletion": completion,
        "registrationSuccess": success,
        "instance": registration.get("instance"),
        "courseVersion": course.get("version"),
    }
    if dates["lastAccessDate"] is not None:
        raw["lastAccessDate"] = stamp(dates["lastAccessDate"])
    if unreadable:
        raw["unreadableDates"] = unreadable
    return ResultRecord(
        remote_user_id=learner["id"],
        username=learner["email"],
        item_kind=ITEM_KIND,
        item_id=registration_id,
        item_name=wire.text(course.get("title")),
        course_id=wire.text(course.get("id")),
        external_id=learner["id"] if hris_key else "",
        status=status,
        completed=completed,
        passed={"PASSED": True, "FAILED": False}.get(success),
        percentage=percentage(completed, amount),
        score=_score(registration.get("score")),
        seconds=None if seconds is None else max(0, round(seconds)),
        assigned_at=dates["createdDate"],
        started_at=dates["firstAccessDate"],
        completed_at=dates["completedDate"],
        updated_at=dates["updated"],
        raw=raw,
    )


def status_of(completion: str, success: str, *, started: bool) -> ResultStatus:
    """The learner's standing from the two enums (see the module docstring)."""
    if success == "PASSED":
        return ResultStatus.PASSED
    if success == "FAILED":
        return ResultStatus.FAILED
    if completion == wire.COMPLETED:
        return ResultStatus.COMPLETED
    if started:
        return ResultStatus.IN_PROGRESS
    return ResultStatus.NOT_STARTED


def percentage(completed: bool, amount: float | None) -> float | None:
    """0-100: all of it once completed, else the completion fraction as a percent."""
    if completed:
        return 100.0
    if amount is None:
        return None
    return min(100.0, max(0.0, round(amount * 100, 2)))


def stamp(moment: datetime) -> str:
    """``2024-05-01T12:30:00.250Z``: ISO-8601 UTC to the millisecond, as SCORM Cloud
    writes its dates and reads ``since``/``until`` (no offset to escape in a query)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 date-time of an answer as aware UTC (no offset means UTC, as the
    reference's date parameters say); None when absent; ValueError when unreadable."""
    text = wire.text(value).strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _dates(registration: Mapping[str, Any]) -> tuple[dict[str, datetime | None], dict[str, str]]:
    found: dict[str, datetime | None] = {}
    unreadable: dict[str, str] = {}
    for name in _DATES:
        try:
            found[name] = parse_instant(registration.get(name))
        except (ValueError, OverflowError):
            found[name] = None
            unreadable[name] = wire.text(registration.get(name))[:64]
    return found, unreadable


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _score(value: Any) -> float | None:
    return _number(value.get("scaled")) if isinstance(value, Mapping) else None


def _floor_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _ceil_ms(moment: datetime) -> datetime:
    floor = _floor_ms(moment)
    return floor if floor == moment else floor + _MS
