"""The SCORM Cloud simulator object that :func:`syncd.sandbox.core.build_app` composes.

Rate limit: SCORM Cloud documents none for the REST API; the only documented limit
(xAPI/LRS traffic) answers HTTP 429 (notes A7). The simulator therefore refuses with 429
and a ``MessageSchema`` once an application exceeds its rolling-window rule, keyed by app id
(basic auth or the app a bearer token belongs to). The default rule (``DEFAULT_RATE``: 300
requests per rolling 60 s) is a sandbox assumption, not a vendor fact; settable at runtime
through ``/_sandbox/rate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syncd.sandbox.ratelimit import RateRule
from syncd.sandbox.scormcloud import (
    account,
    admin,
    api_courses,
    api_invitations,
    api_misc,
    api_registrations,
    courses,
    registrations,
)
from syncd.sandbox.scormcloud.auth import Authenticator
from syncd.sandbox.scormcloud.model import AppData, Clock, Store, utc_now
from syncd.sandbox.scormcloud.web import API, Services, Settings
from syncd.sandbox.scormcloud.wire import ApiError

DEMO_APP_ID = "SYNCDSANDBOX"
DEMO_SECRET_KEY = "sandbox-secret-key-not-a-real-one"
DEFAULT_RATE = RateRule(requests=300, per_seconds=60.0)
_STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class ScormCloudSimulator:
    """``/api/v2`` of SCORM Cloud, in memory, for one or more applications."""

    name = "scormcloud"
    api_root = API
    """Where the API lives under the server (the base URL a client is given ends in it)."""
    rate_counts_rejected = False
    secret_params: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        apps: Mapping[str, str] | None = None,
        rate: RateRule = DEFAULT_RATE,
        page_size: int = 100,
        async_delay: float = 1.0,
        clock: Clock = utc_now,
    ) -> None:
        self._apps = dict(apps or {DEMO_APP_ID: DEMO_SECRET_KEY})
        if not self._apps:
            raise ValueError("scormcloud simulator: at least one application is needed")
        self.default_app = next(iter(self._apps))
        self.default_rate = rate
        self.credentials = {"app_id": self.default_app, "secret_key": self._apps[self.default_app]}
        self._initial = Settings(page_size=page_size)
        self._initial_delay = async_delay
        self.services = Services(
            store=Store(clock=clock, async_delay=async_delay),
            auth=Authenticator(self._apps, clock),
            settings=replace(self._initial),
        )
        self.routes: list[BaseRoute] = [
            *api_misc.routes(self.services),
            *api_registrations.routes(self.services),
            *api_courses.routes(self.services),
            *api_invitations.routes(self.services),
        ]
        self.on_write: Callable[[], None] | None = None
        """Called after every write request, before its answer (keeps ``sandbox:`` files)."""
        self.routes = [self._kept(r) for r in self.routes]
        self.admin_routes: list[BaseRoute] = [
            self._kept(r) for r in admin.routes(self.services, self.default_app)
        ]

    def _kept(self, route: BaseRoute) -> BaseRoute:
        """``route`` calling :attr:`on_write` after a write (anything but GET and HEAD)."""
        if not isinstance(route, Route) or not (route.methods or set()) - {"GET", "HEAD"}:
            return route
        answer = route.endpoint

        async def kept(request: Request) -> Response:
            response: Response = await answer(request)
            if self.on_write is not None:
                self.on_write()
            return response

        return type(route)(route.path, kept, methods=sorted(route.methods or ()), name=route.name)

    def snapshot(self) -> bytes:
        """The whole account as JSON (a ``sandbox:`` connection's account file)."""
        return account.dump(self.services.store)

    def restore(self, data: bytes) -> None:
        """Load :meth:`snapshot` JSON in place (the routes hold this store object); every
        field is checked first, so a bad file leaves the account as it was."""
        account.load(self.services.store, data, self._apps)

    def credential(self, request: Request) -> str | None:
        """Rate-limit key: the calling application; unauthenticated calls are not counted
        (they are answered 401 by the route)."""
        caller = self.services.auth.caller(request)
        return None if caller is None else caller.app_id

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        """429 with a ``MessageSchema``; no ``Retry-After`` (none is documented)."""
        return JSONResponse({"message": "Rate limit exceeded, retry later"}, status_code=429)

    def error_response(self, status: int) -> Response:
        text = _STATUS_TEXT.get(status, "Server Error")
        return JSONResponse({"message": text}, status_code=status)

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Load ``{"appId"?, "courses": [...], "registrations": [CreateRegistrationSchema]}``.

        Courses are ``{id, title?, version?, courseLearningStandard?, tags?}``; registrations
        use the vendor's own create body, so a seed file reads like the API calls it saves.
        Everything is validated before anything is stored; a ValueError names the bad entry.
        """
        unknown = sorted(set(data) - {"appId", "courses", "registrations"})
        if unknown:
            raise ValueError(
                f"unknown seed keys {', '.join(unknown)}; expected appId, courses, registrations"
            )
        app_id = str(data.get("appId") or self.default_app)
        if app_id not in self._apps:
            raise ValueError(f"unknown appId {app_id!r}")
        store = self.services.store
        try:
            with store.app(app_id) as app:
                parsed_courses = courses.parse_seed({"courses": data.get("courses", [])})
                new_regs = self._parse_registrations(app, data, {c.id for c in parsed_courses})
                stored = courses.store_seed(store, app, parsed_courses)
                for new in new_regs:
                    registrations.insert(
                        store,
                        app,
                        registration_id=new.registration_id,
                        course=app.courses[new.course_id],
                        learner=new.learner,
                        xapi_id=new.xapi_id,
                        tags=new.tags,
                        learner_tags=new.learner_tags,
                        course_tags=new.course_tags,
                        post_back=new.post_back,
                    )
        except ApiError as exc:
            raise ValueError(exc.message) from exc
        return {"appId": app_id, "courses": len(stored), "registrations": len(new_regs)}

    @staticmethod
    def _parse_registrations(
        app: AppData, data: Mapping[str, Any], seeded_courses: set[str]
    ) -> list[registrations.NewRegistration]:
        """Check every seeded registration against the data it will join, before storing."""
        regs = data.get("registrations", [])
        if not isinstance(regs, list):
            raise ApiError(400, "'registrations' must be a list")
        seen: set[str] = set(app.registrations)
        parsed = []
        for index, body in enumerate(regs):
            where = f"registrations[{index}]"
            try:
                new = registrations.parse_create(body)
            except ApiError as exc:
                raise ApiError(exc.status, f"{where}: {exc.message}") from exc
            if new.course_id not in seeded_courses and new.course_id not in app.courses:
                raise ApiError(404, f"{where}: Could not find course [{new.course_id}]")
            if new.registration_id in seen:
                raise ApiError(
                    400, f"{where}: Registration with id [{new.registration_id}] already exists"
                )
            seen.add(new.registration_id)
            parsed.append(new)
        return parsed

    def reset(self) -> None:
        """Forget all data and tokens; settings back to how the simulator was created."""
        self.services.store.reset()
        self.services.store.async_delay = self._initial_delay
        self.services.auth.reset()
        initial = self._initial
        settings = self.services.settings
        settings.page_size = initial.page_size
        settings.token_seconds = initial.token_seconds
        settings.learner_update_touches_updated = initial.learner_update_touches_updated
