"""``/courses`` endpoints the simulator supports (course_api): read, tag, retitle, delete.

Course import (uploading a package) is not simulated; courses come from the admin seed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.scormcloud import bodies, courses, listing, render
from syncd.sandbox.scormcloud.model import AppData, Course, add_tags, remove_tags
from syncd.sandbox.scormcloud.registrations import find_course
from syncd.sandbox.scormcloud.web import (
    Call,
    Services,
    bool_param,
    json_response,
    no_content,
    route,
)

COURSE_SPEC: listing.ListSpec[Course] = listing.ListSpec(
    kind="courses",
    datetime_fields={"created": lambda c: c.created, "updated": lambda c: c.updated},
    default_datetime_filter="updated",
    filter_by={
        "course_id": lambda c: [c.id],
        "title": lambda c: [c.title],
        "tags": lambda c: c.tags,
    },
    default_filter_by="course_id",
    order_by={
        "created": lambda c: listing.datetime_key(c.created),
        "updated": lambda c: listing.datetime_key(c.updated),
        "title": lambda c: listing.text_key(c.title),
    },
    default_order_by="created_desc",
    tags=lambda c: c.tags,
)


def _course(app: AppData, course: Course, *, count: bool, metadata: bool) -> dict[str, Any]:
    data = render.course(
        course,
        registration_count=len(app.registrations_of_course(course.id)) if count else None,
    )
    if metadata:
        data["metadata"] = render.course_metadata(course)
    return data


def get_courses(call: Call) -> Response:
    query = listing.read_query(COURSE_SPEC, call.request.query_params)
    page = listing.run(
        COURSE_SPEC, query, list(call.app.courses.values()), page_size=call.settings.page_size
    )
    count = listing.flag(query, "includeRegistrationCount")
    metadata = listing.flag(query, "includeCourseMetadata")
    body: dict[str, Any] = {
        "courses": [_course(call.app, c, count=count, metadata=metadata) for c in page.items]
    }
    if page.more:
        body["more"] = page.more
    headers = {"X-Total-Count": str(page.total)} if page.total is not None else None
    return json_response(body, headers=headers)


def get_course(call: Call) -> Response:
    course = find_course(call.app, call.path("courseId"))
    return json_response(
        _course(
            call.app,
            course,
            count=bool_param(call, "includeRegistrationCount"),
            metadata=bool_param(call, "includeCourseMetadata"),
        )
    )


def delete_course(call: Call) -> Response:
    courses.delete(call.app, find_course(call.app, call.path("courseId")))
    return no_content()


def set_course_title(call: Call) -> Response:
    courses.set_title(call.store, find_course(call.app, call.path("courseId")), call.body)
    return no_content()


def get_course_tags(call: Call) -> Response:
    return json_response({"tags": list(find_course(call.app, call.path("courseId")).tags)})


def put_course_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    add_tags(find_course(call.app, call.path("courseId")).tags, tags)
    return no_content()


def delete_course_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    remove_tags(find_course(call.app, call.path("courseId")).tags, tags)
    return no_content()


def put_course_tags_batch(call: Call) -> Response:
    ids, tags = bodies.batch_tags(call.body)
    targets = [find_course(call.app, course_id) for course_id in ids]
    for course in targets:
        add_tags(course.tags, tags)
    return no_content()


def routes(services: Services) -> list[Route]:
    read, write, delete = "read:course", "write:course", "delete:course"
    one = "/courses/{courseId}"
    table = [
        ("GET", "/courses", get_courses, read),
        ("PUT", "/courses/tags", put_course_tags_batch, write),
        ("GET", one, get_course, read),
        ("DELETE", one, delete_course, delete),
        ("PUT", one + "/title", set_course_title, write),
        ("GET", one + "/tags", get_course_tags, read),
        ("PUT", one + "/tags", put_course_tags, write),
        ("DELETE", one + "/tags", delete_course_tags, write),
    ]
    return [route(services, method, path, handler, scope) for method, path, handler, scope in table]
