"""Wire formats shared by every SCORM Cloud route: dates, booleans, errors.

SCORM Cloud answers errors as ``MessageSchema`` (``{"message": ...}``); only the missing or
wrong credential answer uses ``{"error": "Authorization Required."}``. Dates go out as
ISO-8601 UTC with milliseconds and a ``Z`` (the reference only says "date-time"; the form
matches what the official clients parse), and come in as any ISO-8601 form, a value without
an offset being taken as UTC as the reference's parameter docs say.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

AUTH_REQUIRED = {"error": "Authorization Required."}


class ApiError(Exception):
    """A vendor-shaped refusal: the route answers ``status`` with ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        """The ``MessageSchema`` body of this error."""
        return {"message": self.message}


def bad_request(message: str) -> ApiError:
    """A 400 ``MessageSchema``, the answer the spec declares on nearly every operation."""
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    """A 404 ``MessageSchema``."""
    return ApiError(404, message)


def truncate_ms(moment: datetime) -> datetime:
    """Drop sub-millisecond digits so what we store is exactly what we print."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_datetime(moment: datetime | None) -> str | None:
    """``2024-05-01T12:30:00.250Z``: UTC, milliseconds, ``Z``."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(value: str, *, field: str) -> datetime:
    """Parse an ISO-8601 date or date-time; no offset means UTC ("defaults to UTC")."""
    text = value.strip()
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(
            f"Invalid value for '{field}': '{value}' is not an ISO-8601 date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_bool(value: str | None, *, field: str, default: bool = False) -> bool:
    """Query booleans arrive as ``true``/``false`` (the Python client sends ``True``)."""
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"Invalid value for '{field}': '{value}' is not a boolean")


def parse_csv(value: str | None) -> list[str]:
    """A csv query list (``tags=a,b``) with blanks dropped."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
