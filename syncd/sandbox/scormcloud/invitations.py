"""Invitations, public and private, as ``scormcloud-v2-invitations.txt`` describes them.

A private invitation creates one registration per address through an asynchronous send job
(``GET /invitations/private/{id}/jobStatus`` reports it); the job runs as a deferred action of
the store, like every other background process of the simulator. A public invitation is a
link: the users who follow it are simulated through the admin API (``visit``), which applies
the invitation's own rules (open or closed, cap, expiry).
"""

from __future__ import annotations

import uuid
from typing import Any

from syncd.sandbox.scormcloud import bodies
from syncd.sandbox.scormcloud.model import (
    AppData,
    Invitation,
    InvitationJob,
    Learner,
    Registration,
    Store,
    UserInvitation,
)
from syncd.sandbox.scormcloud.registrations import find_course, insert
from syncd.sandbox.scormcloud.wire import ApiError, bad_request, not_found

DUPLICATE_OPTIONS = ("FAIL", "INSTANCE_EXISTING", "SEND_EXISTING", "CREATE_NEW")
PRIVATE = "CreatePrivateInvitationSchema"
PUBLIC = "CreatePublicInvitationSchema"


def find(app: AppData, invitation_id: str, *, public: bool | None = None) -> Invitation:
    """Look an invitation up; ``public`` restricts the kind (a private id on a public path is
    as unknown as any other id)."""
    inv = app.invitations.get(invitation_id)
    if inv is None or (public is not None and inv.is_public != public):
        raise not_found(f"Could not find invitation [{invitation_id}]")
    return inv


def create_private(store: Store, app: AppData, body: Any, link_base: str) -> Invitation:
    """``POST /invitations/private``: answer at once, send (create registrations) later."""
    data = bodies.as_object(body, PRIVATE)
    course_id = bodies.req_str(data, "courseId", PRIVATE)
    creator = bodies.req_str(data, "creatingUserEmail", PRIVATE)
    if data.get("invitationEmail") is None:
        raise bad_request(f"{PRIVATE}: 'invitationEmail' is required")
    email = bodies.as_object(data["invitationEmail"], "InvitationEmailSchema")
    addresses = bodies.str_list(email, "addresses", "InvitationEmailSchema", required=True)
    if not addresses:
        raise bad_request("InvitationEmailSchema: 'addresses' must not be empty")
    option = bodies.opt_str(data, "duplicateRegistrationOption", PRIVATE)
    if option is not None and option not in DUPLICATE_OPTIONS:
        allowed = ", ".join(DUPLICATE_OPTIONS)
        raise bad_request(f"{PRIVATE}: 'duplicateRegistrationOption' must be one of {allowed}")
    inv = _new(
        store,
        app,
        data,
        PRIVATE,
        is_public=False,
        course_id=course_id,
        creator=creator,
        link_base=link_base,
    )
    inv.email_subject = bodies.opt_str(email, "subject", "InvitationEmailSchema")
    inv.email_body = bodies.opt_str(email, "body", "InvitationEmailSchema")
    inv.addresses = addresses
    inv.duplicate_option = option
    inv.job = InvitationJob(status="STARTED", total=len(addresses))
    store.defer(lambda: _send(store, app, inv, link_base))
    return inv


def create_public(store: Store, app: AppData, body: Any, link_base: str) -> Invitation:
    """``POST /invitations/public``."""
    data = bodies.as_object(body, PUBLIC)
    course_id = bodies.req_str(data, "courseId", PUBLIC)
    creator = bodies.req_str(data, "creatingUserEmail", PUBLIC)
    cap = bodies.opt_int(data, "registrationCap", PUBLIC) or 0
    inv = _new(
        store,
        app,
        data,
        PUBLIC,
        is_public=True,
        course_id=course_id,
        creator=creator,
        link_base=link_base,
    )
    inv.registration_cap = cap
    inv.url = f"{link_base}/api/cloud/invitation/public/{inv.id}"
    return inv


def _new(
    store: Store,
    app: AppData,
    data: dict[str, Any],
    schema: str,
    *,
    is_public: bool,
    course_id: str,
    creator: str,
    link_base: str,
) -> Invitation:
    expiration = bodies.opt_datetime(data, "expirationDate", schema)
    post_back = bodies.post_back(data, "postBack", schema)
    tags = bodies.str_list(data, "tags", schema)
    find_course(app, course_id)
    now = store.stamp()
    inv = Invitation(
        id=str(uuid.uuid4()),
        is_public=is_public,
        course_id=course_id,
        creating_user_email=creator,
        created=now,
        updated=now,
        seq=store.next_seq(),
        expiration_date=expiration,
        post_back=post_back,
        tags=list(dict.fromkeys(tags)),
    )
    app.invitations[inv.id] = inv
    return inv


def _send(store: Store, app: AppData, inv: Invitation, link_base: str) -> None:
    """The background send job: one registration (or reuse) per address."""
    job = inv.job
    if job is None or inv.id not in app.invitations or inv.course_id not in app.courses:
        if job is not None:
            job.status = "ERROR"
            job.errors.append(f"Could not find course [{inv.course_id}]")
        return
    course = app.courses[inv.course_id]
    sent = 0
    for address in inv.addresses:
        job.processed += 1
        if "@" not in address:
            job.errors.append(f"Invalid email address [{address}]")
            continue
        existing = _existing(app, inv.course_id, address)
        if existing is not None and inv.duplicate_option == "FAIL":
            job.errors.append(
                f"Registration for [{address}] on course [{inv.course_id}] already exists"
            )
            continue
        if existing is not None and inv.duplicate_option == "INSTANCE_EXISTING":
            existing.instance += 1
            existing.reset_progress()
            existing.updated = store.stamp()
            reg = existing
        elif existing is not None and inv.duplicate_option == "SEND_EXISTING":
            reg = existing
        else:
            reg = insert(
                store,
                app,
                registration_id=str(uuid.uuid4()),
                course=course,
                learner=Learner(id=address, email=address),
            )
        _add_user(store, inv, address, reg, link_base)
        sent += 1
    job.status = "ERROR" if sent == 0 and job.errors else "COMPLETE"
    inv.updated = store.stamp()


def _existing(app: AppData, course_id: str, address: str) -> Registration | None:
    for reg in app.registrations_of_learner(address):
        if reg.course_id == course_id:
            return reg
    return None


def _add_user(
    store: Store, inv: Invitation, address: str, reg: Registration, link_base: str
) -> UserInvitation:
    now = store.stamp()
    user = UserInvitation(
        email=address,
        url=f"{link_base}/api/cloud/invitation/{inv.id}/launch/{reg.id}",
        registration_id=reg.id,
        created=now,
        updated=now,
        seq=store.next_seq(),
    )
    inv.users.append(user)
    return user


def visit_public(
    store: Store, app: AppData, inv: Invitation, body: Any, link_base: str
) -> UserInvitation:
    """A learner follows a public link (admin API): register them if the invitation allows."""
    data = bodies.as_object(body, "visit")
    email = bodies.req_str(data, "email", "visit")
    now = store.stamp()
    if not inv.allow_new_registrations:
        raise ApiError(403, f"Invitation [{inv.id}] does not allow new registrations")
    if inv.expiration_date is not None and now > inv.expiration_date:
        raise ApiError(403, f"Invitation [{inv.id}] has expired")
    if inv.registration_cap and registration_count(app, inv) >= inv.registration_cap:
        raise ApiError(403, f"Invitation [{inv.id}] has reached its registration cap")
    course = find_course(app, inv.course_id)
    learner = Learner(
        id=email,
        email=email,
        first_name=bodies.opt_str(data, "firstName", "visit"),
        last_name=bodies.opt_str(data, "lastName", "visit"),
    )
    reg = insert(store, app, registration_id=str(uuid.uuid4()), course=course, learner=learner)
    user = _add_user(store, inv, email, reg, link_base)
    inv.updated = store.stamp()
    return user


def registration_count(app: AppData, inv: Invitation) -> int:
    return len({u.registration_id for u in inv.users if u.registration_id in app.registrations})


def launched_count(app: AppData, inv: Invitation) -> int:
    ids = {u.registration_id for u in inv.users}
    return sum(
        1
        for rid in ids
        if rid in app.registrations and app.registrations[rid].first_access is not None
    )


def update_private(store: Store, inv: Invitation, body: Any) -> None:
    """``PUT /invitations/private/{id}``: only allowLaunch, invitationEmail (subject, body),
    postBack and expirationDate are considered; other attributes are ignored."""
    schema = "PrivateInvitationSchema"
    data = bodies.as_object(body, schema)
    allow = bodies.opt_bool(data, "allowLaunch", schema)
    expiration = bodies.opt_datetime(data, "expirationDate", schema)
    post_back = bodies.post_back(data, "postBack", schema)
    email = data.get("invitationEmail")
    subject = body_text = None
    if email is not None:
        email_data = bodies.as_object(email, "InvitationEmailUpdateSchema")
        subject = bodies.opt_str(email_data, "subject", "InvitationEmailUpdateSchema")
        body_text = bodies.opt_str(email_data, "body", "InvitationEmailUpdateSchema")
    if allow is not None:
        inv.allow_launch = allow
    if expiration is not None:
        inv.expiration_date = expiration
    if post_back is not None:
        inv.post_back = post_back
    if subject is not None:
        inv.email_subject = subject
    if body_text is not None:
        inv.email_body = body_text
    inv.updated = store.stamp()


def update_public(store: Store, inv: Invitation, body: Any) -> None:
    """``PUT /invitations/public/{id}``: only allowLaunch, allowNewRegistrations, postBack,
    expirationDate and registrationCap are considered."""
    schema = "PublicInvitationSchema"
    data = bodies.as_object(body, schema)
    allow = bodies.opt_bool(data, "allowLaunch", schema)
    allow_new = bodies.opt_bool(data, "allowNewRegistrations", schema)
    expiration = bodies.opt_datetime(data, "expirationDate", schema)
    post_back = bodies.post_back(data, "postBack", schema)
    cap = bodies.opt_int(data, "registrationCap", schema)
    if allow is not None:
        inv.allow_launch = allow
    if allow_new is not None:
        inv.allow_new_registrations = allow_new
    if expiration is not None:
        inv.expiration_date = expiration
    if post_back is not None:
        inv.post_back = post_back
    if cap is not None:
        inv.registration_cap = cap
    inv.updated = store.stamp()


def touch_users_of(store: Store, app: AppData, registration_id: str) -> None:
    """Learner activity moves ``updated`` of the user invitations that point at it."""
    for inv in app.invitations.values():
        for user in inv.users:
            if user.registration_id == registration_id:
                user.updated = store.stamp()
