"""A vendor's ResultRecord as the plain column values the results table stores."""

from __future__ import annotations

from typing import Any

from syncd.vendors.base import ResultRecord, ResultStatus

STATUSES = frozenset(ResultStatus)


def row(record: ResultRecord) -> dict[str, Any]:
    """The record's columns; a status outside :class:`ResultStatus` is a connector bug."""
    if record.status not in STATUSES:
        raise ValueError(f"result status `{record.status}` is not one of {sorted(STATUSES)}")
    return {
        "remote_user_id": record.remote_user_id,
        "item_kind": record.item_kind,
        "item_id": record.item_id,
        "external_id": record.external_id or None,
        "username": record.username or None,
        "item_name": record.item_name or None,
        "course_id": record.course_id or None,
        "status": str(record.status),
        "completed": record.completed,
        "passed": record.passed,
        "percentage": record.percentage,
        "score": record.score,
        "seconds": record.seconds,
        "assigned_at": record.assigned_at,
        "started_at": record.started_at,
        "completed_at": record.completed_at,
        "expires_at": record.expires_at,
        "updated_at": record.updated_at,
        "raw": dict(record.raw),
    }
