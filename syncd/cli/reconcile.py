"""`syncd reconcile`: read -> plan -> safeguards -> enqueue -> drain, as one command.

A thin wrapper over :func:`syncd.queue.reconcile.reconcile`: it loads the configuration,
shows progress (a live display on a terminal, structured log lines otherwise) and prints
the plan and a final summary. Exit codes: 0 in sync; 1 error; 3 refused by a safeguard;
4 finished with dead-lettered (or blocked) ops; 5 finished with retries still waiting.
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from syncd import config as config_mod
from syncd.log import configure, redact

if TYPE_CHECKING:
    from syncd.queue.reconcile import ConnectionResult
    from syncd.queue.worker import DrainStats, Event

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The TOML configuration file.", show_default=False)
]

_RESULT = {
    0: "[green]in sync[/]",
    1: "[red]error[/]",
    3: "[yellow]refused by a safeguard[/]",
    4: "[red]dead-lettered ops[/]",
    5: "[yellow]retries waiting[/]",
}


class _ConsoleStream(io.TextIOBase):
    """A text stream that writes log lines above the live display instead of through it."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def write(self, text: str) -> int:
        if text.strip():
            self.console.print(Text.from_ansi(text.rstrip("\n")), highlight=False)
        return len(text)

    def isatty(self) -> bool:
        return True


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


@contextmanager
def _stoppable() -> Iterator[threading.Event]:
    """SIGTERM, or a first Ctrl-C, stops after the op in flight; a second Ctrl-C aborts."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
) -> None:
    """Sync the HRIS export into the LMS: plan, enqueue and drain the outbox to the end."""
    from syncd.queue.reconcile import exit_code, reconcile

    cfg = config_mod.load(config)
    out = Console()
    if not out.is_terminal:
        out = Console(width=200, soft_wrap=True)
    err = Console(stderr=True)
    live = err.is_terminal
    if live:
        configure(cfg.logging.level, cfg.logging.format, stream=_ConsoleStream(err))
    else:
        configure(cfg.logging.level, cfg.logging.format)
    display = RichProgress(err) if live else None
    with _stoppable() as stop, display.progress if display else nullcontext():
        results = reconcile(
            cfg,
            connection=connection,
            dry_run=dry_run,
            full=full,
            allow_mass_change=allow_mass_change,
            progress=display,
            stop=stop,
        )
    _print_plans(out, results)
    _print_summary(out, results)
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
            out.print(f"{title}: nothing to change")
            continue
        out.print(title, highlight=False)
        table = Table()
        table.add_column("op")
        table.add_column("count", justify="right")
        for kind, count in plan.counts.items():
            table.add_row(kind, str(count))
        out.print(table)
        if result.dry_run:
            for op in plan.ops[:20]:
                out.print(f"  {describe(op)}", highlight=False)
            if len(plan.ops) > 20:
                out.print(f"  ... and {len(plan.ops) - 20} more")
        for check in plan.checks:
            if check.tripped:
                state = "overridden" if plan.overridden else "REFUSED"
                out.print(f"  safeguard {check.limit}: {state}: {check.message}", highlight=False)


def _print_summary(out: Console, results: list[ConnectionResult]) -> None:
    from syncd.queue.reconcile import describe_wait

    table = Table(title="reconcile", title_justify="left")
    for column in ("connection", "rows", "rejected", "ops", "done", "adopted", "retried"):
        table.add_column(column, justify="left" if column == "connection" else "right")
    for column in ("dead", "blocked", "waiting", "calls", "seconds"):
        table.add_column(column, justify="right")
    table.add_column("result")
    for r in results:
        stats = r.earlier.add(r.drained)
        table.add_row(
            r.name,
            str(r.rows_read),
            str(r.rows_rejected),
            str(len(r.plan.ops)) if r.plan else "-",
            str(stats.done),
            str(stats.adopted),
            str(stats.retried),
            str(r.counts["dead"]),
            str(r.counts["blocked"]),
            str(r.waiting),
            str(stats.calls),
            f"{stats.seconds:.1f}",
            "[cyan]dry run[/]" if r.dry_run and r.exit_code == 0 else _RESULT[r.exit_code],
        )
    out.print(table)
    for r in results:
        if r.error:
            out.print(f"[red]{r.name}: error:[/] {redact(r.error)}", highlight=False)
        if r.refusal:
            out.print(
                f"[yellow]{r.name}: refused, nothing enqueued:[/] {r.refusal} "
                "(use --allow-mass-change if this is deliberate)",
                highlight=False,
            )
        wait = describe_wait(r)
        if wait and not r.dry_run:
            out.print(f"[yellow]{r.name}:[/] {wait}", highlight=False)
        if r.dead:
            shown = r.dead[:10]
            dead = Table(title=f"{r.name}: dead-lettered and blocked ops", title_justify="left")
            for column in ("id", "op", "state", "reason"):
                dead.add_column(column)
            for row in shown:
                reason = row.last_error or ("waits on a dead op" if row.state == "blocked" else "")
                dead.add_row(str(row.id), row.key, row.state, redact(reason))
            out.print(dead)
            if len(r.dead) > len(shown):
                out.print(f"  ... {len(r.dead) - len(shown)} more: `syncd queue list --state dead`")


def register(app: typer.Typer) -> None:
    """Add `syncd reconcile`."""
    app.command("reconcile")(reconcile_command)
