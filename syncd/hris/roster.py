"""The Roster: what one HRIS export says, as plain DataFrames the plan can diff.

Columns (every later stage codes against exactly these):

``people``
    one row per accepted person, RangeIndex: ``external_id`` (the key field's value), every
    canonical field of the source as ``str`` ("" when empty; date fields as ISO
    ``YYYY-MM-DD``), ``active`` (bool) and ``line`` (int, the physical line where the record
    starts; the header is line 1). With the source's ``previous_key`` set, also
    ``previous_external_id``: that field's value (the person's key before the HRIS changed
    it; "" for most people).
``groups``
    ``key``, ``name``, ``parent_key`` ("" at the top), ``grouping``, ``level`` (0 at the top).
    Keys read ``"<grouping>:<top>/<...>/<leaf>"``; a ``/`` or ``%`` inside a name is written
    ``%2F`` / ``%25`` so that keys stay unique.
``memberships``
    ``grouping``, ``group_key``, ``external_id``: each person is a member of the leaf group of
    each grouping (the deepest level before the first empty value; nothing when the top level
    is empty).
``rejected`` and ``warnings``
    ``file``, ``line``, ``column``, ``reason``, ``message``, ``key``, ``value``, ``raw``: one
    row per problem, so a record with a bad email and a bad date appears twice; ``value`` is
    the problem column's text as read (a derived field's value; a malformed record's whole
    text), ``raw`` the record's mapped values as read (header -> text). Rejected records
    never reach ``people``; warned ones do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

ISSUE_COLUMNS = ["file", "line", "column", "reason", "message", "key", "value", "raw"]


@dataclass(frozen=True)
class SourceInfo:
    """The file a Roster came from, as recorded with each run."""

    path: Path
    sha256: str
    size: int
    mtime: datetime  # UTC
    encoding: str  # as detected or configured: utf-8, utf-8-sig, cp1252, latin-1, ...
    delimiter: str
    rows_read: int  # data records, blank lines and fully empty rows not counted
    headers: tuple[str, ...] = ()  # the header row as written, in file order
    empty_share: dict[str, float] = field(default_factory=dict)  # mapped header -> % empty


@dataclass(frozen=True)
class Roster:
    """People, groups and memberships of one export, plus what was refused and why."""

    people: pd.DataFrame
    groups: pd.DataFrame
    memberships: pd.DataFrame
    rejected: pd.DataFrame
    warnings: pd.DataFrame
    source: SourceInfo

    @property
    def rows_rejected(self) -> int:
        """Records rejected (a record with several problems counts once)."""
        return int(self.rejected["line"].nunique())

    @property
    def rows_accepted(self) -> int:
        return len(self.people)

    def warning_counts(self) -> dict[str, int]:
        """Rows kept with a warning, by reason, most first: what every command shows."""
        return counts_by_reason(self.warnings)


def counts_by_reason(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per reason of a rejected or warnings frame (a row with the same reason twice
    counts once), most first."""
    if frame.empty:
        return {}
    counts = frame.drop_duplicates(["line", "reason"])["reason"].value_counts()
    return {str(reason): int(n) for reason, n in counts.items()}
