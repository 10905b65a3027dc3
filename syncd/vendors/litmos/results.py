"""Litmos course results (``/org/results/details`` rows) as syncd ResultRecords.

Key casing differs between Litmos endpoints and clients (``Completed``/``Complete``,
``StartedDate``/``StartDate``), so fields are read case-blind with their known aliases;
dates come as ``/Date(ms)/`` in JSON and ISO without offset in XML (both UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncd.vendors.base import ResultRecord
from syncd.vendors.litmos import wire


def result_key(item: Mapping[str, Any]) -> tuple[str, str]:
    return (wire.as_text(item.get("UserId")), wire.as_text(item.get("Id")))


def result_record(item: Mapping[str, Any]) -> ResultRecord:
    percentage = wire.get_field(item, "PercentageComplete")
    raw = {
        name: wire.as_text(item.get(name))
        for name in (
            "Code",
            "Active",
            "UpToDate",
            "Overdue",
            "CompliantTillDate",
            "DueDate",
            "LearningPathAssignment",
            "TeamAssignment",
        )
        if name in item
    }
    return ResultRecord(
        remote_user_id=wire.as_text(item.get("UserId")),
        username=wire.as_text(wire.get_field(item, "UserName")),
        item_kind="course",
        item_id=wire.as_text(item.get("Id")),
        item_name=wire.as_text(item.get("Name")),
        completed=wire.as_bool(wire.get_field(item, "Completed", "Complete") or False),
        percentage=float(percentage) if percentage not in (None, "") else None,
        started_at=wire.parse_date(wire.get_field(item, "StartedDate", "StartDate")),
        completed_at=wire.parse_date(wire.get_field(item, "CompletedDate", "DateCompleted")),
        updated_at=wire.parse_date(item.get("UpdatedDate")),
        raw=raw,
    )
