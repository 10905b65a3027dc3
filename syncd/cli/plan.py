"""`syncd plan`: what each LMS would be told, without changing anything.

A thin command over :func:`syncd.pipeline.plan.plan_connections` (which says how the work
is ordered for speed). Exit codes: 0 in sync, 2 changes pending, 3 refused by a safeguard,
6 nothing to send but people skipped (``syncd.errors.ExitCode``), 1 error (with several
connections: the most serious of them).

Imports here are the light ones (typer, rich, the config): the planning modules are
imported when the command runs, so that the state database is already being read while
pandas and Arrow load.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, error
from syncd.cli.options import AcceptFileOption, ConfigOption, TodayOption, accepted_checks, as_of
from syncd.config import Config, load
from syncd.errors import ExitCode, SafeguardTripped, SyncdError

if TYPE_CHECKING:
    from syncd.pipeline.plan import Planned
    from syncd.plan import Plan


class Format(StrEnum):
    table = "table"
    json = "json"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def print_plan(console: Console, item: Planned, limit: int) -> None:
    from syncd.plan.summary import describe

    plan, source = item.plan, item.source
    console.print(
        f"[bold]{escape(item.name)}[/] ({plan.vendor}) from {escape(source.path)}: "
        f"{source.rows_read} rows read, {source.rows_accepted} accepted, "
        f"{source.rows_rejected} rejected",
        highlight=False,
    )
    for warning in source.file_warnings:
        console.print(f"[yellow]warning[/] {escape(warning)}", highlight=False)
    _print_roster_warnings(console, source.warnings)
    counts = Table(title="Changes", title_justify="left")
    counts.add_column("op")
    counts.add_column("count", justify="right")
    counts.add_column("vendor calls", justify="right")
    for kind, count in plan.counts.items():
        counts.add_row(kind, str(count), str(plan.profile.calls_for(kind) * count))
    counts.add_row("[bold]total[/]", str(len(plan.ops)), str(plan.calls))
    console.print(counts)
    rate = item.rate
    held = f" ({plan.held_calls} of them only once held ops are approved)" if plan.held else ""
    console.print(
        f"{plan.calls} vendor calls{held}: at least {_duration(plan.duration_seconds(rate))} "
        f"at {rate.requests} requests / {rate.per_seconds:g} s",
        highlight=False,
    )
    if plan.ops:
        detail = Table(
            title=f"First {min(limit, len(plan.ops))} of {len(plan.ops)} ops", title_justify="left"
        )
        detail.add_column("#", justify="right")
        detail.add_column("op")
        detail.add_column("what")
        for number, op in enumerate(plan.ops[:limit], start=1):
            detail.add_row(str(number), op.kind, escape(describe(op, plan.reasons.get(op.key, ""))))
        console.print(detail)
    skipped = plan.skipped.head(limit)
    for external_id, reason in zip(
        skipped["external_id"].tolist(), skipped["reason"].tolist(), strict=True
    ):
        console.print(
            f"[yellow]skipped[/] {escape(external_id)}: {escape(reason)}", highlight=False
        )
    if len(plan.skipped) > len(skipped):
        more = len(plan.skipped) - len(skipped)
        console.print(f"[yellow]skipped[/] {more} more (all of them: --format json)")
    for external_id, reason in plan.pending[:limit]:
        console.print(f"[cyan]pending[/] {escape(external_id)}: {escape(reason)}", highlight=False)
    if len(plan.pending) > limit:
        more = len(plan.pending) - limit
        console.print(f"[cyan]pending[/] {more} more (all of them: --format json)")
    for warning in plan.warnings:
        console.print(f"[yellow]warning[/] {escape(warning)}", highlight=False)
    checks = Table(title="Safeguards", title_justify="left")
    checks.add_column("limit")
    checks.add_column("value", justify="right")
    checks.add_column("threshold", justify="right")
    checks.add_column("status")
    for check in plan.checks:
        status = "[red]TRIPPED[/]" if check.tripped else "ok"
        if check.tripped and plan.overridden:
            status = "[yellow]tripped, overridden[/]"
        checks.add_row(escape(check.label), f"{check.value:g}", f"{check.threshold:g}", status)
    console.print(checks)
    for check in plan.checks:
        if check.tripped:
            console.print(f"[red]tripped[/] {escape(check.message)}", highlight=False)
    if plan.seats is not None:
        colour = "magenta" if plan.seats.overage else "green"
        console.print(f"[{colour}]seats[/] {escape(plan.seats.message)}", highlight=False)
    _print_held(console, plan, limit)
    if plan.refusal is not None:
        console.print(
            f"[bold red]REFUSED[/] by {escape(plan.refusal.label)}: "
            f"{escape(plan.refusal.message)}; nothing would be enqueued "
            "(use --allow-mass-change for a deliberate large change)",
            highlight=False,
        )
    elif plan.empty and plan.incomplete:
        console.print(
            f"[bold yellow]{len(plan.skipped)} people skipped[/]: nothing else to do, but they "
            "are not synced as the export says (reasons above)",
            highlight=False,
        )
    elif plan.empty:
        console.print("[green]in sync[/]: nothing to do")
    else:
        skips = f"; {len(plan.skipped)} people skipped (reasons above)" if plan.incomplete else ""
        held = f", {len(plan.held)} of them held for approval" if plan.held else ""
        console.print(
            f"[bold]{len(plan.ops)} changes pending[/]{held} (nothing was changed){skips}",
            highlight=False,
        )


def _print_held(console: Console, plan: Plan, limit: int) -> None:
    """The ops a reconcile would hold for an operator, with why (`syncd held` after)."""
    from syncd.plan.summary import describe

    if not plan.held:
        return
    for check, count in sorted(plan.held_by_check.items()):
        console.print(
            f"[magenta]held[/] {count} op(s) by {escape(check)}: they wait for "
            "`syncd held approve`; the rest goes out",
            highlight=False,
        )
    for op in plan.held_ops[:limit]:
        hold = plan.held[op.key]
        console.print(
            f"[magenta]held[/] {escape(describe(op))} ({escape(hold.check)})", highlight=False
        )
    if len(plan.held) > limit:
        console.print(
            f"[magenta]held[/] {len(plan.held) - limit} more (all of them: --format json)"
        )


def _print_roster_warnings(console: Console, warnings: dict[str, int]) -> None:
    """Rows the export kept with a warning, counted by reason, as `syncd validate` counts
    them (which lists the rows)."""
    from syncd.hris.validate import REASONS

    for reason, count in warnings.items():
        console.print(
            f"[yellow]warning[/] {count} row(s) kept with a warning: "
            f"{REASONS.get(reason, reason)} ({reason}); `syncd validate` lists them",
            highlight=False,
        )


def plan_json(item: Planned, limit: int) -> dict[str, Any]:
    data = item.plan.summary(limit=limit, rate=item.rate)
    data["source"] = asdict(item.source)
    return data


def _save(cfg: Config, planned: list[Planned], out: Path, today: date) -> None:
    """Write the plan file (a refused plan too, marked refused: the reviewer sees why)."""
    from syncd.pipeline.saved import write_plan

    try:
        write_plan(cfg, planned, out, today=today)
    except SyncdError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.ERROR) from None
    cli_console(stderr=True).print(
        f"plan saved to {escape(str(out))}: review it, then `syncd apply {escape(str(out))}`",
        highlight=False,
    )


def finish_with(code: int) -> NoReturn:
    """Exit with ``code`` the ordinary way; a reader that stopped early (``| head``) is
    not an error, so what is left of the output goes nowhere instead of to a traceback."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `syncd plan` to the app."""

    @app.command("plan")
    def plan_command(
        config: ConfigOption,
        connection: Annotated[
            str | None, typer.Option("--connection", help="Plan only this connection.")
        ] = None,
        output: Annotated[
            Format, typer.Option("--format", help="`table` for people, `json` for scripts.")
        ] = Format.table,
        allow_mass_change: Annotated[
            bool,
            typer.Option(
                "--allow-mass-change", help="Report tripped safeguards but do not refuse."
            ),
        ] = False,
        limit: Annotated[
            int, typer.Option("--limit", min=0, help="How many ops to show in detail.")
        ] = 20,
        today: TodayOption = None,
        accept_file: AcceptFileOption = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Also write the plan to this file for review; `syncd apply FILE` sends it.",
                dir_okay=False,
            ),
        ] = None,
    ) -> None:
        """Show what each LMS would be told (changes, vendor calls, time, safeguards).

        Changes nothing. Exit code: 0 in sync, 2 changes pending, 3 refused, 6 people
        skipped (nothing else to do), 1 error.
        """
        from syncd.pipeline.plan import exit_code, plan_connections

        when = as_of(today)
        try:
            cfg = load(config)
            planned = plan_connections(
                cfg,
                connection,
                today=when,
                allow_mass_change=allow_mass_change,
                accept_file=accepted_checks(accept_file),
            )
        except SafeguardTripped as exc:
            # The export's integrity gate: refused (3) like a plan, before there is one.
            error(str(exc))
            raise typer.Exit(ExitCode.REFUSED) from None
        except SyncdError as exc:
            # Always 1 here, whatever the error's usual exit code (an unusable export is 2
            # elsewhere): to a script, 2 and 3 mean "changes pending" and "refused".
            error(str(exc))
            raise typer.Exit(ExitCode.ERROR) from None
        if output is Format.json:
            data = [plan_json(item, limit) for item in planned]
            echo(json.dumps(data if len(data) > 1 else data[0], indent=2))
        else:
            console = cli_console()
            for item in planned:
                print_plan(console, item, limit)
        if out is not None:
            _save(cfg, planned, out, when)
        finish_with(exit_code([item.plan for item in planned]))
