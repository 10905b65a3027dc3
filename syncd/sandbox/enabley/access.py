"""Entitlements, instructor permissions and user profiles.

Entitlements give a user a non-learner role (MANAGER, EDITOR, INSTRUCTOR) on a course,
group or workspace. The API has no call that lists them; removing one that does not exist
succeeds, as a public client records. The sandbox holds no workspaces, so a WORKSPACE
entitlement names one that does not exist. Permissions can only be set for a user whose
roles include INSTRUCTOR, and replace whatever the user had.
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.enabley.errors import invalid, missing
from syncd.sandbox.enabley.fields import enum_list, flag, one_of, require_object, text
from syncd.sandbox.enabley.model import (
    ENTITLEMENT_ROLES,
    ENTITY_TYPES,
    PERMISSIONS,
    UserProfile,
)
from syncd.sandbox.enabley.state import Account

Entitlement = tuple[str, str, str, str]


def entitlement(account: Account, body: Any) -> Entitlement:
    """Read and check an ``ExternalEntitlement``: the user and the entity must exist."""
    data = require_object(body, name="entitlement")
    user_id = text(data, "userIdentifier", required=True)
    entity_type = one_of(text(data, "entityType", required=True), ENTITY_TYPES, name="entityType")
    entity_id = text(data, "entityIdentifier", required=True)
    role = one_of(text(data, "userRole", required=True), ENTITLEMENT_ROLES, name="userRole")
    assert user_id and entity_type and entity_id and role
    account.user(user_id)
    if entity_type == "COURSE":
        account.channel(entity_id)
    elif entity_type == "GROUP":
        account.group(entity_id)
    else:
        raise missing(f"workspace {entity_id!r} does not exist")
    return (user_id, entity_type, entity_id, role)


def add_entitlement(account: Account, body: Any) -> None:
    """Grant the role (granting it again changes nothing)."""
    with account.lock:
        account.entitlements.add(entitlement(account, body))


def remove_entitlement(account: Account, body: Any) -> None:
    """Revoke the role; revoking one never granted succeeds."""
    with account.lock:
        account.entitlements.discard(entitlement(account, body))


def set_permissions(account: Account, user_id: str, body: Any) -> None:
    """Replace an instructor's permissions."""
    data = require_object(body, name="permissions")
    if "permissions" not in data:
        raise invalid("permissions is required")
    permissions = enum_list(data["permissions"], PERMISSIONS, name="permissions")
    assert permissions is not None
    with account.lock:
        user = account.user(user_id)
        if "INSTRUCTOR" not in user.possible_roles:
            raise invalid(f"user {user_id!r} does not have the INSTRUCTOR role")
        user.permissions = permissions


def upsert_profile(account: Account, body: Any) -> tuple[UserProfile, bool]:
    """Create or rename a user profile (``UserProfileData``)."""
    data = require_object(body, name="externalUserProfileUpdate")
    identifier = text(data, "identifier", required=True)
    name = text(data, "name", required=True)
    assert identifier is not None and name is not None
    with account.lock:
        now = account.now()
        profile = account.profiles.get(identifier)
        if profile is None:
            profile = UserProfile(identifier=identifier, name=name, created=now, modified=now)
            account.profiles[identifier] = profile
            return profile, True
        profile.name = name
        profile.modified = now
        return profile, False


def profiles_by_id(account: Account, body: Any) -> list[UserProfile]:
    """The profiles among ``body`` (an array of identifiers) that exist, in that order."""
    if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
        raise invalid("identifiers must be an array of strings")
    return [account.profiles[i] for i in dict.fromkeys(body) if i in account.profiles]


def profiles_of(account: Account, user_id: str) -> list[UserProfile]:
    """The profiles a user is mapped to."""
    with account.lock:
        account.user(user_id)
        return [p for p in account.profiles.values() if user_id in p.members]


def _profile(account: Account, identifier: str) -> UserProfile:
    found = account.profiles.get(identifier)
    if found is None:
        raise missing(f"user profile {identifier!r} does not exist")
    return found


def assign_profile(account: Account, profile_id: str, user_id: str, replace: Any) -> None:
    """Map a user to a profile; ``replace`` first drops the user's other profiles."""
    drop_others = flag(replace, name="replace", default=False)
    with account.lock:
        profile = _profile(account, profile_id)
        account.user(user_id)
        if drop_others:
            for other in account.profiles.values():
                other.members.discard(user_id)
        profile.members.add(user_id)


def unassign_profile(account: Account, profile_id: str, user_id: str) -> None:
    """Remove a user's mapping to a profile (absent mappings are fine)."""
    with account.lock:
        profile = _profile(account, profile_id)
        account.user(user_id)
        profile.members.discard(user_id)
