"""Row rules: which records are refused (and why), which are kept with a warning.

A rule is a vectorised test over whole columns that yields the positions it refuses. A
record can break several rules; each is reported, with the file, the physical line, the
column as the file names it, a fixed reason code and a message a person can act on. Keys are
checked last and over every record, so that a duplicated key rejects every row that has it:
keeping "the first one" would silently pick a winner between two different people.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import SourceConfig
from syncd.hris import strings
from syncd.hris.mapping import TEXT, Layout, Mapped
from syncd.hris.reader import BadRecord
from syncd.hris.roster import ISSUE_COLUMNS

EMAIL = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"

REASONS = {
    "bad_field_count": "wrong number of fields",
    "missing_key": "no key value",
    "duplicate_key": "key on more than one row",
    "invalid_email": "invalid email address",
    "invalid_date": "unparseable date",
    "unknown_status": "status in neither list",
    "unknown_manager": "manager not in the export",
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


def row_issues(
    mapped: Mapped, layout: Layout, source: SourceConfig, codes: KeyCodes
) -> list[Issue]:
    """Every refusal of every record, in rule order."""
    issues: list[Issue] = []
    for (reason, name), mask in mapped.invalid.items():
        rows = np.flatnonzero(mask)
        shown = pc.utf8_trim_whitespace(_take(_shown(mapped, layout, name), rows))
        if reason == "invalid_date":
            formats = ", ".join(source.date_formats)
            messages = _message("`", shown, f"` is not a date in any of the formats {formats}")
        else:
            messages = [
                f"`{value}` is neither an active nor a terminated status"
                if value
                else "the status is empty"
                for value in shown.to_pylist()
            ]
        issues.append(Issue(reason, name, layout.column_name(name), rows, messages))
    for name in source.email_fields:
        if name not in mapped.values:
            continue
        values = mapped.values[name]
        bad = pc.and_(pc.not_equal(values, ""), pc.invert(pc.match_substring_regex(values, EMAIL)))
        rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
        if len(rows):
            messages = _message("`", _take(values, rows), "` is not an email address")
            issues.append(Issue("invalid_email", name, layout.column_name(name), rows, messages))
    issues.extend(_key_issues(mapped, layout, source.key, codes))
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
