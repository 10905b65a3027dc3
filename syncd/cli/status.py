"""`syncd status`: per connection, how its syncs stand, read from the state database.

The same report as the service's status page and ``/status``
(:func:`syncd.service.status.collect`), so it works with or without a running service:
last runs, queue depth and the oldest waiting op, dead, held and blocked ops with their reasons,
rate-limit use from the saved send history, result watermarks, and the next runs the
configured schedule gives. ``--format json`` is the ``/status`` JSON, for scripts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, plain
from syncd.cli.options import ConfigOption, ConnectionOption
from syncd.errors import ConfigError

FormatOption = Annotated[str, typer.Option("--format", help="`table` or `json`.")]


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _table(title: str, headers: list[str]) -> Table:
    table = Table(title=title, title_justify="left", show_header=any(headers))
    for header in headers:
        table.add_column(header)
    return table


def status(
    config: ConfigOption,
    connection: ConnectionOption = None,
    output: FormatOption = "table",
) -> None:
    """Show each connection's runs, queue, dead letters, rate limits, results and schedule."""
    if output not in ("table", "json"):
        raise ConfigError(f"--format {output!r}: use `table` or `json`")
    from syncd.service.status import collect
    from syncd.state.db import open_state

    cfg = config_mod.load(config, require_credentials=False)
    cfg.connection(connection)
    engine = open_state(cfg.state.url, auto_upgrade=False)
    try:
        report = collect(engine, cfg, None, datetime.now(UTC), connection=connection)
    finally:
        engine.dispose()
    if output == "json":
        echo(json.dumps(report.as_json(), indent=2))
        return
    console = cli_console()
    if not report.connections:
        console.print("No connections configured.")
    for conn in report.connections:
        queue = conn.queue
        owner = conn.owner
        held = "nobody"
        if owner.holder is not None:
            held = f"{owner.holder} until {_when(owner.expires_at)} UTC"
            held += "" if owner.live else " (expired)"
        facts = _table(f"{plain(conn.name)} ({plain(conn.vendor)})", ["", ""])
        for key, value in (
            (
                "last successful sync",
                f"{_when(conn.last_success)} UTC" if conn.last_success else "never",
            ),
            (
                "rows rejected (last export)",
                "" if conn.rejected_rows is None else str(conn.rejected_rows),
            ),
            ("queue", ", ".join(f"{n} {s}" for s, n in queue.by_state.items() if n) or "empty"),
            ("oldest waiting op", _age(queue.oldest_waiting_seconds) or "none waiting"),
            ("dead letters", str(queue.dead)),
            ("held for approval (`syncd held`)", str(queue.held)),
            ("blocked (behind a dead op)", str(queue.blocked)),
            ("pending deactivations (absent)", str(conn.pending_deactivations)),
            ("lease", held),
        ):
            facts.add_row(key, plain(value))
        console.print(facts)

        runs = _table(
            "last runs",
            [
                "run",
                "kind",
                "outcome",
                "started (UTC)",
                "took",
                "planned",
                "done",
                "retried",
                "dead",
                "blocked",
                "calls",
                "message",
            ],
        )
        for run in conn.runs:
            runs.add_row(
                str(run.id),
                plain(run.kind),
                plain(run.status),
                _when(run.started_at),
                _age(run.duration_seconds),
                str(run.planned),
                str(run.done),
                str(run.retried),
                str(run.dead),
                str(run.blocked),
                str(run.calls),
                plain(run.message or ""),
            )
        console.print(runs if conn.runs else "last runs: none yet")

        if conn.problems:
            problems = _table(
                "dead letters, held and blocked ops",
                ["id", "op", "kind", "state", "attempts", "reason"],
            )
            for op in conn.problems:
                problems.add_row(
                    str(op.id),
                    plain(op.key),
                    plain(op.kind),
                    op.state,
                    str(op.attempts),
                    plain(op.reason),
                )
            console.print(problems)

        jobs = _table("next runs", ["job", "schedule", "next run (UTC)", "last outcome"])
        for job in conn.jobs:
            jobs.add_row(
                plain(job.kind),
                plain(job.schedule or ""),
                _when(job.next_run),
                plain(job.last_outcome or ""),
            )
        console.print(jobs if conn.jobs else "next runs: not scheduled")

        if conn.rate:
            rates = _table("rate limit", ["credential", "rule", "held in window", "saved at (UTC)"])
            for rate in conn.rate:
                rates.add_row(
                    rate.credential,
                    f"{rate.limit} per {rate.window_seconds:g}s",
                    "" if rate.saved_held is None else str(rate.saved_held),
                    _when(rate.saved_at),
                )
            console.print(rates)

        res = conn.results
        results = _table("results", ["watermark (UTC)", "last pull (UTC)", "revision", "exported"])
        results.add_row(
            _when(res.watermark) or "none",
            _when(res.pulled_at) or "never",
            str(res.revision),
            str(res.exported_revision),
        )
        console.print(results)
        console.print()


def register(app: typer.Typer) -> None:
    """Add `syncd status`."""
    app.command("status")(status)
