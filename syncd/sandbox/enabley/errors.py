"""Enabley's error answers: the documented ``ErrorResponse`` body with its fixed enum.

The reference declares ``ErrorResponse{error, error_description}`` where ``error`` is one of
eight values. Every refusal the simulator gives goes through :class:`EnableyError` so no
handler can invent a ninth value or a different body shape.

Status codes follow what the reference declares per operation: almost every operation
declares only 200/400/401/500 (plus 201 for upserts), so an unknown entity named in a path or
body is a 400 ``item_not_exists``, not a 404. The documented 404s are an invalid
``paginationKey`` and the certificate-compliance update; its 409 is the one documented
conflict.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from starlette.responses import JSONResponse

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "not_found",
    "access_denied",
    "general_error",
    "item_exists",
    "item_not_exists",
    "service_unavailable",
]

ERROR_CODES: Final[frozenset[str]] = frozenset(get_args(ErrorCode))


class EnableyError(Exception):
    """A refusal the simulator answers with ``status`` and an ``ErrorResponse`` body."""

    def __init__(self, status: int, error: ErrorCode, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        """The wire answer: the status and the two-field body, nothing else."""
        return error_response(self.status, self.error, self.description)


def error_response(status: int, error: ErrorCode, description: str) -> JSONResponse:
    """Build an ``ErrorResponse`` answer; used for errors raised outside handlers too."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def invalid(description: str) -> EnableyError:
    """400 ``invalid_request``: the request itself is malformed or out of range."""
    return EnableyError(400, "invalid_request", description)


def missing(description: str) -> EnableyError:
    """400 ``item_not_exists``: the request names an entity the account does not hold."""
    return EnableyError(400, "item_not_exists", description)


def exists(description: str) -> EnableyError:
    """400 ``item_exists``: the request would create a second entity with a unique value."""
    return EnableyError(400, "item_exists", description)
