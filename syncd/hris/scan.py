"""Where each record of a CSV buffer starts, in physical lines, without a loop per row.

The CSV parser (pyarrow) gives rows but not the line they came from, and a quarantine that
says "row 40,112" when the user's editor shows line 40,115 is useless. So the buffer is
scanned once with numpy: a newline ends a record unless it lies inside a quoted field, and
a newline is inside quotes exactly when an odd number of quote characters precede it
(an escaped quote ``""`` comes in pairs, so it never flips the parity). Counting the quotes
before every newline is a ``searchsorted`` of two sorted position arrays, done in 1 MB chunks
(they stay in cache, and a file quoted throughout never holds one 8-byte position per quote
in memory at once).

The same parity trick counts the fields of each record (delimiters outside quotes), which
finds the rows the parser rejected for having the wrong number of fields.

A quote character in the middle of an unquoted field (``5" display``) is literal to CSV
parsers but flips the parity here. An odd number of quotes in the whole file is certain to
be such a case (``balanced`` is False) and the caller reads the records with
:func:`exact_records` instead; an even number of stray quotes is caught later, when the
record count disagrees with the parser's, and falls back the same way.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from syncd.errors import SourceFileError

_CHUNK = 1 << 20
_NL = 10
_CR = 13
_QUOTE = 34


@dataclass(frozen=True)
class Records:
    """Non-blank records of a buffer (the header is record 0)."""

    starts: np.ndarray  # byte offset where each record starts
    ends: np.ndarray  # byte offset just past its last byte (newline and CR excluded)
    lines: np.ndarray  # physical line (1-based) where each record starts
    quoted_newlines: bool  # some field holds a line break
    balanced: bool = True  # an even number of quote characters: the parity trick can hold

    def __len__(self) -> int:
        return len(self.starts)


def _chunks(arr: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for offset in range(0, len(arr), _CHUNK):
        yield offset, arr[offset : offset + _CHUNK]


def _hits(arr: np.ndarray, byte: int, quoting: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Positions of ``byte``, a mask of those outside quoted fields, and the quote count."""
    found, outside = [], []
    carry = 0
    for offset, chunk in _chunks(arr):
        hits = np.flatnonzero(chunk == byte)
        quotes = np.flatnonzero(chunk == _QUOTE) if quoting else hits[:0]
        if len(quotes):
            outside.append(((carry + np.searchsorted(quotes, hits)) & 1) == 0)
            carry += len(quotes)
        else:
            outside.append(np.full(len(hits), carry % 2 == 0))
        found.append(hits + offset)
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool), 0
    return np.concatenate(found), np.concatenate(outside), carry


def scan(buffer: bytes, *, quoting: bool = True) -> Records:
    """Find every non-blank record and the physical line it starts on."""
    arr = np.frombuffer(buffer, dtype=np.uint8)
    newlines, outside, quotes = _hits(arr, _NL, quoting)
    ends = newlines[outside]
    # The record after the newline at index i of `newlines` starts on physical line i + 2.
    lines = np.flatnonzero(outside) + 2
    quoted_newlines = len(ends) != len(newlines)
    if len(arr) and arr[-1] != _NL:
        ends = np.append(ends, len(arr))
    else:
        lines = lines[:-1]
    lines = np.concatenate(([1], lines)).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    # A CRLF file: the CR before each newline belongs to the line ending, not the value.
    crlf = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR)
    ends = ends - crlf
    keep = ends > starts
    starts, ends, lines = starts[keep], ends[keep], lines[keep]
    return Records(starts, ends, lines, quoted_newlines, balanced=quotes % 2 == 0)


def field_counts(buffer: bytes, records: Records, delimiter: str) -> np.ndarray:
    """Number of fields of each record: one more than its delimiters outside quotes."""
    arr = np.frombuffer(buffer, dtype=np.uint8)
    delims, outside, _ = _hits(arr, ord(delimiter), True)
    delims = delims[outside]
    owner = np.searchsorted(records.starts, delims, side="right") - 1
    inside = (owner >= 0) & (delims < records.ends[np.maximum(owner, 0)])
    return np.bincount(owner[inside], minlength=len(records)) + 1


def physical_lines(text: str) -> Iterator[str]:
    """The text's lines split at ``\\n`` only, each with its newline (what editors number)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            if start < len(text):
                yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def exact_records(text: str, delimiter: str) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of every record, by Python's csv module.

    The slow path for files whose quotes the parity trick cannot follow. A quote is special
    only at the start of a field, as for every CSV parser; blank lines come out as ``[]``.
    """
    reader = csv.reader(physical_lines(text), delimiter=delimiter, strict=False)
    previous = 0
    header: list[str] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record = _lines_between(text, previous + 1, reader.line_num)
            found = long_field(record, delimiter, previous + 1, header)
            if found is not None:
                raise found from None
            line = reader.line_num
            raise SourceFileError(f"line {line}: not a CSV record: {exc}", line=line) from None
        if not header and row:
            header = row
        yield previous + 1, reader.line_num, row
        previous = reader.line_num


def _lines_between(text: str, first: int, last: int) -> str:
    """Physical lines ``first`` to ``last`` (1-based, inclusive) of ``text``."""
    start = 0
    for _ in range(first - 1):
        start = text.index("\n", start) + 1
    end = start
    for _ in range(last - first + 1):
        found = text.find("\n", end)
        end = len(text) if found < 0 else found + 1
    return text[start:end]


def long_field(
    record: str, delimiter: str, line: int, header: Sequence[str] = ()
) -> SourceFileError | None:
    """The error for the first field of one record longer than the csv module accepts.

    Python's csv module refuses a field over ``csv.field_size_limit()`` characters, and a
    quote that is never closed makes the rest of the file one field: either way the user
    must hear which line and column, not that the file has no delimiter.
    """
    limit = csv.field_size_limit()
    for column, (start, end) in enumerate(field_spans(record, delimiter)):
        field = record[start:end]
        if _field_length(field) > limit:
            return _too_long(field, line + record.count("\n", 0, start), column, header)
    return None


def field_spans(record: str, delimiter: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each field of one record's text, quotes included (the scan's parity)."""
    start, quoted = 0, False
    for match in re.finditer(f'"|{re.escape(delimiter)}', record):
        if match.group() == '"':
            quoted = not quoted
        elif not quoted:
            yield start, match.start()
            start = match.end()
    yield start, len(record)


def _field_length(field: str) -> int:
    """Characters of a field's value: without its enclosing quotes, a doubled quote as one."""
    if not field.startswith('"'):
        return len(field)
    inner = field[1:-1] if len(field) > 1 and field.endswith('"') else field[1:]
    return len(inner) - inner.count('""')


def _too_long(field: str, line: int, column: int, header: Sequence[str]) -> SourceFileError:
    limit = csv.field_size_limit()
    name = f" (`{header[column].strip()}`)" if column < len(header) else ""
    hint = ""
    if field.startswith('"') and "\n" in field:
        hint = f"; is the opening quote on line {line} missing its closing quote?"
    return SourceFileError(
        f"line {line}, column {column + 1}{name}: a field is longer than {limit:,} characters "
        f"({limit // 1024:,} KiB), more than a CSV field may hold{hint}",
        line=line,
        column=column + 1,
    )


def scan_exactly(buffer: bytes, delimiter: str) -> Records:
    """Like :func:`scan`, but with the record boundaries Python's csv module finds."""
    arr = np.frombuffer(buffer, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NL)
    line_start = np.concatenate(([0], newlines + 1)).astype(np.int64)
    line_end = np.append(newlines, len(arr)).astype(np.int64)  # excluding the newline
    spans = [(first, last) for first, last, _ in exact_records(buffer.decode("utf-8"), delimiter)]
    if not spans:
        empty = np.empty(0, dtype=np.int64)
        return Records(empty, empty, empty, False)
    first = np.array([s[0] for s in spans], dtype=np.int64)
    last = np.array([s[1] for s in spans], dtype=np.int64)
    starts, ends = line_start[first - 1], line_end[last - 1]
    crlf = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR)
    ends = ends - crlf
    keep = ends > starts
    multi = bool((last > first)[keep].any())
    return Records(starts[keep], ends[keep], first[keep], multi, balanced=True)
