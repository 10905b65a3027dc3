"""Litmos on the wire: field order, value types, both body formats and both date formats.

Litmos runs on WCF, whose deserialiser silently drops elements that arrive out of order, so
"the PUT or POST request will not update/create the users" when the order changes (the
vendor's own words). Every user body is therefore built in the *wire order* recorded from
real traffic (``USER_FIELDS``), and an update writes back the object it just read, in the
order it was received.

Answers come as JSON with ``format=json`` (bare arrays, no wrapper) but the API is known to
answer XML regardless on some endpoints, so :func:`decode` reads both: WCF XML collections
(``<Users><User>...``) become lists, ``i:nil="true"`` becomes None. Dates arrive as ISO 8601
on user profiles and as ``/Date(ms+zzzz)/`` on results and assignments; :func:`parse_date`
reads both (the milliseconds are UTC already; the offset is informational).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

USER_FIELDS: tuple[str, ...] = (
    "Id",
    "UserName",
    "FirstName",
    "LastName",
    "FullName",
    "Email",
    "AccessLevel",
    "DisableMessages",
    "Active",
    "Skype",
    "PhoneWork",
    "PhoneMobile",
    "LastLogin",
    "LoginKey",
    "IsCustomUsername",
    "Password",
    "SkipFirstLogin",
    "TimeZone",
    "SalesforceId",
    "OriginalId",
    "Street1",
    "Street2",
    "City",
    "State",
    "PostalCode",
    "Country",
    "CompanyName",
    "JobTitle",
    "CustomField1",
    "CustomField2",
    "CustomField3",
    "Culture",
    "CustomField4",
    "CustomField5",
    "CustomField6",
    "CustomField7",
    "CustomField8",
    "CustomField9",
    "CustomField10",
    "SalesforceContactId",
    "SalesforceAccountId",
    "CreatedDate",
    "Points",
    # Added after the 2016 recordings; their wire position is unknown, the SAP spec's
    # relative order is kept and they go last.
    "Brand",
    "ManagerId",
    "ManagerName",
    "EnableTextNotification",
    "Website",
    "Twitter",
    "ExpirationDate",
    "JobRole",
    "ExternalEmployeeId",
    "ProfileType",
)
"""Every Litmos user field, in the order real traffic shows (``Culture`` after field 3)."""

_POSITION = {name: i for i, name in enumerate(USER_FIELDS)}

READ_ONLY_USER_FIELDS = frozenset(
    {"Id", "FullName", "LastLogin", "LoginKey", "OriginalId", "CreatedDate", "Points"}
    | {"ManagerName"}
)
"""Fields Litmos derives or ignores on write; syncd never manages them."""

SECRET_USER_FIELDS = frozenset({"LoginKey", "Password"})
"""A login key is an auto-login URL: a credential. Neither leaves the connector."""

BOOL_USER_FIELDS = frozenset(
    {"DisableMessages", "Active", "IsCustomUsername", "SkipFirstLogin", "EnableTextNotification"}
)
INT_USER_FIELDS = frozenset({"OriginalId", "Points"})

REQUIRED_ON_CREATE: tuple[str, ...] = (
    "Id",
    "UserName",
    "FirstName",
    "LastName",
    "Email",
    "AccessLevel",
    "DisableMessages",
    "Active",
    "IsCustomUsername",
    "SkipFirstLogin",
    "TimeZone",
)
"""The SAP spec's required fields plus ``FirstName`` (every client sends it)."""

TEAM_FIELDS: tuple[str, ...] = ("Id", "Name", "Description", "ParentTeamId")


def user_order(names: Iterable[str]) -> list[str]:
    """Field names sorted into wire order; unknown ones (custom) keep their order, last."""
    names = list(names)
    known = sorted((n for n in names if n in _POSITION), key=_POSITION.__getitem__)
    return known + [n for n in names if n not in _POSITION]


# --------------------------------------------------------------------------- values


def to_wire(field: str, value: Any) -> Any:
    """A managed value (always a string in syncd) as Litmos' JSON expects it."""
    if value is None:
        return None
    if field in BOOL_USER_FIELDS:
        return as_bool(value)
    if field in INT_USER_FIELDS and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def as_text(value: Any) -> str:
    """A wire value as the plain string syncd compares and stores ("" for nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes"}


def same_value(field: str, remote: Any, wanted: str) -> bool:
    """Does the LMS already hold ``wanted`` in ``field``? (booleans and nulls normalised)."""
    if field in BOOL_USER_FIELDS:
        return remote is not None and as_bool(remote) == as_bool(wanted)
    return as_text(remote) == wanted


def public_attrs(user: Mapping[str, Any]) -> dict[str, str]:
    """A user's fields as strings, without secrets: what may be listed, logged or stored."""
    return {k: as_text(v) for k, v in user.items() if k not in SECRET_USER_FIELDS}


def folded(item: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` with its member names lower-cased, made once per row so that reading many
    members case-blind (:func:`pick`) costs a dict lookup each, not a copy of the row."""
    return {k.lower(): v for k, v in item.items()}


def pick(row: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` (any casing) with a value in a :func:`folded` row."""
    for name in names:
        value = row.get(name.lower())
        if value is not None:
            return value
    return None


def get_field(item: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present, matched case-insensitively (key casing varies)."""
    for name in names:
        if name in item:
            return item[name]
    lowered = {k.lower(): v for k, v in item.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


# --------------------------------------------------------------------------- dates

_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_date(value: Any) -> datetime | None:
    """ISO 8601 (with or without zone/fraction; naive is UTC) or WCF ``/Date(ms±zzzz)/``."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    match = _WCF_DATE.match(text)
    if match:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a Litmos date: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def wcf_date(moment: datetime) -> str:
    """``/Date(ms)/``: the only date form Litmos accepts in JSON request bodies."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return f"/Date({(moment - epoch) // timedelta(milliseconds=1)})/"


def query_date(moment: datetime) -> str:
    """``since``/``to`` query values: ``YYYY-MM-DD HH:MM:SS`` in UTC, as the docs give."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- bodies

_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def decode(content: bytes, content_type: str = "") -> Any:
    """A Litmos answer body as plain data: JSON, or WCF XML turned into the same shapes."""
    text = content.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return None
    if text.startswith("<") or "xml" in content_type:
        root = ElementTree.fromstring(text)
        if len(root) == 0 and not (root.text or "").strip() and root.get(_NIL) != "true":
            return [] if _local(root.tag).endswith("s") else {}
        return _xml(root)
    return json.loads(text)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_collection(tag: str, child_tags: list[str]) -> bool:
    if len(set(child_tags)) != 1:
        return False
    child = child_tags[0]
    return tag in {child + "s", child + "es", "Items"} or tag.endswith("Collection")


def _xml(element: ElementTree.Element) -> Any:
    if element.get(_NIL) == "true":
        return None
    children = list(element)
    if not children:
        return element.text or ""
    tags = [_local(child.tag) for child in children]
    if _is_collection(_local(element.tag), tags):
        return [_xml(child) for child in children]
    return {tag: _xml(child) for tag, child in zip(tags, children, strict=True)}


def as_items(data: Any) -> list[dict[str, Any]]:
    """A list answer as a list of records: bare array, XML collection, or a lone record."""
    if data is None or data == "":
        return []
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    if isinstance(data, dict):
        items = get_field(data, "Items")
        if isinstance(items, list):
            return [item for item in items if isinstance(item, dict)]
        return [data]
    return []


def as_record(data: Any) -> dict[str, Any]:
    """A single-object answer as a dict (XML may wrap it in a one-element collection)."""
    if isinstance(data, dict):
        return data
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        return data[0]
    return {}
