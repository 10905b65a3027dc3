"""`syncd validate [FILE] --config FILE`: check an HRIS export before anything is synced.

Runs exactly the EXTRACT stage a sync runs (:func:`syncd.hris.read_roster`) and shows what
it made of the file: rows read, accepted and rejected (by reason), warnings, groups, then
the first rejected rows with line, column and reason, and, with ``--report``, the full
rejection report as CSV. It is read-only: it never opens the state database, and reads
only the configuration's sources (not the state database's URL or the connections, whose
secrets and hosts it does not need), so it can be run against any export, on any machine,
before the first sync. The report is meant to be opened in a spreadsheet, so it is written
through :mod:`syncd.spreadsheet` (no cell can run as a formula).

Exit codes: 0 no row rejected, 1 some rows rejected (or a configuration error), 2 the file
as a whole is unusable (missing, empty, binary, required column absent, ...).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from syncd import atomic, spreadsheet
from syncd.cli.console import console
from syncd.config import Config, load
from syncd.errors import ConfigError, ExitCode, SourceFileError, SyncdError

if TYPE_CHECKING:
    import pandas as pd

    from syncd.hris import Roster

REPORT_COLUMNS = ["file", "line", "key", "column", "reason", "value", "message"]


def pick_source(config: Config, name: str | None) -> str:
    """The source to validate: the one named, or the only one there is."""
    if name is not None:
        if name not in config.sources:
            known = ", ".join(sorted(config.sources))
            raise ConfigError(f"{config.path}: no source named `{name}` (have: {known})")
        return name
    if len(config.sources) != 1:
        known = ", ".join(sorted(config.sources))
        raise ConfigError(f"{config.path}: several sources ({known}); choose one with --source")
    return next(iter(config.sources))


def write_report(rejected: pd.DataFrame, path: Path) -> None:
    """The full rejection report as CSV, written atomically (a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path, "w", newline="", encoding="utf-8") as handle:
        writer = spreadsheet.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(rejected[REPORT_COLUMNS].itertuples(index=False, name=None))


def _counts_by_reason(frame: pd.DataFrame) -> list[tuple[str, int]]:
    from syncd.hris.roster import counts_by_reason

    return list(counts_by_reason(frame).items())


def _heading(roster: Roster, name: str) -> str:
    info = roster.source
    return (
        f"[bold]{escape(str(info.path))}[/] (source `{escape(name)}`, encoding {info.encoding}, "
        f"delimiter {escape(repr(info.delimiter))})"
    )


def _summary(roster: Roster) -> Table:
    table = Table(title="summary", title_justify="left")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("read", f"{roster.source.rows_read:,}")
    table.add_row("[green]accepted[/]", f"{roster.rows_accepted:,}")
    style = "red" if roster.rows_rejected else "green"
    table.add_row(f"[{style}]rejected[/]", f"[{style}]{roster.rows_rejected:,}[/]")
    for reason, count in _counts_by_reason(roster.rejected):
        table.add_row(f"  {escape(reason)}", f"{count:,}")
    warned = int(roster.warnings["line"].nunique())
    table.add_row("[yellow]warnings[/]" if warned else "warnings", f"{warned:,}")
    for reason, count in _counts_by_reason(roster.warnings):
        table.add_row(f"  {escape(reason)}", f"{count:,}")
    groups = roster.groups
    table.add_section()
    table.add_row("groups", f"{len(groups):,}")
    for grouping, count in groups.groupby("grouping", sort=True).size().items():
        table.add_row(f"  {escape(str(grouping))}", f"{int(count):,}")
    table.add_row("memberships", f"{len(roster.memberships):,}")
    return table


def _problems(frame: pd.DataFrame, title: str, limit: int) -> Table:
    """The problems of the first ``limit`` rows (every problem of those rows)."""
    lines = frame["line"].drop_duplicates().iloc[:limit]
    shown = frame[frame["line"].isin(lines)]
    table = Table(title=title, title_justify="left")
    for column in ("line", "key", "column", "reason", "message"):
        table.add_column(column, justify="right" if column == "line" else "left")
    for row in shown.itertuples():
        table.add_row(
            str(row.line),
            escape(str(row.key)),
            escape(str(row.column)),
            escape(str(row.reason)),
            escape(str(row.message)),
        )
    return table


def validate_command(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="The TOML configuration file.", show_default=False),
    ],
    file: Annotated[
        Path | None,
        typer.Argument(help="The export to check (default: the source's `path` in the config)."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Which source (`sources.NAME` in the config); needed when there are several.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write every rejected row to this CSV file."),
    ] = None,
    show: Annotated[
        int, typer.Option("--show", min=0, help="How many rejected rows to print.")
    ] = 10,
) -> None:
    """Read and validate an HRIS export; print what would be synced and what is rejected."""
    from syncd.hris import read_roster
    from syncd.hris.ingest import file_warnings

    cfg = load(config, sources_only=True)
    name = pick_source(cfg, source)
    path = str(file) if file is not None else cfg.source_path(name)
    try:
        roster = read_roster(path, cfg.sources[name], today=date.today())
    except SourceFileError as exc:
        exc.exit_code = ExitCode.FILE_UNUSABLE
        raise
    out = console()
    out.print(_heading(roster, name), highlight=False)
    out.print(_summary(roster))
    for warning in file_warnings(roster):
        out.print(f"[yellow]warning[/] {escape(warning)}", highlight=False)
    rejected, warnings = roster.rejected, roster.warnings
    if len(rejected) and show:
        out.print(_problems(rejected, "rejected rows", show))
        more = roster.rows_rejected - min(show, roster.rows_rejected)
        if more:
            hint = "" if report else " (--report FILE writes them all)"
            out.print(f"... and {more:,} more rejected row(s){hint}", highlight=False)
    if len(warnings) and show:
        out.print(_problems(warnings, "warnings (the rows are kept)", min(show, 5)))
    if report is not None:
        try:
            write_report(rejected, report)
        except OSError as exc:
            raise SyncdError(f"{report}: cannot write the report: {exc.strerror}") from None
        out.print(f"rejection report: {escape(str(report))} ({len(rejected):,} problem(s))")
    raise typer.Exit(ExitCode.ROWS_REJECTED if roster.rows_rejected else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add `syncd validate`."""
    app.command("validate")(validate_command)
