"""`syncd plan`: what each LMS would be told, without changing anything.

Reads the export, loads the mirror from the state database read-only (a database that does
not exist yet is an empty mirror; it is not created), builds the plan with its safeguards
and prints it. Exit codes: 0 in sync, 2 changes pending, 3 refused by a safeguard, 1 error
(with several connections: the most serious of them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncd.config import Config, ConnectionConfig, load
from syncd.errors import ConfigError
from syncd.hris import Roster, read_roster
from syncd.plan import Mirror, Plan, build_plan
from syncd.plan.summary import describe
from syncd.state.db import create_engine_for, current_revision, ensure_schema, session_factory
from syncd.state.mirror import load_mirror
from syncd.state.runs import previous_rows
from syncd.vendors import connector_class

EXIT_IN_SYNC, EXIT_ERROR, EXIT_PENDING, EXIT_REFUSED = 0, 1, 2, 3


class Format(StrEnum):
    table = "table"
    json = "json"


@dataclass(frozen=True)
class Planned:
    """One connection's plan with what it was made from."""

    name: str
    plan: Plan
    roster: Roster
    rate: Any


def _sqlite_file_missing(url: str) -> bool:
    """A SQLite state file that does not exist yet: plan against an empty mirror."""
    if not url.startswith("sqlite"):
        return False
    database = url.split(":///", 1)[1] if ":///" in url else ""
    return bool(database) and database != ":memory:" and not Path(database).expanduser().exists()


def _state(
    config: Config, connections: dict[str, ConnectionConfig]
) -> dict[str, tuple[Mirror, int | None]]:
    """Each connection's mirror and the rows of its source's last accepted export."""
    empty = {name: (Mirror.empty(), None) for name in connections}
    url = config.state.url
    if _sqlite_file_missing(url):
        return empty
    engine = create_engine_for(url)
    try:
        if current_revision(engine) is None:
            return empty
        ensure_schema(engine, auto_upgrade=False)
        with session_factory(engine)() as session:
            return {
                name: (load_mirror(session, name), previous_rows(session, conn.source))
                for name, conn in connections.items()
            }
    finally:
        engine.dispose()


def plan_connections(
    config: Config,
    connection: str | None,
    *,
    today: date,
    allow_mass_change: bool = False,
) -> list[Planned]:
    """Read each export once, load the mirrors, and plan every selected connection."""
    connections = config.connection(connection)
    if not connections:
        raise ConfigError(f"{config.path}: no [connections.*] configured")
    rosters: dict[str, Roster] = {}
    state = _state(config, connections)
    planned = []
    for name, conn in connections.items():
        source = config.sources[conn.source]
        if conn.source not in rosters:
            rosters[conn.source] = read_roster(config.source_path(conn.source), source, today=today)
        roster = rosters[conn.source]
        vendor = connector_class(conn.vendor)
        mirror, previous = state[name]
        plan = build_plan(
            roster,
            conn,
            vendor.profile,
            mirror,
            today=today,
            name=name,
            previous_rows=previous,
            allow_mass_change=allow_mass_change,
            termination_field=source.status.termination_date,
        )
        planned.append(Planned(name, plan, roster, conn.rate or vendor.rate))
    return planned


def exit_code(plans: list[Plan]) -> int:
    """3 if any plan is refused, else 2 if any has changes, else 0."""
    if any(p.refused for p in plans):
        return EXIT_REFUSED
    if any(not p.empty for p in plans):
        return EXIT_PENDING
    return EXIT_IN_SYNC


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _print_table(console: Console, item: Planned, limit: int) -> None:
    plan, roster = item.plan, item.roster
    console.print(
        f"[bold]{escape(item.name)}[/] ({plan.vendor}) from {escape(str(roster.source.path))}: "
        f"{roster.source.rows_read} rows read, {roster.rows_accepted} accepted, "
        f"{roster.rows_rejected} rejected",
        highlight=False,
    )
    counts = Table(title="Changes", title_justify="left")
    counts.add_column("op")
    counts.add_column("count", justify="right")
    counts.add_column("vendor calls", justify="right")
    for kind, count in plan.counts.items():
        counts.add_row(kind, str(count), str(plan.profile.calls_for(kind) * count))
    counts.add_row("[bold]total[/]", str(len(plan.ops)), str(plan.calls))
    console.print(counts)
    rate = item.rate
    console.print(
        f"{plan.calls} vendor calls: at least {_duration(plan.duration_seconds(rate))} at "
        f"{rate.requests} requests / {rate.per_seconds:g} s",
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
            detail.add_row(str(number), op.kind, escape(describe(op)))
        console.print(detail)
    for external_id, reason in zip(
        plan.skipped["external_id"].tolist(), plan.skipped["reason"].tolist(), strict=True
    ):
        console.print(f"[yellow]skipped[/] {escape(external_id)}: {reason}", highlight=False)
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
        checks.add_row(check.limit, f"{check.value:g}", f"{check.threshold:g}", status)
    console.print(checks)
    if plan.refusal is not None:
        console.print(
            f"[bold red]REFUSED[/] by {plan.refusal.limit}: {plan.refusal.message}; nothing "
            "would be enqueued (use --allow-mass-change for a deliberate large change)",
            highlight=False,
        )
    elif plan.empty:
        console.print("[green]in sync[/]: nothing to do")
    else:
        console.print(f"[bold]{len(plan.ops)} changes pending[/] (nothing was changed)")


def _as_json(item: Planned, limit: int) -> dict[str, Any]:
    roster = item.roster
    data = item.plan.summary(limit=limit, rate=item.rate)
    data["source"] = {
        "path": str(roster.source.path),
        "rows_read": roster.source.rows_read,
        "rows_accepted": roster.rows_accepted,
        "rows_rejected": roster.rows_rejected,
    }
    return data


def register(app: typer.Typer) -> None:
    """Add `syncd plan` to the app."""

    @app.command("plan")
    def plan_command(
        config: Annotated[
            Path, typer.Option("--config", "-c", help="The syncd TOML configuration file.")
        ],
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
        today: Annotated[
            str | None,
            typer.Option(
                "--today",
                help="Plan as of this date (YYYY-MM-DD) for grace periods and hire-date rules.",
            ),
        ] = None,
    ) -> None:
        """Show what each LMS would be told (changes, vendor calls, time, safeguards).

        Changes nothing. Exit code: 0 in sync, 2 changes pending, 3 refused, 1 error.
        """
        try:
            as_of = date.fromisoformat(today) if today else date.today()
        except ValueError:
            raise ConfigError(f"--today {today!r} is not a date (YYYY-MM-DD)") from None
        planned = plan_connections(
            load(config), connection, today=as_of, allow_mass_change=allow_mass_change
        )
        if output is Format.json:
            data = [_as_json(item, limit) for item in planned]
            typer.echo(json.dumps(data if len(data) > 1 else data[0], indent=2))
        else:
            console = Console()
            for item in planned:
                _print_table(console, item, limit)
        raise typer.Exit(exit_code([item.plan for item in planned]))
