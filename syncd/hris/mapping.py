"""Raw columns in, canonical fields out: headers, whitespace, names, templates, dates, status.

Every step is a pyarrow compute kernel over a whole column (or over the few distinct values
of a column, then mapped back with a ``take``), never a Python loop per row: a million rows
go through in well under a second. Values that cannot be mapped (a date in none of the
formats, a status in neither list) are not fixed or guessed; they come back as masks for
the validator to reject with a reason.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import NameSplit, SourceConfig
from syncd.errors import SourceFileError
from syncd.hris import strings

TEXT = pa.large_string()
EMPTY = pa.scalar("", TEXT)

# Runs of whitespace of any kind (tabs, line breaks inside quoted values, no-break and other
# Unicode spaces) become one plain space.
_ANY_SPACE = (
    r"[\s\x{0b}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+"
)
# UTF-8 bytes that can start a whitespace character other than the plain space, and bytes
# that can end one; a superset is fine, the exact rule runs on the rows these flag.
_LEAD = np.zeros(256, dtype=bool)
_LEAD[[9, 10, 11, 12, 13, 32, 0xC2, 0xE1, 0xE2, 0xE3]] = True
_TAIL = np.zeros(256, dtype=bool)
_TAIL[[9, 10, 11, 12, 13, 32, *range(0x80, 0x8B), 0x9F, 0xA0, 0xA8, 0xA9, 0xAF]] = True


def header_key(text: str) -> str:
    """How headers are compared: case-insensitive, all whitespace ignored."""
    return "".join(text.split()).casefold()


@dataclass(frozen=True)
class Layout:
    """Which position of this file's header feeds each mapped canonical field."""

    headers: list[str]
    positions: dict[str, int | None]  # canonical field -> header position (None: absent)

    @property
    def wanted(self) -> list[int]:
        """Header positions to parse, each once, in file order."""
        return sorted({p for p in self.positions.values() if p is not None})

    def column_name(self, name: str) -> str:
        """What to call a field in a report: its header in the file, else the field name."""
        position = self.positions.get(name)
        return self.headers[position] if position is not None else name


def resolve(headers: Sequence[str], source: SourceConfig, file: Path) -> Layout:
    """Match the configured headers to the file's; a missing required one stops the run."""
    by_key: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        by_key.setdefault(header_key(header), []).append(position)
    positions: dict[str, int | None] = {}
    missing = []
    for name, header in source.columns.items():
        found = by_key.get(header_key(header), [])
        if len(found) > 1:
            listed = " and ".join(str(p + 1) for p in found)
            raise SourceFileError(
                f"{file}: header `{header}` (for `{name}`) appears more than once "
                f"(columns {listed})",
                path=str(file),
                column=header,
            )
        if found:
            positions[name] = found[0]
        elif name in source.optional_columns:
            positions[name] = None
        else:
            missing.append(f"`{header}` (for `{name}`)")
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise SourceFileError(
            f"{file}: required {noun} {', '.join(missing)} not found; headers in the file: "
            + ", ".join(f"`{h}`" for h in headers),
            path=str(file),
        )
    return Layout(list(headers), positions)


@dataclass
class Mapped:
    """Canonical columns of the kept rows, plus what could not be mapped."""

    values: dict[str, pa.Array]
    raw: dict[str, pa.Array]  # header -> value as read, for the quarantine
    lines: np.ndarray
    active: np.ndarray
    invalid: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (reason, field)

    def __len__(self) -> int:
        return len(self.lines)


def normalise(values: pa.Array) -> pa.Array:
    """Trim, and collapse inner runs of whitespace to one space.

    Most values of most columns are already clean, and a string kernel over every value costs
    tens of milliseconds per million rows. So the column's bytes are checked with numpy first
    (first and last byte of each value, doubled spaces and non-space whitespace anywhere) and
    only the rows that may need it are rewritten.
    """
    rows = _untidy_rows(values)
    if not len(rows):
        return values
    index = pa.array(rows, pa.int64())
    fixed = pc.utf8_trim_whitespace(pc.replace_substring_regex(values.take(index), _ANY_SPACE, " "))
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), fixed)


def _untidy_rows(values: pa.Array) -> np.ndarray:
    """Rows that may hold leading, trailing, doubled or non-space whitespace (a superset)."""
    offsets, data = strings.buffers(values)
    if not len(data):
        return np.empty(0, dtype=np.int64)
    starts, ends = offsets[:-1], offsets[1:]
    filled = np.flatnonzero(ends > starts)
    flagged = np.zeros(len(values), dtype=bool)
    flagged[filled[_LEAD[data[starts[filled]]] | _TAIL[data[ends[filled] - 1]]]] = True
    doubled = np.flatnonzero((data[:-1] == 32) & (data[1:] == 32))
    control = np.flatnonzero((data > 8) & (data < 14))
    high = np.flatnonzero(data >= 0xC2)
    high = high[(data[high] == 0xC2) | ((data[high] >= 0xE1) & (data[high] <= 0xE3))]
    for positions in (doubled, control, high):
        flagged[strings.row_of(offsets, positions)] = True
    return np.flatnonzero(flagged)


def split_names(full: pa.Array, style: str) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(first, middle, last) from `Last, First M` or `First M Last` (normalised input).

    Positions of the first comma and of the first and last space of every row are found in
    the column's bytes, and the parts are cut out of it; no per-row Python.
    """
    offsets, data = strings.buffers(full)
    if not len(data):
        blank = pa.repeat(EMPTY, len(full))
        return blank, blank, blank
    starts, ends = offsets[:-1], offsets[1:]
    spaces = np.flatnonzero(data == 32)
    first_space = strings.first_in_row(offsets, spaces)
    last_space = strings.first_in_row(offsets, spaces, last=True)
    spaced = first_space >= 0
    # `First M Last`: the last word is the last name, the first word (if another) the first.
    first = (starts, np.where(spaced, first_space, starts))
    middle = (np.where(spaced, first_space + 1, starts), np.where(spaced, last_space, starts))
    last = (np.where(spaced, last_space + 1, starts), ends)
    if style == "last_first":
        comma = strings.first_in_row(offsets, np.flatnonzero(data == 44))
        has = comma >= 0
        at = np.where(has, comma, starts)
        size = len(data)
        before_space = has & (at > starts) & (data[np.clip(at - 1, 0, size - 1)] == 32)
        after = at + 1
        after = after + (has & (after < ends) & (data[np.clip(after, 0, size - 1)] == 32))
        gap = strings.next_after(spaces, after, ends)
        split = gap >= 0
        first = (
            np.where(has, after, first[0]),
            np.where(has, np.where(split, gap, ends), first[1]),
        )
        middle = (
            np.where(has, np.where(split, gap + 1, ends), middle[0]),
            np.where(has, ends, middle[1]),
        )
        last = (np.where(has, starts, last[0]), np.where(has, at - before_space, last[1]))
    return tuple(strings.cut(data, a, b) for a, b in (first, middle, last))  # type: ignore[return-value]


def fill_template(
    template: str, values: dict[str, pa.Array], rows: int
) -> tuple[pa.Array, pa.Array]:
    """The template's value for every row, and a mask of rows where all its fields are set."""
    pieces: list[pa.Array | pa.Scalar] = []
    complete = pa.array(np.ones(rows, dtype=bool))
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            pieces.append(pa.scalar(literal, TEXT))
        if name is not None:
            column = values[name]
            pieces.append(column)
            complete = pc.and_(complete, pc.not_equal(column, ""))
    if not any(isinstance(p, pa.Array) for p in pieces):
        pieces.insert(0, pa.repeat(EMPTY, rows))
    joined = pc.binary_join_element_wise(*pieces, EMPTY)
    return joined, complete


@dataclass(frozen=True)
class ParsedDates:
    iso: pa.Array  # "YYYY-MM-DD", "" for empty and unparseable
    invalid: np.ndarray  # non-empty and matching none of the formats


def parse_dates(values: pa.Array, formats: Sequence[str]) -> ParsedDates:
    """Parse with each format in turn, over the distinct values only, then map back."""
    encoded = pc.dictionary_encode(values)
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
    result = pd.Series(pd.NaT, index=distinct.index, dtype="datetime64[s]")
    for fmt in formats:
        todo = result.isna() & (distinct != "")
        if not todo.any():
            break
        parsed = pd.to_datetime(distinct[todo], format=fmt, errors="coerce")
        result[todo] = parsed.astype("datetime64[s]")
    iso = result.dt.strftime("%Y-%m-%d").fillna("")
    bad = ((distinct != "") & result.isna()).to_numpy()
    indices = encoded.indices
    return ParsedDates(
        iso=pa.array(iso.to_numpy(dtype=object), TEXT).take(indices),
        invalid=bad[indices.to_numpy(zero_copy_only=False)],
    )


def status_active(
    values: pa.Array, active: Sequence[str], terminated: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(active, unknown) masks: words compared case- and whitespace-insensitively."""
    folded = pc.utf8_lower(values)
    yes = pc.is_in(folded, value_set=pa.array([_fold(v) for v in active], TEXT))
    no = pc.is_in(folded, value_set=pa.array([_fold(v) for v in terminated], TEXT))
    yes_np = yes.to_numpy(zero_copy_only=False)
    no_np = no.to_numpy(zero_copy_only=False)
    return yes_np, ~(yes_np | no_np)


def _fold(word: str) -> str:
    return " ".join(word.split()).lower()


def map_rows(
    columns: dict[int, pa.Array],
    lines: np.ndarray,
    layout: Layout,
    source: SourceConfig,
    *,
    today: date,
) -> Mapped:
    """Canonical fields for every non-blank row, plus masks of the values that did not map."""
    rows = len(lines)
    raw = {layout.headers[p]: columns[p] for p in layout.wanted}
    clean = {p: normalise(columns[p]) for p in layout.wanted}
    empty = pa.repeat(EMPTY, rows)
    values: dict[str, pa.Array] = {
        name: clean[p] if p is not None else empty for name, p in layout.positions.items()
    }
    # Rows with nothing in any mapped column are blank lines in disguise (`,,,,`): dropped.
    # (From the offsets: no length array per column is ever allocated.)
    filled = np.zeros(rows, dtype=bool)
    for column in clean.values():
        filled |= np.diff(strings.buffers(column)[0]) > 0
    if not filled.all():
        keep = pa.array(filled)
        values = {k: pc.filter(v, keep) for k, v in values.items()}
        raw = {k: pc.filter(v, keep) for k, v in raw.items()}
        lines = lines[filled]
        rows = len(lines)
        empty = pc.filter(empty, keep)
    mapped = Mapped(values, raw, lines, np.ones(rows, dtype=bool))
    if source.name_split is not None:
        _apply_name_split(mapped, source.name_split)
    for target, template in source.derived.items():
        made, complete = fill_template(template, mapped.values, rows)
        current = mapped.values.get(target, empty)
        use = pc.and_(complete, pc.equal(current, ""))
        mapped.values[target] = pc.if_else(use, made, current)
    _apply_dates(mapped, source)
    absent = {name for name, p in layout.positions.items() if p is None} - set(source.derived)
    _apply_status(mapped, source, today, absent)
    return mapped


def _apply_name_split(mapped: Mapped, split: NameSplit) -> None:
    first, middle, last = split_names(mapped.values[split.column], split.format)
    for name, part in zip(NameSplit.PARTS, (first, middle, last), strict=True):
        current = mapped.values.get(name)
        mapped.values[name] = (
            part if current is None else pc.if_else(pc.equal(current, ""), part, current)
        )


def _date_fields(source: SourceConfig, present: dict[str, pa.Array]) -> list[str]:
    names = list(source.date_fields)
    term = source.status.termination_date
    if term and term not in names:
        names.append(term)
    return [n for n in names if n in present]


def _apply_dates(mapped: Mapped, source: SourceConfig) -> None:
    for name in _date_fields(source, mapped.values):
        parsed = parse_dates(mapped.values[name], source.date_formats)
        mapped.values[name] = parsed.iso
        if parsed.invalid.any():
            mapped.invalid[("invalid_date", name)] = parsed.invalid


def _apply_status(mapped: Mapped, source: SourceConfig, today: date, absent: set[str]) -> None:
    """``active`` from the status words and the termination date.

    A status column that is optional and absent from this file counts as no status column
    at all (an empty status would otherwise reject everyone).
    """
    status = source.status
    has_status = status.column in mapped.values and status.column not in absent
    if has_status:
        active, unknown = status_active(
            mapped.values[status.column], status.active, status.terminated
        )
        if status.unknown == "active":
            active = active | unknown
        elif status.unknown == "reject" and unknown.any():
            mapped.invalid[("unknown_status", status.column)] = unknown
    else:
        active = np.ones(len(mapped), dtype=bool)
    term = status.termination_date
    if term and term in mapped.values:
        ended = mapped.values[term]
        future = pc.greater(ended, today.isoformat()).to_numpy(zero_copy_only=False)
        if has_status:
            active = active | future
        else:
            past = pc.and_(pc.not_equal(ended, ""), pc.less_equal(ended, today.isoformat()))
            active = ~past.to_numpy(zero_copy_only=False)
    mapped.active = active
