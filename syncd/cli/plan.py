"""`syncd plan`: what each LMS would be told, without changing anything.

Reads the export, loads the mirror from the state database read-only (a database that does
not exist yet is an empty mirror; it is not created, migrated or written), builds the plan
with its safeguards and prints it. Exit codes: 0 in sync, 2 changes pending, 3 refused by a
safeguard, 1 error (with several connections: the most serious of them).

Whole-process time is the measure (benchmarks/plan.py): the mirror loads in a second thread
while the export is read, without the users' fields, of which only the few the diff
compares are fetched afterwards (see :class:`_State`); alembic is never imported, and the
process ends without tearing the interpreter down.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncd.config import Config, ConnectionConfig, load
from syncd.errors import ConfigError, StateError, SyncdError
from syncd.hris import read_roster
from syncd.plan import Mirror, Plan, build_plan, desire
from syncd.plan.desired import Desired
from syncd.plan.summary import describe
from syncd.plan.users import attrs_needed
from syncd.state.db import (
    Engine,
    Session,
    create_engine_for,
    masked,
    recorded_revision,
    session_factory,
    shipped_head,
)
from syncd.state.mirror import load_mirror, with_user_attrs
from syncd.state.runs import previous_rows
from syncd.vendors import connector_class

EXIT_IN_SYNC, EXIT_ERROR, EXIT_PENDING, EXIT_REFUSED = 0, 1, 2, 3


class Format(StrEnum):
    table = "table"
    json = "json"


@dataclass(frozen=True)
class Source:
    """The export a plan was made from, as the output reports it."""

    path: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int


@dataclass(frozen=True)
class Planned:
    """One connection's plan with what it was made from."""

    name: str
    plan: Plan
    source: Source
    rate: Any


def _sqlite_file_missing(url: str) -> bool:
    """A SQLite state file that does not exist yet: plan against an empty mirror."""
    if not url.startswith("sqlite"):
        return False
    database = url.split(":///", 1)[1] if ":///" in url else ""
    return bool(database) and database != ":memory:" and not Path(database).expanduser().exists()


class _State:
    """The state database, read in two steps inside one read transaction.

    :meth:`load` (in the loading thread, while the export is read) takes each connection's
    mirror without the users' ``attrs`` texts, the largest part of it, and the rows of the
    last accepted export; :meth:`complete` (once the desired states are known) fetches the
    ``attrs`` of the few users the diff will compare field by field
    (:func:`~syncd.plan.users.attrs_needed`). The session stays open in between so both
    steps see one snapshot: SQLite's transaction (syncd begins them explicitly) does that,
    PostgreSQL is asked for REPEATABLE READ. Read-only: a database syncd never upgraded is
    an empty mirror, one at another schema revision is an error (nothing is migrated). The
    revision is read with plain SQL, so this command never imports alembic.
    """

    def __init__(self, config: Config, connections: dict[str, ConnectionConfig]) -> None:
        self.config = config
        self.connections = connections
        self.engine: Engine | None = None
        self.session: Session | None = None
        self.loaded: dict[str, tuple[Mirror, int | None]] = {
            name: (Mirror.empty(), None) for name in connections
        }

    def load(self) -> None:
        url = self.config.state.url
        if _sqlite_file_missing(url):
            return
        self.engine = engine = create_engine_for(url)
        revision = recorded_revision(engine)
        if revision is None:
            return
        head = shipped_head()
        if revision != head:
            raise StateError(
                f"database at {masked(engine)} is at revision {revision}, this syncd needs "
                f"{head}: run `syncd db upgrade` (or upgrade syncd, if the database is newer)"
            )
        self.session = session = session_factory(engine)()
        if engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        self.loaded = {
            name: (load_mirror(session, name, attrs=False), previous_rows(session, conn.source))
            for name, conn in self.connections.items()
        }

    def complete(self, desired: dict[str, Desired]) -> dict[str, tuple[Mirror, int | None]]:
        if self.session is None:
            return self.loaded
        for name, (mirror, previous) in self.loaded.items():
            rows = attrs_needed(desired[name], mirror.users, None)
            self.loaded[name] = (with_user_attrs(self.session, name, mirror, rows), previous)
        return self.loaded

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        if self.engine is not None:
            self.engine.dispose()


def _desire_all(
    config: Config, connections: dict[str, ConnectionConfig], today: date
) -> tuple[dict[str, Source], dict[str, Desired]]:
    """Read every export the connections use once; work out each connection's desired state.

    Only what the output reports of each export is kept: the Roster itself (hundreds of
    megabytes for a million people) is freed before the mirror is diffed.
    """
    sources: dict[str, Source] = {}
    desired: dict[str, Desired] = {}
    for source_name in dict.fromkeys(conn.source for conn in connections.values()):
        source = config.sources[source_name]
        roster = read_roster(config.source_path(source_name), source, today=today)
        sources[source_name] = Source(
            str(roster.source.path),
            roster.source.rows_read,
            roster.rows_accepted,
            roster.rows_rejected,
        )
        _give_back_memory()
        for name, conn in connections.items():
            if conn.source == source_name:
                desired[name] = desire(
                    roster,
                    conn,
                    connector_class(conn.vendor).profile,
                    today=today,
                    name=name,
                    termination_field=source.status.termination_date,
                )
        del roster
    return sources, desired


def _give_back_memory() -> None:
    """Hand the memory that reading the export freed back to the system.

    Arrow's pool and glibc's heap keep freed memory for reuse, but what the planning then
    allocates has other sizes: after a million-row read that is some 150 MB the rest of
    the run would otherwise add to its peak.
    """
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim so
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def plan_connections(
    config: Config,
    connection: str | None,
    *,
    today: date,
    allow_mass_change: bool = False,
) -> list[Planned]:
    """Read each export once, load the mirrors, and plan every selected connection.

    The state database is read in a second thread while the exports are read and the
    desired states worked out (SQLite, Arrow and numpy do their work without holding the
    GIL), so on a large company loading the mirror costs little extra time. An error in
    either is raised once the other has finished: a thread cannot be abandoned mid-query.
    """
    connections = config.connection(connection)
    if not connections:
        raise ConfigError(f"{config.path}: no [connections.*] configured")
    reader = _State(config, connections)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncd-state") as pool:
            loading = pool.submit(reader.load)
            try:
                sources, desired = _desire_all(config, connections, today)
            except BaseException:
                wait([loading])
                raise
            loading.result()
        state = reader.complete(desired)
    finally:
        reader.close()
    planned = []
    for name, conn in connections.items():
        vendor = connector_class(conn.vendor)
        mirror, previous = state[name]
        plan = build_plan(
            None,
            conn,
            vendor.profile,
            mirror,
            today=today,
            name=name,
            previous_rows=previous,
            allow_mass_change=allow_mass_change,
            desired=desired[name],
        )
        planned.append(Planned(name, plan, sources[conn.source], conn.rate or vendor.rate))
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
    plan, source = item.plan, item.source
    console.print(
        f"[bold]{escape(item.name)}[/] ({plan.vendor}) from {escape(source.path)}: "
        f"{source.rows_read} rows read, {source.rows_accepted} accepted, "
        f"{source.rows_rejected} rejected",
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
    skipped = plan.skipped.head(limit)
    for external_id, reason in zip(
        skipped["external_id"].tolist(), skipped["reason"].tolist(), strict=True
    ):
        console.print(f"[yellow]skipped[/] {escape(external_id)}: {reason}", highlight=False)
    if len(plan.skipped) > len(skipped):
        more = len(plan.skipped) - len(skipped)
        console.print(f"[yellow]skipped[/] {more} more (all of them: --format json)")
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
    data = item.plan.summary(limit=limit, rate=item.rate)
    data["source"] = asdict(item.source)
    return data


def _finish(code: int) -> NoReturn:
    """Exit with ``code`` at once, without tearing the interpreter down.

    Planning writes nothing and leaves nothing open (the engine is disposed, the loading
    thread has finished), yet unloading pandas, Arrow and SQLAlchemy and freeing a large
    mirror object by object takes a quarter of a second for 100,000 people and more for a
    million. Callers in the same process (tests through typer's CliRunner, which replaces
    the standard streams) get the usual exit.
    """
    if sys.stdout is not sys.__stdout__ or sys.stderr is not sys.__stderr__:
        raise typer.Exit(code)
    with contextlib.suppress(BrokenPipeError):  # a reader that stopped early (`| head`)
        sys.stdout.flush()
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(code)


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
            try:
                as_of = date.fromisoformat(today) if today else date.today()
            except ValueError:
                raise ConfigError(f"--today {today!r} is not a date (YYYY-MM-DD)") from None
            planned = plan_connections(
                load(config), connection, today=as_of, allow_mass_change=allow_mass_change
            )
        except SyncdError as exc:
            # Always 1 here, whatever the error's usual exit code (an unusable export is 2
            # elsewhere): to a script, 2 and 3 mean "changes pending" and "refused".
            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
        if output is Format.json:
            data = [_as_json(item, limit) for item in planned]
            typer.echo(json.dumps(data if len(data) > 1 else data[0], indent=2))
        else:
            console = Console()
            for item in planned:
                _print_table(console, item, limit)
        _finish(exit_code([item.plan for item in planned]))
