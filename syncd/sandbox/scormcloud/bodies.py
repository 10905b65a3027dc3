"""Validation of JSON request bodies against the reference's schemas.

Each helper names the schema field it rejects, so a client sees which field of which body was
wrong (a 400 ``MessageSchema``, the error the spec declares for bad requests).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.sandbox.scormcloud.wire import bad_request, parse_datetime

POSTBACK_AUTH_TYPES = ("UNDEFINED", "FORM", "HTTPBASIC")
POSTBACK_FORMATS = ("UNDEFINED", "COURSE", "ACTIVITY", "FULL")


def as_object(body: Any, schema: str) -> dict[str, Any]:
    """The body must be a JSON object."""
    if not isinstance(body, dict):
        raise bad_request(f"{schema}: the request body must be a JSON object")
    return body


def req_str(body: dict[str, Any], key: str, schema: str) -> str:
    """A required, non-empty string field."""
    value = body.get(key)
    if value is None or value == "":
        raise bad_request(f"{schema}: '{key}' is required")
    if not isinstance(value, str):
        raise bad_request(f"{schema}: '{key}' must be a string")
    return value


def opt_str(body: dict[str, Any], key: str, schema: str) -> str | None:
    """An optional string field (``null`` counts as absent)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{schema}: '{key}' must be a string")
    return value


def opt_bool(body: dict[str, Any], key: str, schema: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_request(f"{schema}: '{key}' must be a boolean")
    return value


def opt_int(body: dict[str, Any], key: str, schema: str, *, minimum: int = 0) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{schema}: '{key}' must be an integer")
    if value < minimum:
        raise bad_request(f"{schema}: '{key}' must be at least {minimum}")
    return value


def opt_datetime(body: dict[str, Any], key: str, schema: str) -> datetime | None:
    value = opt_str(body, key, schema)
    return None if value is None else parse_datetime(value, field=f"{schema}.{key}")


def str_list(body: dict[str, Any], key: str, schema: str, *, required: bool = False) -> list[str]:
    """A list of strings; ``required`` lists must be present (they may be empty)."""
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{schema}: '{key}' is required")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{schema}: '{key}' must be a list of strings")
    return list(value)


def tag_list(body: Any) -> list[str]:
    """``TagListSchema{tags}``."""
    return str_list(as_object(body, "TagListSchema"), "tags", "TagListSchema", required=True)


def batch_tags(body: Any) -> tuple[list[str], list[str]]:
    """``BatchTagsSchema{ids, tags}``: both required."""
    data = as_object(body, "BatchTagsSchema")
    ids = str_list(data, "ids", "BatchTagsSchema", required=True)
    tags = str_list(data, "tags", "BatchTagsSchema", required=True)
    return ids, tags


def post_back(body: dict[str, Any], key: str, schema: str) -> dict[str, object] | None:
    """``PostBackSchema``, with the upper-case enums the official client validates."""
    value = body.get(key)
    if value is None:
        return None
    data = as_object(value, "PostBackSchema")
    where = f"{schema}.{key}"
    auth = opt_str(data, "authType", where)
    if auth is not None and auth not in POSTBACK_AUTH_TYPES:
        raise bad_request(f"{where}: 'authType' must be one of {', '.join(POSTBACK_AUTH_TYPES)}")
    fmt = opt_str(data, "resultsFormat", where)
    if fmt is not None and fmt not in POSTBACK_FORMATS:
        raise bad_request(f"{where}: 'resultsFormat' must be one of {', '.join(POSTBACK_FORMATS)}")
    kept: dict[str, object] = {}
    for name in ("url", "authType", "userName", "resultsFormat"):
        if opt_str(data, name, where) is not None:
            kept[name] = data[name]
    legacy = opt_bool(data, "legacy", where)
    if legacy is not None:
        kept["legacy"] = legacy
    return kept
