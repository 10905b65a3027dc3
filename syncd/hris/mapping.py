"""Raw columns in, canonical fields out: headers, whitespace, names, templates, dates, status.

Every step is a pyarrow compute kernel over a whole column (or over the few distinct values
of a column, then mapped back with a ``take``), never a Python loop per row: a million rows
go through in well under a second. Values that cannot be mapped (a date in none of the
formats, a status in neither list, a control character) are not fixed or guessed; they
come back as masks for the validator to reject with a reason. What is kept but doubtful (a
one-word name used as both names, a birth date in the future, an invisible character
removed) comes back as masks for the validator to warn about.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
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

# Characters that are not text: C0 and C1 controls (escape sequences, bell, DEL; tab and
# line breaks are whitespace and already became spaces) and the bidi embeddings, overrides
# and isolates that make a value show other than it reads (`Ann\u202eeeL`). A row holding
# one is rejected: what the HRIS meant cannot be known. The Unicode ranges, inclusive.
CONTROL_RANGES = (
    (0x00, 0x08),
    (0x0E, 0x1F),
    (0x7F, 0x84),
    (0x86, 0x9F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
)
# Invisible characters that carry no meaning in a value and come from copy and paste or a
# second BOM: byte order mark, zero width space, word joiner. Removed, with a warning. (Zero
# width joiners and the left-to-right/right-to-left marks are part of some scripts' writing
# and stay.)
INVISIBLE = (0xFEFF, 0x200B, 0x2060)
_CONTROL = "[" + "".join(rf"\x{{{a:x}}}-\x{{{b:x}}}" for a, b in CONTROL_RANGES) + "]"
_INVISIBLE = "[" + "".join(rf"\x{{{c:x}}}" for c in INVISIBLE) + "]"
# UTF-8 bytes that every such character contains (a superset: the regex decides).
_SUSPECT = np.zeros(256, dtype=bool)
_SUSPECT[[*range(0x20), 0x7F, 0xC2, 0xE2, 0xEF]] = True


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
    warned: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # kept, doubtful

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


def screen(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(values without invisible characters, rows with a control character, rows cleaned).

    Only the rows whose bytes may hold such a character are searched (numpy, as in
    :func:`normalise`); a cleaned value is normalised again, as removing a character can
    leave a doubled or trailing space.
    """
    control = np.zeros(len(values), dtype=bool)
    cleaned = np.zeros(len(values), dtype=bool)
    offsets, data = strings.buffers(values)
    if not len(data) or (data.min() >= 0x20 and data.max() < 0x7F):
        return values, control, cleaned  # printable ASCII only, as most columns are
    high = np.flatnonzero(data >= 0x7F)  # few: non-ASCII letters are a small share of bytes
    suspect = np.union1d(np.flatnonzero(data < 0x20), high[_SUSPECT[data[high]]])
    rows = np.unique(strings.row_of(offsets, suspect))
    if not len(rows):
        return values, control, cleaned
    some = values.take(pa.array(rows, pa.int64()))
    control[rows] = pc.match_substring_regex(some, _CONTROL).to_numpy(zero_copy_only=False)
    hidden = pc.match_substring_regex(some, _INVISIBLE)
    cleaned[rows] = hidden.to_numpy(zero_copy_only=False)
    if cleaned.any():
        fixed = normalise(pc.replace_substring_regex(pc.filter(some, hidden), _INVISIBLE, ""))
        values = pc.replace_with_mask(values, pa.array(cleaned), fixed)
    return values, control, cleaned


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
    return strings.cut(data, *first), strings.cut(data, *middle), strings.cut(data, *last)


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


def parse_dates(
    values: pa.Array, formats: Sequence[str], *, pivot: int = 69, not_after: date | None = None
) -> ParsedDates:
    """Parse with each format in turn, over the distinct values only, then map back.

    A two-digit year (``%y``) below ``pivot`` is 20xx, else 19xx; with ``not_after`` (a
    field never in the future, such as a birth date) one that would land after that day is
    read in the century before. A date that does not exist in the century chosen (29
    February 1900) is invalid.
    """
    encoded = pc.dictionary_encode(values)
    distinct = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
    result = pd.Series(pd.NaT, index=distinct.index, dtype="datetime64[s]")
    short = np.zeros(len(distinct), dtype=bool)  # parsed by a format with a two-digit year
    for fmt in formats:
        todo = result.isna() & (distinct != "")
        if not todo.any():
            break
        parsed = pd.to_datetime(distinct[todo], format=fmt, errors="coerce")
        result[todo] = parsed.astype("datetime64[s]")
        if "%y" in fmt:
            short |= (todo & result.notna()).to_numpy()
    if short.any():
        result[short] = _century(result[short], pivot, not_after)
    iso = result.dt.strftime("%Y-%m-%d").fillna("")
    bad = ((distinct != "") & result.isna()).to_numpy()
    indices = encoded.indices
    return ParsedDates(
        iso=pa.array(iso.to_numpy(dtype=object), TEXT).take(indices),
        invalid=bad[indices.to_numpy(zero_copy_only=False)],
    )


def _century(dates: pd.Series, pivot: int, not_after: date | None) -> pd.Series:
    """Two-digit-year dates moved to the century the pivot (and ``not_after``) choose."""
    two = dates.dt.year.to_numpy() % 100
    years = np.where(two < pivot, 2000 + two, 1900 + two)
    moved = _with_years(dates, years)
    if not_after is not None:
        late = (moved > pd.Timestamp(not_after)).to_numpy()
        years = np.where(late, years - 100, years)
        moved = _with_years(dates, years)
    return moved


def _with_years(dates: pd.Series, years: np.ndarray) -> pd.Series:
    parts = {"year": years, "month": dates.dt.month.to_numpy(), "day": dates.dt.day.to_numpy()}
    made = pd.to_datetime(pd.DataFrame(parts, index=dates.index), errors="coerce")
    return made.astype("datetime64[s]")


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
    _apply_screen(mapped, layout)
    if source.name_split is not None:
        _apply_name_split(mapped, source.name_split)
    for target, template in source.derived.items():
        made, complete = fill_template(template, mapped.values, rows)
        current = mapped.values.get(target, empty)
        use = pc.and_(complete, pc.equal(current, ""))
        mapped.values[target] = pc.if_else(use, made, current)
    _apply_dates(mapped, source, today)
    absent = {name for name, p in layout.positions.items() if p is None} - set(source.derived)
    _apply_status(mapped, source, today, absent)
    return mapped


def _apply_screen(mapped: Mapped, layout: Layout) -> None:
    """Control characters reject the row; invisible ones are removed with a warning."""
    screened: dict[int, tuple[pa.Array, np.ndarray, np.ndarray]] = {}
    for name, position in layout.positions.items():
        if position is None:
            continue
        if position not in screened:
            screened[position] = screen(mapped.values[name])
        values, control, cleaned = screened[position]
        mapped.values[name] = values
        _flag(mapped.invalid, "control_character", name, control)
        _flag(mapped.warned, "invisible_character", name, cleaned)


def _flag(
    masks: dict[tuple[str, str], np.ndarray], reason: str, name: str, rows: np.ndarray | pa.Array
) -> None:
    """Record ``rows`` (a numpy or Arrow boolean mask) under ``reason`` when any is set."""
    mask = rows if isinstance(rows, np.ndarray) else rows.to_numpy(zero_copy_only=False)
    if mask.any():
        masks[(reason, name)] = mask


def _apply_name_split(mapped: Mapped, split: NameSplit) -> None:
    first, middle, last = split_names(mapped.values[split.column], split.format)
    for name, part in zip(NameSplit.PARTS, (first, middle, last), strict=True):
        current = mapped.values.get(name)
        mapped.values[name] = (
            part if current is None else pc.if_else(pc.equal(current, ""), part, current)
        )
    _one_word_names(mapped, split)


def _one_word_names(mapped: Mapped, split: NameSplit) -> None:
    """A name with one part (`Suharto`, `Lee,`): both names, or the row rejected.

    LMSs require a first and a last name, so an empty one is never left to be refused by
    the vendor one create at a time.
    """
    first, last = mapped.values["first_name"], mapped.values["last_name"]
    no_first, no_last = pc.equal(first, ""), pc.equal(last, "")
    given = pc.not_equal(mapped.values[split.column], "")
    one = pc.and_(given, pc.xor(no_first, no_last))
    if split.single_word == "reject":
        _flag(mapped.invalid, "single_word_name", split.column, one)
        return
    _flag(mapped.warned, "single_word_name", split.column, one)
    mapped.values["first_name"] = pc.if_else(no_first, last, first)
    mapped.values["last_name"] = pc.if_else(no_last, first, last)


def _date_fields(source: SourceConfig, present: dict[str, pa.Array]) -> list[str]:
    names = list(source.date_fields)
    term = source.status.termination_date
    if term and term not in names:
        names.append(term)
    return [n for n in names if n in present]


def _apply_dates(mapped: Mapped, source: SourceConfig, today: date) -> None:
    """Parse every date field; flag dates no person has (future births, 9999 hires)."""
    past_only = set(source.past_only_dates)
    for name in _date_fields(source, mapped.values):
        parsed = parse_dates(
            mapped.values[name],
            source.date_formats,
            pivot=source.two_digit_year_pivot,
            not_after=today if name in past_only else None,
        )
        iso = mapped.values[name] = parsed.iso
        _flag(mapped.invalid, "invalid_date", name, parsed.invalid)
        if name in past_only:
            _flag(mapped.warned, "future_date", name, pc.greater(iso, today.isoformat()))
        if name in source.max_days_ahead:
            latest = today + timedelta(days=source.max_days_ahead[name])
            _flag(mapped.warned, "far_future_date", name, pc.greater(iso, latest.isoformat()))


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
        past = pc.and_(pc.not_equal(ended, ""), pc.less_equal(ended, today.isoformat()))
        past = past.to_numpy(zero_copy_only=False)
        if has_status:
            # The status still decides (as it always has), but says the opposite of the date.
            _flag(mapped.warned, "active_after_termination", term, past & active)
            active = active | future
        else:
            active = ~past
    mapped.active = active
