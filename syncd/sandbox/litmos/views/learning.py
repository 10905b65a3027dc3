"""Courses, modules, learning paths, assignments and results on the wire, in wire order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from syncd.sandbox.litmos.store import (
    Assignment,
    Course,
    LearningPath,
    Module,
    PathAssignment,
    Store,
    User,
)
from syncd.sandbox.litmos.wire import WcfDate, XmlList


def course_one(course: Course, *, library: bool = False) -> dict[str, Any]:
    """A course in a list (``/courses``, a team's or a path's courses).

    The first 13 members and their order are the 2017 recording; ``CourseTeamLibrary`` and
    ``CreatedBy`` follow as the SAP spec and ConductorOne's 2025 XML client list them, and a
    live-API test of Trifoia's SDK asserts ``CourseTeamLibrary`` on every listed course.
    ``library`` is true where the course sits in a team's library (a team's courses).
    """
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
        "CourseTeamLibrary": library,
        "CreatedBy": None,
    }


def course_detail(course: Course) -> dict[str, Any]:
    """``GET /courses/{id}``: the listed members plus ``Tags`` (SAP spec; the live-API test
    of Trifoia's SDK asserts ``Tags`` on a single course, and not on listed ones)."""
    return {**course_one(course), "Tags": None}


def module_item(module: Module) -> dict[str, Any]:
    return {
        "Id": module.id,
        "Code": module.code,
        "Name": module.name,
        "Description": module.description,
    }


def optional_date(value: Any) -> WcfDate | None:
    return WcfDate(value) if value is not None else None


def course_assignment(course: Course, assignment: Assignment) -> dict[str, Any]:
    """A course in ``GET /users/{id}/courses`` (with its current result)."""
    return {
        **_course_result(course, assignment),
        "CompliantTill": optional_date(assignment.compliant_till),
        "IsLearningPath": False,
        "CourseCreatedDate": WcfDate(course.created),
        "CourseCreator": None,
        "OriginalId": course.original_id,
        "ResultId": assignment.result_id,
        "AccessTillDate": None,
    }


def _course_result(course: Course, assignment: Assignment) -> dict[str, Any]:
    """The fields both course answers open with, in the vendor's order."""
    return {
        "Id": course.id,
        "Code": course.code,
        "Name": course.name,
        "Active": course.active,
        "Complete": assignment.complete,
        "PercentageComplete": assignment.percentage,
        "AssignedDate": WcfDate(assignment.assigned),
        "StartDate": optional_date(assignment.started),
        "DateCompleted": optional_date(assignment.completed_date),
        "UpToDate": True,
        "Overdue": overdue(assignment),
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
        "StartDate": optional_date(assignment.started),
        "DateCompleted": optional_date(assignment.completed_date),
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


def overdue(assignment: Assignment) -> bool:
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
                "LastUpdated": optional_date(result.updated if result else None),
                "StartDate": optional_date(result.started if result else None),
                "DateCompleted": optional_date(result.finished if result else None),
                "Attempt": result.attempts if result else 0,
                "OriginalId": str(module.original_id),
                "ResultId": str(result.result_id) if result else None,
            }
        )
    return {
        **_course_result(course, assignment),
        "Modules": XmlList("Module", modules),
        "CourseDueDate": optional_date(assignment.due),
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
        "CompliantTill": optional_date(assignment.compliant_till),
        "DueDate": optional_date(assignment.due),
        "AccessTillDate": None,
    }


def path_one(path: LearningPath, *, library: bool = False) -> dict[str, Any]:
    """A learning path (``/learningpaths``, ``/learningpaths/{id}``, a team's paths).

    Members and order up to ``AccessTillDays`` as recorded in 2019 (Trifoia's SDK test
    asset, XML); ``IsEquivalency`` and ``LearningPathTeamLibrary`` came later (asserted by
    that SDK's test against the live API), so they follow.
    """
    return {
        "Id": path.id,
        "Name": path.name,
        "Description": path.description,
        "Active": path.active,
        "OriginalId": path.original_id,
        "ForSale": False,
        "Price": Decimal("0.00"),
        "EcommerceShortDescription": "",
        "EcommerceLongDescription": "",
        "AccessTillDate": None,
        "AccessTillDays": None,
        "IsEquivalency": False,
        "LearningPathTeamLibrary": library,
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
        "StartDate": optional_date(assignment.started),
        "DateCompleted": optional_date(assignment.completed_date),
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
        "CompletedDate": optional_date(a.completed_date),
        "UpToDate": True,
        "Overdue": overdue(a),
        "CompliantTillDate": optional_date(a.compliant_till),
    }
