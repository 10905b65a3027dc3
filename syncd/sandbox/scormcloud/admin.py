"""SCORM Cloud admin endpoints under ``/_sandbox`` (not part of the vendor API).

They make the world a sync daemon reads: courses exist, learners start, progress and complete
them (so result pulls find real data), people follow public invitation links, and background
work (learner info updates, invitation send jobs) can be finished on demand instead of
waiting. Every body may name ``appId``; without it the first configured application is meant.

    POST /_sandbox/courses                                 {"courses": [{id, title, ...}]}
    POST /_sandbox/registrations/{registrationId}/activity {"action": "start"|"progress"|
         "complete", "seconds": 30, "completionAmount": 0.5, "score": 87.5,
         "success": "PASSED"|"FAILED"|"UNKNOWN", "at": "2030-03-04T05:06:07Z"}
    POST /_sandbox/invitations/public/{invitationId}/visit {"email", "firstName", "lastName"}
    POST /_sandbox/flush                                   run pending background work now
    GET|POST /_sandbox/settings                            {"page_size", "async_delay",
         "token_seconds", "learner_update_touches_updated"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.sandbox.scormcloud import (
    attempts,
    bodies,
    courses,
    invitations,
    registrations,
    render,
)
from syncd.sandbox.scormcloud.model import AppData, Registration, Store
from syncd.sandbox.scormcloud.web import Services
from syncd.sandbox.scormcloud.wire import ApiError, bad_request, parse_datetime, truncate_ms

ACTIONS = ("start", "progress", "complete")
SUCCESS = ("UNKNOWN", "PASSED", "FAILED")

AdminHandler = Callable[[Services, AppData, Request, dict[str, Any]], Any]


def apply_activity(store: Store, app: AppData, reg: Registration, body: Any) -> None:
    """Move a registration the way a learner's session would; validated before any change.

    ``at`` (optional, ISO-8601) is when the session happened, for activity spread over
    simulated weeks; without it, now on the simulator's clock.
    """
    schema = "activity"
    data = bodies.as_object(body, schema)
    action = bodies.req_str(data, "action", schema)
    if action not in ACTIONS:
        raise bad_request(f"activity: 'action' must be one of {', '.join(ACTIONS)}")
    seconds = _number(data, "seconds", 0.0, None) or 0.0
    amount = _number(data, "completionAmount", 0.0, 1.0)
    score = _number(data, "score", 0.0, 100.0)
    success = bodies.opt_str(data, "success", schema)
    if success is not None and success not in SUCCESS:
        raise bad_request(f"activity: 'success' must be one of {', '.join(SUCCESS)}")
    at = bodies.opt_str(data, "at", schema)
    now = truncate_ms(parse_datetime(at, field="at")) if at else store.stamp()
    if reg.first_access is None:
        reg.first_access = now
    reg.last_access = now
    reg.total_seconds += seconds
    if action == "complete":
        reg.completion = "COMPLETED"
        reg.completion_amount = 1.0
        reg.completed_date = now
    elif reg.completion != "COMPLETED":
        reg.completion = "INCOMPLETE"
        if amount is not None:
            reg.completion_amount = amount
    if score is not None:
        reg.score = score
    if success is not None:
        reg.success = success
    reg.updated = now
    attempts.record_activity(store, reg, action, seconds, now)
    invitations.touch_users_of(store, app, reg.id)


def _number(data: dict[str, Any], key: str, low: float, high: float | None) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"activity: '{key}' must be a number")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise bad_request(f"activity: '{key}' must be {bound}")
    return float(value)


def _seed_courses(services: Services, app: AppData, request: Request, body: dict[str, Any]) -> Any:
    stored = courses.seed(services.store, app, body)
    return {"courses": [render.course(c) for c in stored]}


def _activity(services: Services, app: AppData, request: Request, body: dict[str, Any]) -> Any:
    reg = registrations.find_registration(app, str(request.path_params["registrationId"]))
    apply_activity(services.store, app, reg, body)
    return render.registration(reg, app.courses.get(reg.course_id))


def _visit(services: Services, app: AppData, request: Request, body: dict[str, Any]) -> Any:
    inv = invitations.find(app, str(request.path_params["invitationId"]), public=True)
    link_base = str(request.base_url).rstrip("/")
    user = invitations.visit_public(services.store, app, inv, body, link_base)
    reg = app.registrations.get(user.registration_id)
    return render.user_invitation(user, reg, with_report=True)


def _admin(services: Services, default_app: str, handler: AdminHandler) -> Callable[..., Any]:
    async def run(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"error": "body is not valid JSON"}, status_code=422)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=422)
        app_id = str(body.get("appId") or default_app)
        if not services.auth.knows(app_id):
            return JSONResponse({"error": f"unknown appId {app_id!r}"}, status_code=422)
        try:
            with services.store.app(app_id) as app:
                return JSONResponse(handler(services, app, request, body))
        except ApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)

    run.__name__ = handler.__name__
    return run


def _settings_route(services: Services) -> Route:
    async def settings(request: Request) -> Response:
        current = services.settings
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                page_size = int(body.get("page_size", current.page_size))
                delay = float(body.get("async_delay", services.store.async_delay))
                token_seconds = int(body.get("token_seconds", current.token_seconds))
                touch = body.get("learner_update_touches_updated")
                if page_size < 1 or delay < 0 or token_seconds < 1:
                    raise ValueError("page_size and token_seconds >= 1, async_delay >= 0")
                if touch is not None and not isinstance(touch, bool):
                    raise ValueError("learner_update_touches_updated must be true or false")
            except (ValueError, TypeError, AttributeError) as exc:
                return JSONResponse({"error": f"settings: {exc}"}, status_code=422)
            current.page_size = page_size
            current.token_seconds = token_seconds
            services.store.async_delay = delay
            if touch is not None:
                current.learner_update_touches_updated = touch
        return JSONResponse(
            {
                "page_size": current.page_size,
                "async_delay": services.store.async_delay,
                "token_seconds": current.token_seconds,
                "learner_update_touches_updated": current.learner_update_touches_updated,
                "pending": services.store.pending(),
            }
        )

    return Route("/settings", settings, methods=["GET", "POST"])


def routes(services: Services, default_app: str) -> list[Route]:
    async def flush(request: Request) -> Response:
        return JSONResponse({"applied": services.store.flush()})

    return [
        Route("/courses", _admin(services, default_app, _seed_courses), methods=["POST"]),
        Route(
            "/registrations/{registrationId}/activity",
            _admin(services, default_app, _activity),
            methods=["POST"],
        ),
        Route(
            "/invitations/public/{invitationId}/visit",
            _admin(services, default_app, _visit),
            methods=["POST"],
        ),
        Route("/flush", flush, methods=["POST"]),
        _settings_route(services),
    ]
