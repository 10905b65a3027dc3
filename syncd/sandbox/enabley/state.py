"""The simulated Enabley account: every entity, the settings, and the lookups all parts share.

One :class:`Account` holds what a real tenant holds (users, groups, channels, master
channels, certificates, learner activity, profiles, entitlements) plus the knobs a test
turns (client credentials, sub-accounts, group hierarchy, the clock). The operation modules
(``users``, ``groups``, ``channels``, ``progress``, ``access``) act on it and hold no state
of their own. Dicts keep insertion order, which is the order lists come back in.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncd.sandbox.enabley.errors import missing
from syncd.sandbox.enabley.model import (
    Activity,
    Certificate,
    Channel,
    Group,
    MasterChannel,
    User,
    UserProfile,
)

DEFAULT_CLIENTS = {"sandbox-client": "sandbox-secret"}
DEFAULT_SUB_ACCOUNTS = ("sandbox",)
DEFAULT_HIERARCHY = ("COMPANY", "DIVISION", "DEPARTMENT", "TEAM")
_ENTITY_FIELDS = (
    "users",
    "groups",
    "channels",
    "masters",
    "certificates",
    "activity",
    "profiles",
    "entitlements",
    "usernames",
    "clients",
    "sub_accounts",
    "hierarchy",
)


@dataclass
class Account:
    """The whole tenant. ``lock`` serialises writers from the server and from tests."""

    clients: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CLIENTS))
    sub_accounts: list[str] = field(default_factory=lambda: list(DEFAULT_SUB_ACCOUNTS))
    hierarchy: list[str] = field(default_factory=lambda: list(DEFAULT_HIERARCHY))
    clock_source: Callable[[], float] = time.time
    clock_offset: float = 0.0
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    masters: dict[str, MasterChannel] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    activity: dict[tuple[str, str], Activity] = field(default_factory=dict)
    profiles: dict[str, UserProfile] = field(default_factory=dict)
    entitlements: set[tuple[str, str, str, str]] = field(default_factory=set)
    usernames: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def clock(self) -> float:
        """Wall-clock time as the account sees it (tests move it on with ``clock_offset``)."""
        return self.clock_source() + self.clock_offset

    def now(self) -> float:
        """The account's clock, rounded to the millisecond the wire format carries."""
        return round(self.clock(), 3)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of every entity, so a failed bulk change can be rolled back."""
        with self.lock:
            return {name: copy.deepcopy(getattr(self, name)) for name in _ENTITY_FIELDS}

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put back what :meth:`snapshot` copied."""
        with self.lock:
            for name in _ENTITY_FIELDS:
                setattr(self, name, snapshot[name])

    def clear(self) -> None:
        """Forget every entity; settings (clients, sub-accounts, hierarchy) stay."""
        with self.lock:
            self.users.clear()
            self.groups.clear()
            self.channels.clear()
            self.masters.clear()
            self.certificates.clear()
            self.activity.clear()
            self.profiles.clear()
            self.entitlements.clear()
            self.usernames.clear()

    def username_owner(self, username: str) -> str | None:
        """The identifier of the user holding ``username`` (compared case-insensitively)."""
        return self.usernames.get(username.casefold())

    def user(self, identifier: str) -> User:
        """The user or 400 ``item_not_exists``."""
        found = self.users.get(identifier)
        if found is None:
            raise missing(f"user {identifier!r} does not exist")
        return found

    def group(self, identifier: str) -> Group:
        """The group or 400 ``item_not_exists``."""
        found = self.groups.get(identifier)
        if found is None:
            raise missing(f"group {identifier!r} does not exist")
        return found

    def channel(self, identifier: str) -> Channel:
        """The channel or 400 ``item_not_exists``."""
        found = self.channels.get(identifier)
        if found is None:
            raise missing(f"channel {identifier!r} does not exist")
        return found

    def sub_account(self, name: str | None) -> str | None:
        """``name`` if the account has that sub-account (None passes), else 400."""
        if name is not None and name not in self.sub_accounts:
            raise missing(f"sub-account {name!r} does not exist")
        return name

    def descendants(self, identifier: str) -> list[str]:
        """Every group below ``identifier`` in the tree, nearest first."""
        found: list[str] = []
        frontier = [identifier]
        while frontier:
            parent = frontier.pop(0)
            children = [g.identifier for g in self.groups.values() if g.parent == parent]
            found.extend(children)
            frontier.extend(children)
        return found

    def learners(self, channel: Channel) -> list[str]:
        """Users who learn in ``channel``: direct LEARNERs plus members of assigned groups.

        Group assignment is a live link, so someone who joins the group later is a learner
        too; the result is in user creation order.
        """
        wanted = {u for u, roles in channel.users.items() if "LEARNER" in roles}
        for group_id, recursive in channel.groups.items():
            scope = [group_id, *(self.descendants(group_id) if recursive else [])]
            for gid in scope:
                group = self.groups.get(gid)
                if group is not None:
                    wanted |= group.members
        return [u for u in self.users if u in wanted]
