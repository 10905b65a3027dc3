"""The SCORM Cloud connector: syncd's ops as SCORM Cloud API v2 calls, answers as Outcomes.

Every behaviour follows ``vendor-docs/scormcloud-*`` (notes part A; live answers first):

- auth: HTTP basic, app id and secret key (credentials ``app_id``, ``secret_key``), JSON;
- learners exist only through registrations (no learner object, no groups, no learning
  paths): a create is answered done with no call, the remote id being the learner id (the
  person's external id; with private invitations SCORM Cloud names the learner by the
  e-mail address invited, so that address is the remote id);
- an assignment is one registration, ``POST /registrations`` with the course and the
  learner (id, e-mail, names) under an id derived from person and course (``wire``), so a
  retry can never make two; ``400 .. already exists`` is that registration: done, adopted.
  With ``assign_by = "private_invitation"`` it is one private invitation instead, with
  ``duplicateRegistrationOption=FAIL`` (a repeat adds nothing), whose send job is followed
  through ``/jobStatus`` to COMPLETE or ERROR. An invitation takes a list of addresses, so
  the plan gives one course to many people in one invitation (``assign_course_people``,
  up to ``INVITATION_ADDRESSES``) where that takes fewer calls; the job's errors name the
  addresses it refused, and only the others are confirmed (the next plan asks again for
  the refused ones);
- details: ``POST /learner/{id}/updateInfo`` with the complete details (an empty field
  blanks it); asynchronous, it rewrites every registration of the learner. 404 means no
  registration knows the learner yet: nothing to update, and the first registration will
  carry the details;
- leavers (option ``leavers``): ``keep`` leaves the registrations (no call);
  ``delete_incomplete`` lists the learner's registrations and deletes those not completed.
  A returner needs no call either way; under ``delete_incomplete`` the deleted
  registrations come back when a full reconcile finds them missing (same ids, new ones);
- signup links: public invitations (``invitations.py``), found by syncd's tags, usage from
  their registration count; creating one needs ``creating_user_email``;
- listing for a full reconcile: learners from ``GET /registrations`` and the holders of a
  course from ``GET /registrations?courseId=``, following ``more`` to the end;
- results (``results.py``): the registrations updated in a window, ``GET /registrations``
  with ``since``/``until`` and ``datetimeFilter=updated``, following ``more`` to the end.

Connection options (none secret): ``assign_by`` (``registration``, the default, or
``private_invitation``), ``leavers`` (``keep``, the default, or ``delete_incomplete``),
``creating_user_email`` (required by private invitations), ``invitation_subject`` and
``invitation_body`` (the e-mail sent), ``job_polls`` (status reads per invitation before
the op is retried later, default 10) and ``job_poll_seconds`` (pause between two reads,
default 0.5).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from syncd.config import ConnectionConfig
from syncd.errors import ConfigError, Permanent, Retryable
from syncd.limiter import RateRule, limiter_for
from syncd.log import get_logger
from syncd.plan import ops
from syncd.plan.links import DeclaredLink, RemoteLink, differing
from syncd.plan.model import VendorProfile
from syncd.plan.ops import Refs
from syncd.vendors.base import (
    Connector,
    Handler,
    MatchKey,
    Outcome,
    RemoteGroup,
    RemoteUser,
    handles,
)
from syncd.vendors.paging import TokenPaginator
from syncd.vendors.scormcloud import invitations, wire
from syncd.vendors.scormcloud.profile import PROFILE
from syncd.vendors.scormcloud.results import read_changes

if TYPE_CHECKING:
    from syncd.http import HttpClient
    from syncd.vendors.base import ResultRecord, Window

log = get_logger("syncd.vendors.scormcloud")

ASSIGN_BY = ("registration", "private_invitation")
LEAVERS = ("keep", "delete_incomplete")
JOB_DONE = "COMPLETE"
JOB_FAILED = ("ERROR", "CANCELLED")
INVITATION_ADDRESSES = 100
"""Most addresses syncd puts in one private invitation. The reference sets no limit on
``InvitationEmailSchema.addresses``; this keeps one send job (and one retry of it) short."""


class MissingRef(Permanent):
    """The worker gave no remote id for a user the op names (ordering bug)."""


class ScormCloudConnector(Connector):
    """SCORM Cloud API v2 behind syncd's Connector interface."""

    vendor: ClassVar[str] = "scormcloud"
    profile: ClassVar[VendorProfile] = PROFILE
    rate: ClassVar[RateRule] = RateRule(requests=300, per_seconds=60)
    """SCORM Cloud documents no REST limit (only xAPI traffic is limited, with 429): this
    is the simulator's assumed rule; a connection's ``rate`` overrides it."""
    match_fields: ClassVar[Mapping[MatchKey, str]] = {"email": "email", "employee_id": "id"}
    sandbox_credentials: ClassVar[Mapping[str, str]] = {
        "app_id": "app_id",
        "secret_key": "secret_key",
    }

    @classmethod
    def profile_for(cls, connection: ConnectionConfig) -> VendorProfile:
        """Priced as configured: a private invitation is its POST and at least one read of
        its job status; a leaver under ``delete_incomplete`` costs the listing of their
        registrations (plus one DELETE per registration not completed, unknown until
        then)."""
        calls = dict(cls.profile.calls)
        profile = cls.profile
        if _choice(connection.options, "assign_by", ASSIGN_BY) == "private_invitation":
            calls["assign_courses"] = 2
            profile = replace(
                profile,
                max_people_per_course_call=INVITATION_ADDRESSES,
                required_fields=(*profile.required_fields, "email"),
            )
        if _choice(connection.options, "leavers", LEAVERS) == "delete_incomplete":
            calls["deactivate_user"] = 1
        return replace(profile, calls=calls)

    def __init__(self, connection: ConnectionConfig, *, client: HttpClient | None = None) -> None:
        options = connection.options
        self.assign_by = _choice(options, "assign_by", ASSIGN_BY)
        self.leavers = _choice(options, "leavers", LEAVERS)
        self.creating_user_email = str(options.get("creating_user_email", ""))
        if self.assign_by == "private_invitation" and "@" not in self.creating_user_email:
            raise ConfigError(
                "scormcloud options.creating_user_email: private invitations need the e-mail "
                "address of a user of the SCORM Cloud realm",
                key="options.creating_user_email",
            )
        self.subject = str(options.get("invitation_subject", "Your course"))
        self.body = str(options.get("invitation_body", ""))
        self.job_polls = max(1, int(options.get("job_polls", 10)))
        self.job_poll_seconds = max(0.0, float(options.get("job_poll_seconds", 0.5)))
        super().__init__(connection, client=client)

    @classmethod
    def client_for(cls, connection: ConnectionConfig) -> HttpClient:
        from syncd.http import build_client  # httpx is loaded only by what calls a vendor

        app_id = connection.secret("app_id")
        secret_key = connection.secret("secret_key")
        return build_client(
            vendor=cls.vendor,
            base_url=connection.base_url,
            timeout=connection.timeout_seconds,
            limiter=limiter_for(cls.vendor, connection.base_url, app_id, cls.rate_rule(connection)),
            headers={
                "Authorization": _basic(app_id, secret_key),
                "Accept": "application/json",
            },
        )

    # ----------------------------------------------------------------------- ops

    def handlers(self) -> Iterable[Handler]:
        return (
            handles(ops.CreateUser, self._create_user),
            handles(ops.LinkUser, self.link_user),
            handles(ops.UpdateUser, self._update_user),
            handles(ops.DeactivateUser, self._deactivate_user),
            handles(ops.ReactivateUser, self._reactivate_user),
            handles(ops.DeleteUser, self._delete_user),
            handles(ops.AssignCourses, self._assign_courses),
            handles(ops.AssignCoursePeople, self._assign_course_people),
            handles(ops.UnassignCourse, self._unassign_course),
        )

    # ----------------------------------------------------------------------- requests

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = self.client.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError:
            raise Retryable(
                f"scormcloud: GET {path} -> {response.status} with an unreadable body",
                status=response.status,
            ) from None

    def _remove(self, path: str) -> None:
        """A DELETE whose 404 means the goal already holds (removed before a lost answer)."""
        try:
            self.client.request("DELETE", path)
        except Permanent as exc:
            if exc.status != 404:
                raise

    def _registrations(self, params: Mapping[str, str], what: str) -> Iterator[dict[str, Any]]:
        """Every registration the filter matches, following ``more`` (sent alone, as the
        reference demands: the token carries the original filters)."""

        def fetch(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = self._get("/registrations", {"more": token} if token else params)
            return wire.registrations(data), wire.more(data)

        return iter(
            TokenPaginator(
                fetch=fetch,
                key=lambda item: wire.text(item.get("id")) or repr(sorted(item.items())),
                what=f"scormcloud {what}",
            )
        )

    # ----------------------------------------------------------------------- learners

    def _learner_id(self, external_id: str, refs: Refs) -> str:
        remote = refs.users.get(external_id)
        if not remote:
            raise MissingRef(
                f"scormcloud: no learner id for user `{external_id}` (not created yet)"
            )
        return remote

    def _create_user(self, op: ops.CreateUser, refs: Refs) -> Outcome:
        attrs = dict(op.attrs)
        remote_id = op.external_id
        if self.assign_by == "private_invitation":
            remote_id = attrs.get("email", "")
            if "@" not in remote_id:
                raise Permanent(
                    f"scormcloud: user `{op.external_id}` has no e-mail address to invite"
                )
        return Outcome.done(
            op, calls=0, remote_id=remote_id, detail={"attrs": attrs, "active": op.active}
        )

    def _update_user(self, op: ops.UpdateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        learner_id = self._learner_id(op.external_id, refs)
        changes = {name: new for name, _old, new in op.changes}
        details = dict(op.attrs) if op.attrs else changes
        body = wire.learner(learner_id, details) if op.attrs else {"id": learner_id, **changes}
        try:
            self.client.request(
                "POST", f"/learner/{quote(learner_id, safe='')}/updateInfo", json_body=body
            )
        except Permanent as exc:
            if exc.status != 404:
                raise
            log.info("scormcloud.no_registration_yet", external_id=op.external_id)
        return Outcome.done(op, calls=self.calls_since(before), detail={"attrs": changes})

    def _deactivate_user(self, op: ops.DeactivateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        learner_id = self._learner_id(op.external_id, refs)
        removed: list[str] = []
        if self.leavers == "delete_incomplete":
            removed = self._delete_registrations(learner_id, keep_completed=True)
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            detail={"active": False, "removed_course_ids": removed}
            if removed
            else {"active": False},
        )

    def _reactivate_user(self, op: ops.ReactivateUser, refs: Refs) -> Outcome:
        self._learner_id(op.external_id, refs)
        return Outcome.done(op, calls=0, detail={"active": True})

    def _delete_user(self, op: ops.DeleteUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        learner_id = self._learner_id(op.external_id, refs)
        self._delete_registrations(learner_id, keep_completed=False)
        return Outcome.done(op, calls=self.calls_since(before), detail={"deleted": True})

    def _delete_registrations(self, learner_id: str, *, keep_completed: bool) -> list[str]:
        """Delete the learner's registrations (those completed stay when ``keep_completed``);
        returns the courses whose registration went."""
        found = list(self._registrations({"learnerId": learner_id}, "learner registrations"))
        removed = []
        for registration in found:
            if keep_completed and wire.completed(registration):
                continue
            self._remove(f"/registrations/{quote(wire.text(registration.get('id')), safe='')}")
            removed.append(wire.course_of(registration))
        return removed

    # ----------------------------------------------------------------------- assignments

    def _assign_courses(self, op: ops.AssignCourses, refs: Refs) -> Outcome:
        before = self.client.calls.total
        learner_id = self._learner_id(op.external_id, refs)
        details = _known_details(refs, op.external_id)
        adopted = False
        for course_id in op.course_ids:
            if self.assign_by == "private_invitation":
                adopted = self._invite(learner_id, course_id) or adopted
            else:
                adopted = self._register(learner_id, details, course_id) or adopted
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            adopted=adopted,
            detail={"course_ids": list(op.course_ids)},
        )

    def _register(self, learner_id: str, details: Mapping[str, str], course_id: str) -> bool:
        """One registration; True when it existed already (a retry after a lost answer)."""
        registration_id = wire.registration_id(learner_id, course_id)
        body = {
            "courseId": course_id,
            "registrationId": registration_id,
            "learner": wire.learner(learner_id, details),
        }
        try:
            self.client.request("POST", "/registrations", json_body=body)
        except Permanent as exc:
            reason = str(exc.fields.get("reason", "")).lower()
            if exc.status == 400 and wire.REGISTRATION_EXISTS in reason:
                log.info("scormcloud.adopted_registration", registration_id=registration_id)
                return True
            raise
        return False

    def _assign_course_people(self, op: ops.AssignCoursePeople, refs: Refs) -> Outcome:
        """One private invitation to every person's address. People whose address the send
        job refused are left out of ``added`` (the mirror records only the others, and the
        next plan asks for them again); when the job refused everyone, the op is dead."""
        before = self.client.calls.total
        address_of = {p: self._learner_id(p, refs) for p in op.external_ids}
        sent = self._send_invitation(op.course_id, list(dict.fromkeys(address_of.values())))
        refused = {p: sent.failed[a] for p, a in address_of.items() if a in sent.failed}
        added = [p for p in op.external_ids if p not in refused]
        if not added:
            reasons = "; ".join(sorted(set(refused.values())))
            raise Permanent(
                f"scormcloud: invitation {sent.invitation_id} to course {op.course_id} "
                f"failed: {reasons}",
                status=200,
            )
        if refused:
            log.warning(
                "scormcloud.invitation_partly_refused",
                course_id=op.course_id,
                refused=sorted(refused),
                reasons=sorted(set(refused.values())),
            )
        detail: dict[str, Any] = {"course_ids": [op.course_id], "added": added}
        if refused:
            detail["refused"] = sorted(refused)
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            adopted=all(address_of[p] in sent.existing for p in added),
            detail=detail,
        )

    def _invite(self, address: str, course_id: str) -> bool:
        """One private invitation to ``address``; True when the registration existed
        already (the job refused it as a duplicate)."""
        sent = self._send_invitation(course_id, [address])
        if address in sent.failed:
            raise Permanent(
                f"scormcloud: invitation {sent.invitation_id} to course {course_id} failed: "
                f"{sent.failed[address]}",
                status=200,
            )
        return address in sent.existing

    def _send_invitation(self, course_id: str, addresses: list[str]) -> wire.Sent:
        """One private invitation to ``addresses``, its send job followed to the end, and
        what became of each address (``wire.invitation_outcome``). Still sending after
        ``job_polls`` reads: Retryable (the repeat is harmless: ``FAIL`` skips addresses
        already registered and reports them as existing)."""
        body = {
            "courseId": course_id,
            "creatingUserEmail": self.creating_user_email,
            "invitationEmail": {"subject": self.subject, "body": self.body, "addresses": addresses},
            "duplicateRegistrationOption": "FAIL",
        }
        answer = self.client.request("POST", "/invitations/private", json_body=body).json()
        invitation_id = wire.text(answer.get("id") if isinstance(answer, dict) else None)
        if not invitation_id:
            raise Retryable("scormcloud: POST /invitations/private answered without an id")
        path = f"/invitations/private/{quote(invitation_id, safe='')}/jobStatus"
        for poll in range(self.job_polls):
            if poll:
                time.sleep(self.job_poll_seconds)
            job = self._get(path)
            job = job if isinstance(job, dict) else {}
            status = wire.text(job.get("status")).upper()
            if status == JOB_DONE or status in JOB_FAILED:
                errors = [wire.text(e) for e in (job.get("errors") or ())]
                sent = wire.invitation_outcome(invitation_id, addresses, status == JOB_DONE, errors)
                if sent.unplaced:
                    log.warning(
                        "scormcloud.invitation_errors",
                        invitation_id=invitation_id,
                        errors=list(sent.unplaced),
                    )
                return sent
        raise Retryable(
            f"scormcloud: invitation {invitation_id} to course {course_id} still sending "
            f"after {self.job_polls} status reads",
            retry_after=self.job_polls * max(self.job_poll_seconds, 1.0),
        )

    def _unassign_course(self, op: ops.UnassignCourse, refs: Refs) -> Outcome:
        before = self.client.calls.total
        learner_id = self._learner_id(op.external_id, refs)
        if self.assign_by == "private_invitation":
            params = {"learnerId": learner_id, "courseId": op.course_id}
            for registration in self._registrations(params, "learner registrations"):
                self._remove(f"/registrations/{quote(wire.text(registration.get('id')), safe='')}")
        else:
            registration_id = wire.registration_id(learner_id, op.course_id)
            self._remove(f"/registrations/{quote(registration_id, safe='')}")
        return Outcome.done(op, calls=self.calls_since(before), detail={"course_id": op.course_id})

    # ----------------------------------------------------------------------- listings

    def list_users(self) -> Iterator[RemoteUser]:
        """One learner per learner id found on any registration (SCORM Cloud keeps no
        other record of learners), with the details of its most recent registration.
        Listed as active: the vendor has no such flag."""
        learners: dict[str, dict[str, str]] = {}
        for registration in self._registrations({"orderBy": "created_asc"}, "registrations"):
            found = wire.learner_of(registration)
            if found["id"]:
                learners[found["id"]] = found
        for learner_id, attrs in learners.items():
            yield self.remote_user(learner_id, True, attrs)

    def list_groups(self) -> Iterator[RemoteGroup]:
        """SCORM Cloud has no groups."""
        return iter(())

    def list_holders(self, kind: str, item_id: str) -> Iterator[str]:
        """Learner ids holding a registration for the course: one listing per course."""
        if kind != "course":
            raise NotImplementedError(f"scormcloud: no listing of `{kind}` assignments")
        seen: set[str] = set()
        for registration in self._registrations({"courseId": item_id}, "course registrations"):
            learner_id = wire.learner_of(registration)["id"]
            if learner_id and learner_id not in seen:
                seen.add(learner_id)
                yield learner_id

    # ----------------------------------------------------------------------- results

    result_span = None
    """Any span is one paged read (``since``/``until`` take any range, ``more`` pages it):
    a window costs at least one read even with nothing in it, so cutting spans only adds
    reads; a backfill of n registrations is ceil(n / page) reads, the least there is."""
    result_scan = False

    def results(self, window: Window) -> Iterator[ResultRecord]:
        """The registrations updated in ``window`` (``results.py``), page by page."""
        return read_changes(self._get, window, hris_key=self.assign_by == "registration")

    # ----------------------------------------------------------------------- signup links

    link_fields: ClassVar[tuple[str, ...]] = invitations.FIELDS

    def list_links(self, owner: str) -> Iterator[RemoteLink]:
        """The public invitations tagged ``syncd:<owner>``, with their tags and counts."""
        params = {"tags": invitations.owner_tag(owner), "includeRegistrationCount": "true"}

        def fetch(token: str | None) -> tuple[list[dict[str, Any]], str | None]:
            data = self._get("/invitations/public", {"more": token} if token else params)
            return invitations.invitations(data), wire.more(data)

        found = TokenPaginator(
            fetch=fetch,
            key=lambda item: wire.text(item.get("id")) or repr(sorted(item.items())),
            what="scormcloud public invitations",
        )
        for item in found:
            invitation_id = wire.text(item.get("id"))
            tags = invitations.tags_of(
                self._get(f"/invitations/{quote(invitation_id, safe='')}/tags")
            )
            yield invitations.remote_link(owner, item, tags, invitations.count_of(item))

    def create_link(self, link: DeclaredLink, owner: str) -> RemoteLink:
        """One ``POST /invitations/public`` (tagged in its body); a closed link is then
        closed with one ``PUT`` (the create schema has no such attribute)."""
        if "@" not in self.creating_user_email:
            raise Permanent(
                f"scormcloud: link `{link.name}`: public invitations need "
                "options.creating_user_email, the e-mail address of a user of the realm"
            )
        body = invitations.create_body(owner, link, self.creating_user_email)
        answer = self.client.request("POST", "/invitations/public", json_body=body).json()
        invitation = answer if isinstance(answer, dict) else {}
        invitation_id = wire.text(invitation.get("id"))
        if not invitation_id:
            raise Retryable("scormcloud: POST /invitations/public answered without an id")
        tags = [*body["tags"]]
        if not link.active:
            invitation = self._put_invitation(invitation_id, link)
        return invitations.remote_link(owner, invitation, tags, 0)

    def update_link(self, remote: RemoteLink, link: DeclaredLink, owner: str) -> RemoteLink:
        """One ``PUT`` of the invitation's attributes when any differ, one tag ``PUT`` for
        tags it lacks and one tag ``DELETE`` for tags no longer declared."""
        fields = differing(link, remote, self.link_fields)
        refused = invitations.unchangeable(remote, link, fields)
        if refused:
            raise Permanent(refused)
        invitation: Mapping[str, Any] | None = None
        if set(fields) & {"limit", "expires", "active"}:
            invitation = self._put_invitation(remote.vendor_id, link)
        path = f"/invitations/{quote(remote.vendor_id, safe='')}/tags"
        missing = sorted(set(link.tags) - set(remote.tags))
        extra = sorted(set(remote.tags) - set(link.tags))
        if missing:
            self.client.request("PUT", path, json_body={"tags": missing})
        if extra:
            self.client.request("DELETE", path, json_body={"tags": extra})
        if invitation is None:
            return replace(remote, tags=link.tags)
        own = [invitations.owner_tag(owner), invitations.name_tag(owner, remote.name)]
        return invitations.remote_link(owner, invitation, [*own, *link.tags], remote.used)

    def _put_invitation(self, invitation_id: str, link: DeclaredLink) -> dict[str, Any]:
        path = f"/invitations/public/{quote(invitation_id, safe='')}"
        answer = self.client.request("PUT", path, json_body=invitations.update_body(link)).json()
        return answer if isinstance(answer, dict) else {}


def _basic(app_id: str, secret_key: str) -> str:
    token = base64.b64encode(f"{app_id}:{secret_key}".encode()).decode("ascii")
    return f"Basic {token}"


def _choice(options: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = str(options.get(name, allowed[0]))
    if value not in allowed:
        raise ConfigError(
            f"scormcloud options.{name}: `{value}` is not one of {', '.join(allowed)}",
            key=f"options.{name}",
        )
    return value


def _known_details(refs: Refs, external_id: str) -> Mapping[str, str]:
    """The learner's details as the mirror holds them, for a new registration's learner:
    a create costs no call, so SCORM Cloud has nothing to read back, and the worker hands
    them over in ``Refs.attrs`` (asked for by ``accounts=False``)."""
    return dict(refs.attrs.get(external_id, ()))
