"""`syncd explain PERSON`: what syncd knows and intends for one person, on every connection.

A thin command over :func:`syncd.pipeline.explain.explain` (read-only: no write, no vendor
call). Exit codes: 0 the person is known somewhere (export, mirror, queue or results),
1 unknown everywhere (one line, with keys differing only in case as a hint) or an error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, error, plain
from syncd.cli.options import ConfigOption, ConnectionOption, TodayOption, as_of
from syncd.config import load
from syncd.errors import ExitCode

if TYPE_CHECKING:
    from syncd.pipeline.explain import ConnectionExplain, Explanation


class Format(StrEnum):
    text = "text"
    json = "json"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"


def _print_connection(out: Console, item: ConnectionExplain) -> None:
    rate = item.rate
    out.print(
        f"[bold]{plain(item.name)}[/] ({plain(item.vendor)}, source {plain(item.source)}, "
        f"{rate['requests']:g} requests / {rate['per_seconds']:g} s)"
    )
    out.print("  HRIS export:")
    if item.export_error is not None:
        out.print(f"    [red]unreadable[/]: {plain(item.export_error)}")
    elif item.hris is not None:
        hris = item.hris
        if hris.line is not None:
            status = "active" if hris.active else "leaver"
            out.print(f"    {plain(hris.path)} line {hris.line} ({status})")
            for name, value in hris.fields.items():
                out.print(f"    {plain(name)} = {plain(value)}")
        for bad in hris.rejected:
            column = f" field {plain(bad.column)}" if bad.column else ""
            out.print(
                f"    [red]rejected[/] {plain(bad.file)} line {bad.line}{column}: "
                f"{plain(bad.reason)} ({plain(bad.message)})"
            )
        if hris.line is None and not hris.rejected:
            out.print(f"    not in {plain(hris.path)}")
    out.print("  desired:")
    desired = item.desired
    if desired is None:
        out.print("    nothing (not an accepted row of the export)")
    else:
        state = "active" if desired.active else ("leaver, due" if desired.due else "leaver")
        out.print(f"    {state}, matched by {plain(desired.match_value)}")
        for name, value in desired.attrs.items():
            out.print(f"    {plain(name)} = {plain(value)}")
        for key, name in desired.groups:
            out.print(f"    group {plain(key)} ({plain(name)})")
        for given in desired.items:
            rules = ", ".join(given.rules)
            out.print(f"    {given.kind} {plain(given.item_id)} by rule {plain(rules)}")
    out.print("  mirror (what syncd last confirmed in the LMS):")
    mirror = item.mirror
    if mirror is None:
        out.print("    no account")
    else:
        state = "active" if mirror.active else "inactive"
        out.print(f"    account {plain(mirror.remote_id or '-')} ({state})")
        for name, value in mirror.attrs.items():
            out.print(f"    {plain(name)} = {plain(value)}")
        for key, name in mirror.groups:
            out.print(f"    group {plain(key)} ({plain(name)})")
        for kind, item_id in mirror.items:
            out.print(f"    {kind} {plain(item_id)}")
    out.print("  plan now:")
    if not item.plan and not item.plan_notes:
        out.print("    nothing to do" if item.desired or item.mirror else "    nothing")
    for planned in item.plan:
        out.print(f"    {planned.kind}: {plain(planned.what)}")
    for note in item.plan_notes:
        out.print(f"    [yellow]{plain(note)}[/]")
    out.print("  queued:")
    if not item.pending:
        out.print("    no pending ops")
    for op in item.pending:
        eta = (
            f", reaches the vendor in about {_duration(op.eta_seconds)}"
            if (op.eta_seconds is not None)
            else ""
        )
        position = f" position {op.position}" if op.position is not None else ""
        out.print(
            f"    #{op.id} {op.kind} {op.state}, {op.attempts} attempt(s),{position}{eta}: "
            f"{plain(op.note)}"
        )
        if op.last_error:
            out.print(f"      last error: {plain(op.last_error)}")
    out.print("  results:")
    if not item.results:
        out.print("    none recorded")
    for result in item.results:
        score = f", {result.percentage:g}%" if result.percentage is not None else ""
        out.print(
            f"    {result.item_kind} {plain(result.item_id)} {plain(result.item_name or '')}: "
            f"{result.status}{score}, completed {_when(result.completed_at)}, "
            f"recorded {_when(result.seen_at)}"
        )


def _print(report: Explanation) -> None:
    out = cli_console()
    out.print(f"[bold]person {plain(report.person)}[/] as of {report.today.isoformat()}")
    if not report.state_database:
        out.print("no state database yet: nothing has been synced")
    for item in report.connections:
        _print_connection(out, item)
    if any(op.eta_seconds is not None for c in report.connections for op in c.pending):
        out.print(f"estimates assume: {plain(report.estimate_assumptions)}")


def register(app: typer.Typer) -> None:
    """Add `syncd explain` to the app."""

    @app.command("explain")
    def explain_command(
        person: Annotated[str, typer.Argument(help="The person's HRIS key (exactly).")],
        config: ConfigOption,
        connection: ConnectionOption = None,
        output: Annotated[
            Format, typer.Option("--format", help="`text` for people, `json` for scripts.")
        ] = Format.text,
        today: TodayOption = None,
    ) -> None:
        """Show what syncd knows and intends for one person: export row, desired state,
        mirror, planned and queued ops (with an estimate), results.

        Changes nothing and calls no vendor. Exit code: 0 known, 1 unknown or an error.
        """
        from syncd.pipeline.explain import explain

        report = explain(
            load(config), person, connection, today=as_of(today), now=datetime.now(UTC)
        )
        if not report.known:
            hint = f" (did you mean {', '.join(report.near)}?)" if report.near else ""
            error(f"syncd knows no person with key {person!r} in any connection{hint}")
            raise typer.Exit(ExitCode.ERROR)
        if output is Format.json:
            echo(json.dumps(report.as_json(), indent=2))
        else:
            _print(report)
