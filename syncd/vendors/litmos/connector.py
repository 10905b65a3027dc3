"""The Litmos connector: syncd's ops as Litmos v1.svc calls, and Litmos answers as Outcomes.

Every behaviour follows ``vendor-docs/litmos-*`` (facts tagged WIRE there win):

- auth: ``apikey`` header, ``source`` query parameter on every call, ``format=json``;
- users: create with one ordered body (201 + the new user); ``409 UserName already exists``
  -> exact lookup by ``GET /users/{username}`` (search + exact match as a fallback, since
  ``search`` is a substring match) and adoption, bringing the account's managed fields in
  line when they differ; any other 409 reason is a validation refusal: permanent.
  Updates, deactivation (``Active=false``) and reactivation read the user and write it
  back complete, in the order received (WCF drops out-of-order fields silently);
- teams: ``POST /teams`` or ``POST /teams/{parent}/teams``; ``409 Team name already
  exists`` -> exact name lookup (under the same parent) and adoption;
- members: one ``POST /teams/{id}/users`` per team with a bare array (existing members are
  ignored by Litmos, so a repeat is harmless); removal one ``DELETE`` per member;
- courses and learning paths: one ``POST`` per user with the whole list,
  ``sendmessage=false`` unless ``options.send_message`` is true; courses a rule gives to a
  whole team, one ``POST /teams/{id}/courses?includesubteams=true`` when the plan chose
  the group form (``syncd.plan.group_courses``);
- listing for a full reconcile: ``/users/details`` and ``/teams``, then the members of each
  team the mirror holds memberships in (``/teams/{id}/users``) and the holders of each
  course or learning path it holds assignments of (``/courses/{id}/users``,
  ``/learningpaths/{id}/users``), all paged by ``start``/``limit``;
- results: per window, ``/org/results/details`` merged with ``/org/users/courses`` (one
  record per person x course) and ``/org/learningpaths/results`` when learning paths are
  synced, each paged to the end; ``/results/details?since=`` for a first backfill;
- signup links: self-signup tokens (``GET/POST/PUT /tokens``, ``tokens.py``), found by
  their code; Litmos lists no activation count, so their usage is unknown;
- a refused key (401, or a 403 about the key or its access level) is not an op's fault:
  it stops the drain (``CredentialRefused``) instead of dead-lettering every op; so does a
  TLS handshake refused for good (``TlsFailure``: an untrusted certificate, say).

Connection options (``[connections.NAME.options]``, none secret): ``source`` (default
``syncd``), ``send_message`` (default false), ``skip_first_login`` (default false: Litmos
asks new users for a new password unless true, e.g. with SSO), ``access_level`` (default
``Learner``), ``time_zone`` (default empty: the organisation's), ``page_size`` (default
1000, the maximum), ``learning_path_results`` (default: true when a rule assigns or a signup
link enrols into a learning path).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

from syncd.config import ConnectionConfig
from syncd.errors import Conflict, Permanent, Retryable, VendorError
from syncd.limiter import RateRule, limiter_for
from syncd.log import get_logger
from syncd.plan import ops
from syncd.plan.links import DeclaredLink, RemoteLink
from syncd.plan.model import VendorProfile
from syncd.plan.ops import Op, Refs
from syncd.vendors.base import (
    Connector,
    Handler,
    MatchKey,
    Outcome,
    RemoteGroup,
    RemoteUser,
    ResultRecord,
    Window,
    handles,
)
from syncd.vendors.litmos import tokens, wire
from syncd.vendors.litmos.profile import PROFILE
from syncd.vendors.litmos.results import (
    AssignmentRow,
    assigned_record,
    assignment_row,
    detail_key,
    detail_record,
    merged,
    path_record,
    result_key,
)
from syncd.vendors.paging import OffsetPaginator

if TYPE_CHECKING:
    from syncd.http import HttpClient, Response

log = get_logger("syncd.vendors.litmos")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
"""A username that is not an e-mail address must be flagged ``IsCustomUsername``."""

RESULT_WINDOW = timedelta(days=7)
"""The longest ``since``..``to`` span the date-range endpoints accept."""

USERS_PER_BATCH = 25
"""``POST /users/courses`` answers for at most 25 users a call."""

USER_EXISTS = "username already exists"
TEAM_EXISTS = "team name already exists"


class MissingRef(Permanent):
    """The worker gave no remote id for a user or group the op names (ordering bug)."""


class LitmosConnector(Connector):
    """Litmos v1.svc behind syncd's Connector interface."""

    vendor: ClassVar[str] = "litmos"
    profile: ClassVar[VendorProfile] = PROFILE
    rate: ClassVar[RateRule] = RateRule(requests=100, per_seconds=60)
    rate_limit_statuses: ClassVar[tuple[int, ...]] = (429, 503)
    """Litmos answers "too fast" with 503 (documented); 429 in case it ever adopts it."""
    match_fields: ClassVar[Mapping[MatchKey, str]] = {
        "username": "UserName",
        "email": "Email",
        "employee_id": "ExternalEmployeeId",
    }
    sandbox_credentials: ClassVar[Mapping[str, str]] = {"api_key": "apikey"}
    sandbox_options: ClassVar[Mapping[str, str]] = {"source": "source"}

    def __init__(self, connection: ConnectionConfig, *, client: HttpClient | None = None) -> None:
        super().__init__(connection, client=client)
        options = connection.options
        self.send_message = wire.as_bool(options.get("send_message", False))
        self.skip_first_login = wire.as_bool(options.get("skip_first_login", False))
        self.access_level = str(options.get("access_level", "Learner"))
        self.time_zone = str(options.get("time_zone", ""))
        self.page_size = max(1, min(int(options.get("page_size", 1000)), 1000))
        self.learning_path_results = _syncs_learning_paths(connection)

    @classmethod
    def client_for(cls, connection: ConnectionConfig) -> HttpClient:
        from syncd.http import build_client  # httpx is loaded only by what calls a vendor

        api_key = connection.secret("api_key")
        source = str(connection.options.get("source", "syncd"))
        return build_client(
            vendor=cls.vendor,
            base_url=connection.base_url,
            timeout=connection.timeout_seconds,
            limiter=limiter_for(
                cls.vendor, connection.base_url, api_key, cls.rate_rule(connection)
            ),
            headers={"apikey": api_key, "Accept": "application/json"},
            params={"source": source, "format": "json"},
            rate_limit_statuses=cls.rate_limit_statuses,
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
            handles(ops.RekeyUser, self._rekey_user),
            handles(ops.CreateGroup, self._create_group),
            handles(ops.LinkGroup, self.link_group),
            handles(ops.UpdateGroup, self._update_group),
            handles(ops.AddMembers, self._add_members),
            handles(ops.RemoveMember, self._remove_member),
            handles(ops.AssignCourses, self._assign_courses),
            handles(ops.AssignGroupCourses, self._assign_group_courses),
            handles(ops.AssignLearningPaths, self._assign_learning_paths),
            handles(ops.UnassignCourse, self._unassign_course),
            handles(ops.UnassignLearningPath, self._unassign_learning_path),
        )

    def refuses_the_key(self, exc: VendorError) -> bool:
        """Litmos' 403 for the key itself ("check your API key", "not the proper
        permissions" of its access level), as opposed to a 403 about one object."""
        reason = str(exc.fields.get("reason", "")).lower()
        return exc.status == 403 and ("api key" in reason or "proper permissions" in reason)

    # ----------------------------------------------------------------------- requests

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._decoded("GET", path, self.client.request("GET", path, params=params))

    def _decoded(self, method: str, path: str, response: Response) -> Any:
        """The body as data; a cut-short or garbled body is worth another try, not a crash."""
        try:
            return wire.decode(response.content, response.content_type)
        except (ValueError, ParseError):
            raise Retryable(
                f"litmos: {method} {path} -> {response.status} with an unreadable body",
                status=response.status,
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        *,
        read: bool = False,
    ) -> Any:
        """A write; its answer is read only when ``read`` (a create's new Id), else ignored."""
        response = self.client.request(method, path, params=params, json_body=body)
        return self._decoded(method, path, response) if read else None

    def _remove(self, path: str) -> None:
        """A DELETE whose 404 means the goal already holds (removed before a lost answer)."""
        try:
            self._send("DELETE", path)
        except Permanent as exc:
            if exc.status != 404:
                raise

    def _sendmessage(self) -> dict[str, str]:
        return {"sendmessage": "true" if self.send_message else "false"}

    # ----------------------------------------------------------------------- users

    def _user_ref(self, external_id: str, refs: Refs) -> str:
        remote = refs.users.get(external_id)
        if not remote:
            raise MissingRef(f"litmos: no remote id for user `{external_id}` (not created yet)")
        return remote

    def _group_ref(self, group_key: str, refs: Refs) -> str:
        remote = refs.groups.get(group_key)
        if not remote:
            raise MissingRef(f"litmos: no remote id for team `{group_key}` (not created yet)")
        return remote

    def _new_user_body(self, attrs: Mapping[str, str], active: bool) -> dict[str, Any]:
        username = attrs.get("UserName", "")
        defaults: dict[str, Any] = {
            "Id": "",
            "AccessLevel": self.access_level,
            "DisableMessages": False,
            "Active": active,
            "IsCustomUsername": not _EMAIL.match(username),
            "SkipFirstLogin": self.skip_first_login,
            "TimeZone": self.time_zone,
        }
        values = {**defaults, **attrs, "Active": active}
        names = wire.user_order(
            [*wire.REQUIRED_ON_CREATE, *(a for a in attrs if a not in wire.REQUIRED_ON_CREATE)]
        )
        return {name: wire.to_wire(name, values.get(name, "")) for name in names}

    def _create_user(self, op: ops.CreateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        attrs = dict(op.attrs)
        params = self._sendmessage()
        if self.skip_first_login:
            params["skipfirstlogin"] = "true"
        try:
            created = wire.as_record(
                self._send(
                    "POST", "/users", self._new_user_body(attrs, op.active), params, read=True
                )
            )
        except Conflict as exc:
            if USER_EXISTS not in exc.fields.get("reason", "").lower():
                raise Permanent(exc.message, status=exc.status) from None
            username = attrs.get("UserName") or op.match_value
            found = self._find_user(username)
            if found is None:
                raise Permanent(
                    f"litmos: `{username}` already exists but no account with exactly that "
                    "username can be found",
                    status=exc.status,
                ) from None
            remote_id = wire.as_text(found.get("Id"))
            self._align_user(found, attrs, op.active)
            log.info("litmos.adopted_user", external_id=op.external_id, remote_id=remote_id)
            return Outcome.done(
                op,
                calls=self.calls_since(before),
                remote_id=remote_id,
                adopted=True,
                detail={"attrs": attrs, "active": op.active},
            )
        remote_id = wire.as_text(created.get("Id"))
        if not remote_id:
            raise Retryable("litmos: POST /users answered without the new user's Id")
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            remote_id=remote_id,
            detail={"attrs": attrs, "active": op.active},
        )

    def _find_user(self, username: str) -> dict[str, Any] | None:
        """The account whose UserName is exactly ``username`` (Litmos compares case-blind)."""
        try:
            user = wire.as_record(self._get(f"/users/{quote(username, safe='')}"))
        except Permanent as exc:
            if exc.status != 404:
                raise
            user = {}
        if user and _same_username(user, username):
            return user
        for item in self._pages("/users", {"search": username[:50]}, what="user search"):
            if _same_username(item, username):
                return self._read_user(wire.as_text(item.get("Id")))
        return None

    def _align_user(self, user: dict[str, Any], attrs: Mapping[str, str], active: bool) -> None:
        """After adopting: write the managed fields the account lacks (one PUT, if any)."""
        changes = {
            k: v for k, v in attrs.items() if not wire.same_value(k, wire.get_field(user, k), v)
        }
        if not wire.same_value("Active", user.get("Active"), wire.as_text(active)):
            changes["Active"] = wire.as_text(active)
        if changes:
            self._put_user(user, changes)

    def _put_user(self, user: dict[str, Any], changes: Mapping[str, str]) -> None:
        """PUT the user back complete, in the order it was read, with ``changes`` applied."""
        # Typed as JSON wants them even when the user was read as XML (all strings there).
        body = {name: wire.to_wire(name, value) for name, value in user.items()}
        for name, value in changes.items():
            body[name] = wire.to_wire(name, value)
        missing = [n for n in changes if n not in user]
        if missing:
            order = wire.user_order([*user, *missing])
            body = {name: body[name] for name in order}
        remote_id = wire.as_text(user.get("Id"))
        self._send("PUT", f"/users/{quote(remote_id, safe='')}", body)

    def _read_user(self, remote_id: str) -> dict[str, Any]:
        user = wire.as_record(self._get(f"/users/{quote(remote_id, safe='')}"))
        if not user.get("Id"):
            raise Retryable(f"litmos: GET /users/{remote_id} answered without a user")
        return user

    def _update_user(self, op: ops.UpdateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        user = self._read_user(self._user_ref(op.external_id, refs))
        changes = {name: new for name, _old, new in op.changes}
        pending = {
            k: v for k, v in changes.items() if not wire.same_value(k, wire.get_field(user, k), v)
        }
        if pending:
            self._put_user(user, pending)
        return Outcome.done(op, calls=self.calls_since(before), detail={"attrs": changes})

    def _set_active(self, op: Op, external_id: str, refs: Refs, active: bool) -> Outcome:
        before = self.client.calls.total
        user = self._read_user(self._user_ref(external_id, refs))
        if not wire.same_value("Active", user.get("Active"), wire.as_text(active)):
            self._put_user(user, {"Active": wire.as_text(active)})
        return Outcome.done(op, calls=self.calls_since(before), detail={"active": active})

    def _deactivate_user(self, op: ops.DeactivateUser, refs: Refs) -> Outcome:
        return self._set_active(op, op.external_id, refs, False)

    def _reactivate_user(self, op: ops.ReactivateUser, refs: Refs) -> Outcome:
        return self._set_active(op, op.external_id, refs, True)

    def _delete_user(self, op: ops.DeleteUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        remote_id = self._user_ref(op.external_id, refs)
        self._remove(f"/users/{quote(remote_id, safe='')}")
        return Outcome.done(op, calls=self.calls_since(before), detail={"deleted": True})

    def _rekey_user(self, op: ops.RekeyUser, refs: Refs) -> Outcome:
        """A changed HRIS key: Litmos knows the user by its own ``Id``, never by the key, so
        only the mirror moves (no call); a mapped field that changes with the key is the
        plan's next UpdateUser."""
        return Outcome.done(op, calls=0, detail={"rekeyed": True})

    # ----------------------------------------------------------------------- teams

    def _create_group(self, op: ops.CreateGroup, refs: Refs) -> Outcome:
        before = self.client.calls.total
        parent = self._group_ref(op.parent_key, refs) if op.parent_key else ""
        body = {"Id": "", "Name": op.name, "Description": "", "ParentTeamId": parent}
        path = f"/teams/{quote(parent, safe='')}/teams" if parent else "/teams"
        detail = {"name": op.name, "parent_remote_id": parent}
        try:
            created = wire.as_record(self._send("POST", path, body, read=True))
        except Conflict as exc:
            if TEAM_EXISTS not in exc.fields.get("reason", "").lower():
                raise Permanent(exc.message, status=exc.status) from None
            remote_id = self._find_team(op.name, parent)
            if remote_id is None:
                raise Permanent(
                    f"litmos: a team named `{op.name}` already exists, but not "
                    + (f"under team {parent}" if parent else "at the top level"),
                    status=exc.status,
                ) from None
            log.info("litmos.adopted_team", group_key=op.group_key, remote_id=remote_id)
            return Outcome.done(
                op, calls=self.calls_since(before), remote_id=remote_id, adopted=True, detail=detail
            )
        remote_id = wire.as_text(created.get("Id"))
        if not remote_id:
            raise Retryable(f"litmos: POST {path} answered without the new team's Id")
        return Outcome.done(op, calls=self.calls_since(before), remote_id=remote_id, detail=detail)

    def _find_team(self, name: str, parent: str) -> str | None:
        """The team named exactly ``name`` directly under ``parent`` ("" = top level)."""
        if parent:
            teams = self._pages(f"/teams/{quote(parent, safe='')}/teams", {}, what="sub-teams")
        else:
            teams = self._pages("/teams", {"search": name[:50]}, what="team search")
        candidates = [
            team
            for team in teams
            if wire.as_text(team.get("Name")).casefold() == name.casefold()
            and (parent or not wire.as_text(wire.get_field(team, "ParentTeamId")))
        ]
        candidates.sort(key=lambda team: wire.as_text(team.get("Name")) != name)
        return wire.as_text(candidates[0].get("Id")) if candidates else None

    def _update_group(self, op: ops.UpdateGroup, refs: Refs) -> Outcome:
        before = self.client.calls.total
        remote_id = self._group_ref(op.group_key, refs)
        parent = self._group_ref(op.parent_key, refs) if op.parent_key else ""
        path = f"/teams/{quote(remote_id, safe='')}"
        team = wire.as_record(self._get(path))
        wanted = {"Name": op.name, "ParentTeamId": parent}
        if any(wire.as_text(team.get(k)) != v for k, v in wanted.items()):
            body = {name: team.get(name) for name in wire.TEAM_FIELDS}
            body.update({k: v for k, v in team.items() if k not in body})
            body.update(wanted)
            self._send("PUT", path, body)
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"name": op.name, "parent_remote_id": parent}
        )

    def _add_members(self, op: ops.AddMembers, refs: Refs) -> Outcome:
        before = self.client.calls.total
        team = self._group_ref(op.group_key, refs)
        members = [{"Id": self._user_ref(x, refs)} for x in op.external_ids]
        if members:
            self._send("POST", f"/teams/{quote(team, safe='')}/users", members, self._sendmessage())
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"added": list(op.external_ids)}
        )

    def _remove_member(self, op: ops.RemoveMember, refs: Refs) -> Outcome:
        before = self.client.calls.total
        team = self._group_ref(op.group_key, refs)
        user = self._user_ref(op.external_id, refs)
        # 404: "no team with this id, or no user with this id" -- not a member either way.
        self._remove(f"/teams/{quote(team, safe='')}/users/{quote(user, safe='')}")
        return Outcome.done(op, calls=self.calls_since(before), detail={"removed": op.external_id})

    # ----------------------------------------------------------------------- assignments

    def _assign(self, op: Op, external_id: str, what: str, ids: Sequence[str], refs: Refs) -> int:
        before = self.client.calls.total
        user = self._user_ref(external_id, refs)
        if ids:
            body = [{"Id": item} for item in ids]
            self._send("POST", f"/users/{quote(user, safe='')}/{what}", body, self._sendmessage())
        return self.calls_since(before)

    def _assign_courses(self, op: ops.AssignCourses, refs: Refs) -> Outcome:
        calls = self._assign(op, op.external_id, "courses", op.course_ids, refs)
        return Outcome.done(op, calls=calls, detail={"course_ids": list(op.course_ids)})

    def _assign_group_courses(self, op: ops.AssignGroupCourses, refs: Refs) -> Outcome:
        """One ``POST /teams/{id}/courses`` with ``includesubteams``: every member of the
        team and its sub-teams gets the courses (those joining later too); courses a
        member holds already are ignored by Litmos."""
        before = self.client.calls.total
        team = self._group_ref(op.group_key, refs)
        params = {**self._sendmessage(), "includesubteams": "true"}
        body = [{"Id": item} for item in op.course_ids]
        self._send("POST", f"/teams/{quote(team, safe='')}/courses", body, params)
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"course_ids": list(op.course_ids)}
        )

    def _assign_learning_paths(self, op: ops.AssignLearningPaths, refs: Refs) -> Outcome:
        calls = self._assign(op, op.external_id, "learningpaths", op.learning_path_ids, refs)
        return Outcome.done(
            op, calls=calls, detail={"learning_path_ids": list(op.learning_path_ids)}
        )

    def _unassign(self, external_id: str, what: str, item: str, refs: Refs) -> int:
        """One DELETE; 404 (not assigned, or already removed) means the goal holds."""
        before = self.client.calls.total
        user = self._user_ref(external_id, refs)
        self._remove(f"/users/{quote(user, safe='')}/{what}/{quote(item, safe='')}")
        return self.calls_since(before)

    def _unassign_course(self, op: ops.UnassignCourse, refs: Refs) -> Outcome:
        calls = self._unassign(op.external_id, "courses", op.course_id, refs)
        return Outcome.done(op, calls=calls, detail={"course_id": op.course_id})

    def _unassign_learning_path(self, op: ops.UnassignLearningPath, refs: Refs) -> Outcome:
        calls = self._unassign(op.external_id, "learningpaths", op.learning_path_id, refs)
        return Outcome.done(op, calls=calls, detail={"learning_path_id": op.learning_path_id})

    # ----------------------------------------------------------------------- listings

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        what: str,
        key: Callable[[dict[str, Any]], Hashable] | None = None,
        bounded: bool = False,
    ) -> Iterator[dict[str, Any]]:
        def fetch(start: int, limit: int) -> list[dict[str, Any]]:
            return wire.as_items(self._get(path, {**params, "start": start, "limit": limit}))

        return iter(
            OffsetPaginator(
                fetch=fetch,
                key=key or _item_key,
                limit=self.page_size,
                what=f"litmos {what}",
                bounded=bounded,
            )
        )

    def list_users(self) -> Iterator[RemoteUser]:
        """Full profiles from ``/users/details`` (``/users`` gives only seven fields)."""
        for item in self._pages("/users/details", {}, what="users"):
            attrs = wire.public_attrs(item)
            yield self.remote_user(
                attrs.get("Id", ""), wire.as_bool(item.get("Active", False)), attrs
            )

    def list_groups(self) -> Iterator[RemoteGroup]:
        for item in self._pages("/teams", {}, what="teams"):
            yield RemoteGroup(
                remote_id=wire.as_text(item.get("Id")),
                name=wire.as_text(item.get("Name")),
                parent_remote_id=wire.as_text(wire.get_field(item, "ParentTeamId")),
            )

    # ----------------------------------------------------------------------- results

    result_span: ClassVar[timedelta | None] = RESULT_WINDOW

    def results(self, window: Window) -> Iterator[ResultRecord]:
        """What changed in ``window``: course results (``/org/results/details``) merged
        with the assignment changes of the same window (``/org/users/courses``), and
        learning path results (``/org/learningpaths/results``) when the connection syncs
        learning paths; one read per endpoint, more only where a page is full.

        ``since``/``to`` go to the second and ``to`` is exclusive, so the window is widened
        outwards to whole seconds (``to`` then lies after the last change asked for: "in
        the future" for a window ending now). A window that is longer than 7 days once
        widened is read in 7-day pieces rather than refused.
        """
        for since, to in _pieces(window):
            params = {"since": wire.query_date(since), "to": wire.query_date(to)}
            if self.learning_path_results:
                rows = self._pages(
                    "/org/learningpaths/results",
                    params,
                    what="path results",
                    key=result_key,
                    bounded=True,
                )
                for item in rows:
                    yield path_record(item)
            assignments = {
                result_key(item): assignment_row(item)
                for item in self._pages(
                    "/org/users/courses",
                    params,
                    what="course assignments",
                    key=result_key,
                    bounded=True,
                )
            }
            rows = self._pages(
                "/org/results/details", params, what="results", key=result_key, bounded=True
            )
            yield from merged(rows, assignments)
            yield from self._assignments_alone(assignments)

    def _assignments_alone(
        self, assignments: Mapping[tuple[str, str], AssignmentRow]
    ) -> Iterator[ResultRecord]:
        """Assignments that changed without their result row: their current state from
        ``POST /users/courses``, 25 users a call. A removed one is left out: Litmos no
        longer lists it, and a record without its result would blank the one kept."""
        wanted: dict[str, set[str]] = {}
        for (user_id, course_id), row in assignments.items():
            if row.active and user_id and course_id:
                wanted.setdefault(user_id, set()).add(course_id)
        users = sorted(wanted)
        for first in range(0, len(users), USERS_PER_BATCH):
            batch = users[first : first + USERS_PER_BATCH]
            answer = self._send(
                "POST", "/users/courses", [{"Id": user} for user in batch], read=True
            )
            for entry in wire.as_items(answer):
                user_id = wire.as_text(entry.get("Id"))
                for item in wire.as_items(wire.get_field(entry, "Courses")):
                    record = assigned_record(user_id, item)
                    pair = wanted.get(record.remote_user_id, set())
                    if record.item_kind == "course" and record.item_id in pair:
                        yield record

    def results_backfill(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[ResultRecord]:
        """Course results changed in ``[since, until)`` (``until`` default: now) for a first
        run: one ``/results/details`` walk (no 7-day cap there), plus the learning path
        results in 7-day windows when the connection syncs learning paths.

        Never more reads than the 7-day windows over the same span: with W windows and
        pages of L rows, ``/results/details`` costs ``floor(C/L)+1`` for C results, where
        the windows cost ``sum(floor(c_w/L)+1) >= floor(C/L)+1`` for the same results plus
        ``sum(floor(a_w/L)+1) >= W`` for the assignments. Its rows carry no assignment or
        start date, and no removed assignment.
        """
        end = until if until is not None else datetime.now(UTC) + timedelta(seconds=1)
        pieces = list(_pieces(Window(since, end)))
        if not pieces:
            return
        params = {"since": wire.query_date(pieces[0][0]), "to": wire.query_date(pieces[-1][1])}
        rows = self._pages(
            "/results/details", params, what="results since", key=detail_key, bounded=True
        )
        for item in rows:
            yield detail_record(item)
        if not self.learning_path_results:
            return
        for piece_since, to in pieces:
            params = {"since": wire.query_date(piece_since), "to": wire.query_date(to)}
            path_rows = self._pages(
                "/org/learningpaths/results",
                params,
                what="path results",
                key=result_key,
                bounded=True,
            )
            for item in path_rows:
                yield path_record(item)

    def list_members(self, group_remote_id: str) -> Iterator[str]:
        """Remote ids of a team's members: ``GET /teams/{id}/users`` lists active ones only."""
        path = f"/teams/{quote(group_remote_id, safe='')}/users"
        for item in self._pages(path, {}, what="team members"):
            yield wire.as_text(item.get("Id"))

    def list_holders(self, kind: str, item_id: str) -> Iterator[str]:
        """Remote ids of the users a course or learning path is assigned to, one listing per
        item (``GET /courses/{id}/users``, ``GET /learningpaths/{id}/users``): for N people
        holding C managed items that is C calls (one more per 1,000 holders of an item),
        where asking per person would be N (or N/25 with ``POST /users/courses``)."""
        what = {"course": "courses", "learning_path": "learningpaths"}.get(kind)
        if what is None:
            raise NotImplementedError(f"litmos: no listing of `{kind}` assignments")
        path = f"/{what}/{quote(item_id, safe='')}/users"
        for item in self._pages(path, {}, what=f"{kind} holders"):
            yield wire.as_text(item.get("Id"))

    # ----------------------------------------------------------------------- signup links

    link_fields: ClassVar[tuple[str, ...]] = tokens.FIELDS

    def link_identity(self, link: DeclaredLink) -> str:
        """A token is known by its code."""
        return link.code

    def list_links(self, owner: str) -> Iterator[RemoteLink]:
        """Every self-signup token of the account (``GET /tokens``)."""
        for item in self._pages("/tokens", {}, what="tokens", key=tokens.token_key):
            yield tokens.remote_link(item)

    def create_link(self, link: DeclaredLink, owner: str) -> RemoteLink:
        answer = self._send("POST", "/tokens", [tokens.body(link)], read=True)
        return tokens.answered(answer, "POST /tokens", link)

    def update_link(self, remote: RemoteLink, link: DeclaredLink, owner: str) -> RemoteLink:
        body = {"TokenId": remote.vendor_id, **tokens.body(link)}
        return tokens.answered(self._send("PUT", "/tokens", [body], read=True), "PUT /tokens", link)


def _syncs_learning_paths(connection: ConnectionConfig) -> bool:
    """Whether result pulls read learning path results: ``options.learning_path_results``
    when set, else whether the connection hands out learning paths (a rule assigns one,
    or a signup link enrols into one)."""
    option = connection.options.get("learning_path_results")
    if option is not None:
        return wire.as_bool(option)
    return any(rule.assign.learning_paths for rule in connection.rules) or any(
        link.kind == "learning_path" for link in connection.signup_links
    )


def _pieces(window: Window) -> Iterator[tuple[datetime, datetime]]:
    """``window`` widened outwards to whole seconds, in spans of at most 7 days."""
    since = window.since.astimezone(UTC)
    until = window.until.astimezone(UTC)
    since = since.replace(microsecond=0)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    while since < until:
        to = min(since + RESULT_WINDOW, until)
        yield since, to
        since = to


def _item_key(item: Mapping[str, Any]) -> Hashable:
    return wire.as_text(item.get("Id")) or repr(sorted(item.items()))


def _same_username(user: Mapping[str, Any], username: str) -> bool:
    return wire.as_text(wire.get_field(user, "UserName")).casefold() == username.casefold()
