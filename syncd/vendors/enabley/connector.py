"""The Enabley connector: syncd's ops as Enabley API calls, and its answers as Outcomes.

Every behaviour follows vendor-docs ``enabley-api.txt`` and part B of
``scormcloud-enabley-notes.md`` (what the public clients send):

- auth: a bearer token from ``POST /api/v1/token`` (:mod:`.token`), renewed early and once
  more on a 401; a second 401 stops the drain (``CredentialRefused``);
- users: ``PUT /api/v2/users`` upserts by ``identifier``, which is the person's HRIS key
  (201 created, 200 an existing account with that identifier: adopted, its fields written).
  A username held by another identifier (``item_exists``) is looked up exactly
  (``GET /api/v3/users?usernameSubstring=`` is a substring search) and that account is
  adopted and brought in line. Updates send every managed field (``complete_updates``):
  the custom attributes are one object the upsert replaces whole. Leavers and returners:
  ``PUT /api/v2/users/{id}?isActive=false|true``. A changed HRIS key (the source's
  ``previous_key``): ``PUT /api/v2/users/identityManagement``, the same account renamed;
- groups: ``PUT /api/v1/groups`` with an identifier made from the group's key (so a repeat
  after a lost answer updates, never duplicates), its parent, and the hierarchy level of
  its depth (``GET /api/v1/groups/hierarchy``, read once; ``group_types`` overrides it);
- members: ``POST``/``DELETE /api/v1/groups/{g}/users/{u}``, one user per call; with
  ``memberships = "replace"`` a mover whose groups become exactly one is one ``POST
  ...?replace=true`` (the user's other group mappings go), instead of a call per removal;
- channels (courses): ``POST /api/v2/channels/{c}/users/{u}?roles=ROLE`` and
  ``DELETE /api/v1/channels/{c}/users/{u}``, one channel per call;
- listing: ``GET /api/v3/users`` paged by ``paginationKey`` and ``GET /api/v1/groups/list``.
  Enabley cannot list a group's members nor a channel's users: the mirror's memberships and
  assignments come from confirmed ops (:meth:`list_members` raises NotImplementedError, so
  a full reconcile leaves memberships unchecked) unless ``full_memberships`` is on: then
  the first :meth:`list_members` of a listing reads ``GET /api/v1/users/{u}/groups`` once per
  active user the listing found (the only way, vendor notes part B) and answers every group
  from that;
- removals answered ``item_not_exists`` count as done: what was to be removed is not there.

Connection options (``[connections.NAME.options]``, none secret): ``sub_account`` (the
sub-account users and groups are written to and listed from; default none: the account),
``role`` (the channel role, ``LEARNER`` or ``INSTRUCTOR``; default ``LEARNER``),
``user_role`` (the ``possibleRoles`` a new user gets; default ``LEARNER``),
``group_types`` (comma-separated hierarchy levels, top first; default: the account's own),
``full_memberships`` (``true``: ``reconcile --full`` checks memberships, at one call
per active user of the account on top of the listing; default ``false``: memberships are
left as syncd's record has them) and ``memberships`` (``add_remove``, the default: each
membership added and removed by its own call; ``replace``: syncd owns every group
membership of the people it manages, so a mover is moved with ``replace=true`` where that
is fewer calls; memberships made by hand in Enabley are then dropped when their person
moves).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from syncd.config import ConnectionConfig
from syncd.errors import ConfigError, Conflict, CredentialRefused, Permanent, Retryable
from syncd.limiter import RateRule, limiter_for
from syncd.log import get_logger
from syncd.plan import ops
from syncd.plan.model import VendorProfile
from syncd.plan.ops import Op, Refs, digest
from syncd.vendors.base import (
    Connector,
    Handler,
    MatchKey,
    Outcome,
    RemoteGroup,
    RemoteUser,
    handles,
)
from syncd.vendors.enabley import results, wire
from syncd.vendors.enabley.profile import PROFILE
from syncd.vendors.enabley.token import TokenSource
from syncd.vendors.paging import TokenPaginator

if TYPE_CHECKING:
    from syncd.http import HttpClient, Response
    from syncd.vendors.base import ResultRecord, Window

log = get_logger("syncd.vendors.enabley")

CHANNEL_ROLES = ("LEARNER", "INSTRUCTOR")
MEMBERSHIPS = ("add_remove", "replace")
"""``options.memberships``: ``replace`` says syncd owns every group membership of the people
it manages, so a mover may be moved with ``replace=true`` (memberships made by hand in
Enabley are dropped then)."""


class MissingRef(Permanent):
    """The worker gave no remote id for a user or group the op names (ordering bug)."""


def group_identifier(group_key: str) -> str:
    """The Enabley identifier of the group syncd makes for ``group_key``: stable, so a
    repeated upsert finds the same group, and free of ``/`` (it goes into paths)."""
    return f"syncd-{digest(group_key)}"


class EnableyConnector(Connector):
    """The Enabley REST API behind syncd's Connector interface."""

    vendor: ClassVar[str] = "enabley"
    profile: ClassVar[VendorProfile] = PROFILE
    rate: ClassVar[RateRule] = RateRule(requests=100, per_seconds=60)
    """Enabley documents no rate limit: this is the simulator's assumed rule (override it
    with the connection's ``rate``)."""
    rate_limit_statuses: ClassVar[tuple[int, ...]] = (429, 503)
    """503 ``service_unavailable`` is the only documented code that can mean "too fast"."""
    match_fields: ClassVar[Mapping[MatchKey, str]] = {
        "username": "username",
        "email": "email",
        "employee_id": "identifier",
    }
    sandbox_credentials: ClassVar[Mapping[str, str]] = {
        "client_id": "clientKey",
        "client_secret": "secret",
    }

    @classmethod
    def profile_for(cls, connection: ConnectionConfig) -> VendorProfile:
        """With ``memberships = "replace"`` a mover whose groups become exactly one is moved
        in one call (``replace=true``) instead of one per removal plus the addition."""
        if _memberships(connection.options) == "replace":
            return replace(cls.profile, membership_replace=True)
        return cls.profile

    def __init__(self, connection: ConnectionConfig, *, client: HttpClient | None = None) -> None:
        super().__init__(connection, client=client)
        options = connection.options
        _memberships(options)
        self.sub_account = str(options.get("sub_account", "")).strip()
        self.role = str(options.get("role", "LEARNER")).strip().upper()
        if self.role not in CHANNEL_ROLES:
            raise ConfigError(
                f"options.role must be LEARNER or INSTRUCTOR, not `{self.role}`",
                key="options.role",
            )
        self.user_role = str(options.get("user_role", "LEARNER")).strip().upper()
        types = str(options.get("group_types", "")).strip()
        self._types: list[str] | None = (
            [t.strip() for t in types.split(",") if t.strip()] if types else None
        )
        self._types_lock = threading.Lock()
        self.full_memberships = _flag(options.get("full_memberships", False), "full_memberships")
        self._active_listed: list[str] | None = None
        self._members: dict[str, set[str]] | None = None
        self.token = TokenSource(
            self._session_client(connection),
            connection.secret("client_id"),
            connection.secret("client_secret"),
        )

    @classmethod
    def _build(cls, connection: ConnectionConfig) -> HttpClient:
        client_id = connection.secret("client_id")
        from syncd.vendors.enabley.client import EnableyClient  # httpx only when calling

        return EnableyClient(
            vendor=cls.vendor,
            base_url=connection.base_url,
            timeout=connection.timeout_seconds,
            limiter=limiter_for(
                cls.vendor, connection.base_url, client_id, cls.rate_rule(connection)
            ),
            headers={"Accept": "application/json"},
            rate_limit_statuses=cls.rate_limit_statuses,
        )

    @classmethod
    def client_for(cls, connection: ConnectionConfig) -> HttpClient:
        return cls._build(connection)

    def _session_client(self, connection: ConnectionConfig) -> HttpClient:
        """The client of the calls no op pays for (token, hierarchy): same limiter, its
        own counter, so an op's ``calls`` are exactly what the plan priced."""
        return self._build(connection)

    def close(self) -> None:
        self.token.client.close()
        super().close()

    # ----------------------------------------------------------------------- requests

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        client: HttpClient | None = None,
    ) -> Response:
        """One API call with the bearer token; a 401 renews the token and tries once more."""
        http = client or self.client
        headers = self.token.headers()
        try:
            return http.request(method, path, params=params, json_body=body, headers=headers)
        except CredentialRefused:
            self.token.renew(headers["Authorization"])
            log.info("enabley.token_refused", method=method, path=path)
        return http.request(
            method, path, params=params, json_body=body, headers=self.token.headers()
        )

    def _json(self, method: str, path: str, response: Response) -> Any:
        """The answer as JSON; a cut-short or garbled body is worth another try."""
        try:
            return response.json()
        except ValueError:
            raise Retryable(
                f"enabley: {method} {path} -> {response.status} with an unreadable body",
                status=response.status,
            ) from None

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        return self._json("GET", path, self._request("GET", path, params=params))

    def _remove(self, path: str) -> None:
        """A DELETE whose ``item_not_exists`` means the goal already holds."""
        try:
            self._request("DELETE", path)
        except wire.Missing:
            log.info("enabley.already_removed", path=path)

    def _sub(self) -> dict[str, str | int]:
        return {"subAccountName": self.sub_account} if self.sub_account else {}

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
            handles(ops.ReplaceMemberships, self._replace_memberships),
            handles(ops.AssignCourses, self._assign_courses),
            handles(ops.AssignGroupCourses, self._assign_group_courses),
            handles(ops.UnassignCourse, self._unassign_course),
        )

    def _user_ref(self, external_id: str, refs: Refs) -> str:
        remote = refs.users.get(external_id)
        if not remote:
            raise MissingRef(f"enabley: no remote id for user `{external_id}` (not created yet)")
        return remote

    def _group_ref(self, group_key: str, refs: Refs) -> str:
        remote = refs.groups.get(group_key)
        if not remote:
            raise MissingRef(f"enabley: no remote id for group `{group_key}` (not created yet)")
        return remote

    # ----------------------------------------------------------------------- users

    def _upsert_user(
        self, identifier: str, attrs: Mapping[str, str], *, active: bool | None, new: bool
    ) -> Response:
        body: dict[str, Any] = {"identifier": identifier, **wire.user_fields(attrs)}
        if active is not None:
            body["isActive"] = active
        if new:
            body["possibleRoles"] = [self.user_role]
        if self.sub_account:
            body["subAccountName"] = self.sub_account
        return self._request("PUT", "/api/v2/users", body=body)

    def _create_user(self, op: ops.CreateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        attrs = dict(op.attrs)
        detail = {"attrs": attrs, "active": op.active}
        try:
            response = self._upsert_user(op.external_id, attrs, active=op.active, new=True)
        except Conflict as exc:
            username = attrs.get("username") or op.match_value
            found = self._find_user(username)
            if found is None:
                raise Permanent(
                    f"{exc.message}; no account with exactly the username `{username}` "
                    "can be found to adopt",
                    status=exc.status,
                ) from None
            remote_id = wire.as_text(found.get("identifier"))
            self._upsert_user(remote_id, attrs, active=op.active, new=False)
            log.info("enabley.adopted_user", external_id=op.external_id, remote_id=remote_id)
            return Outcome.done(
                op,
                calls=self.calls_since(before),
                remote_id=remote_id,
                adopted=True,
                detail=detail,
            )
        self._json("PUT", "/api/v2/users", response)  # a cut-short answer is not a confirmation
        adopted = response.status != 201
        if adopted:
            log.info("enabley.adopted_user", external_id=op.external_id, remote_id=op.external_id)
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            remote_id=op.external_id,
            adopted=adopted,
            detail=detail,
        )

    def _find_user(self, username: str) -> dict[str, Any] | None:
        """The account whose username is exactly ``username`` (compared case-blind)."""
        wanted = username.casefold()
        for item in self._user_pages({"usernameSubstring": username}):
            if wire.as_text(item.get("username")).casefold() == wanted:
                return item
        return None

    def _update_user(self, op: ops.UpdateUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        remote_id = self._user_ref(op.external_id, refs)
        changes = {name: new for name, _old, new in op.changes}
        complete = op.attrs or ()
        attrs = {**dict(complete), **changes} if complete else self._with_custom(remote_id, changes)
        self._upsert_user(remote_id, attrs, active=None, new=False)
        return Outcome.done(op, calls=self.calls_since(before), detail={"attrs": changes})

    def _with_custom(self, remote_id: str, changes: Mapping[str, str]) -> dict[str, str]:
        """``changes`` plus the account's other custom attributes, when a change is one:
        an op made without ``attrs`` must not blank the custom attributes it does not name
        (one extra read; the plan fills ``attrs`` for this vendor, so this is rare)."""
        if all(name in wire.PROFILE_FIELDS for name in changes):
            return dict(changes)
        info = self._get(f"/api/v2/users/{quote(remote_id, safe='')}", self._sub())
        current = wire.user_attrs(info if isinstance(info, dict) else {})
        custom = {
            k: v for k, v in current.items() if k not in wire.PROFILE_FIELDS and k != "identifier"
        }
        return {**custom, **changes}

    def _set_active(self, op: Op, external_id: str, refs: Refs, active: bool) -> Outcome:
        before = self.client.calls.total
        remote_id = self._user_ref(external_id, refs)
        self._request(
            "PUT",
            f"/api/v2/users/{quote(remote_id, safe='')}",
            params={"isActive": "true" if active else "false"},
        )
        return Outcome.done(op, calls=self.calls_since(before), detail={"active": active})

    def _deactivate_user(self, op: ops.DeactivateUser, refs: Refs) -> Outcome:
        return self._set_active(op, op.external_id, refs, False)

    def _reactivate_user(self, op: ops.ReactivateUser, refs: Refs) -> Outcome:
        return self._set_active(op, op.external_id, refs, True)

    def _delete_user(self, op: ops.DeleteUser, refs: Refs) -> Outcome:
        before = self.client.calls.total
        remote_id = self._user_ref(op.external_id, refs)
        self._remove(f"/api/v2/users/{quote(remote_id, safe='')}")
        return Outcome.done(op, calls=self.calls_since(before), detail={"deleted": True})

    def _rekey_user(self, op: ops.RekeyUser, refs: Refs) -> Outcome:
        """``PUT /api/v2/users/identityManagement``: the account known by the previous key
        is known by the new one (memberships, channels and progress follow it).

        An account adopted under another identifier (a username conflict at create) is not
        known by the HRIS key at all: its identifier stays, the rekey is the mirror's only.
        A repeat after a lost answer finds the previous identifier gone (``item_not_exists``)
        and the new one present: done. The new identifier already held by another account
        (``item_exists``) is refused: two accounts are never merged by a guess.
        """
        before = self.client.calls.total
        current = self._user_ref(op.previous_id, refs)
        if current != op.previous_id:
            return Outcome.done(op, calls=0, remote_id=current, detail={"rekeyed": False})
        body = {"currentUserIdentifier": current, "newUserIdentifier": op.external_id}
        try:
            self._request("PUT", "/api/v2/users/identityManagement", body=body)
        except wire.Missing as exc:
            if not self._user_exists(op.external_id):
                raise Permanent(
                    f"enabley: cannot change user `{current}` to `{op.external_id}`: neither "
                    "identifier exists in Enabley (deleted by hand? a full reconcile re-creates)",
                    status=exc.status,
                ) from None
            log.info("enabley.already_rekeyed", previous=current, external_id=op.external_id)
        except Conflict as exc:
            raise Permanent(
                f"enabley: cannot change user `{current}` to `{op.external_id}`: another "
                f"account already has the identifier `{op.external_id}`; merge or remove one "
                "of the two in Enabley, the next run then rekeys or adopts",
                status=exc.status,
            ) from None
        return Outcome.done(
            op, calls=self.calls_since(before), remote_id=op.external_id, detail={"rekeyed": True}
        )

    def _user_exists(self, identifier: str) -> bool:
        """Whether an account has exactly this identifier (``GET /api/v2/users/{id}``)."""
        try:
            self._get(f"/api/v2/users/{quote(identifier, safe='')}", self._sub())
        except wire.Missing:
            return False
        return True

    # ----------------------------------------------------------------------- groups

    def _group_types(self) -> list[str]:
        """The hierarchy's levels, top first: configured, else read once per connector."""
        with self._types_lock:
            if self._types is None:
                levels = self._json(
                    "GET",
                    "/api/v1/groups/hierarchy",
                    self._request("GET", "/api/v1/groups/hierarchy", client=self.token.client),
                )
                if not isinstance(levels, list) or not all(isinstance(t, str) for t in levels):
                    raise Retryable("enabley: the group hierarchy is not a list of types")
                self._types = list(levels)
            return self._types

    def _group_type(self, group_key: str) -> str:
        depth = wire.group_depth(group_key)
        types = self._group_types()
        if depth >= len(types):
            raise Permanent(
                f"enabley: group `{group_key}` is {depth + 1} levels deep but the account's "
                f"hierarchy has {len(types)} ({', '.join(types) or 'none'})"
            )
        return types[depth]

    def _upsert_group(
        self, op: ops.CreateGroup | ops.UpdateGroup, remote_id: str, refs: Refs
    ) -> tuple[Response, str]:
        parent = self._group_ref(op.parent_key, refs) if op.parent_key else ""
        body: dict[str, Any] = {
            "identifier": remote_id,
            "name": op.name,
            "type": self._group_type(op.group_key),
            "parentIdentifier": parent or None,
        }
        if self.sub_account:
            body["subAccountName"] = self.sub_account
        return self._request("PUT", "/api/v1/groups", body=body), parent

    def _create_group(self, op: ops.CreateGroup, refs: Refs) -> Outcome:
        before = self.client.calls.total
        remote_id = group_identifier(op.group_key)
        response, parent = self._upsert_group(op, remote_id, refs)
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            remote_id=remote_id,
            adopted=response.status != 201,
            detail={"name": op.name, "parent_remote_id": parent},
        )

    def _update_group(self, op: ops.UpdateGroup, refs: Refs) -> Outcome:
        before = self.client.calls.total
        _, parent = self._upsert_group(op, self._group_ref(op.group_key, refs), refs)
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"name": op.name, "parent_remote_id": parent}
        )

    def _member_path(self, group: str, user: str) -> str:
        return f"/api/v1/groups/{quote(group, safe='')}/users/{quote(user, safe='')}"

    def _add_members(self, op: ops.AddMembers, refs: Refs) -> Outcome:
        before = self.client.calls.total
        group = self._group_ref(op.group_key, refs)
        users = [self._user_ref(x, refs) for x in op.external_ids]
        for user in users:
            self._request("POST", self._member_path(group, user), params={"replace": "false"})
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"added": list(op.external_ids)}
        )

    def _replace_memberships(self, op: ops.ReplaceMemberships, refs: Refs) -> Outcome:
        """``POST /api/v1/groups/{g}/users/{u}?replace=true``: the user's every other group
        mapping goes and ``g`` is added, in one call (planned only under ``memberships =
        "replace"``)."""
        before = self.client.calls.total
        group = self._group_ref(op.group_key, refs)
        user = self._user_ref(op.external_id, refs)
        self._request("POST", self._member_path(group, user), params={"replace": "true"})
        return Outcome.done(
            op,
            calls=self.calls_since(before),
            detail={"added": [op.external_id], "removed_from": list(op.removed)},
        )

    def _remove_member(self, op: ops.RemoveMember, refs: Refs) -> Outcome:
        before = self.client.calls.total
        group = self._group_ref(op.group_key, refs)
        user = self._user_ref(op.external_id, refs)
        self._remove(self._member_path(group, user))
        return Outcome.done(op, calls=self.calls_since(before), detail={"removed": op.external_id})

    # ----------------------------------------------------------------------- channels

    def _assign_courses(self, op: ops.AssignCourses, refs: Refs) -> Outcome:
        before = self.client.calls.total
        user = quote(self._user_ref(op.external_id, refs), safe="")
        for channel in op.course_ids:
            self._request(
                "POST",
                f"/api/v2/channels/{quote(channel, safe='')}/users/{user}",
                params={"roles": self.role},
            )
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"course_ids": list(op.course_ids)}
        )

    def _assign_group_courses(self, op: ops.AssignGroupCourses, refs: Refs) -> Outcome:
        """``POST /api/v1/channels/{c}/groups/{g}?recursive=true`` per channel: a live link,
        so the group's members and its sub-groups' learn in the channel (later members
        too)."""
        before = self.client.calls.total
        group = quote(self._group_ref(op.group_key, refs), safe="")
        for channel in op.course_ids:
            if self.role != "LEARNER":  # the group form links learners only
                for person in op.external_ids:
                    user = quote(self._user_ref(person, refs), safe="")
                    path = f"/api/v2/channels/{quote(channel, safe='')}/users/{user}"
                    self._request("POST", path, params={"roles": self.role})
                continue
            self._request(
                "POST",
                f"/api/v1/channels/{quote(channel, safe='')}/groups/{group}",
                params={"recursive": "true", "userRole": "LEARNER"},
            )
        return Outcome.done(
            op, calls=self.calls_since(before), detail={"course_ids": list(op.course_ids)}
        )

    def _unassign_course(self, op: ops.UnassignCourse, refs: Refs) -> Outcome:
        before = self.client.calls.total
        user = quote(self._user_ref(op.external_id, refs), safe="")
        self._remove(f"/api/v1/channels/{quote(op.course_id, safe='')}/users/{user}")
        return Outcome.done(op, calls=self.calls_since(before), detail={"course_id": op.course_id})

    # ----------------------------------------------------------------------- listings

    def _user_pages(self, filters: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """``GET /api/v3/users`` to the last page: filters on the first call, then only the
        ``paginationKey`` (the server holds the rest of the walk)."""
        first = {**self._sub(), **filters}

        def fetch(key: str | None) -> tuple[list[dict[str, Any]], str | None]:
            params: dict[str, str | int] = {"paginationKey": key} if key else dict(first)
            page = self._get("/api/v3/users", params)
            following = page.get("paginationKey") if isinstance(page, dict) else None
            return wire.records(page), following if isinstance(following, str) else None

        return iter(TokenPaginator(fetch=fetch, key=_identifier, what="enabley users"))

    def list_users(self) -> Iterator[RemoteUser]:
        """Every account; a complete walk also keeps the active ones' identifiers, so that
        :meth:`list_members` reads their groups without listing the users again."""
        self._active_listed = None
        self._members = None
        active: list[str] = []
        for item in self._user_pages({}):
            attrs = wire.user_attrs(item)
            listed = self.remote_user(attrs["identifier"], wire.is_active(item), attrs)
            if listed.active:
                active.append(listed.remote_id)
            yield listed
        self._active_listed = active

    def list_members(self, group_remote_id: str) -> Iterator[str]:
        """The group's active members, from every active user's groups (``full_memberships``).

        Enabley has no member listing: the first call reads ``GET /api/v1/users/{u}/groups``
        for each active user of the last :meth:`list_users` (or of its own walk when there
        was none) and later calls answer from that, so T groups cost U calls, not T x U.
        Inactive accounts are not read: a full reconcile checks the memberships of active
        accounts only (as Litmos lists active members only)."""
        if not self.full_memberships:
            return super().list_members(group_remote_id)
        return iter(sorted(self._memberships().get(group_remote_id, ())))

    def _memberships(self) -> dict[str, set[str]]:
        """Group identifier -> member identifiers, read once per listing."""
        if self._members is None:
            users = self._active_listed
            if users is None:
                users = [u.remote_id for u in self.list_users() if u.active]
            members: dict[str, set[str]] = {}
            for user in users:
                for group in self._groups_of(user):
                    members.setdefault(group, set()).add(user)
            self._members = members
        return self._members

    def _groups_of(self, user: str) -> list[str]:
        """Identifiers of the groups ``user`` belongs to; none once the account is gone."""
        path = f"/api/v1/users/{quote(user, safe='')}/groups"
        try:
            answer = self._get(path, self._sub())
        except wire.Missing:
            log.info("enabley.member_gone", user=user)
            return []
        return [wire.as_text(g.get("identifier")) for g in wire.records(answer)]

    def list_groups(self) -> Iterator[RemoteGroup]:
        for item in wire.records(self._get("/api/v1/groups/list", self._sub())):
            yield RemoteGroup(
                remote_id=wire.as_text(item.get("identifier")),
                name=wire.as_text(item.get("name")),
                parent_remote_id=wire.as_text(item.get("parentIdentifier")),
            )

    # ----------------------------------------------------------------------- results

    result_scan: ClassVar[bool] = True
    """Enabley has no changed-since filter: every pull reads every result."""

    def results(self, window: Window) -> Iterator[ResultRecord]:
        """Every channel performance and user certificate, whatever ``window`` says: the
        fewest reads a full scan allows (:mod:`.results`), a 401 renewing the token once."""
        return results.scan(self._get, now=datetime.now(UTC))


def _identifier(item: Mapping[str, Any]) -> str:
    return wire.as_text(item.get("identifier"))


def _memberships(options: Mapping[str, Any]) -> str:
    """The ``memberships`` option: ``add_remove`` (the default) or ``replace``."""
    value = str(options.get("memberships", MEMBERSHIPS[0])).strip()
    if value not in MEMBERSHIPS:
        raise ConfigError(
            f"enabley options.memberships: `{value}` is not one of {', '.join(MEMBERSHIPS)}",
            key="options.memberships",
        )
    return value


def _flag(value: object, name: str) -> bool:
    """A yes/no option: a TOML boolean, or the words a person might write for one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1"}:
        return True
    if text in {"false", "no", "0", ""}:
        return False
    raise ConfigError(f"options.{name} must be true or false, not `{value}`", key=f"options.{name}")


__all__ = ["EnableyConnector", "group_identifier"]
