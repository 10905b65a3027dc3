"""Litmos result rows as syncd ResultRecords, and the merge of a window's assignment rows.

Four row shapes carry results, with different member names for the same facts:

- ``/org/results/details`` (``UserResult``): ``Id`` is the course, ``UserId`` the user;
  ``StartedDate``, ``CompletedDate``, ``CompliantTillDate``, ``DueDate``;
- ``/org/learningpaths/results`` (``LearningPathResult``): ``Id`` the path; ``StartDate``,
  ``FinishDate``;
- ``/org/users/courses`` (``UserCourse``): the assignment alone (``CreatedDate``,
  ``Active``), merged into the course row of the same person x course (:func:`merged`);
- ``/results/details`` (backfill) and ``POST /users/courses`` (per-user assignments):
  ``Complete``, ``DateCompleted``/``CompletedDate``, ``AssignedDate``, ``CompliantTill``.

Key casing differs between endpoints and clients, so members are read case-blind with
their known aliases; dates come as ``/Date(ms)/`` in JSON and ISO without offset in XML
(both UTC). A member the row lacks stays None: a later row never blanks it by guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from syncd.vendors.base import ResultRecord, ResultStatus
from syncd.vendors.litmos import wire

COURSE = "course"
LEARNING_PATH = "learning_path"

_RAW = ("Code", "Active", "UpToDate", "Overdue", "LearningPathAssignment", "TeamAssignment")
"""Row members worth showing as they are (never ``LoginKey``: an auto-login URL)."""


def result_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """(user, item) of an ``/org`` row: ``Id`` is the course or path there."""
    return (wire.as_text(wire.get_field(item, "UserId")), wire.as_text(wire.get_field(item, "Id")))


def detail_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """(user, course) of a ``/results/details`` row: ``Id`` is the user there."""
    return (
        wire.as_text(wire.get_field(item, "Id")),
        wire.as_text(wire.get_field(item, "CourseId")),
    )


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """What ``/org/users/courses`` says of one person x course: when it was assigned,
    when that changed, and whether it still holds (removals come as ``Active=false``)."""

    assigned_at: datetime | None
    updated_at: datetime | None
    active: bool


def assignment_row(item: Mapping[str, Any]) -> AssignmentRow:
    item = wire.folded(item)
    return AssignmentRow(
        assigned_at=_date(item, "CreatedDate", "AssignedDate"),
        updated_at=_date(item, "UpdatedDate"),
        active=wire.as_bool(_get(item, "Active", default=True)),
    )


def status_of(
    *, completed: bool, percentage: float | None, started: bool, passed: bool | None
) -> ResultStatus:
    """The row's own facts only, never the clock: a compliance date passing changes no
    Litmos row, so a status computed against "now" would go stale in the table; HR reads
    ``expires_at`` instead."""
    if completed:
        if passed is None:
            return ResultStatus.COMPLETED
        return ResultStatus.PASSED if passed else ResultStatus.FAILED
    if passed is False:
        return ResultStatus.FAILED
    if started or (percentage or 0) > 0:
        return ResultStatus.IN_PROGRESS
    return ResultStatus.NOT_STARTED


def course_record(item: Mapping[str, Any], assignment: AssignmentRow | None = None) -> ResultRecord:
    """A ``UserResult`` row, with the same window's assignment row of the pair if any.

    ``assigned_at`` is the assignment's creation; without an assignment row it is the
    result row's own ``CreatedDate`` (Litmos creates the result when it assigns).
    """
    user_id, course_id = result_key(item)
    record = _record(
        item,
        user_id=user_id,
        kind=COURSE,
        item_id=course_id,
        course_id=course_id,
        started=("StartedDate", "StartDate"),
        completed=("CompletedDate", "DateCompleted"),
        assigned=("CreatedDate",),
    )
    if assignment is None:
        return record
    raw = dict(record.raw)
    if not assignment.active:
        raw["Active"] = "false"
    return replace(
        record,
        assigned_at=assignment.assigned_at or record.assigned_at,
        updated_at=_latest(record.updated_at, assignment.updated_at),
        raw=raw,
    )


def path_record(item: Mapping[str, Any]) -> ResultRecord:
    """A ``LearningPathResult`` row (``FinishDate`` is its completion)."""
    user_id, path_id = result_key(item)
    return _record(
        item,
        user_id=user_id,
        kind=LEARNING_PATH,
        item_id=path_id,
        course_id="",
        started=("StartDate", "StartedDate"),
        completed=("FinishDate", "CompletedDate", "DateCompleted"),
        assigned=("CreatedDate",),
    )


def detail_record(item: Mapping[str, Any]) -> ResultRecord:
    """A ``/results/details`` row (the backfill): it carries no assignment or start date."""
    user_id, course_id = detail_key(item)
    return _record(
        item,
        user_id=user_id,
        kind=COURSE,
        item_id=course_id,
        course_id=course_id,
        name=("CourseName", "Name"),
        started=(),
        completed=("CompletedDate", "DateCompleted"),
        assigned=(),
    )


def assigned_record(user_id: str, item: Mapping[str, Any]) -> ResultRecord:
    """A course or path among a user's assignments (``POST /users/courses``)."""
    item = wire.folded(item)
    kind = LEARNING_PATH if wire.as_bool(_get(item, "IsLearningPath", default=False)) else COURSE
    item_id = wire.as_text(_get(item, "Id"))
    return _record(
        item,
        user_id=wire.as_text(_get(item, "UserId")) or user_id,
        kind=kind,
        item_id=item_id,
        course_id=item_id if kind == COURSE else "",
        started=("StartDate", "StartedDate"),
        completed=("DateCompleted", "CompletedDate"),
        assigned=("AssignedDate",),
    )


def merged(
    results: Iterable[Mapping[str, Any]], assignments: dict[tuple[str, str], AssignmentRow]
) -> Iterator[ResultRecord]:
    """One record per person x course: each result row with its assignment row, which is
    taken out of ``assignments`` (what is left there had no result row in the window)."""
    for item in results:
        yield course_record(item, assignments.pop(result_key(item), None))


# --------------------------------------------------------------------------- helpers


def _record(
    item: Mapping[str, Any],
    *,
    user_id: str,
    kind: str,
    item_id: str,
    course_id: str,
    started: tuple[str, ...],
    completed: tuple[str, ...],
    assigned: tuple[str, ...],
    name: tuple[str, ...] = ("Name",),
) -> ResultRecord:
    item = wire.folded(item)
    done = wire.as_bool(_get(item, "Completed", "Complete", default=False))
    percentage = _number(_get(item, "PercentageComplete"))
    passed = _passed(item)
    started_at = _date(item, *started)
    raw = {n: wire.as_text(v) for n in _RAW if (v := _get(item, n)) is not None}
    due = _date(item, "DueDate", "CourseDueDate")
    if due is not None:
        raw["DueDate"] = due.isoformat()
    return ResultRecord(
        remote_user_id=user_id,
        username=wire.as_text(_get(item, "UserName")),
        item_kind=kind,
        item_id=item_id,
        item_name=wire.as_text(_get(item, *name)),
        course_id=course_id,
        status=status_of(
            completed=done, percentage=percentage, started=started_at is not None, passed=passed
        ),
        completed=done,
        passed=passed,
        percentage=percentage,
        score=_number(_get(item, "Score")),
        assigned_at=_date(item, *assigned),
        started_at=started_at,
        completed_at=_date(item, *completed),
        expires_at=_date(item, "CompliantTillDate", "CompliantTill", "ComplaintTillDate"),
        updated_at=_date(item, "UpdatedDate", "LastUpdated"),
        raw=raw,
    )


def _get(row: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    """A member of a :func:`wire.folded` row (every reader here folds the row first)."""
    value = wire.pick(row, *names)
    return default if value is None else value


def _passed(item: Mapping[str, Any]) -> bool | None:
    """Pass/fail only where the row says so (a course row has no verdict)."""
    value = _get(item, "Passed", "Pass")
    if value is None or value == "":
        return None
    return wire.as_bool(value)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _date(item: Mapping[str, Any], *names: str) -> datetime | None:
    """The first named date present; an unreadable or .NET-empty date is no date."""
    if not names:
        return None
    try:
        parsed = wire.parse_date(_get(item, *names))
    except ValueError:
        return None
    if parsed is not None and parsed.year <= 1:
        return None  # DateTime.MinValue: WCF's "never"
    return parsed


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((d for d in (a, b) if d is not None), default=None)
