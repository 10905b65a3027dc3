"""A registration's instances, launch history, xAPI statements and configuration, and the
learner PII erase (registration_api and learner_api; behaviour in :mod:`.attempts`).

Instances and statements are lists like every other: ``since``/``until`` inclusive and a
``more`` token that carries the original filters (notes A4: "Instances and xAPI statements:
``since``, ``until``, ``more`` only"). A token belongs to the registration it was issued
for.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.scormcloud import attempts, listing, registrations, render
from syncd.sandbox.scormcloud.model import StatementRecord
from syncd.sandbox.scormcloud.web import (
    Call,
    Services,
    bool_param,
    json_response,
    no_content,
    route,
)

_FLAGS = ("includeChildResults", "includeInteractionsAndObjectives", "includeRuntime")

_INSTANCES: listing.ListSpec[attempts.InstanceView] = listing.ListSpec(
    kind="instances",
    datetime_fields={"updated": lambda v: v.updated},
    default_datetime_filter="updated",
    filter_by={"instance": lambda v: [str(v.seq)]},
    default_filter_by="instance",
    order_by={"instance": lambda v: f"{v.seq:012d}"},
    default_order_by="instance_asc",
)

_STATEMENTS: listing.ListSpec[StatementRecord] = listing.ListSpec(
    kind="xapiStatements",
    datetime_fields={"stored": lambda s: s.timestamp},
    default_datetime_filter="stored",
    filter_by={"verb": lambda s: [s.verb]},
    default_filter_by="verb",
    order_by={"stored": lambda s: listing.datetime_key(s.timestamp)},
    default_order_by="stored_asc",
)


def get_registration_instances(call: Call) -> Response:
    """``GET /registrations/{id}/instances``: ``RegistrationListSchema``, oldest first."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    query = listing.read_query(_INSTANCES, call.request.query_params, scope=reg.id)
    page = listing.run(
        _INSTANCES,
        query,
        attempts.instances(reg),
        page_size=call.settings.page_size,
        scope=reg.id,
    )
    flags = {name: listing.flag(query, name) for name in _FLAGS}
    course = call.app.courses.get(reg.course_id)
    body: dict[str, Any] = {
        "registrations": [
            render.registration(
                view.registration,
                course,
                child_results=flags["includeChildResults"],
                interactions=flags["includeInteractionsAndObjectives"],
                runtime=flags["includeRuntime"],
            )
            for view in page.items
        ]
    }
    if page.more:
        body["more"] = page.more
    return json_response(body)


def get_registration_launch_history(call: Call) -> Response:
    """``GET /registrations/{id}/launchHistory``: ``LaunchHistoryListSchema``."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    history_log = bool_param(call, "includeHistoryLog")
    return json_response(
        {"launchHistory": [render.launch(x, history_log=history_log) for x in reg.launches]}
    )


def get_registration_statements(call: Call) -> Response:
    """``GET /registrations/{id}/xAPIStatements``: ``XapiStatementResult``."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    query = listing.read_query(_STATEMENTS, call.request.query_params, scope=reg.id)
    page = listing.run(
        _STATEMENTS, query, reg.statements, page_size=call.settings.page_size, scope=reg.id
    )
    course = call.app.courses.get(reg.course_id)
    body: dict[str, Any] = {"statements": [render.statement(s, reg, course) for s in page.items]}
    if page.more:
        body["more"] = page.more
    return json_response(body)


def get_registration_configuration(call: Call) -> Response:
    """``GET /registrations/{id}/configuration``: ``SettingListSchema``."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    items = attempts.setting_items(reg, metadata=bool_param(call, "includeMetadata"))
    return json_response({"settingItems": items})


def set_registration_configuration(call: Call) -> Response:
    """``POST /registrations/{id}/configuration``: 204."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    attempts.set_settings(reg, call.body)
    return no_content()


def delete_registration_configuration_setting(call: Call) -> Response:
    """``DELETE .../configuration/{settingId}``: 204, also when it was never set here."""
    reg = registrations.find_registration(call.app, call.path("registrationId"))
    reg.settings.pop(call.path("settingId"), None)
    return no_content()


def delete_all_learner_data(call: Call) -> Response:
    """``POST /learner/{id}/delete-information?userEmail=``: 204, erased later."""
    attempts.erase_learner(call.store, call.app, call.path("learnerId"), call.param("userEmail"))
    return no_content()


def routes(services: Services) -> list[Route]:
    read, write = "read:registration", "write:registration"
    reg = "/registrations/{registrationId}"
    table = [
        ("GET", reg + "/instances", get_registration_instances, read),
        ("GET", reg + "/launchHistory", get_registration_launch_history, read),
        ("GET", reg + "/xAPIStatements", get_registration_statements, read),
        ("GET", reg + "/configuration", get_registration_configuration, read),
        ("POST", reg + "/configuration", set_registration_configuration, write),
        (
            "DELETE",
            reg + "/configuration/{settingId}",
            delete_registration_configuration_setting,
            write,
        ),
        (
            "POST",
            "/learner/{learnerId}/delete-information",
            delete_all_learner_data,
            "delete:registration",
        ),
    ]
    return [route(services, method, path, handler, scope) for method, path, handler, scope in table]
