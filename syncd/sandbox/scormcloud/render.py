"""JSON shapes of the SCORM Cloud models, field names exactly as the reference lists them.

Optional fields without a value are left out rather than sent as ``null``, as the real
service does for e.g. ``score`` before a learner has one; list fields are always present.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.scormcloud.model import (
    Course,
    Invitation,
    InvitationJob,
    LaunchRecord,
    Learner,
    Registration,
    StatementRecord,
    UserInvitation,
)
from syncd.sandbox.scormcloud.wire import format_datetime


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def learner(value: Learner) -> dict[str, Any]:
    """``LearnerSchema``."""
    return _compact(
        {
            "id": value.id,
            "email": value.email,
            "firstName": value.first_name,
            "lastName": value.last_name,
        }
    )


def course(value: Course, *, registration_count: int | None = None) -> dict[str, Any]:
    """``CourseSchema``."""
    return _compact(
        {
            "id": value.id,
            "title": value.title,
            "xapiActivityId": f"urn:scormcloud:{value.id}",
            "created": format_datetime(value.created),
            "updated": format_datetime(value.updated),
            "version": value.version,
            "registrationCount": registration_count,
            "activityId": value.id,
            "courseLearningStandard": value.learning_standard,
            "tags": list(value.tags),
            "dispatched": False,
        }
    )


def course_metadata(value: Course) -> dict[str, Any]:
    """``MetadataSchema`` (only with ``includeCourseMetadata``)."""
    return {"title": value.title, "titleLanguage": "en-US", "keywords": []}


def registration(
    value: Registration,
    course_value: Course | None,
    *,
    child_results: bool = False,
    interactions: bool = False,
    runtime: bool = False,
) -> dict[str, Any]:
    """``RegistrationSchema``; ``activityDetails`` only with ``includeChildResults``."""
    data = _compact(
        {
            "id": value.id,
            "instance": value.instance,
            "xapiRegistrationId": value.xapi_registration_id,
            "updated": format_datetime(value.updated),
            "registrationCompletion": value.completion,
            "registrationCompletionAmount": value.completion_amount,
            "registrationSuccess": value.success,
            "score": None if value.score is None else {"scaled": value.score},
            "totalSecondsTracked": value.total_seconds,
            "firstAccessDate": format_datetime(value.first_access),
            "lastAccessDate": format_datetime(value.last_access),
            "completedDate": format_datetime(value.completed_date),
            "createdDate": format_datetime(value.created),
            "course": _compact(
                {
                    "id": value.course_id,
                    "title": course_value.title if course_value else None,
                    "version": value.course_version,
                }
            ),
            "learner": learner(value.learner),
            "tags": list(value.tags),
            "globalObjectives": [],
            "sharedData": [],
        }
    )
    if child_results:
        data["activityDetails"] = _activity(value, course_value, interactions, runtime)
    return data


def _activity(
    value: Registration, course_value: Course | None, interactions: bool, runtime: bool
) -> dict[str, Any]:
    """``ActivityResultSchema`` of the single-SCO root activity the simulator models."""
    data = _compact(
        {
            "id": value.course_id,
            "title": course_value.title if course_value else None,
            "attempts": 1 if value.first_access else 0,
            "activityCompletion": value.completion,
            "activitySuccess": value.success,
            "score": None if value.score is None else {"scaled": value.score},
            "timeTracked": _duration(value.total_seconds),
            "completionAmount": {"scaled": value.completion_amount},
            "suspended": False,
            "children": [],
        }
    )
    if interactions:
        data["objectives"] = []
    if runtime:
        data["runtime"] = {
            "completionStatus": value.completion.lower(),
            "runtimeSuccessStatus": value.success,
            "scoreScaled": None if value.score is None else str(value.score / 100),
            "totalTime": _duration(value.total_seconds),
            "timeTracked": _duration(value.total_seconds),
            "runtimeInteractions": [],
            "runtimeObjectives": [],
            "learnerComments": [],
            "lmsComments": [],
        }
        data["runtime"] = _compact(data["runtime"])
    return data


def _duration(seconds: float) -> str:
    """SCORM time format ``HHHH:MM:SS.ss`` used by activity and runtime fields."""
    hundredths = round(seconds * 100)
    hours, rest = divmod(hundredths, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, frac = divmod(rest, 100)
    return f"{hours:04d}:{minutes:02d}:{secs:02d}.{frac:02d}"


def invitation_summary(value: Invitation) -> dict[str, Any]:
    """``InvitationSummarySchema``."""
    return {
        "id": value.id,
        "courseId": value.course_id,
        "isPublic": value.is_public,
        "createDate": format_datetime(value.created),
        "updated": format_datetime(value.updated),
    }


def public_invitation(
    value: Invitation, course_title: str | None, *, registration_count: int | None
) -> dict[str, Any]:
    """``PublicInvitationSchema``."""
    return _compact(
        {
            "id": value.id,
            "courseId": value.course_id,
            "courseTitle": course_title,
            "allowLaunch": value.allow_launch,
            "allowNewRegistrations": value.allow_new_registrations,
            "url": value.url,
            "createDate": format_datetime(value.created),
            "updated": format_datetime(value.updated),
            "postBack": value.post_back,
            "expirationDate": format_datetime(value.expiration_date),
            "registrationCap": value.registration_cap,
            "registrationCount": registration_count,
        }
    )


def private_invitation(
    value: Invitation,
    course_title: str | None,
    *,
    registration_count: int | None,
    launched_count: int | None,
) -> dict[str, Any]:
    """``PrivateInvitationSchema``."""
    return _compact(
        {
            "id": value.id,
            "courseId": value.course_id,
            "courseTitle": course_title,
            "allowLaunch": value.allow_launch,
            "invitationEmail": _compact(
                {
                    "subject": value.email_subject,
                    "body": value.email_body,
                    "addresses": list(value.addresses),
                }
            ),
            "createDate": format_datetime(value.created),
            "updated": format_datetime(value.updated),
            "postBack": value.post_back,
            "expirationDate": format_datetime(value.expiration_date),
            "registrationCount": registration_count,
            "launchedRegistrationCount": launched_count,
        }
    )


def job_status(value: InvitationJob) -> dict[str, Any]:
    """``InvitationJobStatusSchema``."""
    return {
        "status": value.status,
        "errors": list(value.errors),
        "total": value.total,
        "processed": value.processed,
    }


def user_invitation(
    value: UserInvitation, reg: Registration | None, *, with_report: bool
) -> dict[str, Any]:
    """``UserInvitationSchema``; ``registrationReport`` with ``includeRegistrationReport``."""
    data: dict[str, Any] = {
        "email": value.email,
        "url": value.url,
        "isStarted": bool(reg and reg.first_access is not None),
        "updated": format_datetime(value.updated),
        "registrationId": value.registration_id,
    }
    if with_report and reg is not None:
        data["registrationReport"] = _compact(
            {
                "complete": reg.completion,
                "success": reg.success,
                "totalSecondsTracked": reg.total_seconds,
                "score": None if reg.score is None else {"scaled": reg.score},
            }
        )
    return data


def launch(value: LaunchRecord, *, history_log: bool) -> dict[str, Any]:
    """``LaunchHistorySchema``; ``historyLog`` only with ``includeHistoryLog``."""
    data = _compact(
        {
            "id": value.id,
            "instance": value.instance,
            "score": None if value.score is None else {"scaled": value.score},
            "completionStatus": value.completion,
            "successStatus": value.success,
            "totalSecondsTracked": value.total_seconds,
            "launchTime": format_datetime(value.launch_time),
            "exitTime": format_datetime(value.exit_time),
            "lastRuntimeUpdate": format_datetime(value.last_runtime_update),
            "launchHistoryId": value.id,
        }
    )
    if history_log:
        data["historyLog"] = f"<History launch='{data['launchTime']}' instance='{value.instance}'/>"
    return data


def statement(
    value: StatementRecord, reg: Registration, course_value: Course | None
) -> dict[str, Any]:
    """``XapiStatement`` (the client's JSON names: ``objectActivity``, not ``object``)."""
    who = reg.learner
    name = " ".join(part for part in (who.first_name, who.last_name) if part)
    result = _compact(
        {
            "score": None if value.score is None else {"scaled": value.score / 100},
            "success": value.success,
            "completion": value.completion,
        }
    )
    return _compact(
        {
            "id": value.id,
            "actor": _compact(
                {
                    "objectType": "Agent",
                    "name": name or None,
                    "account": {"homePage": "https://cloud.scorm.com", "name": who.id},
                }
            ),
            "verb": {
                "id": f"http://adlnet.gov/expapi/verbs/{value.verb}",
                "display": {"en-US": value.verb},
            },
            "objectActivity": _compact(
                {
                    "objectType": "Activity",
                    "id": f"urn:scormcloud:{reg.course_id}",
                    "definition": None
                    if course_value is None
                    else {"name": {"en-US": course_value.title}},
                }
            ),
            "result": result or None,
            "context": {"registration": reg.xapi_registration_id},
            "timestamp": format_datetime(value.timestamp),
            "stored": format_datetime(value.timestamp),
        }
    )
