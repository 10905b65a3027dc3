"""Users, teams and self-signup tokens on the wire, member by member, in wire order.

The user profile's order is the one recorded in 2016 (``Culture`` between custom fields 3
and 4); the members the API gained later follow ``Points`` in the order a 2019 recording
shows them (``Brand, ManagerId, ManagerName, EnableTextNotification, Website, Twitter,
ExpirationDate``), then the ones newer still (``JobRole, ExternalEmployeeId, ProfileType``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.sandbox.litmos.store import Store, Team, Token, User
from syncd.sandbox.litmos.wire import iso_z


@dataclass(frozen=True)
class UserField:
    """One member of the User data contract; ``writable`` members are taken from bodies."""

    name: str
    kind: str = "str"
    writable: bool = True
    default: Any = None
    max_length: int | None = None


USER_FIELDS: tuple[UserField, ...] = (
    UserField("Id", writable=False, max_length=50),
    UserField("UserName", max_length=255),
    UserField("FirstName", max_length=50),
    UserField("LastName", max_length=50),
    UserField("FullName", writable=False),
    UserField("Email", max_length=255),
    UserField("AccessLevel", default="Learner"),
    UserField("DisableMessages", "bool", default=False),
    UserField("Active", "bool", default=True),
    UserField("Skype", max_length=100),
    UserField("PhoneWork", max_length=50),
    UserField("PhoneMobile", max_length=50),
    UserField("LastLogin", writable=False),
    UserField("LoginKey", writable=False),
    UserField("IsCustomUsername", "bool", default=False),
    UserField("Password", writable=False),
    UserField("SkipFirstLogin", "bool", default=False),
    UserField("TimeZone", default="UTC"),
    UserField("SalesforceId"),
    UserField("OriginalId", "int", writable=False),
    UserField("Street1", max_length=100),
    UserField("Street2", max_length=100),
    UserField("City"),
    UserField("State"),
    UserField("PostalCode"),
    UserField("Country"),
    UserField("CompanyName", max_length=100),
    UserField("JobTitle"),
    UserField("CustomField1"),
    UserField("CustomField2"),
    UserField("CustomField3"),
    UserField("Culture", default="en-US"),
    UserField("CustomField4"),
    UserField("CustomField5"),
    UserField("CustomField6"),
    UserField("CustomField7"),
    UserField("CustomField8"),
    UserField("CustomField9"),
    UserField("CustomField10"),
    UserField("SalesforceContactId"),
    UserField("SalesforceAccountId"),
    UserField("CreatedDate", writable=False),
    UserField("Points", "int", writable=False),
    UserField("Brand", default="Default"),
    UserField("ManagerId"),
    UserField("ManagerName", writable=False),
    UserField("EnableTextNotification", "bool", default=False),
    UserField("Website"),
    UserField("Twitter"),
    UserField("ExpirationDate"),
    UserField("JobRole"),
    UserField("ExternalEmployeeId"),
    UserField("ProfileType"),
)
USER_ORDER: tuple[str, ...] = tuple(f.name for f in USER_FIELDS)
# Members a create leaves null when not sent; other strings become "". Recorded echoes of a
# create: the Salesforce ids null (2016 JSON, 2019 XML); Website, Twitter and
# ExpirationDate empty elements, not nil (2019 XML). The members newer than that: [?].
NULL_ON_CREATE = frozenset(
    {"SalesforceId", "SalesforceContactId", "SalesforceAccountId"}
    | {"JobRole", "ExternalEmployeeId", "ProfileType"}
)
# A user without a manager: the 2019 recorded create echo says <ManagerId>0</ManagerId> and
# an empty <ManagerName/>, so "0" is how the API writes "none" (and must take it back).
NO_MANAGER = "0"


def create_defaults() -> dict[str, Any]:
    """Writable members of a user created through the API, before the body is applied."""
    return {
        f.name: ("" if f.kind == "str" and f.name not in NULL_ON_CREATE else f.default)
        if f.default is None
        else f.default
        for f in USER_FIELDS
        if f.writable
    }


USER_ITEM = ("Id", "UserName", "FirstName", "LastName", "Active", "Email", "AccessLevel", "Brand")


def full_name(user: User) -> str:
    first = user.fields.get("FirstName") or ""
    last = user.fields.get("LastName") or ""
    return f"{first} {last}".strip()


def manager_name(manager: User) -> str:
    """``ManagerName``: the manager's full name then username, as recorded in 2019
    (``Daniel Blasher test1@email.com``; that manager's username and e-mail were the same
    address, so whether the second part is the username or the e-mail is [?])."""
    return f"{full_name(manager)} {manager.fields.get('UserName') or ''}".strip()


def user_profile(store: Store, user: User) -> dict[str, Any]:
    """``GET /users/{id}``: the full profile; its dates are ISO strings, "" when unset."""
    manager = store.users.get(user.fields.get("ManagerId") or "")
    computed = {
        "Id": user.id,
        "FullName": full_name(user),
        "LastLogin": iso_z(user.last_login),
        "LoginKey": user.login_key,
        "Password": "",
        "OriginalId": user.original_id,
        "CreatedDate": iso_z(user.created),
        "Points": 0,
        "ManagerId": manager.id if manager else NO_MANAGER,
        "ManagerName": manager_name(manager) if manager else "",
    }
    return {
        f.name: computed[f.name] if f.name in computed else user.fields.get(f.name)
        for f in USER_FIELDS
    }


def user_item(user: User) -> dict[str, Any]:
    """A user in a list (``/users``, team members): the short form."""
    record: dict[str, Any] = {"Id": user.id}
    record.update({name: user.fields.get(name) for name in USER_ITEM[1:]})
    return record


def team_code(team: Team) -> str:
    return f"{team.original_id}-{''.join(team.name.split())}"


def team_one(team: Team) -> dict[str, Any]:
    """``GET /teams/{id}`` and the 201 of a create."""
    return {
        "Id": team.id,
        "Name": team.name,
        "Description": team.description,
        "ParentTeamId": team.parent_id,
        "TeamCodeForBulkImport": team_code(team),
    }


def team_item(team: Team) -> dict[str, Any]:
    return {
        "Id": team.id,
        "Name": team.name,
        "TeamCodeForBulkImport": team_code(team),
        "ParentTeamId": team.parent_id,
    }


def token(token: Token) -> dict[str, Any]:
    return {
        "TokenId": token.id,
        "TokenCode": token.code,
        "TokenType": token.type,
        "TokenTypeId": token.type_id,
        "Active": token.active,
        "MaximumActivations": token.maximum_activations,
        "TokenExpiration": token.expiration,
    }
