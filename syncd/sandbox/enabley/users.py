"""User operations: upsert by external identifier, search, status, delete, identity change.

Upsert (``PUT /api/v2/users``) creates when the identifier is new (201) and otherwise
changes only the fields the body carries (200); ``subAccountName`` adds the user to that
sub-account. Usernames are unique across the account (case-insensitive), so a second
identifier claiming a taken username is refused with ``item_exists``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.sandbox.enabley.errors import exists, invalid, missing
from syncd.sandbox.enabley.fields import enum_list, flag, require_object, text
from syncd.sandbox.enabley.model import USER_ROLES, User
from syncd.sandbox.enabley.state import Account

_PROFILE_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "address": "address",
}


def upsert(account: Account, body: Any) -> tuple[User, bool]:
    """Create or update the user ``body['identifier']``; returns it and whether it is new."""
    data = require_object(body, name="userUpdate")
    identifier = text(data, "identifier", required=True)
    assert identifier is not None
    with account.lock:
        return _upsert(account, data, identifier)


def _upsert(account: Account, data: dict[str, Any], identifier: str) -> tuple[User, bool]:
    new = identifier not in account.users
    username = text(data, "username", required=new or "username" in data)
    sub_account = account.sub_account(text(data, "subAccountName"))
    roles = enum_list(data.get("possibleRoles"), USER_ROLES, name="possibleRoles")
    active = flag(data.get("isActive"), name="isActive")
    profile = {attr: text(data, key) for key, attr in _PROFILE_FIELDS.items() if key in data}
    email = profile.get("email")
    if email and "@" not in email:
        raise invalid(f"email {email!r} is not an email address")
    attributes = data.get("customAttributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise invalid("customAttributes must be a JSON object")
    password = text(data, "password")
    if username is not None:
        _check_username_free(account, username, identifier)
    now = account.now()
    user = account.users.get(identifier)
    created = user is None
    if user is None:
        assert username is not None
        user = User(identifier=identifier, username=username, created=now, modified=now)
        account.users[identifier] = user
    elif username is not None:
        del account.usernames[user.username.casefold()]
        user.username = username
    account.usernames[user.username.casefold()] = identifier
    for attr, value in profile.items():
        setattr(user, attr, value)
    if roles is not None:
        user.possible_roles = roles
    if active is not None:
        user.is_active = active
    if attributes is not None:
        user.custom_attributes = dict(attributes)
    if password is not None:
        user.has_password = True
    if sub_account is not None and sub_account not in user.sub_accounts:
        user.sub_accounts.append(sub_account)
    user.modified = now
    return user, created


def _check_username_free(account: Account, username: str, identifier: str) -> None:
    owner = account.username_owner(username)
    if owner is not None and owner != identifier:
        raise exists(f"username {username!r} is already used by another user")


def search(account: Account, query: Mapping[str, str]) -> list[User]:
    """Users matching every given filter (substrings case-insensitive, identifier exact)."""
    sub_account = account.sub_account(query.get("subAccountName") or None)
    identifier = query.get("identifier") or None
    substrings = {
        "email": query.get("emailSubstring"),
        "first_name": query.get("firstNameSubstring"),
        "last_name": query.get("lastNameSubstring"),
        "username": query.get("usernameSubstring"),
    }
    wanted = {attr: s.casefold() for attr, s in substrings.items() if s}
    found = []
    with account.lock:
        for user in account.users.values():
            if identifier is not None and user.identifier != identifier:
                continue
            if sub_account is not None and sub_account not in user.sub_accounts:
                continue
            if all(s in (getattr(user, a) or "").casefold() for a, s in wanted.items()):
                found.append(user)
    return found


def get(account: Account, identifier: str, sub_account: str | None) -> User:
    """The user, refused when ``sub_account`` is given and the user is not in it."""
    account.sub_account(sub_account)
    user = account.user(identifier)
    if sub_account is not None and sub_account not in user.sub_accounts:
        raise missing(f"user {identifier!r} is not in sub-account {sub_account!r}")
    return user


def set_status(account: Account, identifier: str, active: bool) -> User:
    """Activate or deactivate; ``isActive`` defaults to true as the reference says."""
    with account.lock:
        user = account.user(identifier)
        if user.is_active != active:
            user.is_active = active
            user.modified = account.now()
        return user


def delete(account: Account, identifier: str) -> None:
    """Remove the user with their memberships and channel assignments."""
    with account.lock:
        user = account.user(identifier)
        del account.users[identifier]
        del account.usernames[user.username.casefold()]
        for group in account.groups.values():
            group.members.discard(identifier)
        for channel in account.channels.values():
            channel.users.pop(identifier, None)
        for key in [k for k in account.activity if k[0] == identifier]:
            del account.activity[key]
        for certificate in account.certificates.values():
            certificate.required.pop(identifier, None)
        for profile in account.profiles.values():
            profile.members.discard(identifier)
        account.entitlements = {e for e in account.entitlements if e[0] != identifier}


def change_identifier(account: Account, body: Any) -> User:
    """``PUT /api/v2/users/identityManagement``: rename everywhere the user is referenced."""
    data = require_object(body, name="userIdentity")
    current = text(data, "currentUserIdentifier", required=True)
    new = text(data, "newUserIdentifier", required=True)
    assert current is not None and new is not None
    with account.lock:
        user = account.user(current)
        if new == current:
            return user
        if new in account.users:
            raise exists(f"user {new!r} already exists")
        account.users = {(new if k == current else k): v for k, v in account.users.items()}
        user.identifier = new
        user.modified = account.now()
        account.usernames[user.username.casefold()] = new
        for group in account.groups.values():
            if current in group.members:
                group.members.discard(current)
                group.members.add(new)
        for channel in account.channels.values():
            if current in channel.users:
                channel.users[new] = channel.users.pop(current)
        for key in [k for k in account.activity if k[0] == current]:
            account.activity[(new, key[1])] = account.activity.pop(key)
        for certificate in account.certificates.values():
            if current in certificate.required:
                certificate.required[new] = certificate.required.pop(current)
        for profile in account.profiles.values():
            if current in profile.members:
                profile.members.discard(current)
                profile.members.add(new)
        account.entitlements = {
            (new if e[0] == current else e[0], *e[1:]) for e in account.entitlements
        }
        return user


def remove_sub_account(account: Account, identifier: str, sub_account: str) -> User:
    """Take the user out of one sub-account; the user itself stays."""
    with account.lock:
        account.sub_account(sub_account)
        user = account.user(identifier)
        if sub_account not in user.sub_accounts:
            raise missing(f"user {identifier!r} is not in sub-account {sub_account!r}")
        user.sub_accounts.remove(sub_account)
        user.modified = account.now()
        return user
