"""A user's advanced custom fields: ``GET`` and ``POST /users/{id}/usercustomfields``.

Two public clients write them, in two shapes, both accepted: XML
``<UserCustomField><Parameter fieldname="X">value</Parameter>…</UserCustomField>``
(``jackdog040506/litmos-api-integration``, ``text/xml``) and, with ``format=json``, a JSON
list of one-member objects ``[{"X": "value"}, …]`` (``charliequinn/python-litmos-api``,
``update_advanced_custom_fields``). A write sets the fields it names and keeps the others.

Not documented, so chosen: the write answers 200 with no body, like the user's other
writes; the read answers the same shape the XML write takes (``Parameter`` elements with a
``fieldname`` attribute) and, in JSON, the list of one-member objects the JSON write takes;
any field name is accepted (the simulator keeps no list of defined fields).
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from starlette.responses import Response

from syncd.sandbox.litmos.endpoint import Call
from syncd.sandbox.litmos.users import user_or_404
from syncd.sandbox.litmos.wire import (
    BAD_BODY,
    JSON_TYPE,
    XML_TYPE,
    XSI,
    LitmosError,
    empty,
    to_str,
    wants_json,
)

ROOT = "UserCustomField"
ITEM = "Parameter"
NAME = "fieldname"


async def get_custom_fields(call: Call) -> Response:
    """``GET /users/{id}/usercustomfields``."""
    user = user_or_404(call.store, call.path("user_id"))
    if wants_json(call.request):
        rows = [{name: value} for name, value in user.custom_fields.items()]
        return Response(json.dumps(rows, ensure_ascii=False).encode(), media_type=JSON_TYPE)
    root = ET.Element(ROOT)
    root.set("xmlns:i", XSI)
    for name, value in user.custom_fields.items():
        parameter = ET.SubElement(root, ITEM, {NAME: name})
        parameter.text = value or None
    text = ET.tostring(root, encoding="unicode").replace(" />", "/>")
    return Response(text.encode(), media_type=XML_TYPE)


async def set_custom_fields(call: Call) -> Response:
    """``POST /users/{id}/usercustomfields``: 200, no body; 400 for a body it cannot read."""
    user = user_or_404(call.store, call.path("user_id"))
    values = _parse(await call.request.body(), call.request.headers.get("content-type", ""))
    user.custom_fields.update(values)
    user.updated = call.store.clock()
    return empty(200)


def _parse(raw: bytes, content_type: str) -> dict[str, str]:
    """Field name -> value from either body shape; every entry is checked before any is kept."""
    text = raw.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise LitmosError(400, BAD_BODY)
    if "json" in content_type.lower() or text[:1] in "[{":
        return _from_json(text)
    return _from_xml(text)


def _from_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError:
        raise LitmosError(400, BAD_BODY) from None
    entries = data if isinstance(data, list) else [data]
    values: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry:
            raise LitmosError(400, BAD_BODY)
        for name, value in entry.items():
            values[_name(name)] = to_str(value, field=str(name)) or ""
    return values


def _from_xml(text: str) -> dict[str, str]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise LitmosError(400, BAD_BODY) from None
    if root.tag.rsplit("}", 1)[-1] != ROOT:
        raise LitmosError(400, BAD_BODY)
    values: dict[str, str] = {}
    for child in root:
        if child.tag.rsplit("}", 1)[-1] != ITEM:
            continue
        values[_name(child.get(NAME))] = child.text or ""
    if not values:
        raise LitmosError(400, BAD_BODY)
    return values


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LitmosError(400, BAD_BODY)
    return value.strip()
