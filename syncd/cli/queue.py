"""`syncd queue list|retry|drop`: inspect the outbox and act on what is stuck in it.

``list`` shows ops with their state, attempts, next attempt and the vendor's reason;
``retry`` puts dead, blocked or waiting ops back to pending now (their blocked dependents
with them), for the next `syncd reconcile` (or `syncd run`) to execute first; ``drop``
deletes ops (and the blocked ops that could only wait on them). Ops are chosen by id or
idempotency key, and/or by ``--state``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, plain
from syncd.cli.options import ROW_ID_MAX, ConfigOption, ConnectionOption
from syncd.errors import ConfigError
from syncd.log import redact
from syncd.state.db import open_state, session_factory
from syncd.state.models import OutboxState

if TYPE_CHECKING:
    from syncd.state.outbox import OutboxStore

queue_app = typer.Typer(help="Inspect and act on the durable outbox.", no_args_is_help=True)

StateOption = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        help="Only ops in this state (repeatable): " + ", ".join(s.value for s in OutboxState),
        show_default=False,
    ),
]
ItemsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Op ids or idempotency keys.", show_default=False),
]


def _states(states: list[str] | None) -> list[str]:
    known = {s.value for s in OutboxState}
    wrong = [s for s in states or [] if s not in known]
    if wrong:
        raise ConfigError(f"unknown state(s) {', '.join(wrong)}; known: {', '.join(sorted(known))}")
    return list(states or [])


def _items(items: list[str] | None) -> tuple[list[int], list[str]]:
    ids = [int(item) for item in items or [] if item.isdigit()]
    if any(n > ROW_ID_MAX for n in ids):
        raise ConfigError(f"no op has an id over {ROW_ID_MAX}")
    keys = [item for item in items or [] if not item.isdigit()]
    return ids, keys


def _chosen(
    states: list[str] | None, items: list[str] | None
) -> tuple[list[str], list[int], list[str]]:
    """The ops an operator named: by state, and by id or idempotency key."""
    return _states(states), *_items(items)


@contextmanager
def _stores(
    config: Path, connection: str | None, *, read_only: bool = False
) -> Iterator[list[OutboxStore]]:
    """Each chosen connection's outbox; ``read_only`` for listing, so that a worker
    draining meanwhile is never held off by it."""
    cfg = config_mod.load(config)
    names = list(cfg.connection(connection))
    engine = open_state(cfg.state.url, auto_upgrade=cfg.state.auto_upgrade)
    try:
        sessions = session_factory(engine, read_only=read_only)
        from syncd.state.outbox import OutboxStore

        yield [OutboxStore(sessions, name) for name in names]
    finally:
        engine.dispose()


@queue_app.command("list")
def list_ops(
    config: ConfigOption,
    connection: ConnectionOption = None,
    state: StateOption = None,
    items: ItemsArgument = None,
    limit: Annotated[int, typer.Option("--limit", help="Most rows shown per connection.")] = 50,
    output: Annotated[str, typer.Option("--format", help="`table` or `json`.")] = "table",
) -> None:
    """Show ops, oldest first; by default everything not done yet."""
    states, ids, keys = _chosen(state, items)
    states = states or [s.value for s in OutboxState if s is not OutboxState.DONE]
    console = cli_console()
    listing = []
    with _stores(config, connection, read_only=True) as stores:
        for store in stores:
            rows = store.rows(states=states, ids=ids, keys=keys, limit=limit)
            counts = store.counts()
            listing.append((store.connection, rows, counts))
    if output == "json":
        data = [
            {
                "connection": name,
                "counts": dict(counts.by_state),
                "ops": [
                    {
                        "id": r.id,
                        "run_id": r.run_id,
                        "key": r.key,
                        "kind": r.kind,
                        "state": r.state,
                        "attempts": r.attempts,
                        "next_attempt_at": r.next_attempt_at.isoformat(),
                        "claimed_by": r.claimed_by,
                        "last_error": redact(r.last_error) if r.last_error else None,
                    }
                    for r in rows
                ],
            }
            for name, rows, counts in listing
        ]
        echo(json.dumps(data, indent=2))
        return
    for name, rows, counts in listing:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.by_state.items())) or "empty"
        table = Table(title=f"{plain(name)}: {summary}", title_justify="left")
        for column in ("id", "op", "state", "attempts", "next attempt", "reason"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                str(r.id),
                plain(r.key),
                r.state,
                str(r.attempts),
                r.next_attempt_at.isoformat(timespec="seconds")
                if r.state in ("retry", "pending")
                else "",
                plain(redact(r.last_error or "")),
            )
        console.print(table)


@queue_app.command("retry")
def retry(
    config: ConfigOption,
    connection: ConnectionOption = None,
    state: StateOption = None,
    items: ItemsArgument = None,
) -> None:
    """Requeue dead, blocked or waiting ops now (all dead ones when nothing is chosen)."""
    states, ids, keys = _chosen(state, items)
    if not (states or ids or keys):
        states = [OutboxState.DEAD.value]
    with _stores(config, connection) as stores:
        for store in stores:
            n = store.requeue(states=states, ids=ids, keys=keys, now=datetime.now(UTC))
            echo(f"{store.connection}: {n} op(s) back to pending")


@queue_app.command("drop")
def drop(
    config: ConfigOption,
    connection: ConnectionOption = None,
    state: StateOption = None,
    items: ItemsArgument = None,
) -> None:
    """Delete the chosen ops (never done or claimed ones) and what waits only on them."""
    states, ids, keys = _chosen(state, items)
    if not (states or ids or keys):
        raise ConfigError("say which ops to drop: ids or keys, and/or --state (e.g. dead)")
    with _stores(config, connection) as stores:
        for store in stores:
            dropped, dependents = store.drop(
                states=states, ids=ids, keys=keys, now=datetime.now(UTC)
            )
            echo(
                f"{store.connection}: {dropped} op(s) dropped"
                + (f" ({dependents} of them blocked behind the chosen ones)" if dependents else "")
            )


def register(app: typer.Typer) -> None:
    """Add `syncd queue ...`."""
    app.add_typer(queue_app, name="queue")
