"""File in, raw columns out: find the export, decode it, sniff it, parse it with line numbers.

Everything that can make the file as a whole unusable is found here, before any row is
looked at, and raised as one :class:`~syncd.errors.SourceFileError` naming the file: missing,
not a regular file (a named pipe would block the run), empty, binary, not a CSV, a field
longer than a CSV field may be, header only. The file is read into memory once; whatever
its encoding it becomes UTF-8 bytes without a BOM, so the numpy scan (line numbers) and the
pyarrow parser see the same bytes. A detected file that mixes UTF-8 and cp1252 is read in
the encoding most of it is in (:mod:`syncd.hris.encodings`), and the records holding the
other lines are listed on the Export for rejection.

Parsing is pyarrow's multithreaded CSV reader. Rows with the wrong number of fields are
skipped by the parser and reported back as bad records with their line. A stray quote
inside an unquoted field (``5" display``) defeats the numpy scan: with an odd number of
quotes in the file the records are found with Python's ``csv`` module instead, and when the
scan and the parser disagree on the number of records the rows are read that way too,
slowly but exactly. The delimiter is sniffed on the first physical lines, parsed as CSV
for each candidate, so it never depends on the scan.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import os
import stat as stat_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from syncd.errors import SourceFileError
from syncd.files import IrregularFile, read_regular
from syncd.hris.encodings import Mixed, Undecodable, split_mixed, utf8_except
from syncd.hris.roster import SourceInfo
from syncd.hris.scan import (
    Records,
    exact_records,
    field_counts,
    field_spans,
    long_field,
    scan,
    scan_exactly,
)

_T = TypeVar("_T")

DELIMITERS = (",", ";", "\t", "|")
_SNIFF_RECORDS = 50
_GLOB_CHARS = set("*?[")
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?); export the sheet as CSV",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook; export the sheet as CSV",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive; unpack it first",
}


@dataclass(frozen=True)
class Export:
    """An export read into memory, decoded to UTF-8 and split into records."""

    path: Path
    data: bytes  # UTF-8, no BOM
    records: Records  # record 0 is the header
    headers: list[str]
    encoding: str
    delimiter: str
    sha256: str
    size: int
    mtime: datetime
    mixed: Mixed | None = None

    def without_data(self) -> Export:
        """The same description without the file's bytes, so they can be freed early."""
        empty = np.empty(0, dtype=np.int64)
        return replace(self, data=b"", records=Records(empty, empty, empty, False))

    def info(self, rows_read: int, empty_share: dict[str, float] | None = None) -> SourceInfo:
        return SourceInfo(
            path=self.path,
            sha256=self.sha256,
            size=self.size,
            mtime=self.mtime,
            encoding=self.encoding,
            delimiter=self.delimiter,
            rows_read=rows_read,
            headers=tuple(self.headers),
            empty_share=dict(empty_share or {}),
        )


@dataclass(frozen=True)
class BadRecord:
    """A record the parser could not split into the header's number of fields."""

    line: int
    fields: int
    text: str


@dataclass(frozen=True)
class Rows:
    """The parsed data rows: the wanted columns (by header position) and their lines."""

    columns: dict[int, pa.Array]
    lines: np.ndarray
    bad: list[BadRecord]

    def __len__(self) -> int:
        return len(self.lines)


def locate(path: str | Path) -> Path:
    """The file itself, or the newest file matching a glob (by modification time)."""
    text = str(path)
    if not _GLOB_CHARS & set(text):
        return Path(text)
    found: list[tuple[int, str, Path]] = []
    for name in glob.glob(text):
        try:
            info = os.stat(name)
        except OSError:
            continue  # removed (or made unreadable) between the listing and the look
        if stat_module.S_ISREG(info.st_mode):
            found.append((info.st_mtime_ns, Path(name).name, Path(name)))
    if not found:
        raise SourceFileError(f"{text}: no file matches this pattern", path=text)
    return max(found)[2]


def open_export(
    path: str | Path, *, encoding: str = "auto", delimiter: str = "auto", min_columns: int = 2
) -> Export:
    """Read, decode and sniff one export; every file-level problem raises SourceFileError."""
    file = locate(path)
    raw, stat = _read_bytes(file)
    if not raw or raw.isspace():
        raise SourceFileError(f"{file}: the file is empty", path=str(file))
    _refuse_known_formats(file, raw)
    if not _wide(raw, encoding):
        _refuse_nul(file, raw)
    digest = hashlib.sha256(raw).hexdigest()
    data, used, mixed = _decode(file, raw, encoding)
    del raw
    if b"\n" not in data and b"\r" in data:
        # Classic Mac line endings (Excel for Mac's "CSV (Macintosh)"): lines end in CR only.
        data = data.replace(b"\r", b"\n")
    records = scan(data)
    if not len(records):
        raise SourceFileError(f"{file}: the file is empty", path=str(file))
    chosen = delimiter if delimiter != "auto" else _sniff(file, data, records, min_columns)
    if len(chosen.encode("utf-8")) != 1:
        raise SourceFileError(f"{file}: delimiter {chosen!r} must be a single-byte character")
    if not records.balanced:
        records = _named(file, lambda: scan_exactly(data, chosen))
    _refuse_long_fields(file, data, records, chosen)
    headers = _split(_text(data, records, 0), chosen)
    if len(records) == 1:
        raise header_only(file, headers)
    if mixed is not None:
        mixed = replace(mixed, rows=_undecodable(data, records, mixed.offsets, chosen))
    return Export(
        path=file,
        data=data,
        records=records,
        headers=[h.strip() for h in headers],
        encoding=used,
        delimiter=chosen,
        sha256=digest,
        size=stat.st_size,
        mtime=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        mixed=mixed,
    )


def read_rows(export: Export, wanted: Sequence[int]) -> Rows:
    """Parse the data rows, keeping only the ``wanted`` columns (positions in the header)."""
    names = [f"c{i}" for i in range(len(export.headers))]
    invalid: list[str] = []

    def skip(row: pacsv.InvalidRow) -> str:
        invalid.append(row.text or "")
        return "skip"

    records = export.records
    body = pa.py_buffer(export.data).slice(int(records.starts[1]))
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=export.delimiter,
                newlines_in_values=records.quoted_newlines,
                invalid_row_handler=skip,
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=[names[i] for i in wanted],
                column_types=dict.fromkeys((names[i] for i in wanted), pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return _read_rows_exactly(export, wanted)
    data_lines = records.lines[1:]
    if not invalid:
        if table.num_rows != len(data_lines):
            return _read_rows_exactly(export, wanted)
        lines, bad = data_lines, []
    else:
        counts = field_counts(export.data, records, export.delimiter)[1:]
        wrong = counts != len(export.headers)
        if int(wrong.sum()) != len(invalid) or table.num_rows != len(data_lines) - len(invalid):
            return _read_rows_exactly(export, wanted)
        lines = data_lines[~wrong]
        bad = [
            BadRecord(int(line), int(count), _text(export.data, records, int(index) + 1))
            for index, line, count in zip(
                np.flatnonzero(wrong), data_lines[wrong], counts[wrong], strict=True
            )
        ]
    # One contiguous array per column; each parsed column is let go as soon as it is copied,
    # so the parsed table and its combined copy are never both alive in full.
    chunked = {i: table.column(names[i]) for i in wanted}
    del table
    columns = {i: chunked.pop(i).combine_chunks() for i in wanted}
    return Rows(columns, np.asarray(lines, dtype=np.int64), [b for b in bad if b.text.strip()])


def _read_rows_exactly(export: Export, wanted: Sequence[int]) -> Rows:
    """The slow exact path: Python's csv module, one row at a time, tracking lines."""
    width = len(export.headers)
    values: list[list[str]] = [[] for _ in wanted]
    lines: list[int] = []
    bad: list[BadRecord] = []
    records = _named(
        export.path, lambda: list(exact_records(export.data.decode("utf-8"), export.delimiter))
    )
    for number, (start, _end, row) in enumerate(records):
        if number == 0 or not row:
            continue
        if len(row) != width:
            joined = export.delimiter.join(row)
            if joined.strip():
                bad.append(BadRecord(start, len(row), joined))
            continue
        lines.append(start)
        for slot, index in zip(values, wanted, strict=True):
            slot.append(row[index])
    columns = {i: pa.array(v, type=pa.large_string()) for i, v in zip(wanted, values, strict=True)}
    return Rows(columns, np.asarray(lines, dtype=np.int64), bad)


def _named(file: Path, step: Callable[[], _T]) -> _T:
    """Run ``step``; a SourceFileError it raises gets the file's name in front."""
    try:
        return step()
    except SourceFileError as exc:
        raise SourceFileError(f"{file}: {exc}", path=str(file), **exc.fields) from None


def header_only(file: Path, headers: Sequence[str]) -> SourceFileError:
    """The error for an export without a single data row."""
    return SourceFileError(
        f"{file}: the file has a header but no rows (headers: {', '.join(headers)})",
        path=str(file),
    )


def _read_bytes(file: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes; anything but a regular file is refused before a byte is read
    (:func:`syncd.files.read_regular`: a named pipe or a device would hang the run)."""
    try:
        return read_regular(file)
    except IrregularFile as exc:
        if exc.what == "a directory":
            raise SourceFileError(
                f"{file}: is a directory, not an export file", path=str(file)
            ) from None
        raise SourceFileError(
            f"{file}: is {exc.what}, not a regular file; point the source's path at the "
            "export file itself",
            path=str(file),
        ) from None
    except FileNotFoundError:
        raise SourceFileError(f"{file}: file not found", path=str(file)) from None
    except PermissionError:
        raise SourceFileError(f"{file}: permission denied", path=str(file)) from None
    except OSError as exc:
        raise SourceFileError(f"{file}: cannot read: {exc.strerror}", path=str(file)) from None


def _refuse_known_formats(file: Path, raw: bytes) -> None:
    for magic, what in _MAGIC.items():
        if raw.startswith(magic):
            raise SourceFileError(f"{file}: not a CSV file: this is {what}", path=str(file))


def _wide(raw: bytes, encoding: str) -> bool:
    """UTF-16/32 text (by its BOM or by config), where NUL bytes are normal."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if encoding == "auto":
        return False
    try:
        return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def _refuse_nul(file: Path, data: bytes) -> None:
    """Text in a one-byte encoding never holds NUL; binary data and UTF-16 without BOM do."""
    if b"\x00" not in data:
        return
    head = np.frombuffer(data[:4096], dtype=np.uint8)
    even, odd = int((head[0::2] == 0).sum()), int((head[1::2] == 0).sum())
    if max(even, odd) > len(head) // 4:
        order = "le" if odd > even else "be"
        raise SourceFileError(
            f"{file}: not a CSV file as read: it looks like UTF-16 text without a byte-order "
            f'mark; set `encoding = "utf-16-{order}"` for this source',
            path=str(file),
        )
    raise SourceFileError(
        f"{file}: not a CSV file: it contains binary data (NUL bytes)", path=str(file)
    )


def _decode(file: Path, raw: bytes, encoding: str) -> tuple[bytes, str, Mixed | None]:
    """The bytes as UTF-8 without BOM, the encoding they were in, and any lines that are not.

    Only detection looks for a mix: an encoding set in the configuration is the user's
    word for the whole file.
    """
    if encoding == "auto":
        if raw.startswith(codecs.BOM_UTF8):
            body = raw[3:]
            if body.isascii() or _is_utf8(body):
                return body, "utf-8-sig", None
            data, found = utf8_except(body, "utf-8-sig")
            return data, "utf-8-sig", found
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return _transcode(file, raw, "utf-16"), "utf-16", None
        if raw.isascii() or _is_utf8(raw):
            return raw, "utf-8", None
        mixed = split_mixed(raw)
        if mixed is not None:
            data, found = mixed
            return data, found.encoding, found
        try:
            return _transcode(file, raw, "cp1252", quiet=True), "cp1252", None
        except UnicodeDecodeError:
            return _transcode(file, raw, "latin-1"), "latin-1", None
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise SourceFileError(f"{file}: unknown encoding {encoding!r}", path=str(file)) from None
    if name in ("utf-8", "utf-8-sig"):
        body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
        return _checked_utf8(file, body, name), name, None
    return _transcode(file, raw, name), name, None


def _is_utf8(raw: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 22
    try:
        for offset in range(0, len(raw), step):
            decoder.decode(raw[offset : offset + step], final=offset + step >= len(raw))
    except UnicodeDecodeError:
        return False
    return True


def _checked_utf8(file: Path, body: bytes, name: str) -> bytes:
    if body.isascii() or _is_utf8(body):
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise SourceFileError(
            f"{file}: line {line}: not valid {name} text (set `encoding` for this source, "
            "e.g. cp1252)",
            path=str(file),
            line=line,
        ) from None
    return body


def _transcode(file: Path, raw: bytes, name: str, *, quiet: bool = False) -> bytes:
    try:
        text = raw.decode(name)
    except UnicodeDecodeError as exc:
        if quiet:
            raise
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SourceFileError(
            f"{file}: line {line}: not valid {name} text", path=str(file), line=line
        ) from None
    return text.lstrip("\ufeff").encode("utf-8")


def _text(data: bytes, records: Records, index: int) -> str:
    return data[records.starts[index] : records.ends[index]].decode("utf-8", errors="replace")


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _sniff(file: Path, data: bytes, records: Records, min_columns: int) -> str:
    """The delimiter that splits the first records into the same, largest number of fields.

    The sample is the first physical lines as text, parsed by the csv module for each
    candidate, so quoting is honoured per delimiter (a quote opens a field only at its start)
    whatever the quote count; a record cut off at the end of the sample is left out, and so
    is everything from a record the csv module refuses (a field too long for it) on.
    """
    cut = 0
    for _ in range(_SNIFF_RECORDS):
        found = data.find(b"\n", cut)
        if found < 0:
            cut = len(data)
            break
        cut = found + 1
    sample = data[:cut].decode("utf-8", errors="replace")
    best: tuple[float, int, str] | None = None
    for delimiter in DELIMITERS:
        rows, complete = _sample_rows(sample, delimiter)
        if cut < len(data) and complete and len(rows) > 1:
            rows = rows[:-1]
        width = len(rows[0]) if rows else 0
        if width < max(min_columns, 2):
            continue
        agree = sum(len(r) == width for r in rows) / len(rows)
        if agree >= 0.5 and (best is None or (agree, width) > best[:2]):
            best = (agree, width, delimiter)
    if best is not None:
        return best[2]
    if min_columns <= 1:
        return ","
    _refuse_long_fields(file, data, records, ",")
    first = sample.lstrip().split("\n", 1)[0][:80]
    raise SourceFileError(
        f"{file}: not a CSV file: no comma, semicolon, tab or pipe separates columns "
        f"(first line: {first!r})",
        path=str(file),
    )


def _sample_rows(sample: str, delimiter: str) -> tuple[list[list[str]], bool]:
    """The non-blank rows of the sample up to any the csv module refuses; False if one did."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if row:
                rows.append(row)
    except csv.Error:
        return rows, False
    return rows, True


def _refuse_long_fields(file: Path, data: bytes, records: Records, delimiter: str) -> None:
    """Stop at the first field longer than the csv module reads, naming its line and column.

    No spreadsheet writes such a field (Excel's cell limit is 32,767 characters): it is a
    quote left open that swallowed the rows after it, or a broken export, so the file as a
    whole is refused rather than read with rows missing. Only records longer than the
    limit in bytes can hold one, so the check is one vector comparison on ordinary files.
    """
    limit = csv.field_size_limit()
    header: list[str] = []
    for index in np.flatnonzero(records.ends - records.starts > limit).tolist():
        if index and not header:
            header = [h.strip() for h in _split(_text(data, records, 0), delimiter)]
        found = long_field(
            _text(data, records, index), delimiter, int(records.lines[index]), header
        )
        if found is not None:
            raise SourceFileError(f"{file}: {found}", path=str(file), **found.fields)


def _undecodable(
    data: bytes, records: Records, offsets: np.ndarray, delimiter: str
) -> tuple[Undecodable, ...]:
    """The data records holding a line that is not in the file's encoding, once each.

    The column is the field the first such character falls in; a header in the other
    encoding is only read as best it can be (it names columns, it is no person).
    """
    found: dict[int, Undecodable] = {}
    owners = np.searchsorted(records.starts, offsets, side="right") - 1
    for record, offset in zip(owners.tolist(), offsets.tolist(), strict=True):
        if record <= 0 or record in found or offset >= records.ends[record]:
            continue
        start = int(records.starts[record])
        prefix = data[start:offset].decode("utf-8")
        column = sum(1 for _ in field_spans(prefix, delimiter)) - 1
        fields = next(
            csv.reader(io.StringIO(_text(data, records, record), newline=""), delimiter=delimiter),
            [],
        )
        value = fields[column] if column < len(fields) else ""
        found[record] = Undecodable(int(records.lines[record]), column, value)
    return tuple(found.values())
