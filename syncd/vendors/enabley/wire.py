"""Enabley on the wire: user and group bodies, listed values, and what an error answer means.

Every refusal is an ``ErrorResponse{error, error_description}`` whose ``error`` is one of
eight documented codes (vendor-docs ``enabley-api.txt`` 4.6). :data:`ERRORS` says once what
each code means to syncd; the client (``syncd.vendors.enabley.client``) applies it at the
edge, so a connector handler only ever sees syncd's errors (a gateway's HTML page falls
back to the status).

User fields: ``UserData`` names six profile fields (:data:`PROFILE_FIELDS`); every other
managed field is a key of ``customAttributes``, an object the upsert replaces whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from syncd.errors import (
    Permanent,
)

if TYPE_CHECKING:
    from syncd.http import Response

PROFILE_FIELDS: tuple[str, ...] = ("username", "firstName", "lastName", "email", "phone", "address")
"""``UserData`` fields syncd may manage, in the reference's order; the rest are custom."""

CUSTOM = "customAttributes"


class Meaning(StrEnum):
    """What syncd does with an answer carrying one ``ErrorResponse`` code."""

    RETRY = "retry"
    RATE = "rate"
    CONFLICT = "conflict"
    PERMANENT = "permanent"
    MISSING = "missing"
    KEY = "key"


ERRORS: Mapping[str, Meaning] = {
    "invalid_request": Meaning.PERMANENT,
    "invalid_client": Meaning.KEY,
    "not_found": Meaning.PERMANENT,
    "access_denied": Meaning.KEY,
    "general_error": Meaning.RETRY,
    "item_exists": Meaning.CONFLICT,
    "item_not_exists": Meaning.MISSING,
    "service_unavailable": Meaning.RATE,
}
"""Each documented ``ErrorResponse.error`` code -> retry / conflict / permanent.

- ``invalid_request`` (400, malformed or refused input) and ``not_found`` (404, an unknown
  ``paginationKey``): permanent, the same request would be refused again;
- ``invalid_client`` (the token call refused the client key or secret) and
  ``access_denied`` (an invalid or expired token): the key itself, which stops the drain
  (the connector first renews the token once on a 401);
- ``general_error`` (500): retry;
- ``item_exists`` (a unique value, e.g. the username, is held by another user): a
  conflict the connector resolves by adoption where it can, else permanent;
- ``item_not_exists`` (a user, group or channel the request names does not exist):
  permanent, raised as :class:`Missing` so that a removal can count it as done;
- ``service_unavailable`` (503, also the answer to going too fast): rate limited, the
  credential pauses and the op is retried without being charged an attempt.
"""


class Missing(Permanent):
    """``item_not_exists``: the user, group or channel named does not exist."""


def error_code(response: Response) -> tuple[str, str]:
    """(``error``, ``error_description``) of an ``ErrorResponse`` body; ("", "") otherwise."""
    try:
        data = json.loads(response.content.decode("utf-8-sig")) if response.content else None
    except (UnicodeDecodeError, ValueError):
        return "", ""
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return "", ""
    description = data.get("error_description")
    return data["error"], description if isinstance(description, str) else ""


def status_meaning(status: int) -> Meaning:
    """What a status means when the body is not an ``ErrorResponse`` (a gateway page)."""
    if status in (429, 503):
        return Meaning.RATE
    if status >= 500 or status == 408:
        return Meaning.RETRY
    if status == 401:
        return Meaning.KEY
    if status == 409:
        return Meaning.CONFLICT
    return Meaning.PERMANENT


# --------------------------------------------------------------------------- values


def as_text(value: Any) -> str:
    """A wire value as the plain string syncd compares and stores ("" for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def user_fields(attrs: Mapping[str, str]) -> dict[str, Any]:
    """Managed fields as ``UserData`` members: profile fields by name (an empty e-mail is
    left out, the API checks its form), the rest in one ``customAttributes`` object."""
    body: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for name, value in attrs.items():
        if name in PROFILE_FIELDS:
            if name != "email" or value:
                body[name] = value
        else:
            custom[name] = value
    if custom:
        body[CUSTOM] = custom
    return body


def user_attrs(info: Mapping[str, Any]) -> dict[str, str]:
    """A ``UserInfo`` as flat strings: its identifier, profile fields and custom attributes
    (a custom attribute never shadows a profile field). No secret: ``UserInfo`` has none."""
    attrs = {"identifier": as_text(info.get("identifier"))}
    attrs.update({name: as_text(info.get(name)) for name in PROFILE_FIELDS})
    custom = info.get(CUSTOM)
    if isinstance(custom, dict):
        for name, value in custom.items():
            if isinstance(name, str) and name not in attrs:
                attrs[name] = as_text(value)
    return attrs


def is_active(info: Mapping[str, Any]) -> bool:
    """``isActive`` of a ``UserInfo``; Jackson may send the strings too."""
    value = info.get("isActive", True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return bool(value)


def records(data: Any) -> list[dict[str, Any]]:
    """A list answer (bare array or a page's ``items``) as its records."""
    if isinstance(data, dict):
        data = data.get("items")
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, dict)]


def group_depth(group_key: str) -> int:
    """How deep a group sits in its grouping: ``org:Sales`` 0, ``org:Sales/Field Sales`` 1.

    The Roster's group keys are ``grouping:level/level/...`` with any ``/`` inside a name
    escaped (``syncd.hris.groups``), so the depth is the count of the separators.
    """
    return group_key.partition(":")[2].count("/")
