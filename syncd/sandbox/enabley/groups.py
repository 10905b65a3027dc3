"""Group operations: upsert into the hierarchy, lookups, delete, membership.

The reference says of ``parentIdentifier``: "The group with parentIdentifier must exist".
``type`` names a level of the account's hierarchy (``GET /api/v1/groups/hierarchy``, top
to bottom); the simulator requires a child to sit on a deeper level than its parent, which
is how the known clients choose types, and refuses a parent that would make a cycle.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.enabley.errors import invalid, missing
from syncd.sandbox.enabley.fields import require_object, text
from syncd.sandbox.enabley.model import Group
from syncd.sandbox.enabley.state import Account


def upsert(account: Account, body: Any) -> tuple[Group, bool]:
    """Create or update ``body['identifier']``; returns the group and whether it is new."""
    data = require_object(body, name="groupUpdate")
    identifier = text(data, "identifier", required=True)
    assert identifier is not None
    with account.lock:
        group = account.groups.get(identifier)
        new = group is None
        name = text(data, "name", required=new or "name" in data)
        kind = text(data, "type", required=new or "type" in data)
        sub_account = account.sub_account(text(data, "subAccountName"))
        parent_id = text(data, "parentIdentifier") or None
        if "parentIdentifier" not in data and group is not None:
            parent_id = group.parent
        kind = kind if kind is not None else group.type if group is not None else None
        assert kind is not None
        _check_place(account, identifier, kind, parent_id)
        now = account.now()
        if group is None:
            assert name is not None
            group = Group(identifier=identifier, name=name, type=kind, created=now, modified=now)
            account.groups[identifier] = group
        elif name is not None:
            group.name = name
        group.type = kind
        group.parent = parent_id
        if "subAccountName" in data:
            group.sub_account = sub_account
        group.modified = now
        return group, new


def _check_place(account: Account, identifier: str, kind: str, parent_id: str | None) -> None:
    levels = account.hierarchy
    if kind not in levels:
        raise invalid(f"type must be one of the hierarchy levels {', '.join(levels)}, got {kind!r}")
    if parent_id is not None:
        parent = account.groups.get(parent_id)
        if parent is None:
            raise missing(f"parent group {parent_id!r} does not exist")
        if parent_id == identifier or parent_id in account.descendants(identifier):
            raise invalid(f"group {identifier!r} cannot be placed under its own subtree")
        if levels.index(kind) <= levels.index(parent.type):
            raise invalid(
                f"type {kind!r} must be below its parent's type {parent.type!r} in the hierarchy"
            )
    for child in account.groups.values():
        if child.parent == identifier and levels.index(child.type) <= levels.index(kind):
            raise invalid(
                f"type {kind!r} must stay above the type {child.type!r} of sub-group "
                f"{child.identifier!r}"
            )


def listing(account: Account, sub_account: str | None) -> list[Group]:
    """Every group, or the groups of one sub-account."""
    account.sub_account(sub_account)
    with account.lock:
        return [
            g
            for g in account.groups.values()
            if sub_account is None or g.sub_account == sub_account
        ]


def get(account: Account, identifier: str, sub_account: str | None) -> Group:
    """The group, refused when it is not in the given sub-account."""
    account.sub_account(sub_account)
    group = account.group(identifier)
    if sub_account is not None and group.sub_account != sub_account:
        raise missing(f"group {identifier!r} is not in sub-account {sub_account!r}")
    return group


def delete(account: Account, identifier: str) -> None:
    """Remove a leaf group with its memberships and channel assignments."""
    with account.lock:
        account.group(identifier)
        children = [g.identifier for g in account.groups.values() if g.parent == identifier]
        if children:
            raise invalid(f"group {identifier!r} still has sub-groups: {', '.join(children)}")
        del account.groups[identifier]
        for channel in account.channels.values():
            channel.groups.pop(identifier, None)


def add_user(account: Account, group_id: str, user_id: str, *, replace: bool) -> None:
    """Add a member (again is fine); ``replace`` first drops all their other groups."""
    with account.lock:
        group = account.group(group_id)
        account.user(user_id)
        if replace:
            for other in account.groups.values():
                other.members.discard(user_id)
        group.members.add(user_id)


def remove_user(account: Account, group_id: str, user_id: str) -> None:
    """Remove a member; removing a non-member succeeds, as entitlement removal does."""
    with account.lock:
        group = account.group(group_id)
        account.user(user_id)
        group.members.discard(user_id)


def of_user(account: Account, user_id: str, sub_account: str | None) -> list[Group]:
    """The groups a user belongs to (``GET /api/v1/users/{id}/groups``)."""
    account.sub_account(sub_account)
    with account.lock:
        account.user(user_id)
        return [
            g
            for g in account.groups.values()
            if user_id in g.members and (sub_account is None or g.sub_account == sub_account)
        ]
