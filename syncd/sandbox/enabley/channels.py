"""Channel operations: upsert, listings, master channels, group and user assignment.

Assigning a group (``POST /api/v1/channels/{c}/groups/{g}``) is a live link: members who
join the group later learn in the channel too, and ``recursive`` extends it to sub-groups.
Assigning a user takes the roles LEARNER and/or INSTRUCTOR (LEARNER when none is given);
repeating an assignment adds roles and is never an error. Only learners count as members
and have performance.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.enabley.errors import exists, invalid, missing
from syncd.sandbox.enabley.fields import one_of, require_object, text
from syncd.sandbox.enabley.model import (
    CHANNEL_ROLES,
    CHANNEL_STATUSES,
    CHANNEL_TYPES,
    Channel,
    MasterChannel,
)
from syncd.sandbox.enabley.progress import activity_of
from syncd.sandbox.enabley.state import Account


def upsert(account: Account, body: Any) -> tuple[Channel, bool]:
    """Create or update ``body['identifier']`` from ``ChannelData``."""
    data = require_object(body, name="channelUpdate")
    identifier = text(data, "identifier", required=True)
    assert identifier is not None
    with account.lock:
        channel = account.channels.get(identifier)
        new = channel is None
        name = text(data, "name", required=new or "name" in data)
        kind = one_of(
            text(data, "type", required=new or "type" in data), CHANNEL_TYPES, name="type"
        )
        status = one_of(text(data, "status"), CHANNEL_STATUSES, name="status")
        sub_account = account.sub_account(text(data, "subAccountName"))
        if channel is None:
            assert name is not None and kind is not None
            channel = Channel(identifier=identifier, name=name, type=kind, created=account.now())
            account.channels[identifier] = channel
        else:
            channel.name = name if name is not None else channel.name
            channel.type = kind if kind is not None else channel.type
        if status is not None:
            channel.status = status
        if "subAccountName" in data:
            channel.sub_account = sub_account
        return channel, new


def listing(account: Account, *, since: float | None, sub_account: str | None) -> list[Channel]:
    """Channels created at or after ``since`` (when given), of one sub-account (when given)."""
    account.sub_account(sub_account)
    with account.lock:
        return [
            c
            for c in account.channels.values()
            if (since is None or c.created >= since)
            and (sub_account is None or c.sub_account == sub_account)
        ]


def masters(
    account: Account, *, only_published: bool, sub_account: str | None
) -> list[MasterChannel]:
    """Master channels, optionally only the published ones of one sub-account."""
    account.sub_account(sub_account)
    with account.lock:
        return [
            m
            for m in account.masters.values()
            if (m.published or not only_published)
            and (sub_account is None or m.sub_account == sub_account)
        ]


def create_instance(account: Account, body: Any) -> Channel:
    """``PUT /api/v2/channels/master/instance``: a new course channel from a master."""
    data = require_object(body, name="channelUpdate")
    identifier = text(data, "identifier", required=True)
    master_id = text(data, "masterCourseIdentifier", required=True)
    name = text(data, "name", required=True)
    assert identifier is not None and master_id is not None and name is not None
    sub_account = account.sub_account(text(data, "subAccountName"))
    with account.lock:
        master = account.masters.get(master_id)
        if master is None:
            raise missing(f"master course {master_id!r} does not exist")
        if identifier in account.channels:
            raise exists(f"channel {identifier!r} already exists")
        channel = Channel(
            identifier=identifier,
            name=name,
            type="COURSE",
            created=account.now(),
            sub_account=sub_account if sub_account is not None else master.sub_account,
            categories=list(master.categories),
            master_id=master_id,
        )
        account.channels[identifier] = channel
        return channel


def assign_group(
    account: Account, channel_id: str, group_id: str, *, recursive: bool, role: str | None
) -> None:
    """Link a group to a channel as learners; re-linking updates ``recursive``."""
    one_of(role, ("LEARNER",), name="userRole")
    with account.lock:
        channel = account.channel(channel_id)
        account.group(group_id)
        channel.groups[group_id] = recursive


def unassign_group(account: Account, channel_id: str, group_id: str) -> None:
    """Drop a group link; members who were also assigned directly stay."""
    with account.lock:
        channel = account.channel(channel_id)
        account.group(group_id)
        channel.groups.pop(group_id, None)


def assign_user(account: Account, channel_id: str, user_id: str, roles: list[str]) -> None:
    """Give a user roles in a channel (LEARNER when ``roles`` is empty)."""
    for role in roles:
        one_of(role, CHANNEL_ROLES, name="roles")
    with account.lock:
        channel = account.channel(channel_id)
        account.user(user_id)
        channel.users.setdefault(user_id, set()).update(roles or ["LEARNER"])


def unassign_user(account: Account, channel_id: str, user_id: str) -> None:
    """Remove a user's direct assignment (learning through a group is unaffected)."""
    with account.lock:
        channel = account.channel(channel_id)
        account.user(user_id)
        channel.users.pop(user_id, None)


def member_count(account: Account, channel_id: str) -> dict[str, int]:
    """``ExternalChannelMembersInfoGet``: the number of learners."""
    with account.lock:
        return {"learners": len(account.learners(account.channel(channel_id)))}


def force_complete(account: Account, channel_id: str, user_id: str) -> None:
    """Mark the channel complete for a learner; an earlier completion date is kept."""
    with account.lock:
        channel = account.channel(channel_id)
        account.user(user_id)
        if user_id not in account.learners(channel):
            raise missing(f"user {user_id!r} is not a learner of channel {channel_id!r}")
        now = account.now()
        record = activity_of(account, user_id, channel_id)
        record.started = record.started if record.started is not None else now
        record.progress = 100
        record.completed = record.completed if record.completed is not None else now


def catalog_item(
    account: Account, channel_id: str | None, sub_account: str | None
) -> dict[str, str]:
    """``ExternalCatalogItemGet`` for a channel."""
    if not channel_id:
        raise invalid("externalChannelId is required")
    account.sub_account(sub_account)
    channel = account.channel(channel_id)
    return {
        "catalogItemId": f"catalog-{channel.identifier}",
        "link": f"https://enabley.sandbox.invalid/catalog/{channel.identifier}",
    }
