"""Courses, modules, learning paths, and what users are assigned and have achieved."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Any

from starlette.responses import Response

from syncd.sandbox.litmos import views
from syncd.sandbox.litmos.endpoint import MSG_LIMIT, Build, Call, page, paging, walked
from syncd.sandbox.litmos.store import Assignment, Course, LearningPath, ModuleResult, Store
from syncd.sandbox.litmos.users import user_or_404
from syncd.sandbox.litmos.wire import (
    BAD_BODY,
    LitmosError,
    XmlList,
    as_list,
    as_object,
    empty,
    query_datetime,
    read_body,
    render_list,
    render_one,
    to_bool,
    to_datetime,
    to_int,
    to_str,
)

COURSE_SEARCH = ("Name", "Code")
MODULE_RESULT_ORDER = ("CourseId", "UserId", "Score", "Completed", "UpdatedAt", "Note")
SINCE_RESULTS_406 = (
    "Please provide a valid 'since=' query string parameter. Valid formats are "
    "'yyyy-MM-dd HH:mm:ss' or 'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd'"
)


def course_or_404(store: Store, course_id: str) -> Course:
    course = store.courses.get(course_id)
    if course is None:
        raise LitmosError(404, f"The course {course_id} does not exist.")
    return course


def path_or_404(store: Store, path_id: str) -> LearningPath:
    path = store.paths.get(path_id)
    if path is None:
        raise LitmosError(404, f"The learning path {path_id} does not exist.")
    return path


async def list_courses(call: Call) -> Response:
    records = [views.course_one(c) for c in call.store.courses.values()]
    records = page(records, paging(call), COURSE_SEARCH)
    return render_list(call.request, "Courses", "Course", records)


async def get_course(call: Call) -> Response:
    """``GET /courses/{id}`` (and ``/details``): the course with its ``Tags``."""
    course = course_or_404(call.store, call.path("course_id"))
    return render_one(call.request, "Course", views.course_detail(course))


async def course_users(call: Call) -> Response:
    """``GET /courses/{id}/users``: currently assigned users and their results."""
    course = course_or_404(call.store, call.path("course_id"))
    store = call.store
    records = [
        views.course_user(store.users[a.user_id], a)
        for (uid, cid), a in store.assignments.items()
        if cid == course.id and a.active and uid in store.users
    ]
    records = page(records, paging(call), ("FirstName", "LastName", "UserName"))
    return render_list(call.request, "Users", "User", records)


async def course_modules(call: Call) -> Response:
    course = course_or_404(call.store, call.path("course_id"))
    records = page([views.module_item(m) for m in course.modules], paging(call), COURSE_SEARCH)
    return render_list(call.request, "Modules", "Module", records)


def _user_course_records(store: Store, user_id: str) -> list[dict[str, Any]]:
    records = [
        views.course_assignment(store.courses[a.course_id], a)
        for a in store.user_assignments(user_id)
    ]
    records += [
        views.path_as_course(store.paths[pid], pa)
        for (uid, pid), pa in store.path_assignments.items()
        if uid == user_id and pa.active and pid in store.paths
    ]
    return records


async def user_courses(call: Call) -> Response:
    """``GET /users/{id}/courses``: assignments with their status (paths flagged)."""
    user = user_or_404(call.store, call.path("user_id"))
    records = page(_user_course_records(call.store, user.id), paging(call), COURSE_SEARCH)
    return render_list(call.request, "Courses", "Course", records)


async def users_courses(call: Call) -> Response:
    """``POST /users/courses``: the assignments of up to 25 users in one call."""
    entries = as_list(await read_body(call.request, root="Users", item="User", order=("Id",)))
    if not entries or len(entries) > 25:
        raise LitmosError(400, "Please provide a list of no more than 25 users.")
    found = []
    for entry in entries:
        user = call.store.users.get(str(entry.get("Id") or ""))
        if user is None:
            continue
        courses = []
        for record in _user_course_records(call.store, user.id):
            courses.append({**record, "UserId": user.id})
        found.append({"Id": user.id, "Courses": XmlList("Course", courses)})
    return render_list(call.request, "Users", "User", found)


async def assign_user_courses(call: Call) -> Response:
    """``POST /users/{id}/courses``: a list of course ids; unknown or assigned ones ignored."""
    user = user_or_404(call.store, call.path("user_id"))
    body = await read_body(call.request, root="Courses", item="Course", order=())
    for entry in as_list(body):
        course = call.store.courses.get(str(entry.get("Id") or ""))
        if course is not None:
            call.store.assign_course(user, course)
    return empty(201)


def _assignment_or_404(store: Store, user_id: str, course_id: str) -> Assignment:
    user_or_404(store, user_id)
    assignment = store.assignment(user_id, course_id)
    if assignment is None:
        raise LitmosError(404, "Not Found. The record you requested does not exist.")
    return assignment


async def user_course(call: Call) -> Response:
    """``GET /users/{id}/courses/{courseId}``: the course result with module results."""
    course = course_or_404(call.store, call.path("course_id"))
    assignment = _assignment_or_404(call.store, call.path("user_id"), course.id)
    record = views.course_with_modules(call.store, course, assignment)
    return render_list(call.request, "Courses", "Course", [record])


async def remove_user_course(call: Call) -> Response:
    """``DELETE /users/{id}/courses/{courseId}``: 406 when a learning path holds it."""
    assignment = _assignment_or_404(call.store, call.path("user_id"), call.path("course_id"))
    if assignment.via_learning_path and call.store.path_assignment(
        assignment.user_id, assignment.via_learning_path
    ):
        raise LitmosError(406, "The course is part of a learning path and cannot be removed.")
    call.store.unassign_course(assignment)
    return empty(200)


async def reset_user_course(call: Call) -> Response:
    """``PUT /users/{id}/courses/{courseId}/reset``: back to incomplete, 0 %."""
    assignment = _assignment_or_404(call.store, call.path("user_id"), call.path("course_id"))
    assignment.complete = False
    assignment.percentage = Decimal("0.00")
    assignment.completed_date = None
    assignment.compliant_till = None
    assignment.modules.clear()
    assignment.updated = call.store.clock()
    call.store.refresh_path_progress(assignment.user_id)
    return empty(200)


async def user_paths(call: Call) -> Response:
    user = user_or_404(call.store, call.path("user_id"))
    store = call.store
    records = [
        views.path_assignment(store.paths[pid], pa)
        for (uid, pid), pa in store.path_assignments.items()
        if uid == user.id and pa.active and pid in store.paths
    ]
    records = page(records, paging(call), ("Name",))
    return render_list(call.request, "LearningPaths", "LearningPath", records)


async def assign_user_paths(call: Call) -> Response:
    """``POST /users/{id}/learningpaths``: 201; the paths' courses come along."""
    user = user_or_404(call.store, call.path("user_id"))
    body = await read_body(call.request, root="LearningPaths", item="LearningPath", order=())
    for entry in as_list(body):
        path = call.store.paths.get(str(entry.get("Id") or ""))
        if path is not None:
            call.store.assign_path(user, path)
    return empty(201)


async def remove_user_path(call: Call) -> Response:
    """``DELETE /users/{id}/learningpaths/{pathId}``: answers 201, as documented."""
    user = user_or_404(call.store, call.path("user_id"))
    assignment = call.store.path_assignment(user.id, call.path("path_id"))
    if assignment is None:
        raise LitmosError(404, "Not Found. The record you requested does not exist.")
    call.store.unassign_path(assignment)
    return empty(201)


async def list_paths(call: Call) -> Response:
    records = page([views.path_one(p) for p in call.store.paths.values()], paging(call), ("Name",))
    return render_list(call.request, "LearningPaths", "LearningPath", records)


async def get_path(call: Call) -> Response:
    path = path_or_404(call.store, call.path("path_id"))
    return render_one(call.request, "LearningPath", views.path_one(path))


async def path_courses(call: Call) -> Response:
    path = path_or_404(call.store, call.path("path_id"))
    courses = [call.store.courses[c] for c in path.course_ids if c in call.store.courses]
    records = page([views.course_one(c) for c in courses], paging(call), COURSE_SEARCH)
    return render_list(call.request, "Courses", "Course", records)


async def path_users(call: Call) -> Response:
    path = path_or_404(call.store, call.path("path_id"))
    store = call.store
    users = [
        store.users[uid]
        for (uid, pid), pa in store.path_assignments.items()
        if pid == path.id and pa.active and uid in store.users
    ]
    records = page([views.user_item(u) for u in users], paging(call), ("UserName",))
    return render_list(call.request, "Users", "User", records)


async def module_result(call: Call) -> Response:
    """``PUT /results/modules/{moduleId}``: record a module result; 200 with no body.

    JSON dates must be ``/Date(ms)/``: an ISO string makes WCF answer a 500 page.
    """
    store = call.store
    body = await read_body(call.request, root="*", order=MODULE_RESULT_ORDER)
    data = as_object(body)
    updated_at = to_datetime(data.get("UpdatedAt"), is_json=body.is_json)
    module = store.modules.get(call.path("module_id"))
    course_id = to_str(data.get("CourseId"), field="CourseId") or ""
    user_id = to_str(data.get("UserId"), field="UserId") or ""
    if module is None or module.course_id != course_id:
        raise LitmosError(404, "Not Found. The record you requested does not exist.")
    assignment = _assignment_or_404(store, user_id, course_id)
    score = to_int(data.get("Score"))
    completed = to_bool(data.get("Completed"))
    if score is not None and not 0 <= score <= 100:
        raise LitmosError(400, BAD_BODY)
    apply_module_result(
        store,
        assignment,
        module.id,
        score=score,
        completed=bool(completed),
        at=updated_at or store.clock(),
        note=to_str(data.get("Note"), field="Note") or "",
    )
    return empty(200)


def apply_module_result(
    store: Store,
    assignment: Assignment,
    module_id: str,
    *,
    score: int | None,
    completed: bool,
    at: Any,
    note: str = "",
) -> None:
    """Record one module attempt and recompute the course result from its modules."""
    now = store.clock()
    result = assignment.modules.get(module_id)
    if result is None:
        result = ModuleResult(module_id, store.new_result_id(), now, now, started=at)
        assignment.modules[module_id] = result
    result.attempts += 1
    result.score = score if score is not None else result.score
    result.completed = completed
    result.finished = at if completed else None
    result.note = note
    result.updated = now
    course = store.courses[assignment.course_id]
    done = sum(1 for r in assignment.modules.values() if r.completed)
    total = max(len(course.modules), 1)
    assignment.percentage = (Decimal(done * 100) / Decimal(total)).quantize(Decimal("0.01"))
    assignment.started = assignment.started or at
    assignment.complete = done >= len(course.modules) > 0
    assignment.completed_date = at if assignment.complete else None
    assignment.updated = now
    store.refresh_path_progress(assignment.user_id)


async def results_details(call: Call) -> Response:
    """``GET /results/details?since=``: current results changed since a date (no 7-day cap)."""
    options = paging(call)
    since_text, to_text = call.query("since"), call.query("to")
    since, to = query_datetime(since_text), query_datetime(to_text)
    if since is None or (to_text and to is None):
        raise LitmosError(406, SINCE_RESULTS_406)
    if options.limit > 1000:
        raise LitmosError(406, MSG_LIMIT)
    store = call.store

    def candidates() -> Iterator[Build]:
        for (uid, cid), a in store.assignments.items():
            if (
                a.active
                and uid in store.users
                and cid in store.courses
                and a.updated >= since
                and (to is None or a.updated < to)
            ):
                yield partial(views.result_detail, store, store.users[uid], store.courses[cid], a)

    records = walked(call, options, candidates, ("UserName", "FirstName", "LastName", "CourseName"))
    return render_list(call.request, "Users", "User", records)
