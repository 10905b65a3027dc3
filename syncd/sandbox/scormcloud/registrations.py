"""Registration and learner operations, with the refusals the real service gives.

Registrations are create-only with a caller-chosen id. Recorded live behaviour (notes A3):
a duplicate id is a 400 whose message starts ``Registration with id [<id>] already exists``;
an unknown course is a 404 ``Could not find course [<courseId>]``; an unknown registration
is a 404 ``Could not find registration [<id>]``. Learner info updates are asynchronous and
fan out to every registration of the learner (notes A3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from syncd.sandbox.scormcloud import attempts, bodies
from syncd.sandbox.scormcloud.model import (
    AppData,
    Course,
    Learner,
    Registration,
    Store,
    add_tags,
)
from syncd.sandbox.scormcloud.wire import bad_request, not_found

SCHEMA = "CreateRegistrationSchema"


def find_course(app: AppData, course_id: str) -> Course:
    course = app.courses.get(course_id)
    if course is None:
        raise not_found(f"Could not find course [{course_id}]")
    return course


def find_registration(app: AppData, registration_id: str) -> Registration:
    reg = app.registrations.get(registration_id)
    if reg is None:
        raise not_found(f"Could not find registration [{registration_id}]")
    return reg


def parse_learner(body: Any, schema: str) -> Learner:
    """``LearnerSchema``: ``id`` required, the rest optional."""
    data = bodies.as_object(body, schema)
    return Learner(
        id=bodies.req_str(data, "id", schema),
        email=bodies.opt_str(data, "email", schema),
        first_name=bodies.opt_str(data, "firstName", schema),
        last_name=bodies.opt_str(data, "lastName", schema),
    )


@dataclass(frozen=True)
class NewRegistration:
    """A validated ``CreateRegistrationSchema``, not yet checked against stored data."""

    registration_id: str
    course_id: str
    learner: Learner
    xapi_id: str | None
    tags: list[str]
    learner_tags: list[str]
    course_tags: list[str]
    post_back: dict[str, object] | None


def parse_create(body: Any) -> NewRegistration:
    """Validate a create body on its own (required fields, types, enums)."""
    data = bodies.as_object(body, SCHEMA)
    course_id = bodies.req_str(data, "courseId", SCHEMA)
    registration_id = bodies.req_str(data, "registrationId", SCHEMA)
    if data.get("learner") is None:
        raise bad_request(f"{SCHEMA}: 'learner' is required")
    learner = parse_learner(data["learner"], f"{SCHEMA}.learner")
    xapi_id = bodies.opt_str(data, "xapiRegistrationId", SCHEMA)
    if xapi_id is not None:
        try:
            xapi_id = str(uuid.UUID(xapi_id))
        except ValueError:
            raise bad_request(f"{SCHEMA}: 'xapiRegistrationId' must be a UUID") from None
    return NewRegistration(
        registration_id=registration_id,
        course_id=course_id,
        learner=learner,
        xapi_id=xapi_id,
        tags=bodies.str_list(data, "registrationTags", SCHEMA),
        learner_tags=bodies.str_list(data, "learnerTags", SCHEMA),
        course_tags=bodies.str_list(data, "courseTags", SCHEMA),
        post_back=bodies.post_back(data, "postBack", SCHEMA),
    )


def create(store: Store, app: AppData, body: Any, course_version: str | None) -> Registration:
    """``POST /registrations``: validate everything first, so nothing is half-written."""
    new = parse_create(body)
    course = find_course(app, new.course_id)
    version = _version(course, course_version)
    if new.registration_id in app.registrations:
        raise bad_request(f"Registration with id [{new.registration_id}] already exists")
    return insert(
        store,
        app,
        registration_id=new.registration_id,
        course=course,
        version=version,
        learner=new.learner,
        xapi_id=new.xapi_id,
        tags=new.tags,
        learner_tags=new.learner_tags,
        course_tags=new.course_tags,
        post_back=new.post_back,
    )


def insert(
    store: Store,
    app: AppData,
    *,
    registration_id: str,
    course: Course,
    learner: Learner,
    version: int | None = None,
    xapi_id: str | None = None,
    tags: list[str] | None = None,
    learner_tags: list[str] | None = None,
    course_tags: list[str] | None = None,
    post_back: dict[str, object] | None = None,
) -> Registration:
    """Store a new registration (callers have checked the id is free)."""
    now = store.stamp()
    reg = Registration(
        id=registration_id,
        course_id=course.id,
        course_version=course.version if version is None else version,
        learner=learner,
        xapi_registration_id=xapi_id or str(uuid.uuid4()),
        created=now,
        updated=now,
        seq=store.next_seq(),
        post_back=post_back,
    )
    add_tags(reg.tags, tags or [])
    if learner_tags:
        add_tags(app.learner_tags.setdefault(learner.id, []), learner_tags)
    if course_tags:
        add_tags(course.tags, course_tags)
    app.registrations[reg.id] = reg
    return reg


def _version(course: Course, requested: str | None) -> int:
    if requested is None or requested == "":
        return course.version
    try:
        version = int(requested)
    except ValueError:
        raise bad_request(f"Invalid value for 'courseVersion': '{requested}'") from None
    if not 0 <= version <= course.version:
        raise not_found(f"Could not find course [{course.id}] version [{version}]")
    return version


def delete(app: AppData, registration_id: str) -> None:
    """``DELETE /registrations/{id}`` (a second call is a 404)."""
    find_registration(app, registration_id)
    del app.registrations[registration_id]


def reset_progress(store: Store, app: AppData, registration_id: str) -> None:
    """``DELETE /registrations/{id}/progress``: keep the registration, wipe its results."""
    reg = find_registration(app, registration_id)
    reg.reset_progress()
    reg.course_version = app.courses[reg.course_id].version
    reg.updated = store.stamp()


def new_instance(store: Store, app: AppData, registration_id: str) -> None:
    """``POST /registrations/{id}/instances``: a fresh attempt with the latest version."""
    reg = find_registration(app, registration_id)
    attempts.archive_instance(reg)
    reg.instance += 1
    reg.reset_progress()
    reg.course_version = app.courses[reg.course_id].version
    reg.updated = store.stamp()


def update_learner(
    store: Store, app: AppData, learner_id: str, body: Any, *, touch_updated: bool
) -> int:
    """``POST /learner/{id}/updateInfo``: accept now, apply to every registration later.

    Fields present in the body overwrite (an empty string blanks the value, as the
    reference warns); absent fields stay. The declared error is 404 only: a learner no
    registration knows. Returns how many registrations the background job will touch.
    """
    data = bodies.as_object(body, "LearnerSchema")
    names = (("email", "email"), ("firstName", "first_name"), ("lastName", "last_name"))
    fields = {
        attr: bodies.opt_str(data, key, "LearnerSchema") for key, attr in names if key in data
    }
    targets = app.registrations_of_learner(learner_id)
    if not targets:
        raise not_found(f"Could not find learner [{learner_id}]")

    def apply() -> None:
        for reg in app.registrations_of_learner(learner_id):
            for attr, value in fields.items():
                setattr(reg.learner, attr, value)
            if touch_updated:
                reg.updated = store.stamp()

    store.defer(apply)
    return len(targets)
