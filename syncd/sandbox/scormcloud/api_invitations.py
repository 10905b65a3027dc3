"""``/invitations`` endpoints: every operation of ``scormcloud-v2-invitations.txt``.

List defaults (notes A4): ``datetimeFilter=updated``, ``filterBy=invitation_id``,
``orderBy=updated_asc``; user invitation lists filter by ``registration_id`` by default.
Registration counts are included only when ``includeRegistrationCount`` asks for them.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncd.sandbox.scormcloud import bodies, invitations, listing, render
from syncd.sandbox.scormcloud.model import (
    AppData,
    Invitation,
    UserInvitation,
    add_tags,
    remove_tags,
)
from syncd.sandbox.scormcloud.web import (
    Call,
    Services,
    bool_param,
    json_response,
    no_content,
    route,
)
from syncd.sandbox.scormcloud.wire import not_found


def _invitation_spec(kind: str) -> listing.ListSpec[Invitation]:
    return listing.ListSpec(
        kind=kind,
        datetime_fields={"created": lambda i: i.created, "updated": lambda i: i.updated},
        default_datetime_filter="updated",
        filter_by={
            "invitation_id": lambda i: [i.id],
            "course_id": lambda i: [i.course_id],
            "tags": lambda i: i.tags,
        },
        default_filter_by="invitation_id",
        order_by={
            "created": lambda i: listing.datetime_key(i.created),
            "updated": lambda i: listing.datetime_key(i.updated),
        },
        default_order_by="updated_asc",
        tags=lambda i: i.tags,
        exact={"courseId": lambda i: i.course_id},
    )


ALL_SPEC = _invitation_spec("invitations")
PUBLIC_SPEC = _invitation_spec("invitations/public")
PRIVATE_SPEC = _invitation_spec("invitations/private")

USER_SPEC: listing.ListSpec[UserInvitation] = listing.ListSpec(
    kind="userInvitations",
    datetime_fields={"created": lambda u: u.created, "updated": lambda u: u.updated},
    default_datetime_filter="updated",
    filter_by={"registration_id": lambda u: [u.registration_id], "email": lambda u: [u.email]},
    default_filter_by="registration_id",
    order_by={
        "created": lambda u: listing.datetime_key(u.created),
        "updated": lambda u: listing.datetime_key(u.updated),
    },
    default_order_by="updated_asc",
)


def _title(app: AppData, inv: Invitation) -> str | None:
    course = app.courses.get(inv.course_id)
    return course.title if course else None


def _public(app: AppData, inv: Invitation, *, count: bool) -> dict[str, Any]:
    return render.public_invitation(
        inv,
        _title(app, inv),
        registration_count=invitations.registration_count(app, inv) if count else None,
    )


def _private(app: AppData, inv: Invitation, *, count: bool) -> dict[str, Any]:
    return render.private_invitation(
        inv,
        _title(app, inv),
        registration_count=invitations.registration_count(app, inv) if count else None,
        launched_count=invitations.launched_count(app, inv) if count else None,
    )


def _list(
    call: Call, spec: listing.ListSpec[Invitation], public: bool | None
) -> tuple[listing.Page[Invitation], listing.Query]:
    query = listing.read_query(spec, call.request.query_params)
    items = [i for i in call.app.invitations.values() if public is None or i.is_public == public]
    return listing.run(spec, query, items, page_size=call.settings.page_size), query


def _answer(body: dict[str, Any], page: listing.Page[Any]) -> Response:
    if page.more:
        body["more"] = page.more
    headers = {"X-Total-Count": str(page.total)} if page.total is not None else None
    return json_response(body, headers=headers)


def create_private_invitation(call: Call) -> Response:
    inv = invitations.create_private(call.store, call.app, call.body, call.link_base)
    return json_response(render.invitation_summary(inv))


def create_public_invitation(call: Call) -> Response:
    inv = invitations.create_public(call.store, call.app, call.body, call.link_base)
    return json_response(_public(call.app, inv, count=False))


def get_all_invitations(call: Call) -> Response:
    page, _ = _list(call, ALL_SPEC, None)
    return _answer({"invitations": [render.invitation_summary(i) for i in page.items]}, page)


def get_public_invitations(call: Call) -> Response:
    page, query = _list(call, PUBLIC_SPEC, True)
    count = listing.flag(query, "includeRegistrationCount")
    return _answer({"invitations": [_public(call.app, i, count=count) for i in page.items]}, page)


def get_private_invitations(call: Call) -> Response:
    page, query = _list(call, PRIVATE_SPEC, False)
    count = listing.flag(query, "includeRegistrationCount")
    return _answer({"invitations": [_private(call.app, i, count=count) for i in page.items]}, page)


def get_public_invitation(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=True)
    return json_response(_public(call.app, inv, count=bool_param(call, "includeRegistrationCount")))


def get_private_invitation(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=False)
    count = bool_param(call, "includeRegistrationCount")
    return json_response(_private(call.app, inv, count=count))


def get_private_invitation_job_status(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=False)
    if inv.job is None:
        raise not_found(f"Could not find a job for invitation [{inv.id}]")
    return json_response(render.job_status(inv.job))


def _user_invitations(call: Call, public: bool) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=public)
    query = listing.read_query(USER_SPEC, call.request.query_params, scope=inv.id)
    page = listing.run(USER_SPEC, query, inv.users, page_size=call.settings.page_size, scope=inv.id)
    report = listing.flag(query, "includeRegistrationReport")
    users = [
        render.user_invitation(u, call.app.registrations.get(u.registration_id), with_report=report)
        for u in page.items
    ]
    return _answer({"userInvitations": users}, page)


def get_public_user_invitations(call: Call) -> Response:
    return _user_invitations(call, True)


def get_private_user_invitations(call: Call) -> Response:
    return _user_invitations(call, False)


def update_private_invitation(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=False)
    invitations.update_private(call.store, inv, call.body)
    return json_response(_private(call.app, inv, count=False))


def update_public_invitation(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"), public=True)
    invitations.update_public(call.store, inv, call.body)
    return json_response(_public(call.app, inv, count=False))


def get_invitation_tags(call: Call) -> Response:
    inv = invitations.find(call.app, call.path("invitationId"))
    return json_response({"tags": list(inv.tags)})


def put_invitation_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    add_tags(invitations.find(call.app, call.path("invitationId")).tags, tags)
    return no_content()


def delete_invitation_tags(call: Call) -> Response:
    tags = bodies.tag_list(call.body)
    remove_tags(invitations.find(call.app, call.path("invitationId")).tags, tags)
    return no_content()


def put_invitation_tags_batch(call: Call) -> Response:
    """``PUT /invitations/tags``: every id must exist (404 otherwise), then all are tagged."""
    ids, tags = bodies.batch_tags(call.body)
    targets = [invitations.find(call.app, invitation_id) for invitation_id in ids]
    for inv in targets:
        add_tags(inv.tags, tags)
    return no_content()


def routes(services: Services) -> list[Route]:
    read, write = "read:invitation", "write:invitation"
    pub, priv = "/invitations/public/{invitationId}", "/invitations/private/{invitationId}"
    table = [
        ("GET", "/invitations", get_all_invitations, read),
        ("PUT", "/invitations/tags", put_invitation_tags_batch, write),
        ("POST", "/invitations/private", create_private_invitation, write),
        ("GET", "/invitations/private", get_private_invitations, read),
        ("POST", "/invitations/public", create_public_invitation, write),
        ("GET", "/invitations/public", get_public_invitations, read),
        ("GET", priv, get_private_invitation, read),
        ("PUT", priv, update_private_invitation, write),
        ("GET", priv + "/jobStatus", get_private_invitation_job_status, read),
        ("GET", priv + "/userInvitations", get_private_user_invitations, read),
        ("GET", pub, get_public_invitation, read),
        ("PUT", pub, update_public_invitation, write),
        ("GET", pub + "/userInvitations", get_public_user_invitations, read),
        ("GET", "/invitations/{invitationId}/tags", get_invitation_tags, read),
        ("PUT", "/invitations/{invitationId}/tags", put_invitation_tags, write),
        ("DELETE", "/invitations/{invitationId}/tags", delete_invitation_tags, write),
    ]
    return [route(services, method, path, handler, scope) for method, path, handler, scope in table]
