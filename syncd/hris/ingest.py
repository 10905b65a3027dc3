"""One export file in, one Roster out: the EXTRACT stage, pure apart from reading the file.

The order matters and is the contract: file-level problems first (nothing else happens when
the file is unusable), then mapping, then row rules over all records, then the manager check
against the people actually accepted, then groups from accepted people only.
"""

from __future__ import annotations

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
    bad = rows.bad
    del rows
    pa.default_memory_pool().release_unused()
    if not len(mapped) and not bad:
        # Only rows with every mapped column empty (`,,,,`): as good as no rows at all.
        raise reader.header_only(export.path, export.headers)
    codes = validate.key_codes(mapped, source)
    issues = validate.row_issues(mapped, layout, source, codes)
    keep = validate.accepted(issues, len(mapped))
    warnings = validate.manager_issues(mapped, layout, source, keep, codes)
    del codes
    file = str(export.path)
    rejected = validate.issue_frame(issues, mapped, layout, file, source.key, bad, export.delimiter)
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
        source=export.info(rows_read=rows_read),
    )


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
    table = pa.table(
        {
            "external_id": values[source.key],
            **values,
            "active": pa.array(mapped.active[keep]),
            "line": pa.array(mapped.lines[keep], pa.int64()),
        }
    )
    return table.to_pandas(), values
