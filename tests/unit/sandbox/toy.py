"""A minimal vendor simulator used to test the sandbox core on its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from syncd.sandbox.core import RateRule, record_create


class ToySimulator:
    """Users keyed by name; the key is the ``key`` header or the ``key`` query parameter."""

    name = "toy"
    default_rate = RateRule(requests=100, per_seconds=60)
    rate_counts_rejected = False
    secret_params = frozenset({"key"})
    credentials: Mapping[str, str] = {"key": "toy-key"}

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.routes = [
            Route("/api/users", self.list_users, methods=["GET"]),
            Route("/api/users", self.create_user, methods=["POST"]),
            Route("/api/users/{name}", self.get_user, methods=["GET"]),
            Route("/api/echo", self.echo, methods=["POST"]),
            Route("/api/xml", self.xml, methods=["GET"]),
        ]
        self.admin_routes = [Route("/toy/count", self.count, methods=["GET"])]

    def credential(self, request: Request) -> str | None:
        return request.headers.get("key") or request.query_params.get("key")

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        return PlainTextResponse("slow down", status_code=429)

    def error_response(self, status: int) -> Response:
        return PlainTextResponse(f"toy error {status}", status_code=status)

    def seed(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        names = data.get("users")
        if not isinstance(names, list):
            raise ValueError("users must be a list of names")
        for name in names:
            self.users[name] = {"name": name}
        return {"users": len(names)}

    def reset(self) -> None:
        self.users.clear()

    async def list_users(self, request: Request) -> Response:
        return JSONResponse(sorted(self.users.values(), key=lambda user: user["name"]))

    async def create_user(self, request: Request) -> Response:
        body = await request.json()
        if body["name"] in self.users:
            return JSONResponse({"error": "exists"}, status_code=409)
        self.users[body["name"]] = {"name": body["name"]}
        record_create(request, body["name"])
        return JSONResponse(self.users[body["name"]], status_code=201)

    async def get_user(self, request: Request) -> Response:
        user = self.users.get(request.path_params["name"])
        return JSONResponse(user) if user else JSONResponse({}, status_code=404)

    async def echo(self, request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    async def xml(self, request: Request) -> Response:
        return Response("<Users><User><Id>1</Id></User></Users>", media_type="application/xml")

    async def count(self, request: Request) -> Response:
        return JSONResponse({"users": len(self.users)})
