"""The results file HR imports: the configured columns of the results table, keyed by the
HRIS employee id, one header row, ISO dates, written whole or not at all into the
outbound folder under a timestamped name.

Only people syncd manages are exported (a result of an account made by hand in the LMS
has no HRIS key to import it by; the report counts them). "Only the changes since the
last export" is a per-connection revision (see :mod:`syncd.state.results`), read in the
same snapshot as the rows and moved only after the file is in place: a crash between the
two repeats those changes in the next file rather than losing them.

Cells are text from the LMS, which anyone who can name a course controls: CSV goes
through :mod:`syncd.spreadsheet` (no formula runs when HR opens it), XLSX cells are
written as strings, never formulas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any, Literal

from syncd import atomic, spreadsheet
from syncd.config import Config
from syncd.errors import ConfigError
from syncd.log import get_logger
from syncd.state import results as store
from syncd.state.db import open_state, read_session, session_factory

log = get_logger("syncd.results.export")

Format = Literal["csv", "xlsx", "json"]

XLSX_ROWS = 1_048_576
"""Excel's row limit, the header included: a larger export must be CSV or JSON."""

_SOURCE = {"employee_id": "external_id"}
_DATES = frozenset(
    {
        "assigned_at",
        "started_at",
        "completed_at",
        "expires_at",
        "updated_at",
        "regressed_at",
        "seen_at",
    }
)


@dataclass
class ExportReport:
    path: Path | None
    format: str
    rows: int = 0
    by_connection: dict[str, int] = field(default_factory=dict)
    unmanaged: int = 0
    changes_only: bool = False


def _date_text(dates: str) -> Callable[[datetime | None], str]:
    """ISO text of a UTC date (naive means UTC, as SQLite gives them back), as a date or a
    date-time to the second; ``isoformat``, several times faster than ``strftime``, as
    this runs once per date cell."""
    whole_days = dates == "date"

    def text(value: datetime | None) -> str:
        if value is None:
            return ""
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if whole_days:
            return value.date().isoformat()
        return value.isoformat(timespec="seconds") + "Z"

    return text


def _number(value: float | int | None) -> float | int | str:
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else value


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _text(value: Any) -> Any:
    return "" if value is None else value


def source_columns(columns: Sequence[str]) -> list[str]:
    """The results table's columns an export of ``columns`` reads (``connection`` first:
    the report counts rows per connection)."""
    needed = ["connection"]
    for column in columns:
        name = "connection" if column == "vendor" else _SOURCE.get(column, column)
        if name not in needed:
            needed.append(name)
    return needed


def shaper(
    columns: Sequence[str], vendors: Mapping[str, str], dates: str
) -> Callable[[tuple[Any, ...]], list[Any]]:
    """A function from a row of :func:`source_columns` to the export's cells."""
    position = {name: i for i, name in enumerate(source_columns(columns))}
    date_text = _date_text(dates)

    def vendor(name: Any) -> str:
        return vendors.get(name, "")

    specs: list[tuple[int, Callable[[Any], Any]]] = []
    for column in columns:
        if column == "vendor":
            specs.append((position["connection"], vendor))
        elif column in _DATES:
            specs.append((position[column], date_text))
        elif column in ("completed", "passed"):
            specs.append((position[column], _flag))
        elif column in ("percentage", "score", "seconds"):
            specs.append((position[column], _number))
        else:
            specs.append((position[_SOURCE.get(column, column)], _text))
    return lambda row: [convert(row[at]) for at, convert in specs]


def _csv(handle: IO[Any], columns: Sequence[str], rows: Iterable[list[Any]]) -> None:
    writer = spreadsheet.writer(handle)
    writer.writerow(columns)
    writer.writerows(rows)


def _json(handle: IO[Any], columns: Sequence[str], rows: Iterable[list[Any]]) -> None:
    handle.write("[")
    for index, cells in enumerate(rows):
        handle.write(",\n" if index else "\n")
        handle.write(json.dumps(dict(zip(columns, cells, strict=True)), ensure_ascii=False))
    handle.write("\n]\n")


def _xlsx(handle: IO[Any], columns: Sequence[str], rows: Iterable[list[Any]]) -> None:
    import xlsxwriter  # type: ignore[import-untyped]

    book = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False})
    try:
        sheet = book.add_worksheet("results")
        for col, name in enumerate(columns):
            sheet.write_string(0, col, name)
        for line, cells in enumerate(rows, start=1):
            if line >= XLSX_ROWS:
                raise ConfigError(
                    f"the export has more than {XLSX_ROWS - 1:,} rows, Excel's limit: "
                    "use --format csv or json"
                )
            for col, value in enumerate(cells):
                if isinstance(value, int | float):
                    sheet.write_number(line, col, value)
                elif value != "":
                    sheet.write_string(line, col, str(value))
    finally:
        # Also on a refusal: the workbook's temporary row files are closed and removed
        # (the half-written file itself is the atomic writer's to discard).
        book.close()


_WRITERS: dict[str, tuple[str, dict[str, Any], Callable[..., None]]] = {
    "csv": ("w", {"encoding": "utf-8", "newline": ""}, _csv),
    "json": ("w", {"encoding": "utf-8"}, _json),
    "xlsx": ("wb", {}, _xlsx),
}


def file_name(prefix: str, fmt: str, now: datetime) -> str:
    return f"{prefix}-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.{fmt}"


def export(
    config: Config,
    *,
    fmt: Format | None = None,
    changes_only: bool | None = None,
    since: date | None = None,
    connection: str | None = None,
    now: datetime | None = None,
) -> ExportReport:
    """Write the results export (see the module docstring); ``since`` keeps the results
    syncd recorded on or after that day (UTC)."""
    settings = config.results
    fmt = fmt or settings.format
    only_changes = settings.changes_only if changes_only is None else changes_only
    chosen = config.connection(connection)
    now = now or datetime.now(UTC)
    folder = config.outbound_path()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"results.outbound: cannot create {folder}: {exc.strerror}") from None
    path = folder / file_name(settings.name, fmt, now)
    report = ExportReport(path=path, format=fmt, changes_only=only_changes)
    vendors = {name: conn.vendor for name, conn in chosen.items()}
    shape = shaper(settings.columns, vendors, settings.dates)
    seen_since = datetime.combine(since, time(), tzinfo=UTC) if since else None
    engine = open_state(config.state.url, auto_upgrade=config.state.auto_upgrade)
    try:
        with read_session(engine) as db:
            names = list(chosen)
            upto = {name: store.last_revision(db, name) for name in names}
            after = {name: store.exported_revision(db, name) for name in names}
            report.unmanaged = sum(store.unmanaged_count(db, name) for name in names)
            rows = store.export_rows(
                db,
                names,
                source_columns(settings.columns),
                after=after if only_changes else None,
                upto=upto,
                seen_since=seen_since,
            )
            mode, options, write = _WRITERS[fmt]
            try:
                with closing(rows), atomic.replacing(path, mode, **options) as handle:
                    write(handle, settings.columns, _counted(rows, shape, report))
            except OSError as exc:
                raise ConfigError(
                    f"results.outbound: cannot write {path}: {exc.strerror}"
                ) from None
        if only_changes:
            with session_factory(engine).begin() as db:
                for name in names:
                    store.set_exported_revision(db, name, upto[name])
    finally:
        engine.dispose()
    log.info(
        "results.exported",
        path=str(path),
        rows=report.rows,
        changes_only=only_changes,
        unmanaged=report.unmanaged,
    )
    return report


def _counted(
    rows: Iterator[tuple[Any, ...]],
    shape: Callable[[tuple[Any, ...]], list[Any]],
    report: ExportReport,
) -> Iterator[list[Any]]:
    for row in rows:
        report.rows += 1
        name = row[0]
        report.by_connection[name] = report.by_connection.get(name, 0) + 1
        yield shape(row)
