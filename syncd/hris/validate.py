"""Row rules: which records are refused (and why), which are kept with a warning.

A rule is a vectorised test over whole columns that yields the positions it refuses. A
record can break several rules; each is reported, with the file, the physical line, the
column as the file names it, a fixed reason code and a message a person can act on. Keys are
checked last and over every record, so that a duplicated key rejects every row that has it:
keeping "the first one" would silently pick a winner between two different people.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import SourceConfig
from syncd.hris import strings
from syncd.hris.mapping import CONTROL_RANGES, INVISIBLE, TEXT, Layout, Mapped
from syncd.hris.reader import BadRecord
from syncd.hris.roster import ISSUE_COLUMNS

EMAIL = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
# RFC 5321 (with its erratum): an address has at most 254 characters, the part before
# the @ at most 64. Vendors refuse longer ones, or cut them and mail someone else.
EMAIL_MAX, LOCAL_MAX = 254, 64

REASONS = {
    "bad_field_count": "wrong number of fields",
    "missing_key": "no key value",
    "duplicate_key": "key on more than one row",
    "invalid_email": "invalid email address",
    "invalid_date": "unparseable date",
    "unknown_status": "status in neither list",
    "unknown_manager": "manager not in the export",
    "single_word_name": "one-word name",
    "control_character": "control character in a value",
    "invisible_character": "invisible character removed",
    "future_date": "date in the future",
    "far_future_date": "date far in the future",
    "active_after_termination": "active after the termination date",
}


@dataclass(frozen=True)
class Issue:
    """One rule's finding: the rows it concerns and one message per row."""

    reason: str
    field: str  # the canonical field
    column: str  # the same as the file names it (its header), for people
    rows: np.ndarray
    messages: Sequence[str]


def _message(prefix: str, values: pa.Array, suffix: str) -> list[str]:
    text = pa.scalar("", TEXT)
    joined = pc.binary_join_element_wise(
        pa.scalar(prefix, TEXT), values, pa.scalar(suffix, TEXT), text
    )
    return joined.to_pylist()


def _take(values: pa.Array, rows: np.ndarray) -> pa.Array:
    return values.take(pa.array(rows, pa.int64()))


def _shown(mapped: Mapped, layout: Layout, name: str) -> pa.Array:
    """A field as the file wrote it (before date parsing), else as derived."""
    position = layout.positions.get(name)
    if position is not None:
        return mapped.raw[layout.headers[position]]
    return mapped.values[name]


@dataclass(frozen=True)
class _Rows:
    """What a message about some rows of one field may say."""

    mapped: Mapped
    layout: Layout
    source: SourceConfig
    name: str
    rows: np.ndarray

    def shown(self, name: str | None = None) -> list[str]:
        """The field (or another one) as the file wrote it, trimmed."""
        values = _take(_shown(self.mapped, self.layout, name or self.name), self.rows)
        return pc.utf8_trim_whitespace(values).to_pylist()

    def values(self, name: str | None = None) -> list[str]:
        """The field (or another one) as mapped (dates as ISO)."""
        return _take(self.mapped.values[name or self.name], self.rows).to_pylist()


def _invalid_date(at: _Rows) -> list[str]:
    formats = ", ".join(at.source.date_formats)
    return [f"`{v}` is not a date in any of the formats {formats}" for v in at.shown()]


def _unknown_status(at: _Rows) -> list[str]:
    return [
        f"`{value}` is neither an active nor a terminated status"
        if value
        else "the status is empty"
        for value in at.shown()
    ]


def _single_word(at: _Rows) -> list[str]:
    firsts, lasts = at.values("first_name"), at.values("last_name")
    if at.source.name_split is not None and at.source.name_split.single_word == "reject":
        return [
            f"`{first or last}` is a single word: no {'last' if first else 'first'} name "
            "(name_split.single_word = reject)"
            for first, last in zip(firsts, lasts, strict=True)
        ]
    return [f"`{first}` is a single word: used as both first and last name" for first in firsts]


def _code(char: str) -> str:
    """U+202E RIGHT-TO-LEFT OVERRIDE: never the character itself, which may act on a terminal."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _first(text: str, wanted: Callable[[int], bool]) -> str:
    return next((_code(c) for c in text if wanted(ord(c))), "")


def _is_control(code: int) -> bool:
    return any(low <= code <= high for low, high in CONTROL_RANGES)


def _control_character(at: _Rows) -> list[str]:
    return [
        f"contains {_first(v, _is_control)}, a control character, not text: fix the value in "
        "the HRIS"
        for v in at.shown()
    ]


def _invisible_character(at: _Rows) -> list[str]:
    return [
        f"removed an invisible character ({_first(v, INVISIBLE.__contains__)})" for v in at.shown()
    ]


def _future_date(at: _Rows) -> list[str]:
    return [
        f"`{raw}` is {iso}, in the future; `{at.name}` is always in the past"
        for raw, iso in zip(at.shown(), at.values(), strict=True)
    ]


def _far_future_date(at: _Rows) -> list[str]:
    days = at.source.max_days_ahead[at.name]
    return [
        f"`{raw}` is {iso}, more than {days} days ahead"
        for raw, iso in zip(at.shown(), at.values(), strict=True)
    ]


def _active_after_termination(at: _Rows) -> list[str]:
    statuses = at.shown(at.source.status.column)
    return [
        f"status `{status}` but the termination date `{raw}` ({iso}) has passed; kept as active"
        for status, raw, iso in zip(statuses, at.shown(), at.values(), strict=True)
    ]


_MESSAGES: dict[str, Callable[[_Rows], list[str]]] = {
    "invalid_date": _invalid_date,
    "unknown_status": _unknown_status,
    "single_word_name": _single_word,
    "control_character": _control_character,
    "invisible_character": _invisible_character,
    "future_date": _future_date,
    "far_future_date": _far_future_date,
    "active_after_termination": _active_after_termination,
}


def _flagged(
    masks: dict[tuple[str, str], np.ndarray],
    mapped: Mapped,
    layout: Layout,
    source: SourceConfig,
    keep: np.ndarray | None = None,
) -> list[Issue]:
    """One Issue per (reason, field) mask the mapping set (only ``keep`` rows, if given)."""
    issues = []
    for (reason, name), mask in masks.items():
        rows = np.flatnonzero(mask if keep is None else mask & keep)
        if len(rows):
            messages = _MESSAGES[reason](_Rows(mapped, layout, source, name, rows))
            issues.append(Issue(reason, name, layout.column_name(name), rows, messages))
    return issues


def row_issues(
    mapped: Mapped, layout: Layout, source: SourceConfig, codes: KeyCodes
) -> list[Issue]:
    """Every refusal of every record, in rule order."""
    issues = _flagged(mapped.invalid, mapped, layout, source)
    for name in source.email_fields:
        if name in mapped.values:
            issues.extend(_email_issues(mapped.values[name], name, layout.column_name(name)))
    issues.extend(_key_issues(mapped, layout, source.key, codes))
    return issues


def value_warnings(
    mapped: Mapped, layout: Layout, source: SourceConfig, keep: np.ndarray
) -> list[Issue]:
    """What the mapping kept but doubts (one-word names, implausible dates, ...), for the
    accepted rows: a rejected row is reported for what rejected it."""
    return _flagged(mapped.warned, mapped, layout, source, keep)


def _email_issues(values: pa.Array, name: str, column: str) -> list[Issue]:
    """Not an address at all, or longer than any mail system takes."""
    issues = []
    formed = pc.match_substring_regex(values, EMAIL).to_numpy(zero_copy_only=False)
    given = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(given & ~formed)
    if len(rows):
        messages = _message("`", _take(values, rows), "` is not an email address")
        issues.append(Issue("invalid_email", name, column, rows, messages))
    # Only a value of more than LOCAL_MAX bytes can be too long: few, checked one by one.
    candidates = np.flatnonzero(formed & (np.diff(strings.buffers(values)[0]) > LOCAL_MAX))
    long_rows, messages = [], []
    for row, text in zip(candidates, _take(values, candidates).to_pylist(), strict=True):
        local = text.rindex("@")
        if len(text) > EMAIL_MAX:
            messages.append(f"{len(text)} characters; an email address has at most {EMAIL_MAX}")
        elif local > LOCAL_MAX:
            messages.append(
                f"the part before @ is {local} characters; at most {LOCAL_MAX} are allowed"
            )
        else:
            continue
        long_rows.append(row)
    if long_rows:
        issues.append(Issue("invalid_email", name, column, np.array(long_rows), messages))
    return issues


@dataclass(frozen=True)
class KeyCodes:
    """Keys and manager references as integer codes into one shared table of distinct values.

    Hashing a million strings is the costliest step of validation, so keys and managers are
    hashed once, together: duplicates are then a ``bincount`` and "is this manager a person
    of the export" an array lookup.
    """

    keys: np.ndarray
    managers: np.ndarray | None
    distinct: int


def key_codes(mapped: Mapped, source: SourceConfig) -> KeyCodes:
    keys = mapped.values[source.key]
    manager = source.manager if source.manager in mapped.values else None
    both = pa.concat_arrays([keys, mapped.values[manager]]) if manager else keys
    short = strings.packed(both)
    if short is not None:
        codes, distinct = pd.factorize(short)
        count = len(distinct)
    else:
        encoded = pc.dictionary_encode(both)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        count = len(encoded.dictionary)
    rows = len(keys)
    return KeyCodes(codes[:rows], codes[rows:] if manager else None, count)


def _key_issues(mapped: Mapped, layout: Layout, key: str, codes: KeyCodes) -> list[Issue]:
    column = layout.column_name(key)
    keys = mapped.values[key]
    missing = pc.equal(keys, "").to_numpy(zero_copy_only=False)
    issues = []
    if missing.any():
        rows = np.flatnonzero(missing)
        messages = [f"`{column}` is empty"] * len(rows)
        issues.append(Issue("missing_key", key, column, rows, messages))
    counts = np.bincount(codes.keys, minlength=codes.distinct)
    duplicated = (counts[codes.keys] > 1) & ~missing
    if duplicated.any():
        rows = np.flatnonzero(duplicated)
        frame = pd.DataFrame({"key": _take(keys, rows).to_pylist(), "line": mapped.lines[rows]})
        listed = frame.groupby("key", sort=False)["line"].agg(_lines_text)
        messages = [f"`{k}` is the key of {listed[k]}" for k in frame["key"]]
        issues.append(Issue("duplicate_key", key, column, rows, messages))
    return issues


def _lines_text(lines: pd.Series) -> str:
    shown = ", ".join(str(n) for n in lines.iloc[:5])
    more = f" and {len(lines) - 5} more" if len(lines) > 5 else ""
    return f"{len(lines)} rows (lines {shown}{more}); every one is rejected"


def accepted(issues: Sequence[Issue], rows: int) -> np.ndarray:
    """Rows no rule refused."""
    ok = np.ones(rows, dtype=bool)
    for issue in issues:
        ok[issue.rows] = False
    return ok


def manager_issues(
    mapped: Mapped, layout: Layout, source: SourceConfig, keep: np.ndarray, codes: KeyCodes
) -> list[Issue]:
    """Managers that are not an accepted person of this export (the row is still kept)."""
    name = source.manager
    if codes.managers is None or not name:
        return []
    accepted_key = np.zeros(codes.distinct, dtype=bool)
    accepted_key[codes.keys[keep]] = True
    managers = mapped.values[name]
    given = pc.not_equal(managers, "").to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(given & keep & ~accepted_key[codes.managers])
    if not len(rows):
        return []
    messages = _message(
        "manager `", _take(managers, rows), "` is not an accepted person in this export"
    )
    return [Issue("unknown_manager", name, layout.column_name(name), rows, messages)]


def issue_frame(
    issues: Sequence[Issue],
    mapped: Mapped,
    layout: Layout,
    file: str,
    key: str,
    bad: Sequence[BadRecord] = (),
    delimiter: str = ",",
) -> pd.DataFrame:
    """The report rows: one per problem, sorted by line.

    ``value`` is what the file holds in the problem's column (as written, untrimmed), or
    the derived value for a derived field, so a person can find and fix it.
    """
    parts = []
    raw_table = pa.table(mapped.raw) if mapped.raw else None
    for issue in issues:
        raw = (
            raw_table.take(pa.array(issue.rows, pa.int64())).to_pylist()
            if raw_table is not None
            else [{}] * len(issue.rows)
        )
        parts.append(
            pd.DataFrame(
                {
                    "file": file,
                    "line": mapped.lines[issue.rows],
                    "column": issue.column,
                    "reason": issue.reason,
                    "message": list(issue.messages),
                    "key": _take(mapped.values[key], issue.rows).to_pylist(),
                    "value": _take(_shown(mapped, layout, issue.field), issue.rows).to_pylist(),
                    "raw": raw,
                }
            )
        )
    if bad:
        parts.append(_bad_frame(bad, file, layout, key, delimiter))
    if not parts:
        return empty_issues()
    frame = pd.concat(parts, ignore_index=True)
    frame["line"] = frame["line"].astype("int64")
    return frame.sort_values(["line", "reason"], kind="stable", ignore_index=True)


def _bad_frame(
    bad: Sequence[BadRecord], file: str, layout: Layout, key: str, delimiter: str
) -> pd.DataFrame:
    """Records with the wrong number of fields: the key if it can be told, the text as read."""
    width = len(layout.headers)
    position = layout.positions.get(key)
    keys = []
    for record in bad:
        fields = next(csv.reader([record.text], delimiter=delimiter), [])
        found = fields[position] if position is not None and position < len(fields) else ""
        keys.append(" ".join(found.split()))
    return pd.DataFrame(
        {
            "file": file,
            "line": [b.line for b in bad],
            "column": "",
            "reason": "bad_field_count",
            "message": [f"{b.fields} fields where the header has {width}" for b in bad],
            "key": keys,
            "value": [b.text for b in bad],
            "raw": [{"text": b.text} for b in bad],
        }
    )


def empty_issues() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in ISSUE_COLUMNS})
    frame["line"] = frame["line"].astype("int64")
    frame["raw"] = frame["raw"].astype(object)
    return frame
