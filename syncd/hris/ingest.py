"""One export file in, one Roster out: the EXTRACT stage, pure apart from reading the file.

The order matters and is the contract: file-level problems first (nothing else happens when
the file is unusable), then mapping, then row rules over all records, then the manager check
against the people actually accepted, then groups from accepted people only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from syncd.config import SourceConfig
from syncd.hris import groups, mapping, reader, validate
from syncd.hris.roster import Roster


def read_roster(path: str | Path, source: SourceConfig, *, today: date) -> Roster:
    """Read and validate one export; SourceFileError when the file as a whole is unusable."""
    export = reader.open_export(
        path,
        encoding=source.encoding,
        delimiter=source.delimiter,
        min_columns=min(2, len(set(source.columns.values()))),
    )
    layout = mapping.resolve(export.headers, source, export.path)
    rows = reader.read_rows(export, layout.wanted)
    export = export.without_data()
    # The parser's working memory is free now; hand it back to the system instead of letting
    # Arrow's allocator keep it (about 100 MB less peak RSS on a million rows), here and
    # after mapping, the two steps that allocate most.
    pa.default_memory_pool().release_unused()
    mapped = mapping.map_rows(rows.columns, rows.lines, layout, source, today=today)
    empty = empty_shares(mapped, layout)
    bad = rows.bad
    del rows
    pa.default_memory_pool().release_unused()
    if not len(mapped) and not bad:
        # Only rows with every mapped column empty (`,,,,`): as good as no rows at all.
        raise reader.header_only(export.path, export.headers)
    codes = validate.key_codes(mapped, source)
    issues = validate.row_issues(mapped, layout, source, codes)
    keep = validate.accepted(issues, len(mapped))
    mixed = _mixed_rows(export, mapped, layout, source.key)
    if mixed is not None:
        keep[mixed.rows] = False
    warnings = [
        *validate.value_warnings(mapped, layout, source, keep),
        *validate.manager_issues(mapped, layout, source, keep, codes),
    ]
    del codes
    file = str(export.path)
    rejected = validate.issue_frame(issues, mapped, layout, file, source.key, bad, export.delimiter)
    if mixed is not None:
        rejected = _with(rejected, mixed.frame)
    warned = validate.issue_frame(warnings, mapped, layout, file, source.key)
    rows_read = len(mapped) + len(bad)
    people, values = _people(mapped, source, keep)
    group_frame, memberships = groups.build(source.groups, values, values[source.key])
    return Roster(
        people=people,
        groups=group_frame,
        memberships=memberships,
        rejected=rejected,
        warnings=warned,
        source=export.info(rows_read=rows_read, empty_share=empty),
    )


def empty_shares(mapped: mapping.Mapped, layout: mapping.Layout) -> dict[str, float]:
    """Percent of empty values per column the mapping reads, by its header: the integrity
    gate's signal that an HRIS job suddenly left a column blank. Measured on every mapped
    record, rejected ones included (a blank required column rejects the very rows that
    would show it)."""
    total = len(mapped)
    shares: dict[str, float] = {}
    if not total:
        return shares
    for name, position in layout.positions.items():
        column = mapped.values.get(name)
        if position is None or column is None:
            continue
        blank = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
        count = pc.sum(pc.fill_null(blank, True)).as_py() or 0
        shares[layout.headers[position]] = round(100.0 * count / total, 2)
    return shares


def _people(
    mapped: mapping.Mapped, source: SourceConfig, keep: np.ndarray
) -> tuple[pd.DataFrame, dict[str, pa.Array]]:
    """The accepted rows as the people frame, and their columns for building groups.

    ``mapped`` is emptied on the way: each column is released as soon as its accepted rows
    are copied, so a million-row export is never held twice.
    """
    mapped.raw.clear()
    mask = None if keep.all() else pa.array(keep)
    values = {}
    for name in source.fields():
        column = mapped.values.pop(name)
        values[name] = column if mask is None else pc.filter(column, mask)
    mapped.values.clear()
    previous = {"previous_external_id": values[source.previous_key]} if source.previous_key else {}
    table = pa.table(
        {
            "external_id": values[source.key],
            **previous,
            **values,
            "active": pa.array(mapped.active[keep]),
            "line": pa.array(mapped.lines[keep], pa.int64()),
        }
    )
    return table.to_pandas(), values


_SHOWN = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8"}
MIXED = "mixed_encoding"


@dataclass(frozen=True)
class _MixedRows:
    """The mapped rows whose bytes are not in the file's encoding, and their report rows."""

    rows: np.ndarray
    frame: pd.DataFrame


def _mixed_rows(
    export: reader.Export, mapped: mapping.Mapped, layout: mapping.Layout, key: str
) -> _MixedRows | None:
    """Reject every record holding a line in another encoding than the rest of the file.

    Such a row was decoded as it most likely reads, but that is a guess, and a wrong guess
    would sync a name as mojibake; the quarantine shows the guess so it can be fixed. A
    record that was not mapped (wrong field count, all empty) is already out.
    """
    found = export.mixed
    if found is None or not found.rows or not len(mapped.lines):
        return None
    lines = np.asarray([r.line for r in found.rows], dtype=np.int64)
    at = np.minimum(np.searchsorted(mapped.lines, lines), len(mapped.lines) - 1)
    hit = mapped.lines[at] == lines
    if not hit.any():
        return None
    rows = at[hit]
    undecodable = [r for r, h in zip(found.rows, hit.tolist(), strict=True) if h]
    main, other = _SHOWN.get(found.encoding, found.encoding), _SHOWN.get(found.other, found.other)
    if main == "UTF-8":
        why = (
            f"not valid UTF-8: the file mixes encodings (mostly UTF-8, this row looks like {other})"
        )
    else:
        why = f"{other} text in a {main} file: the file mixes encodings (mostly {main})"
    index = pa.array(rows, pa.int64())
    frame = pd.DataFrame(
        {
            "file": str(export.path),
            "line": mapped.lines[rows],
            "column": [_header(layout, r.column) for r in undecodable],
            "reason": MIXED,
            "message": f"{why}; fix the row or set `encoding` for this source",
            "key": mapped.values[key].take(index).to_pylist(),
            "value": [r.value for r in undecodable],
            "raw": pa.table(mapped.raw).take(index).to_pylist() if mapped.raw else [{}] * len(rows),
        }
    )
    return _MixedRows(rows, frame)


def _header(layout: mapping.Layout, column: int) -> str:
    return layout.headers[column] if column < len(layout.headers) else ""


def _with(rejected: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """The report with more rows, in the report's order (by line, then reason)."""
    frame = pd.concat([rejected, more], ignore_index=True) if len(rejected) else more
    frame["line"] = frame["line"].astype("int64")
    return frame.sort_values(["line", "reason"], kind="stable", ignore_index=True)


def file_warnings(roster: Roster) -> list[str]:
    """What is wrong with the file as a whole although it was read, one line each."""
    rejected = roster.rejected
    count = int(rejected.loc[rejected["reason"] == MIXED, "line"].nunique())
    if not count:
        return []
    main = _SHOWN.get(roster.source.encoding, roster.source.encoding)
    rows = (
        f"{count:,} row(s) whose bytes are not valid UTF-8 (they look like cp1252)"
        if main == "UTF-8"
        else f"{count:,} row(s) holding UTF-8 text"
    )
    return [
        f"{roster.source.path}: the file mixes encodings: it is read as {main} and {rows} are "
        "rejected; fix them in the HRIS or set `encoding` for this source"
    ]
