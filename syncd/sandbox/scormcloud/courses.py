"""Courses: seeded through the admin API (importing real packages is out of scope), then read,
tagged, retitled and deleted through ``/courses`` as on the real service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.sandbox.scormcloud import bodies
from syncd.sandbox.scormcloud.model import AppData, Course, Store
from syncd.sandbox.scormcloud.wire import bad_request

LEARNING_STANDARDS = (
    "UNKNOWN",
    "SCORM11",
    "SCORM12",
    "SCORM20042NDEDITION",
    "SCORM20043RDEDITION",
    "SCORM20044THEDITION",
    "AICC",
    "XAPI",
    "CMI5",
    "LTI13",
)
SEED_SCHEMA = "seed course"


@dataclass(frozen=True)
class CourseSeed:
    id: str
    title: str
    version: int
    learning_standard: str
    tags: list[str]


def parse_seed(body: Any) -> list[CourseSeed]:
    """Validate ``{"courses": [{id, title?, version?, courseLearningStandard?, tags?}]}``."""
    data = bodies.as_object(body, SEED_SCHEMA)
    entries = data.get("courses")
    if not isinstance(entries, list):
        raise bad_request("seed: 'courses' must be a list of course objects")
    parsed = []
    for index, entry in enumerate(entries):
        where = f"courses[{index}]"
        item = bodies.as_object(entry, where)
        course_id = bodies.req_str(item, "id", where)
        standard = bodies.opt_str(item, "courseLearningStandard", where) or "SCORM20043RDEDITION"
        if standard not in LEARNING_STANDARDS:
            raise bad_request(
                f"{where}: 'courseLearningStandard' must be one of {', '.join(LEARNING_STANDARDS)}"
            )
        parsed.append(
            CourseSeed(
                id=course_id,
                title=bodies.opt_str(item, "title", where) or course_id,
                version=bodies.opt_int(item, "version", where) or 0,
                learning_standard=standard,
                tags=list(dict.fromkeys(bodies.str_list(item, "tags", where))),
            )
        )
    return parsed


def store_seed(store: Store, app: AppData, parsed: list[CourseSeed]) -> list[Course]:
    """Create or replace the parsed courses; re-seeding an id keeps ``created``."""
    stored = []
    for entry in parsed:
        now = store.stamp()
        old = app.courses.get(entry.id)
        course = Course(
            id=entry.id,
            title=entry.title,
            version=entry.version,
            created=old.created if old else now,
            updated=now,
            seq=old.seq if old else store.next_seq(),
            learning_standard=entry.learning_standard,
            tags=list(entry.tags),
        )
        app.courses[entry.id] = course
        stored.append(course)
    return stored


def seed(store: Store, app: AppData, body: Any) -> list[Course]:
    """Validate every entry, then store them all: a bad seed changes nothing."""
    return store_seed(store, app, parse_seed(body))


def delete(app: AppData, course: Course) -> None:
    """``DELETE /courses/{id}``: the course goes, and with it its registrations."""
    for reg in app.registrations_of_course(course.id):
        del app.registrations[reg.id]
    del app.courses[course.id]


def set_title(store: Store, course: Course, body: Any) -> None:
    """``PUT /courses/{id}/title`` with ``TitleSchema{title}``."""
    data = bodies.as_object(body, "TitleSchema")
    course.title = bodies.req_str(data, "title", "TitleSchema")
    course.updated = store.stamp()
