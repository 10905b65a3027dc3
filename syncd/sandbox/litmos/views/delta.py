"""The rows of the date-range delta endpoints (``/org/...``), member by member.

Member names and order follow the SAP spec's item schemas (the only source for these
endpoints); DateTime members are :class:`WcfDate` like everywhere else.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.litmos.store import (
    Assignment,
    Course,
    LearningPath,
    Membership,
    Module,
    PathAssignment,
    Store,
    Team,
    TeamLink,
    User,
)
from syncd.sandbox.litmos.views.learning import course_one, optional_date, overdue, path_one
from syncd.sandbox.litmos.views.people import team_code, user_profile
from syncd.sandbox.litmos.wire import WcfDate


def org_user(store: Store, user: User) -> dict[str, Any]:
    """``/org/users/details``: profile members of the date-range API (``OriginalUserId``)."""
    profile = user_profile(store, user)
    names = [
        "Id",
        "UserName",
        "FirstName",
        "LastName",
        "FullName",
        "Email",
        "AccessLevel",
        "DisableMessages",
        "Active",
        "Skype",
        "PhoneWork",
        "PhoneMobile",
        "LastLogin",
        "LoginKey",
        "IsCustomUsername",
        "TimeZone",
        "SalesforceId",
    ]
    record = {name: profile[name] for name in names}
    record["OriginalUserId"] = user.original_id
    for name in [
        "Street1",
        "Street2",
        "City",
        "State",
        "PostalCode",
        "Country",
        "CompanyName",
        "JobTitle",
        "CustomField1",
        "CustomField2",
        "CustomField3",
        "CustomField4",
        "CustomField5",
        "CustomField6",
        "CustomField7",
        "CustomField8",
        "CustomField9",
        "CustomField10",
        "SalesforceContactId",
        "SalesforceAccountId",
    ]:
        record[name] = profile[name]
    record["CreatedDate"] = WcfDate(user.created)
    record["UpdatedDate"] = WcfDate(user.updated)
    record["CreatedBy"] = None
    record["UpdatedBy"] = None
    for name in [
        "Brand",
        "ManagerId",
        "ManagerName",
        "EnableTextNotification",
        "Website",
        "Twitter",
        "ExpirationDate",
        "ExternalEmployeeId",
        "ProfileType",
    ]:
        record[name] = profile[name]
    return record


def org_result(store: Store, user: User, course: Course, a: Assignment) -> dict[str, Any]:
    """A ``UserResult`` of ``/org/results/details``."""
    return {
        "Id": course.id,
        "UserId": user.id,
        "OriginalCourseId": course.original_id,
        "OriginalUserId": user.original_id,
        "Name": course.name,
        "Active": a.active,
        "CreatedDate": WcfDate(a.created),
        "UpdatedDate": WcfDate(a.updated),
        "StartedDate": optional_date(a.started),
        "Completed": a.complete,
        "PercentageComplete": a.percentage,
        "CompletedDate": optional_date(a.completed_date),
        "UpToDate": True,
        "Overdue": overdue(a),
        "CompliantTillDate": optional_date(a.compliant_till),
        "DueDate": optional_date(a.due),
        "LastAttemptDate": optional_date(a.updated if a.started else None),
        "CreatedBy": None,
        "UpdatedBy": None,
        "Code": course.code,
        "UserName": user.fields.get("UserName"),
        "LearningPathAssignment": a.via_learning_path is not None,
        "TeamAssignment": a.via_team,
    }


def org_user_course(user_original: int, course: Course, a: Assignment) -> dict[str, Any]:
    return {
        "UserId": a.user_id,
        "Id": course.id,
        "OriginalUserId": user_original,
        "OriginalCourseId": course.original_id,
        "Active": a.active,
        "CreatedDate": WcfDate(a.created),
        "UpdatedDate": WcfDate(a.updated),
        "CreatedBy": None,
        "UpdatedBy": None,
    }


def org_module_result(user: User, module: Module, a: Assignment, result: Any) -> dict[str, Any]:
    return {
        "Id": module.id,
        "UserId": user.id,
        "OriginalModuleId": module.original_id,
        "OriginalUserId": user.original_id,
        "ModuleResultId": result.result_id,
        "Active": a.active,
        "Name": module.name,
        "Passmark": module.passmark,
        "Score": result.score,
        "UserName": user.fields.get("UserName"),
        "Completed": result.completed,
        "AttemptNumber": result.attempts,
        "CreatedBy": None,
        "FinishedDate": optional_date(result.finished),
        "CreatedDate": WcfDate(result.created),
        "StartedDate": optional_date(result.started),
        "TimeTaken": 0,
        "UpdatedDate": WcfDate(result.updated),
        "Code": module.code,
    }


def org_path_result(user_original: int, path: LearningPath, a: PathAssignment) -> dict[str, Any]:
    return {
        "Id": path.id,
        "UserId": a.user_id,
        "OriginalLearningPathId": path.original_id,
        "OriginalUserId": user_original,
        "Active": a.active,
        "Name": path.name,
        "PercentageComplete": a.percentage,
        "Completed": a.complete,
        "CreatedDate": WcfDate(a.created),
        "UpdatedDate": WcfDate(a.updated),
        "CompliantTillDate": None,
        "StartDate": optional_date(a.started),
        "FinishDate": optional_date(a.completed_date),
        "CreatedBy": None,
    }


def org_team(team: Team) -> dict[str, Any]:
    return {
        "Id": team.id,
        "Name": team.name,
        "OriginalTeamId": team.original_id,
        "Active": team.active,
        "CreatedDate": WcfDate(team.created),
        "UpdatedDate": WcfDate(team.updated),
        "CreatedBy": None,
        "UpdatedBy": None,
        "ParentTeamId": team.parent_id,
        "TeamCodeForBulkImport": team_code(team),
    }


def org_team_user(team: Team, user_original: int, m: Membership) -> dict[str, Any]:
    return {
        "TeamId": team.id,
        "Id": m.user_id,
        "OriginalTeamId": team.original_id,
        "OriginalUserId": user_original,
        "Active": m.active,
        "IsTeamLeader": m.leader,
        "IsTeamAdmin": m.admin,
        "CreatedDate": WcfDate(m.created),
        "UpdatedDate": WcfDate(m.updated),
        "CreatedBy": None,
        "UpdatedBy": None,
    }


def org_team_course(team: Team, course: Course, link: TeamLink) -> dict[str, Any]:
    return {
        "TeamId": team.id,
        "Id": course.id,
        "OriginalCourseId": course.original_id,
        "OriginalTeamId": team.original_id,
        "Active": link.active,
        "IsInTeamLibrary": link.library,
        "LearningPathAssignment": False,
        "CreatedDate": WcfDate(link.created),
        "UpdatedDate": WcfDate(link.updated),
        "CreatedBy": None,
        "UpdatedBy": None,
    }


def org_team_path(team: Team, path: LearningPath, link: TeamLink) -> dict[str, Any]:
    return {
        "TeamId": team.id,
        "Id": path.id,
        "OriginalLearningPathId": path.original_id,
        "OriginalTeamId": team.original_id,
        "Active": link.active,
        "CreatedDate": WcfDate(link.created),
        "UpdatedDate": WcfDate(link.updated),
        "CreatedBy": None,
        "UpdatedBy": None,
    }


def org_course(course: Course) -> dict[str, Any]:
    record = course_one(course)
    record["CreatedDate"] = WcfDate(course.created)
    record["UpdatedDate"] = WcfDate(course.updated)
    return record


def org_path(path: LearningPath) -> dict[str, Any]:
    record = path_one(path)
    record["CreatedDate"] = WcfDate(path.created)
    record["UpdatedDate"] = WcfDate(path.updated)
    return record
