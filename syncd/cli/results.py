"""`syncd results pull|export`: course results from each LMS into the results table, and
from there into the file HR imports.

``pull`` reads what changed since each connection's watermark (a live display of windows
and records on a terminal, log lines otherwise; Ctrl-C or SIGTERM stops at a committed
point); ``export`` writes the configured columns into the outbound folder and prints the
file's path.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.live import logging_beside_progress, stoppable
from syncd.cli.options import ConfigOption, ConnectionOption
from syncd.errors import ConfigError, ExitCode
from syncd.log import configure

if TYPE_CHECKING:
    from syncd.vendors.base import Window

results_app = typer.Typer(
    help="Pull course results from the LMS and export them for the HRIS.", no_args_is_help=True
)


class _Display:
    """Per connection: which window of how many, records read and changes recorded."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[window]}"),
            TextColumn("{task.fields[records]:>9,} read {task.fields[changed]:>9,} changed"),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def window(self, connection: str, index: int, count: int, window: Window) -> None:
        text = f"window {index + 1}/{count} from {window.since:%Y-%m-%d %H:%M}"
        task = self.tasks.get(connection)
        if task is None:
            self.tasks[connection] = self.progress.add_task(
                connection, total=None, window=text, records=0, changed=0
            )
        else:
            self.progress.update(task, window=text)

    def records(self, connection: str, read: int, changed: int) -> None:
        task = self.tasks.get(connection)
        if task is not None:
            self.progress.update(task, records=read, changed=changed)


@results_app.command("pull")
def pull_command(config: ConfigOption, connection: ConnectionOption = None) -> None:
    """Read the results that changed in each LMS since the last pull into the results table."""
    from syncd.pipeline.results import pull_results

    cfg = config_mod.load(config)
    err, live = logging_beside_progress(cfg)
    display = _Display(err) if live else None
    with stoppable() as stop, display.progress if display else nullcontext():
        reports = pull_results(cfg, connection=connection, progress=display, stop=stop)
    out = cli_console()
    table = Table(title="results pull", title_justify="left")
    for column in ("connection", "windows", "records", "changed", "reads", "up to"):
        table.add_column(column, justify="left" if column == "connection" else "right")
    code = ExitCode.OK
    for report in reports:
        upto = f"{report.watermark:%Y-%m-%d %H:%M:%S}Z" if report.watermark else "-"
        table.add_row(
            report.connection,
            str(report.windows),
            f"{report.records:,}",
            f"{report.changed:,}",
            str(report.reads),
            upto,
        )
    out.print(table)
    for report in reports:
        if report.skipped:
            out.print(f"{report.connection}: skipped: {report.skipped}", markup=False)
        if report.stopped:
            out.print(f"{report.connection}: stopped; the next pull resumes", markup=False)
            code = ExitCode.most_serious([code, ExitCode.WAITING])
        if report.error:
            out.print(f"{report.connection}: failed: {report.error}", markup=False)
            code = ExitCode.most_serious([code, ExitCode.ERROR])
    raise typer.Exit(code)


@results_app.command("export")
def export_command(
    config: ConfigOption,
    connection: ConnectionOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only results syncd recorded on or after this date (YYYY-MM-DD)."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, xlsx or json (default: results.format)."),
    ] = None,
    changes: Annotated[
        bool | None,
        typer.Option(
            "--changes/--all",
            help="Only what changed since the last export, or everything "
            "(default: results.changes_only).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the results file for the HRIS into the outbound folder; print its path."""
    from syncd.results.export import export

    day = _day(since)
    chosen = _format(fmt)
    cfg = config_mod.load(config)
    configure(cfg.logging.level, cfg.logging.format)
    report = export(cfg, fmt=chosen, changes_only=changes, since=day, connection=connection)
    out = cli_console()
    what = "changed result(s)" if report.changes_only else "result(s)"
    out.print(f"{report.path}: {report.rows:,} {what}", markup=False, soft_wrap=True)
    if report.unmanaged:
        out.print(
            f"left out {report.unmanaged:,} result(s) of LMS accounts syncd does not manage "
            "(no HRIS employee id)",
            markup=False,
        )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not a date (YYYY-MM-DD)") from None


def _format(text: str | None) -> Literal["csv", "xlsx", "json"] | None:
    if text is None:
        return None
    if text == "csv":
        return "csv"
    if text == "xlsx":
        return "xlsx"
    if text == "json":
        return "json"
    raise ConfigError(f"--format {text!r}: choose csv, xlsx or json")


def register(app: typer.Typer) -> None:
    """Add `syncd results ...`."""
    app.add_typer(results_app, name="results")
