"""Small real export files and source configurations for the HRIS tests (plain builders).

Every test writes its CSV into ``tmp_path`` as bytes, in the encoding and with the line
endings it is about, and reads it back through the public ``read_roster``; nothing is
faked. ``source()`` is the configuration a typical export needs; tests override only what
they exercise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from syncd.config import SourceConfig
from syncd.hris import Roster, read_roster

TODAY = date(2025, 6, 1)

HEADER = "Employee ID,First Name,Last Name,Email,Division,Department,Manager ID,Hire Date,Status"
COLUMNS = {
    "employee_id": "Employee ID",
    "first_name": "First Name",
    "last_name": "Last Name",
    "email": "Email",
    "division": "Division",
    "department": "Department",
    "manager_id": "Manager ID",
    "hire_date": "Hire Date",
    "status": "Status",
}


def write(
    tmp_path: Path,
    text: str,
    *,
    name: str = "export.csv",
    encoding: str = "utf-8",
    bom: bool = False,
    crlf: bool = False,
) -> Path:
    """Write ``text`` exactly (newlines become CRLF when asked), encoded as given."""
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = tmp_path / name
    path.write_bytes(data)
    return path


def lines(*rows: str, header: str = HEADER) -> str:
    """A file's text: the header, then each row, each ending with a newline."""
    return "".join(f"{row}\n" for row in (header, *rows))


def source(**overrides: Any) -> SourceConfig:
    """The standard source configuration with ``overrides`` applied (validated as config)."""
    data: dict[str, Any] = {"path": "export.csv", "columns": dict(COLUMNS)}
    data.update(overrides)
    return SourceConfig.model_validate(data)


def read(path: Path, **overrides: Any) -> Roster:
    """``read_roster`` on ``path`` with ``source(**overrides)``, as of TODAY."""
    return read_roster(path, source(**overrides), today=TODAY)


def person(roster: Roster, key: str) -> Mapping[str, Any]:
    """The accepted person with this key, as a plain dict (KeyError when not accepted)."""
    rows = roster.people[roster.people["external_id"] == key]
    if len(rows) != 1:
        raise KeyError(key)
    return rows.iloc[0].to_dict()


def issues(roster: Roster, frame: str = "rejected") -> list[tuple[int, str, str, str]]:
    """(line, column, reason, key) of every reported problem, in report order."""
    table = getattr(roster, frame)
    return [
        (int(r.line), r.column, r.reason, r.key)
        for r in table[["line", "column", "reason", "key"]].itertuples()
    ]
