"""The Enabley account as plain JSON data, and back, checked field by field.

What :mod:`syncd.sandbox.account_file` stores for a ``sandbox:`` Enabley connection: every
entity of the :class:`~syncd.sandbox.enabley.state.Account` and its settings (client
credentials, sub-accounts, group hierarchy, clock offset). Tables keyed by identifier are
stored as lists and keyed again on load; learner activity, keyed by (user, channel), is
stored as rows. Loading checks every field's type (pydantic over the simulator's own
dataclasses), that identifiers and usernames are unique, that group types are levels of
the hierarchy and that every reference (a parent group, a member, a channel's users and
groups, activity, certificate requirements, profile members, entitlements) names an entity
that exists. Open ``paginationKey`` cursors and issued tokens are not kept: a restarted
API forgets them as a restarted server would, and clients fetch a new token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from syncd.sandbox.account_file import first_problem, keyed_rows
from syncd.sandbox.enabley.model import (
    Activity,
    Certificate,
    Channel,
    Group,
    MasterChannel,
    User,
    UserProfile,
)
from syncd.sandbox.enabley.state import Account


class ActivityRow(BaseModel):
    """One learner's progress in one channel (the account keys it by the pair)."""

    model_config = ConfigDict(extra="forbid")

    user: str
    channel: str
    record: Activity


class EnableyAccount(BaseModel):
    """Every table and setting of one simulated Enabley account."""

    model_config = ConfigDict(extra="forbid")

    clients: dict[str, str]
    sub_accounts: list[str]
    hierarchy: list[str]
    clock_offset: float
    users: list[User]
    groups: list[Group]
    channels: list[Channel]
    masters: list[MasterChannel]
    certificates: list[Certificate]
    activity: list[ActivityRow]
    profiles: list[UserProfile]
    entitlements: list[tuple[str, str, str, str]]


def dump(account: Account) -> bytes:
    """The account as JSON (built without re-checking: the account's rows are well typed)."""
    with account.lock:
        document = EnableyAccount.model_construct(
            clients=dict(account.clients),
            sub_accounts=list(account.sub_accounts),
            hierarchy=list(account.hierarchy),
            clock_offset=account.clock_offset,
            users=list(account.users.values()),
            groups=list(account.groups.values()),
            channels=list(account.channels.values()),
            masters=list(account.masters.values()),
            certificates=list(account.certificates.values()),
            activity=[
                ActivityRow.model_construct(user=user, channel=channel, record=record)
                for (user, channel), record in account.activity.items()
            ],
            profiles=list(account.profiles.values()),
            entitlements=sorted(account.entitlements),
        )
        return document.model_dump_json(warnings=False).encode("utf-8")


def load(account: Account, data: bytes) -> None:
    """Replace everything in ``account`` in place; ValueError names the first problem and
    leaves the account as it was."""
    try:
        document = EnableyAccount.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None
    if not document.clients:
        raise ValueError("clients: the account needs at least one client key")
    tables = _tables(document)
    _check(document, tables)
    with account.lock:
        account.clients = dict(document.clients)
        account.sub_accounts = list(document.sub_accounts)
        account.hierarchy = list(document.hierarchy)
        account.clock_offset = document.clock_offset
        for name, table in tables.items():
            setattr(account, name, table)
        account.entitlements = set(document.entitlements)


def _tables(document: EnableyAccount) -> dict[str, dict[Any, Any]]:
    users = keyed_rows(document.users, "users", lambda u: u.identifier)
    return {
        "users": users,
        "usernames": _by_username(users.values()),
        "groups": keyed_rows(document.groups, "groups", lambda g: g.identifier),
        "channels": keyed_rows(document.channels, "channels", lambda c: c.identifier),
        "masters": keyed_rows(document.masters, "masters", lambda m: m.identifier),
        "certificates": keyed_rows(document.certificates, "certificates", lambda c: c.identifier),
        "profiles": keyed_rows(document.profiles, "profiles", lambda p: p.identifier),
        "activity": {
            key: row.record
            for key, row in keyed_rows(
                document.activity, "activity", lambda r: (r.user, r.channel)
            ).items()
        },
    }


def _by_username(users: Iterable[User]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for user in users:
        name = user.username.casefold()
        if name in owners:
            raise ValueError(f"users: username {user.username!r} appears twice")
        owners[name] = user.identifier
    return owners


def _check(document: EnableyAccount, tables: Mapping[str, Mapping[Any, Any]]) -> None:
    """Every reference names an entity that exists; group types are hierarchy levels."""
    users, groups, channels = tables["users"], tables["groups"], tables["channels"]

    def known(table: str, value: str, where: str, target: Mapping[Any, Any], what: str) -> None:
        if value not in target:
            raise ValueError(f"{table}: {where} {value!r} is not in {what}")

    for group in groups.values():
        if group.type not in document.hierarchy:
            raise ValueError(f"groups: type {group.type!r} is not a level of the hierarchy")
        if group.parent is not None:
            known("groups", group.parent, "parent", groups, "groups")
        for member in group.members:
            known("groups", member, "member", users, "users")
    for channel in channels.values():
        for user in channel.users:
            known("channels", user, "user", users, "users")
        for group_id in channel.groups:
            known("channels", group_id, "group", groups, "groups")
    for user_id, channel_id in tables["activity"]:
        known("activity", user_id, "user", users, "users")
        known("activity", channel_id, "channel", channels, "channels")
    for certificate in tables["certificates"].values():
        for user_id in certificate.required:
            known("certificates", user_id, "required user", users, "users")
    for profile in tables["profiles"].values():
        for user_id in profile.members:
            known("profiles", user_id, "member", users, "users")
    for user_id, *_rest in document.entitlements:
        known("entitlements", user_id, "user", users, "users")
