"""The channel, catalog, performance and certificate endpoints of the Enabley API.

v1 listings answer bare arrays; v2/v3 listings answer ``PaginationResponse`` pages walked
with ``paginationKey``. ``GET /api/v2/performance`` needs a channel, a user or both ("for a
specific channel, or a specific user, or both"); v1 filters by whichever it is given.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.enabley import channels, progress
from syncd.sandbox.enabley.errors import invalid, missing
from syncd.sandbox.enabley.model import parse_date
from syncd.sandbox.enabley.web import (
    Context,
    Handler,
    done,
    endpoint,
    json_body,
    ok,
    query,
    query_flag,
    query_list,
)


def learning_routes(context: Context) -> list[Route]:
    """Routes for channels, the catalog, performance and certificates."""
    account = context.account
    pages = context.paginator

    def channel_rows(request: Request, *, since: float | None = None) -> list[dict[str, object]]:
        categories = query_flag(request, "includeCategories", default=False)
        found = channels.listing(account, since=since, sub_account=query(request, "subAccountName"))
        return [c.info(include_categories=categories) for c in found]

    async def list_v1(request: Request) -> Response:
        since_text = query(request, "createdSince")
        since = None if since_text is None else parse_date(since_text, name="createdSince")
        return ok(channel_rows(request, since=since))

    async def list_v3(request: Request) -> Response:
        key = query(request, "paginationKey")
        if key is not None:
            return ok(pages.resume("channels", key))
        return ok(pages.first("channels", channel_rows(request)))

    async def upsert(request: Request) -> Response:
        channel, created = channels.upsert(account, await json_body(request))
        return ok(channel.info(include_categories=True), 201 if created else 200)

    async def get_channel(request: Request) -> Response:
        channel = account.channel(_path(request, "identifier"))
        return ok(
            channel.info(include_categories=query_flag(request, "includeCategories", default=False))
        )

    async def events(request: Request) -> Response:
        channel = account.channel(_path(request, "channelIdentifier"))
        return ok([e.info() for e in channel.events])

    async def assign_group(request: Request) -> Response:
        channels.assign_group(
            account,
            _path(request, "channelIdentifier"),
            _path(request, "groupIdentifier"),
            recursive=query_flag(request, "recursive", default=False),
            role=query(request, "userRole"),
        )
        return done()

    async def unassign_group(request: Request) -> Response:
        channels.unassign_group(
            account, _path(request, "channelIdentifier"), _path(request, "groupIdentifier")
        )
        return done()

    async def assign_user(request: Request) -> Response:
        channels.assign_user(
            account,
            _path(request, "channelIdentifier"),
            _path(request, "userIdentifier"),
            query_list(request, "roles"),
        )
        return done()

    async def unassign_user(request: Request) -> Response:
        channels.unassign_user(
            account, _path(request, "channelIdentifier"), _path(request, "userIdentifier")
        )
        return done()

    async def member_count(request: Request) -> Response:
        return ok(channels.member_count(account, _path(request, "channelIdentifier")))

    async def force_complete(request: Request) -> Response:
        channels.force_complete(
            account, _path(request, "channelIdentifier"), _path(request, "userIdentifier")
        )
        return done()

    def master_rows(request: Request) -> list[dict[str, object]]:
        found = channels.masters(
            account,
            only_published=query_flag(request, "onlyPublished", default=False),
            sub_account=query(request, "subAccountName"),
        )
        return [m.info() for m in found]

    async def masters_v2(request: Request) -> Response:
        return ok(master_rows(request))

    async def masters_v3(request: Request) -> Response:
        key = query(request, "paginationKey")
        if key is not None:
            return ok(pages.resume("masters", key))
        return ok(pages.first("masters", master_rows(request)))

    async def create_instance(request: Request) -> Response:
        channel = channels.create_instance(account, await json_body(request))
        return ok(channel.info(include_categories=True))

    async def catalog_item(request: Request) -> Response:
        return ok(
            channels.catalog_item(
                account, query(request, "externalChannelId"), query(request, "subAccountName")
            )
        )

    async def performance_v1(request: Request) -> Response:
        return ok(
            progress.performance(
                account,
                channel_id=query(request, "externalChannelId"),
                user_id=query(request, "externalUserId"),
            )
        )

    async def performance_v2(request: Request) -> Response:
        key = query(request, "paginationKey")
        if key is not None:
            return ok(pages.resume("performance", key))
        channel_id = query(request, "channelIdentifier")
        user_id = query(request, "userIdentifier")
        if channel_id is None and user_id is None:
            raise invalid("channelIdentifier or userIdentifier (or both) is required")
        rows = progress.performance(account, channel_id=channel_id, user_id=user_id)
        return ok(pages.first("performance", rows))

    async def certificates_v1(request: Request) -> Response:
        return ok([c.info() for c in account.certificates.values()])

    async def certificates_v2(request: Request) -> Response:
        key = query(request, "paginationKey")
        if key is not None:
            return ok(pages.resume("certificates", key))
        return ok(pages.first("certificates", [c.info() for c in account.certificates.values()]))

    async def certificate(request: Request) -> Response:
        identifier = _path(request, "externalCertificateId")
        found = account.certificates.get(identifier)
        if found is None:
            raise missing(f"certificate {identifier!r} does not exist")
        return ok(found.info())

    async def user_certificates(request: Request) -> Response:
        return ok(progress.user_certificates(account, _path(request, "externalUserId")))

    async def compliance(request: Request) -> Response:
        progress.set_requirement(account, await json_body(request))
        return done()

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, endpoint(context, handler), methods=[method])

    channel_user = "{channelIdentifier}/users/{userIdentifier}"
    return [
        route("/api/v1/catalog/catalogItem", catalog_item, "GET"),
        route("/api/v1/channels", list_v1, "GET"),
        route("/api/v1/channels", upsert, "PUT"),
        route("/api/v1/channels/{channelIdentifier}/courses/events", events, "GET"),
        route(
            "/api/v1/channels/{channelIdentifier}/groups/{groupIdentifier}", assign_group, "POST"
        ),
        route(
            "/api/v1/channels/{channelIdentifier}/groups/{groupIdentifier}",
            unassign_group,
            "DELETE",
        ),
        route(f"/api/v1/channels/{channel_user}", unassign_user, "DELETE"),
        route("/api/v1/channels/{identifier}", get_channel, "GET"),
        route("/api/v2/channels/channels/masters", masters_v2, "GET"),
        route("/api/v2/channels/channels/{channelIdentifier}/members/count", member_count, "GET"),
        route("/api/v2/channels/master/instance", create_instance, "PUT"),
        route(f"/api/v2/channels/{channel_user}", assign_user, "POST"),
        route("/api/v3/channels", list_v3, "GET"),
        route("/api/v3/channels/masters", masters_v3, "GET"),
        route(
            "/api/v4/channels/forceComplete/channel/{channelIdentifier}/user/{userIdentifier}",
            force_complete,
            "POST",
        ),
        route("/api/v1/performance", performance_v1, "GET"),
        route("/api/v2/performance", performance_v2, "GET"),
        route("/api/v1/certificates", certificates_v1, "GET"),
        route("/api/v1/certificates/compliance", compliance, "PUT"),
        route("/api/v1/certificates/users/{externalUserId}", user_certificates, "GET"),
        route("/api/v2/certificates", certificates_v2, "GET"),
        route("/api/v2/certificates/{externalCertificateId}", certificate, "GET"),
    ]


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])
