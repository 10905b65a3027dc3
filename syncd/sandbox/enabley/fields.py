"""Reading and checking request fields, with the 400 answers the reference calls "Invalid input".

Each helper names the offending field in its error description, so a client author can see
at once what the simulator (and, by design, the real API) refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syncd.sandbox.enabley.errors import invalid


def require_object(body: Any, *, name: str) -> dict[str, Any]:
    """The JSON body must be an object (``{...}``)."""
    if not isinstance(body, dict):
        raise invalid(f"{name} must be a JSON object")
    return body


def text(body: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    """An optional (or required, non-blank) string field."""
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    if required and not value.strip():
        raise invalid(f"{key} must not be blank")
    return value


def flag(value: Any, *, name: str, default: bool | None = None) -> bool | None:
    """A boolean given as JSON ``true``/``false`` or as the strings Jackson also accepts."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise invalid(f"{name} must be true or false, got {value!r}")


def integer(value: Any, *, name: str, default: int, low: int, high: int | None = None) -> int:
    """An integer query parameter within ``[low, high]``."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise invalid(f"{name} must be an integer, got {value!r}") from exc
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(f"{name} must be {bound}, got {number}")
    return number


def one_of(value: str | None, allowed: Iterable[str], *, name: str) -> str | None:
    """A value from a documented enum (case-sensitive, as the reference spells them)."""
    choices = tuple(allowed)
    if value is not None and value not in choices:
        raise invalid(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def enum_list(value: Any, allowed: Iterable[str], *, name: str) -> list[str] | None:
    """A list of documented enum values, duplicates dropped, order kept."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"{name} must be an array of strings")
    choices = tuple(allowed)
    for item in value:
        one_of(item, choices, name=name)
    return list(dict.fromkeys(value))
