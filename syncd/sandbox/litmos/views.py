"""The shape of every Litmos object on the wire, member by member, in wire order.

Orders follow recorded real traffic where it exists (user profile, list items, course,
module, team); members added to the API after those recordings (``Brand``, ``ManagerId``,
``ExternalEmployeeId``, ``ParentTeamId`` …) come after them, as ``Brand`` did on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    Token,
    User,
)
from syncd.sandbox.litmos.wire import WcfDate, XmlList, iso_z


@dataclass(frozen=True)
class UserField:
    """One member of the User data contract; ``writable`` members are taken from bodies."""

    name: str
    kind: str = "str"
    writable: bool = True
    default: Any = None
    max_length: int | None = None


USER_FIELDS: tuple[UserField, ...] = (
    UserField("Id", writable=False, max_length=50),
    UserField("UserName", max_length=255),
    UserField("FirstName", max_length=50),
    UserField("LastName", max_length=50),
    UserField("FullName", writable=False),
    UserField("Email", max_length=255),
    UserField("AccessLevel", default="Learner"),
    UserField("DisableMessages", "bool", default=False),
    UserField("Active", "bool", default=True),
    UserField("Skype", max_length=100),
    UserField("PhoneWork", max_length=50),
    UserField("PhoneMobile", max_length=50),
    UserField("LastLogin", writable=False),
    UserField("LoginKey", writable=False),
    UserField("IsCustomUsername", "bool", default=False),
    UserField("Password", writable=False),
    UserField("SkipFirstLogin", "bool", default=False),
    UserField("TimeZone", default="UTC"),
    UserField("SalesforceId"),
    UserField("OriginalId", "int", writable=False),
    UserField("Street1", max_length=100),
    UserField("Street2", max_length=100),
    UserField("City"),
    UserField("State"),
    UserField("PostalCode"),
    UserField("Country"),
    UserField("CompanyName", max_length=100),
    UserField("JobTitle"),
    UserField("CustomField1"),
    UserField("CustomField2"),
    UserField("CustomField3"),
    UserField("Culture", default="en-US"),
    UserField("CustomField4"),
    UserField("CustomField5"),
    UserField("CustomField6"),
    UserField("CustomField7"),
    UserField("CustomField8"),
    UserField("CustomField9"),
    UserField("CustomField10"),
    UserField("SalesforceContactId"),
    UserField("SalesforceAccountId"),
    UserField("CreatedDate", writable=False),
    UserField("Points", "int", writable=False),
    UserField("Brand", default="Default"),
    UserField("ManagerId"),
    UserField("ManagerName", writable=False),
    UserField("EnableTextNotification", "bool", default=False),
    UserField("Website"),
    UserField("Twitter"),
    UserField("ExpirationDate"),
    UserField("JobRole"),
    UserField("ExternalEmployeeId"),
    UserField("ProfileType"),
)
USER_ORDER: tuple[str, ...] = tuple(f.name for f in USER_FIELDS)
# Members a create leaves null when not sent (recorded echo); other strings become "".
NULL_ON_CREATE = frozenset(
    {"SalesforceId", "SalesforceContactId", "SalesforceAccountId", "ManagerId", "Website"}
    | {"Twitter", "ExpirationDate", "JobRole", "ExternalEmployeeId", "ProfileType"}
)


def create_defaults() -> dict[str, Any]:
    """Writable members of a user created through the API, before the body is applied."""
    return {
        f.name: ("" if f.kind == "str" and f.name not in NULL_ON_CREATE else f.default)
        if f.default is None
        else f.default
        for f in USER_FIELDS
        if f.writable
    }


USER_ITEM = ("Id", "UserName", "FirstName", "LastName", "Active", "Email", "AccessLevel", "Brand")


def full_name(user: User) -> str:
    first = user.fields.get("FirstName") or ""
    last = user.fields.get("LastName") or ""
    return f"{first} {last}".strip()


def user_profile(store: Store, user: User) -> dict[str, Any]:
    """``GET /users/{id}``: the full profile; its dates are ISO strings, "" when unset."""
    manager = store.users.get(user.fields.get("ManagerId") or "")
    computed = {
        "Id": user.id,
        "FullName": full_name(user),
        "LastLogin": iso_z(user.last_login),
        "LoginKey": user.login_key,
        "Password": "",
        "OriginalId": user.original_id,
        "CreatedDate": iso_z(user.created),
        "Points": 0,
        "ManagerName": full_name(manager) if manager else None,
    }
    return {
        f.name: computed[f.name] if f.name in computed else user.fields.get(f.name)
        for f in USER_FIELDS
    }


def user_item(user: User) -> dict[str, Any]:
    """A user in a list (``/users``, team members): the short form."""
    record = {"Id": user.id}
    record.update({name: user.fields.get(name) for name in USER_ITEM[1:]})
    return record


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


def team_code(team: Team) -> str:
    return f"{team.original_id}-{''.join(team.name.split())}"


def team_one(team: Team) -> dict[str, Any]:
    """``GET /teams/{id}`` and the 201 of a create."""
    return {
        "Id": team.id,
        "Name": team.name,
        "Description": team.description,
        "ParentTeamId": team.parent_id,
        "TeamCodeForBulkImport": team_code(team),
    }


def team_item(team: Team) -> dict[str, Any]:
    return {
        "Id": team.id,
        "Name": team.name,
        "TeamCodeForBulkImport": team_code(team),
        "ParentTeamId": team.parent_id,
    }


def course_one(course: Course) -> dict[str, Any]:
    return {
        "Id": course.id,
        "Code": course.code,
        "Name": course.name,
        "Active": course.active,
        "ForSale": course.for_sale,
        "OriginalId": course.original_id,
        "Description": course.description,
        "EcommerceShortDescription": "",
        "EcommerceLongDescription": "",
        "CourseCodeForBulkImport": f"{course.original_id}-{course.code}",
        "Price": course.price,
        "AccessTillDate": None,
        "AccessTillDays": None,
    }


def module_item(module: Module) -> dict[str, Any]:
    return {
        "Id": module.id,
        "Code": module.code,
        "Name": module.name,
        "Description": module.description,
    }


def _date(value: Any) -> WcfDate | None:
    return WcfDate(value) if value is not None else None


def course_assignment(course: Course, assignment: Assignment) -> dict[str, Any]:
    """A course in ``GET /users/{id}/courses`` (with its current result)."""
    return {
        "Id": course.id,
        "Code": course.code,
        "Name": course.name,
        "Active": course.active,
        "Complete": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "AssignedDate": WcfDate(assignment.assigned),
        "StartDate": _date(assignment.started),
        "DateCompleted": _date(assignment.completed_date),
        "UpToDate": True,
        "Overdue": _overdue(assignment),
        "CompliantTill": _date(assignment.compliant_till),
        "IsLearningPath": False,
        "CourseCreatedDate": WcfDate(course.created),
        "CourseCreator": None,
        "OriginalId": course.original_id,
        "ResultId": assignment.result_id,
        "AccessTillDate": None,
    }


def path_as_course(path: LearningPath, assignment: PathAssignment) -> dict[str, Any]:
    """A learning path as it appears among a user's courses (``IsLearningPath`` true)."""
    return {
        "Id": path.id,
        "Code": "",
        "Name": path.name,
        "Active": path.active,
        "Complete": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "AssignedDate": WcfDate(assignment.assigned),
        "StartDate": _date(assignment.started),
        "DateCompleted": _date(assignment.completed_date),
        "UpToDate": True,
        "Overdue": False,
        "CompliantTill": None,
        "IsLearningPath": True,
        "CourseCreatedDate": WcfDate(path.created),
        "CourseCreator": None,
        "OriginalId": path.original_id,
        "ResultId": assignment.result_id,
        "AccessTillDate": None,
    }


def _overdue(assignment: Assignment) -> bool:
    return bool(assignment.due and not assignment.complete and assignment.due < assignment.updated)


def course_with_modules(store: Store, course: Course, assignment: Assignment) -> dict[str, Any]:
    """``GET /users/{id}/courses/{courseId}``: the course result and every module result."""
    modules = []
    for module in course.modules:
        result = assignment.modules.get(module.id)
        modules.append(
            {
                "Id": module.id,
                "Code": module.code,
                "Name": module.name,
                "Passmark": module.passmark,
                "Score": result.score if result else None,
                "Completed": bool(result and result.completed),
                "LastUpdated": _date(result.updated if result else None),
                "StartDate": _date(result.started if result else None),
                "DateCompleted": _date(result.finished if result else None),
                "Attempt": result.attempts if result else 0,
                "OriginalId": str(module.original_id),
                "ResultId": str(result.result_id) if result else None,
            }
        )
    return {
        "Id": course.id,
        "Code": course.code,
        "Name": course.name,
        "Active": course.active,
        "Complete": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "AssignedDate": WcfDate(assignment.assigned),
        "StartDate": _date(assignment.started),
        "DateCompleted": _date(assignment.completed_date),
        "UpToDate": True,
        "Overdue": _overdue(assignment),
        "Modules": XmlList("Module", modules),
        "CourseDueDate": _date(assignment.due),
        "OriginalId": course.original_id,
        "ResultId": str(assignment.result_id),
    }


def course_user(user: User, assignment: Assignment) -> dict[str, Any]:
    """A user in ``GET /courses/{id}/users``."""
    return {
        "Id": user.id,
        "UserName": user.fields.get("UserName"),
        "FirstName": user.fields.get("FirstName"),
        "LastName": user.fields.get("LastName"),
        "Completed": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "CompliantTill": _date(assignment.compliant_till),
        "DueDate": _date(assignment.due),
        "AccessTillDate": None,
    }


def path_one(path: LearningPath) -> dict[str, Any]:
    return {
        "Id": path.id,
        "Name": path.name,
        "Description": path.description,
        "Active": path.active,
        "OriginalId": path.original_id,
    }


def path_assignment(path: LearningPath, assignment: PathAssignment) -> dict[str, Any]:
    """A learning path in ``GET /users/{id}/learningpaths``."""
    return {
        "Id": path.id,
        "Name": path.name,
        "Active": path.active,
        "OriginalId": path.original_id,
        "Complete": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "AssignedDate": WcfDate(assignment.assigned),
        "StartDate": _date(assignment.started),
        "DateCompleted": _date(assignment.completed_date),
        "ResultId": assignment.result_id,
        "AccessTillDate": None,
    }


def result_detail(store: Store, user: User, course: Course, a: Assignment) -> dict[str, Any]:
    """A row of ``GET /results/details``: one user's current result in one course."""
    return {
        "Id": user.id,
        "UserOriginalId": user.original_id,
        "UserName": user.fields.get("UserName"),
        "FirstName": user.fields.get("FirstName"),
        "LastName": user.fields.get("LastName"),
        "Active": user.fields.get("Active"),
        "Email": user.fields.get("Email"),
        "AccessLevel": user.fields.get("AccessLevel"),
        "LoginKey": user.login_key,
        "CourseId": course.id,
        "CourseOriginalId": course.original_id,
        "UpdatedDate": WcfDate(a.updated),
        "Code": course.code,
        "CourseName": course.name,
        "Complete": a.complete,
        "PercentageComplete": a.percentage,
        "CompletedDate": _date(a.completed_date),
        "UpToDate": True,
        "Overdue": _overdue(a),
        "CompliantTillDate": _date(a.compliant_till),
    }


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
        "StartedDate": _date(a.started),
        "Completed": a.complete,
        "PercentageComplete": a.percentage,
        "CompletedDate": _date(a.completed_date),
        "UpToDate": True,
        "Overdue": _overdue(a),
        "CompliantTillDate": _date(a.compliant_till),
        "DueDate": _date(a.due),
        "LastAttemptDate": _date(a.updated if a.started else None),
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
        "FinishedDate": _date(result.finished),
        "CreatedDate": WcfDate(result.created),
        "StartedDate": _date(result.started),
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
        "StartDate": _date(a.started),
        "FinishDate": _date(a.completed_date),
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
        "IsInTeamLibrary": link.active,
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


def token(token: Token) -> dict[str, Any]:
    return {
        "TokenId": token.id,
        "TokenCode": token.code,
        "TokenType": token.type,
        "TokenTypeId": token.type_id,
        "Active": token.active,
        "MaximumActivations": token.maximum_activations,
        "TokenExpiration": token.expiration,
    }


def search_text(record: Mapping[str, Any], names: tuple[str, ...]) -> str:
    return " ".join(str(record.get(name) or "") for name in names).lower()
