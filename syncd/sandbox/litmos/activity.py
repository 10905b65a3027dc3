"""Learner activity, driven from the admin API so result pulls find something real.

``POST /_sandbox/activity`` makes a learner start, progress in or complete a course (or log
in) at a given time; every timestamp it touches is that time, so a test can place results
inside or outside a date-range window. Body (JSON)::

    {"user": "<id or username>", "course": "<id or code>",
     "action": "start" | "progress" | "complete" | "login",
     "percentage": 50, "module": "<id, code or name>", "score": 90,
     "at": "2024-03-02T10:00:00Z"}

``progress`` completes the named module, or the first modules up to ``percentage``; a
course the user is not assigned is assigned first. ``login`` needs only ``user``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from syncd.sandbox.litmos.store import Assignment, Course, ModuleResult, Store, User
from syncd.sandbox.litmos.wire import to_datetime

ACTIONS = ("start", "progress", "complete", "login")


def _find_user(store: Store, key: Any) -> User:
    user = store.find_user(str(key or ""))
    if user is None:
        raise ValueError(f"activity: no user with id or username {key!r}")
    return user


def _find_course(store: Store, key: Any) -> Course:
    text = str(key or "")
    course = store.courses.get(text) or next(
        (c for c in store.courses.values() if c.code == text), None
    )
    if course is None:
        raise ValueError(f"activity: no course with id or code {key!r}")
    return course


def _module_id(course: Course, key: Any) -> str:
    text = str(key)
    for module in course.modules:
        if text in {module.id, module.code, module.name}:
            return module.id
    raise ValueError(f"activity: course {course.code} has no module {key!r}")


def _complete_module(
    store: Store, assignment: Assignment, module_id: str, at: datetime, score: int | None
) -> None:
    result = assignment.modules.get(module_id)
    if result is None:
        result = ModuleResult(module_id, store.new_result_id(), at, at, started=at)
        assignment.modules[module_id] = result
    result.attempts += 1
    result.completed = True
    result.score = score if score is not None else result.score
    result.finished = at
    result.updated = at


def apply(store: Store, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one activity; ValueError says what is wrong with the request."""
    action = data.get("action")
    if action not in ACTIONS:
        raise ValueError(f"activity: action must be one of {', '.join(ACTIONS)}")
    user = _find_user(store, data.get("user"))
    try:
        at = to_datetime(data.get("at"), is_json=False) if data.get("at") else store.clock()
    except Exception:
        raise ValueError("activity: 'at' must be an ISO date-time") from None
    assert at is not None
    if action == "login":
        user.last_login = at
        user.updated = at
        return {"user_id": user.id, "last_login": at.isoformat()}
    course = _find_course(store, data.get("course"))
    score = data.get("score")
    if score is not None and (not isinstance(score, int) or not 0 <= score <= 100):
        raise ValueError("activity: 'score' must be an integer from 0 to 100")
    percentage = data.get("percentage")
    if percentage is not None and (
        not isinstance(percentage, int | float) or not 0 <= percentage <= 100
    ):
        raise ValueError("activity: 'percentage' must be a number from 0 to 100")
    assignment = store.assignment(user.id, course.id) or store.assign_course(user, course)
    assignment.started = assignment.started or at
    if action == "complete":
        for module in course.modules:
            if not (module.id in assignment.modules and assignment.modules[module.id].completed):
                _complete_module(store, assignment, module.id, at, score)
        assignment.complete = True
        assignment.percentage = Decimal("100.00")
        assignment.completed_date = at
    elif action == "progress":
        if data.get("module") is not None:
            _complete_module(store, assignment, _module_id(course, data["module"]), at, score)
            done = sum(1 for r in assignment.modules.values() if r.completed)
            share = Decimal(done * 100) / Decimal(max(len(course.modules), 1))
        else:
            share = Decimal(str(percentage if percentage is not None else 50))
            wanted = int(share * len(course.modules) / 100)
            for module in course.modules[:wanted]:
                _complete_module(store, assignment, module.id, at, score)
        assignment.percentage = min(share, Decimal(100)).quantize(Decimal("0.01"))
        assignment.complete = bool(course.modules) and all(
            m.id in assignment.modules and assignment.modules[m.id].completed
            for m in course.modules
        )
        assignment.completed_date = at if assignment.complete else None
    assignment.updated = at
    store.refresh_path_progress(user.id, at)
    return {
        "user_id": user.id,
        "course_id": course.id,
        "complete": assignment.complete,
        "percentage": float(assignment.percentage),
        "started": assignment.started.isoformat() if assignment.started else None,
        "completed": (assignment.completed_date.isoformat() if assignment.completed_date else None),
    }
