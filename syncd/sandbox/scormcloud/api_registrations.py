"""``/registrations`` and ``/learner`` endpoints (registration_api and learner_api)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.core import record_create
from syncd.sandbox.scormcloud import api_history, bodies, listing, registrations, render
from syncd.sandbox.scormcloud.model import AppData, Registration, add_tags, remove_tags
from syncd.sandbox.scormcloud.web import (
    Call,
    Services,
    bool_param,
    json_response,
    no_content,
    route,
)
from syncd.sandbox.scormcloud.wire import bad_request, not_found


def registration_spec(app: AppData) -> listing.ListSpec[Registration]:
    """``GET /registrations``: datetimeFilter defaults to ``created``, orderBy to
    ``created_desc``, filterBy to ``registration_id`` (notes A4)."""

    def title(reg: Registration) -> str | None:
        course = app.courses.get(reg.course_id)
        return course.title if course else None

    return listing.ListSpec(
        kind="registrations",
        datetime_fields={"created": lambda r: r.created, "updated": lambda r: r.updated},
        default_datetime_filter="created",
        filter_by={
            "registration_id": lambda r: [r.id],
            "course_title": lambda r: [title(r)],
            "learner_first_name": lambda r: [r.learner.first_name],
            "learner_last_name": lambda r: [r.learner.last_name],
            "tags": lambda r: r.tags,
        },
        default_filter_by="registration_id",
        order_by={
            "created": lambda r: listing.datetime_key(r.created),
            "updated": lambda r: listing.datetime_key(r.updated),
            "course_title": lambda r: listing.text_key(title(r)),
            "learner_first_name": lambda r: listing.text_key(r.learner.first_name),
            "learner_last_name": lambda r: listing.text_key(r.learner.last_name),
        },
        default_order_by="created_desc",
        tags=lambda r: r.tags,
        exact={"courseId": lambda r: r.course_id, "learnerId": lambda r: r.learner.id},
    )


def _detail(call: Call, reg: Registration, flags: dict[str, bool]) -> dict[str, Any]:
    return render.registration(
        reg,
        call.app.courses.get(reg.course_id),
        child_results=flags["includeChildResults"],
        interactions=flags["includeInteractionsAndObjectives"],
        runtime=flags["includeRuntime"],
    )


_FLAGS = ("includeChildResults", "includeInteractionsAndObjectives", "includeRuntime")


def create_registration(call: Call) -> Response:
    reg = registrations.create(call.store, call.app, call.body, call.param("courseVersion"))
    record_create(call.request, reg.id)
    return no_content()


def get_registrations(call: Call) -> Response:
    spec = registration_spec(call.app)
    query = listing.read_query(spec, call.request.query_params)
    page = listing.run(
        spec, query, list(call.app.registrations.values()), page_size=call.settings.page_size
    )
    flags = {name: listing.flag(query, name) for name in _FLAGS}
    body: dict[str, Any] = {"registrations": [_detail(call, r, flags) for r in page.items]}
    if page.more:
        body["more"] = page.more
    headers = {"X-Total-Count": str(page.total)} if page.total is not None else None
    return json_response(body, headers=headers)


def head_registration(call: Call) -> Response:
    """``HEAD /registrations/{id}``: 200 or 404, never a body."""
    exists = call.path("registrationId") in call.app.registrations
    return Response(status_code=200 if exists else 404)


def get_registration_progress(call: Call) -> Response:
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    flags = {name: bool_param(call, name) for name in _FLAGS}
    return json_response(_detail(call, reg, flags))


def delete_registration(call: Call) -> Response:
    registrations.delete(call.app, call.path("registrationId"))
    return no_content()


def delete_registration_progress(call: Call) -> Response:
    registrations.reset_progress(call.store, call.app, call.path("registrationId"))
    return no_content()


def create_new_registration_instance(call: Call) -> Response:
    registrations.new_instance(call.store, call.app, call.path("registrationId"))
    return no_content()


def build_registration_launch_link(call: Call) -> Response:
    """``POST /registrations/{id}/launchLink``: ``redirectOnExitUrl`` required, ``expiry``
    10-300 seconds."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    data = bodies.as_object(call.body, "LaunchLinkRequestSchema")
    bodies.req_str(data, "redirectOnExitUrl", "LaunchLinkRequestSchema")
    expiry = bodies.opt_int(data, "expiry", "LaunchLinkRequestSchema")
    if expiry is not None and not 10 <= expiry <= 300:
        raise bad_request("LaunchLinkRequestSchema: 'expiry' must be between 10 and 300")
    link = f"{call.link_base}/api/cloud/registration/launch/{reg.id}/{secrets.token_urlsafe(12)}"
    return json_response({"launchLink": link})


def get_registration_tags(call: Call) -> Response:
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    return json_response({"tags": list(reg.tags)})


def put_registration_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    add_tags(reg.tags, tags)
    return no_content()


def delete_registration_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    remove_tags(reg.tags, tags)
    return no_content()


def put_registration_tags_batch(call: Call) -> Response:
    ids, tags = bodies.batch_tags(call.body)
    targets = [registrations.find_registration(call.app, rid) for rid in ids]
    for reg in targets:
        add_tags(reg.tags, tags)
    return no_content()


def update_learner_info(call: Call) -> Response:
    registrations.update_learner(
        call.store,
        call.app,
        call.path("learnerId"),
        call.body,
        touch_updated=call.settings.learner_update_touches_updated,
    )
    return no_content()


def _known_learner(call: Call, learner_id: str) -> None:
    if learner_id not in call.app.learner_tags and not call.app.registrations_of_learner(
        learner_id
    ):
        raise not_found(f"Could not find learner [{learner_id}]")


def get_learner_tags(call: Call) -> Response:
    learner_id = call.path("learnerId")
    _known_learner(call, learner_id)
    return json_response({"tags": list(call.app.learner_tags.get(learner_id, []))})


def put_learner_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    add_tags(call.app.learner_tags.setdefault(call.path("learnerId"), []), tags)
    return no_content()


def delete_learner_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    learner_id = call.path("learnerId")
    _known_learner(call, learner_id)
    remove_tags(call.app.learner_tags.setdefault(learner_id, []), tags)
    return no_content()


def put_learner_tags_batch(call: Call) -> Response:
    ids, tags = bodies.batch_tags(call.body)
    for learner_id in ids:
        add_tags(call.app.learner_tags.setdefault(learner_id, []), tags)
    return no_content()


def routes(services: Services) -> list[Route]:
    """Order matters: fixed paths (``/registrations/tags``) before ``{registrationId}``, and
    HEAD before GET because a Starlette GET route also answers HEAD."""
    read, write, delete = "read:registration", "write:registration", "delete:registration"
    reg = "/registrations/{registrationId}"
    table = [
        ("POST", "/registrations", create_registration, write),
        ("GET", "/registrations", get_registrations, read),
        ("PUT", "/registrations/tags", put_registration_tags_batch, write),
        ("HEAD", reg, head_registration, read),
        ("GET", reg, get_registration_progress, read),
        ("DELETE", reg, delete_registration, delete),
        ("DELETE", reg + "/progress", delete_registration_progress, delete),
        ("POST", reg + "/instances", create_new_registration_instance, write),
        ("POST", reg + "/launchLink", build_registration_launch_link, read),
        ("GET", reg + "/tags", get_registration_tags, read),
        ("PUT", reg + "/tags", put_registration_tags, write),
        ("DELETE", reg + "/tags", delete_registration_tags, write),
        ("PUT", "/learner/tags", put_learner_tags_batch, write),
        ("POST", "/learner/{learnerId}/updateInfo", update_learner_info, write),
        ("GET", "/learner/{learnerId}/tags", get_learner_tags, read),
        ("PUT", "/learner/{learnerId}/tags", put_learner_tags, write),
        ("DELETE", "/learner/{learnerId}/tags", delete_learner_tags, write),
    ]
    own = [route(services, method, path, handler, scope) for method, path, handler, scope in table]
    return [*own, *api_history.routes(services)]
