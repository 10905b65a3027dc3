"""`syncd reconcile`: read -> plan -> safeguards -> enqueue -> drain, as one command.

A thin wrapper over :func:`syncd.pipeline.reconcile.reconcile`: it loads the configuration,
shows progress (a live display on a terminal, structured log lines otherwise) and prints
the plan and a final summary. Exit codes: 0 in sync; 1 error; 3 refused (the export's
integrity gate, a wrong file, or a safeguard with ``on_trip = "refuse"``); 4 finished with
dead-lettered (or blocked) ops; 5 finished with retries still waiting; 6 people skipped
(not synced as the export says, reasons shown) and nothing worse; 7 risky ops held for
approval (`syncd held`), the rest sent.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.console import plain
from syncd.cli.live import logging_beside_progress, stoppable
from syncd.cli.options import AcceptFileOption, ConfigOption, TodayOption, accepted_checks, as_of
from syncd.errors import ExitCode
from syncd.log import redact

if TYPE_CHECKING:
    from syncd.pipeline.reconcile import ConnectionResult
    from syncd.queue.worker import DrainStats, Event


_RESULT = {
    0: "[green]in sync[/]",
    1: "[red]error[/]",
    3: "[yellow]refused by a safeguard[/]",
    4: "[red]dead-lettered ops[/]",
    5: "[yellow]retries waiting[/]",
    6: "[yellow]people skipped[/]",
    7: "[magenta]ops held for approval[/]",
}
_DRY_RESULT = {0: "[cyan]dry run: in sync[/]", 2: "[cyan]dry run: changes pending[/]"}

_SHOWN_SKIPS = 10


class RichProgress:
    """Ops done/total, calls per minute, time left and errors, per connection and phase."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>5.0f} calls/min"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[errors]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}
        self.console = console

    def phase(self, connection: str, name: str, total: int) -> None:
        task = self.progress.add_task(f"{connection}: {name}", total=total, rate=0, errors="")
        self.tasks[connection] = task
        self.started[connection] = time.monotonic()

    def event(self, connection: str, event: Event, stats: DrainStats) -> None:
        task = self.tasks.get(connection)
        if task is None:
            return
        elapsed = max(time.monotonic() - self.started[connection], 1e-6)
        errors = []
        if stats.dead:
            errors.append(f"[red]{stats.dead} dead[/]")
        if stats.retried:
            errors.append(f"[yellow]{stats.retried} retried[/]")
        self.progress.update(
            task,
            completed=stats.done + stats.dead,
            rate=stats.calls * 60 / elapsed,
            errors=" ".join(errors),
        )

    def note(self, connection: str, text: str) -> None:
        self.console.print(f"[dim]{connection}:[/] {text}", highlight=False)


def reconcile_command(
    config: ConfigOption,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only this connection (default: all).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and show, change nothing, call no write.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="List the LMS first: adopt existing accounts, repair hand-made drift."
        ),
    ] = False,
    allow_mass_change: Annotated[
        bool,
        typer.Option("--allow-mass-change", help="Let a plan through that a safeguard refuses."),
    ] = False,
    today: TodayOption = None,
    accept_file: AcceptFileOption = None,
) -> None:
    """Sync the HRIS export into the LMS: plan, enqueue and drain the outbox to the end."""
    from syncd.pipeline.reconcile import exit_code, reconcile

    when = as_of(today)
    accept = accepted_checks(accept_file)
    cfg = config_mod.load(config)
    out = cli_console()
    err, live = logging_beside_progress(cfg)
    display = RichProgress(err) if live else None
    with stoppable() as stop, display.progress if display else nullcontext():
        results = reconcile(
            cfg,
            connection=connection,
            dry_run=dry_run,
            full=full,
            allow_mass_change=allow_mass_change,
            today=when,
            accept_file=accept,
            progress=display,
            stop=stop,
        )
    _print_plans(out, results)
    print_summary(out, results)
    raise typer.Exit(exit_code(results))


def _print_plans(out: Console, results: list[ConnectionResult]) -> None:
    from syncd.plan.summary import describe

    for result in results:
        plan = result.plan
        if plan is None:
            continue
        title = f"{result.name} ({result.vendor}): plan of {len(plan.ops)} op(s), "
        title += f"{plan.calls} vendor call(s)"
        if not plan.ops:
            out.print(f"{title}: nothing to change", markup=False)
            continue
        out.print(title, markup=False)
        table = Table()
        table.add_column("op")
        table.add_column("count", justify="right")
        for kind, count in plan.counts.items():
            table.add_row(kind, str(count))
        out.print(table)
        if result.dry_run:
            for op in plan.ops[:20]:
                out.print(f"  {describe(op, plan.reasons.get(op.key, ''))}", markup=False)
            if len(plan.ops) > 20:
                out.print(f"  ... and {len(plan.ops) - 20} more")
        for check in plan.checks:
            if check.tripped:
                state = "overridden" if plan.overridden else "REFUSED" if plan.refused else "HELD"
                out.print(f"  safeguard {check.label}: {state}: {check.message}", markup=False)


def _repairs_line(result: ConnectionResult) -> str | None:
    """What ``--full`` repaired of the changes made by hand in the LMS (None: nothing).

    "repaired" only once every op is done; a dry run "would repair"; otherwise the
    repairs are planned and the dead or waiting ops say what is left.
    """
    from syncd.plan.drift import repairs_text

    plan = result.plan
    if plan is None or plan.refused or not plan.repairs:
        return None
    text = repairs_text(plan.repairs)
    if result.dry_run:
        return f"would repair: {text}"
    if result.exit_code in (ExitCode.OK, ExitCode.SKIPPED):  # every op done
        return f"repaired: {text}"
    return f"repairs planned, not all done yet: {text}"


def _result_label(r: ConnectionResult) -> str:
    if r.exit_code == ExitCode.HELD and not r.held:
        return "[magenta]safeguard tripped[/]"
    return (_DRY_RESULT if r.dry_run else _RESULT).get(r.exit_code) or _RESULT[r.exit_code]


def print_summary(out: Console, results: list[ConnectionResult]) -> None:
    from syncd.pipeline.reconcile import describe_held, describe_rate_waits, describe_wait

    table = Table(title="reconcile", title_justify="left")
    for column in ("connection", "rows", "rejected", "skipped", "ops", "done", "adopted"):
        table.add_column(column, justify="left" if column == "connection" else "right")
    for column in ("retried", "dead", "blocked", "held", "waiting", "calls", "seconds"):
        table.add_column(column, justify="right")
    table.add_column("result")
    for r in results:
        stats = r.earlier.add(r.drained)
        table.add_row(
            plain(r.name),
            str(r.rows_read),
            str(r.rows_rejected),
            str(len(r.plan.skipped)) if r.plan else "-",
            str(len(r.plan.ops)) if r.plan else "-",
            str(stats.done),
            str(stats.adopted),
            str(stats.retried),
            str(r.counts["dead"]),
            str(r.counts["blocked"]),
            str(r.held),
            str(r.waiting),
            str(r.calls),
            f"{stats.seconds:.1f}",
            _result_label(r),
        )
    out.print(table)
    for r in results:
        if r.error:
            out.print(f"[red]{plain(r.name)}: error:[/] {plain(redact(r.error))}")
        if r.nothing_new:
            out.print(f"{plain(r.name)}: {plain(r.nothing_new)}", highlight=False)
        if r.refusal and r.gate:
            out.print(
                f"[yellow]{plain(r.name)}: refused, nothing planned:[/] {plain(r.refusal)}",
                highlight=False,
            )
        elif r.refusal:
            hint = " (use --allow-mass-change if this is deliberate)" if r.overridable else ""
            out.print(
                f"[yellow]{plain(r.name)}: refused, nothing enqueued:[/] {plain(r.refusal)}{hint}",
                highlight=False,
            )
        _print_skips(out, r)
        _print_links(out, r)
        repairs = _repairs_line(r)
        if repairs:
            out.print(f"{r.name}: {repairs}", highlight=False, markup=False)
        held = describe_held(r)
        if held and not r.dry_run:
            out.print(f"[magenta]{plain(r.name)}:[/] {plain(held)}", highlight=False)
        wait = describe_wait(r)
        if wait and not r.dry_run:
            out.print(f"[yellow]{r.name}:[/] {wait}", highlight=False)
        rate = describe_rate_waits(r)
        if rate:
            out.print(f"[yellow]{r.name}:[/] {rate}", highlight=False)
        if r.dead:
            shown = r.dead[:10]
            dead = Table(title=f"{r.name}: dead-lettered and blocked ops", title_justify="left")
            for column in ("id", "op", "state", "reason"):
                dead.add_column(column)
            for row in shown:
                reason = row.last_error or ("waits on a dead op" if row.state == "blocked" else "")
                dead.add_row(str(row.id), plain(row.key), row.state, plain(redact(reason)))
            out.print(dead)
            if len(r.dead) > len(shown):
                out.print(f"  ... {len(r.dead) - len(shown)} more: `syncd queue list --state dead`")


def _print_links(out: Console, result: ConnectionResult) -> None:
    """The connection's signup links: what was done to each, its usage, expiry and state."""
    report = result.links
    if report is None or not report.rows:
        return
    table = Table(title=f"{result.name}: signup links", title_justify="left")
    for column in ("link", "action", "id", "target", "used / limit", "expires", "open", "note"):
        table.add_column(column)
    for row in report.rows:
        note = row.reason or (f"changed: {', '.join(row.changed)}" if row.changed else row.url)
        table.add_row(
            plain(row.name),
            row.action,
            plain(row.vendor_id) or "-",
            plain(row.target),
            row.usage,
            row.expires.isoformat(sep=" ") if row.expires else "never",
            "-" if row.active is None else ("yes" if row.active else "no"),
            plain(redact(note)),
        )
    out.print(table)


def _print_skips(out: Console, result: ConnectionResult) -> None:
    """The plan's warnings, and the people it could not sync with the reason for each."""
    plan = result.plan
    if plan is None:
        return
    for warning in plan.warnings:
        out.print(f"[yellow]{result.name}: warning:[/] {escape(warning)}", highlight=False)
    if not plan.incomplete:
        return
    out.print(
        f"[yellow]{result.name}: {len(plan.skipped)} people skipped, not synced as the export "
        "says:[/]",
        highlight=False,
    )
    shown = plan.skipped.head(_SHOWN_SKIPS)
    for external_id, reason in zip(shown["external_id"], shown["reason"], strict=True):
        out.print(f"  {external_id}: {reason}", highlight=False, markup=False)
    if len(plan.skipped) > len(shown):
        more = len(plan.skipped) - len(shown)
        out.print(f"  ... {more} more: `syncd plan --format json`", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add `syncd reconcile`."""
    app.command("reconcile")(reconcile_command)
