"""CSV for people: files syncd writes to be opened in Excel, LibreOffice or Google Sheets.

Their cells hold text from the HRIS export and the LMS, which anyone who can edit a record
controls. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in
some, after a leading tab or carriage return) as a formula, so ``=HYPERLINK(...)`` in a
name becomes a link that sends data away when clicked. As OWASP recommends, such a text
cell is written with a leading single quote: the spreadsheet shows the text as written, and
a person reading the raw file still sees what the source held.

Only text is changed. Numbers syncd writes itself (line numbers, counts) stay numbers, even
negative ones: a spreadsheet never evaluates a number. A text that looks like a negative
number (``-2`` from the export) is prefixed like any other text starting with ``-``.
Every CSV meant for people goes through :func:`writer` (or :func:`cell`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def cell(value: T) -> T | str:
    """``value`` as a spreadsheet will show it, never as a formula it would run."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Writer:
    """``csv.writer`` whose every cell goes through :func:`cell`."""

    def __init__(self, handle: _Writable, **options: Any) -> None:
        self._csv = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._csv.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        # :func:`cell` spelled inline: a million-row export calls it once per cell, and
        # the call is most of its cost.
        start = _FORMULA_START
        self._csv.writerows(
            [
                "'" + value if isinstance(value, str) and value.startswith(start) else value
                for value in row
            ]
            for row in rows
        )


def writer(handle: _Writable, **options: Any) -> _Writer:
    """A CSV writer for a file people open (``options`` as for ``csv.writer``)."""
    return _Writer(handle, **options)
