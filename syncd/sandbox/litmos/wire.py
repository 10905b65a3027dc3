"""How Litmos puts values on the wire, both ways: WCF-style XML and JSON.

Litmos is a WCF service, and its quirks come from WCF's serializers: XML by default with
``xmlns:i`` on the root and ``i:nil="true"`` for nulls; JSON only with ``format=json``,
compact, with ``/`` escaped as ``\\/`` and DateTime members as ``/Date(ms-0000)/``; XML
request bodies read in data-contract order, so an element that comes after a later member
is silently ignored; a JSON DateTime written as an ISO string fails with a 500 HTML page.
Fields that Litmos declares as strings (user-profile dates) stay ISO strings everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

from starlette.requests import Request
from starlette.responses import Response

from syncd.sandbox.server import REASON_HEADER

XSI = "http://www.w3.org/2001/XMLSchema-instance"
JSON_TYPE = "application/json; charset=utf-8"
JSON_ERROR_TYPE = "application/json"
XML_TYPE = "application/xml; charset=utf-8"
_XSI_NIL = f"{{{XSI}}}nil"


class LitmosError(Exception):
    """An answer other than success: status and the ``Detail`` text Litmos gives."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class ServerFault(Exception):
    """What WCF answers when it cannot deserialize a JSON body: a 500 HTML error page."""


@dataclass(frozen=True)
class WcfDate:
    """A .NET DateTime member: ``/Date(ms-0000)/`` in JSON, ``2020-12-12T09:18:00.647`` in XML."""

    value: datetime


@dataclass(frozen=True)
class XmlList:
    """A nested collection: a JSON array, or an element holding one ``item`` per entry."""

    item: str
    entries: Sequence[Mapping[str, Any]]


def wants_json(request: Request) -> bool:
    """Litmos answers JSON only when the query says ``format=json``; XML otherwise."""
    return request.query_params.get("format", "").lower() == "json"


def now_ms() -> datetime:
    """The current UTC time, truncated to milliseconds like the vendor's database."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_z(value: datetime | None) -> str:
    """User-profile date strings: ``2016-12-09T07:54:27Z``; never set = ``""``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def json_date(value: datetime) -> str:
    ms = int(value.astimezone(UTC).timestamp() * 1000)
    return f"/Date({ms}-0000)/"


def xml_date(value: datetime) -> str:
    """.NET's ``yyyy-MM-ddTHH:mm:ss.FFF``: no offset, trailing zeros of the fraction dropped."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{utc.microsecond // 1000:03d}".rstrip("0")
    return f"{text}.{fraction}" if fraction else text


# ---------------------------------------------------------------- rendering


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, WcfDate):
        return _json_string(json_date(value.value))
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, XmlList):
        return _json_value(list(value.entries))
    if isinstance(value, Mapping):
        members = ",".join(f"{_json_string(k)}:{_json_value(v)}" for k, v in value.items())
        return "{" + members + "}"
    if isinstance(value, Iterable):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} as Litmos JSON")


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("/", "\\/")


def _xml_fill(parent: ET.Element, record: Mapping[str, Any]) -> None:
    for name, value in record.items():
        child = ET.SubElement(parent, name)
        if value is None:
            child.set("i:nil", "true")
        elif isinstance(value, XmlList):
            for entry in value.entries:
                _xml_fill(ET.SubElement(child, value.item), entry)
        elif isinstance(value, Mapping):
            _xml_fill(child, value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif isinstance(value, WcfDate):
            child.text = xml_date(value.value)
        elif isinstance(value, Decimal):
            child.text = f"{value:.2f}"
        elif value != "":
            child.text = str(value)


def _xml_bytes(root: ET.Element) -> bytes:
    # WCF writes empty elements as <X/>; ElementTree adds a space (text never holds " />").
    return ET.tostring(root, encoding="unicode").replace(" />", "/>").encode()


def _xml_root(tag: str) -> ET.Element:
    root = ET.Element(tag)
    root.set("xmlns:i", XSI)
    return root


def render_list(
    request: Request, root: str, item: str, records: Sequence[Mapping[str, Any]], status: int = 200
) -> Response:
    """A collection: a bare JSON array, or ``<Root xmlns:i=…><Item>…</Item></Root>``."""
    if wants_json(request):
        return Response(_json_value(records).encode(), status, media_type=JSON_TYPE)
    element = _xml_root(root)
    for record in records:
        _xml_fill(ET.SubElement(element, item), record)
    return Response(_xml_bytes(element), status, media_type=XML_TYPE)


def render_one(
    request: Request, tag: str, record: Mapping[str, Any], status: int = 200
) -> Response:
    """One object: a JSON object, or ``<Tag xmlns:i=…>…</Tag>``."""
    if wants_json(request):
        return Response(_json_value(record).encode(), status, media_type=JSON_TYPE)
    element = _xml_root(tag)
    _xml_fill(element, record)
    return Response(_xml_bytes(element), status, media_type=XML_TYPE)


def empty(status: int = 200) -> Response:
    """Most writes answer with no body at all (``Content-Length: 0``, no content type)."""
    return Response(b"", status)


def reason_header(message: str) -> dict[str, str]:
    """The header that makes ``message`` the status line's reason phrase (see
    :data:`syncd.sandbox.server.REASON_HEADER`): WCF puts a fault's description there, so
    the recorded duplicate user reads ``409 UserName already exists``. Anything but
    printable ASCII becomes ``?`` (a status line cannot carry it)."""
    return {REASON_HEADER: "".join(c if " " <= c <= "~" else "?" for c in message)}


def error_response(request: Request | None, status: int, detail: str) -> Response:
    """``{"Detail": …}`` in JSON (as recorded); the same member in an ``Error`` XML element;
    ``detail`` is the reason phrase too, as recorded."""
    headers = reason_header(detail)
    if request is not None and wants_json(request):
        body = _json_value({"Detail": detail}).encode()
        return Response(body, status, headers=headers, media_type=JSON_ERROR_TYPE)
    element = _xml_root("Error")
    _xml_fill(element, {"Detail": detail})
    return Response(_xml_bytes(element), status, headers=headers, media_type=XML_TYPE)


_WCF_PAGE = (
    '<html version="-//W3C//DTD XHTML 2.0//EN" xml:lang="en" '
    'xsi:schemaLocation="http://www.w3.org/1999/xhtml '
    'http://www.w3.org/MarkUp/SCHEMA/xhtml2.xsd" xmlns="http://www.w3.org/1999/xhtml" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><HEAD><TITLE>Request Error'
    '</TITLE></HEAD><BODY><DIV id="content"><P class="heading1"><B>Error Status Code:</B> '
    "'{code}'</P><P><B>Details: </B>{details}</P></DIV></BODY></html>"
)
_PAGE_CODES = {
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


WCF_FAULT = (
    "The server encountered an error processing the request. "
    "Please see the server logs for more details."
)


def server_error_page(status: int = 500) -> Response:
    """The WCF "Request Error" HTML page recorded for a server fault, whose sentence is
    also the reason phrase (recorded: ``500 The server encountered an error ...``)."""
    code = _PAGE_CODES.get(status, "InternalServerError")
    body = _WCF_PAGE.format(code=code, details=WCF_FAULT)
    # Recorded as plain "text/html": set the header so no charset is appended.
    headers = {"content-type": "text/html", **reason_header(WCF_FAULT)}
    return Response(body.encode(), status, headers=headers)


# ---------------------------------------------------------------- request bodies

BAD_BODY = "Please check the xml/json in the body of the request."


@dataclass(frozen=True)
class Body:
    """A parsed request body, remembering whether it was JSON (dates are typed then)."""

    data: Any
    is_json: bool


async def read_body(
    request: Request, *, root: str, item: str | None = None, order: Sequence[str] = ()
) -> Body:
    """Parse JSON or XML; ``item`` set means a list body (``<Root><Item>…</Item></Root>``).

    ``root="*"`` accepts any XML root element (where the vendor's name for it is unknown).

    For XML, ``order`` is the data-contract member order of one object: elements out of
    that order are dropped, as WCF's DataContractSerializer does.
    """
    raw = await request.body()
    content_type = request.headers.get("content-type", "").lower()
    text = raw.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise LitmosError(400, BAD_BODY)
    if "json" in content_type or (not content_type and text[:1] in "[{"):
        try:
            return Body(json.loads(text), True)
        except ValueError:
            raise LitmosError(400, BAD_BODY) from None
    try:
        element = ET.fromstring(text)
    except ET.ParseError:
        raise LitmosError(400, BAD_BODY) from None
    if root != "*" and _local(element.tag) != root:
        raise LitmosError(400, BAD_BODY)
    if item is None:
        return Body(_xml_object(element, order), False)
    entries = [_xml_object(child, order) for child in element if _local(child.tag) == item]
    return Body(entries, False)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_object(element: ET.Element, order: Sequence[str]) -> dict[str, Any]:
    """Members of one XML object; with ``order``, out-of-order elements are skipped."""
    position = {name: index for index, name in enumerate(order)}
    found: dict[str, Any] = {}
    cursor = -1
    for child in element:
        name = _local(child.tag)
        if order:
            index = position.get(name)
            if index is None or index <= cursor:
                continue
            cursor = index
        if child.get(_XSI_NIL) == "true":
            found[name] = None
        elif len(child):
            found[name] = [_xml_object(grandchild, ()) for grandchild in child]
        else:
            found[name] = child.text or ""
    return found


def as_list(body: Body) -> list[dict[str, Any]]:
    """A list body as a list of objects (a JSON bare array, or the parsed XML items)."""
    data = body.data
    if isinstance(data, dict) and body.is_json:
        data = [data]
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise LitmosError(400, BAD_BODY)
    return data


def as_object(body: Body) -> dict[str, Any]:
    if not isinstance(body.data, dict):
        raise LitmosError(400, BAD_BODY)
    return body.data


# ---------------------------------------------------------------- typed members


def to_str(value: Any, *, field: str, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise LitmosError(400, BAD_BODY)
    text = str(value)
    if max_length is not None and len(text) > max_length:
        raise LitmosError(400, f"{field} is longer than {max_length} characters. {BAD_BODY}")
    return text


def to_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise LitmosError(400, BAD_BODY)


def to_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise LitmosError(400, BAD_BODY)
    try:
        return int(str(value).strip())
    except ValueError:
        raise LitmosError(400, BAD_BODY) from None


_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_XML_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def to_datetime(value: Any, *, is_json: bool) -> datetime | None:
    """A DateTime member: ``/Date(ms)/`` in JSON (else WCF fails with a 500), ISO in XML."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ServerFault() if is_json else LitmosError(400, BAD_BODY)
    if is_json:
        match = _WCF_DATE.match(value)
        if not match:
            raise ServerFault()
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    match = _XML_DATE.match(value.strip())
    if not match:
        raise LitmosError(400, BAD_BODY)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int(float(match.group(7) or 0) * 1_000_000)
    stamp = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


_QUERY_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def query_datetime(text: str | None) -> datetime | None:
    """``since``/``to`` values: 'yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm' or 'yyyy-MM-dd' (UTC).

    A ``T`` in place of the space is accepted too (one doc page writes it that way).
    """
    if not text:
        return None
    candidate = text.strip().replace("T", " ")
    for pattern in _QUERY_FORMATS:
        try:
            return datetime.strptime(candidate, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
