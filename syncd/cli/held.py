"""`syncd held list|approve|reject`: the operator's answer to ops a safeguard held.

A tripped safeguard holds the risky ops it measured (deactivations, removals from groups,
unassignments, mass field changes) while the rest of the plan goes out
(:mod:`syncd.plan.hold`). ``list`` shows them with why and until when; ``approve``
releases all, some or none of them, chosen by person, group, op type, limit or id (the
ops that only waited on them follow), for the next drain (``--send``: now); ``reject``
keeps them out of the LMS for as long as plans ask for them. Approving or rejecting
without a filter needs ``--all``: one keystroke must not release a mass deactivation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from syncd import config as config_mod
from syncd.cli.console import console as cli_console
from syncd.cli.console import echo, plain
from syncd.cli.options import ROW_ID_MAX, ConfigOption, ConnectionOption
from syncd.errors import ConfigError
from syncd.state.db import open_state, session_factory

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.state.holds import HeldOp

held_app = typer.Typer(
    help="Ops a safeguard held for approval: list, approve, reject.", no_args_is_help=True
)

PersonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--person", help="Ops about this person (HRIS key; repeatable).", show_default=False
    ),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option("--group", help="Ops about this group key (repeatable).", show_default=False),
]
KindOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        "--type",
        help="Ops of this type, e.g. deactivate_user (repeatable).",
        show_default=False,
    ),
]
CheckOption = Annotated[
    list[str] | None,
    typer.Option(
        "--check",
        help="Ops held by this limit, e.g. max_deactivations (repeatable).",
        show_default=False,
    ),
]
IdsArgument = Annotated[
    list[int] | None,
    typer.Argument(help="Op ids.", show_default=False, min=1, max=ROW_ID_MAX),
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Every held op of the chosen connection(s).")
]


@dataclass(frozen=True)
class Filters:
    """What an operator chose; empty means every held op (only with ``--all``)."""

    ids: tuple[int, ...] = ()
    people: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.ids or self.people or self.groups or self.kinds or self.checks)

    def pick(self, rows: list[HeldOp]) -> list[HeldOp]:
        return [
            row
            for row in rows
            if (not self.ids or row.id in self.ids)
            and row.matches(
                people=self.people, groups=self.groups, kinds=self.kinds, checks=self.checks
            )
        ]


def _filters(
    ids: list[int] | None,
    person: list[str] | None,
    group: list[str] | None,
    kind: list[str] | None,
    check: list[str] | None,
) -> Filters:
    from syncd.plan.ops import OP_TYPES

    wrong = [k for k in kind or [] if k not in OP_TYPES]
    if wrong:
        raise ConfigError(f"unknown op type(s) {', '.join(wrong)}; known: {', '.join(OP_TYPES)}")
    return Filters(
        tuple(ids or ()),
        tuple(person or ()),
        tuple(group or ()),
        tuple(kind or ()),
        tuple(check or ()),
    )


@contextmanager
def _state(
    config: Path, connection: str | None, *, read_only: bool = False
) -> Iterator[tuple[Config, list[str], Any]]:
    """The configuration, the chosen connections and sessions on the state database
    (``read_only``: read transactions, for listing beside a running worker)."""
    cfg = config_mod.load(config)
    names = list(cfg.connection(connection))
    engine = open_state(cfg.state.url, auto_upgrade=cfg.state.auto_upgrade)
    try:
        yield cfg, names, session_factory(engine, read_only=read_only)
    finally:
        engine.dispose()


def _now() -> Any:
    from syncd.queue.worker import utcnow

    return utcnow()


def _held(db: Any, name: str) -> list[HeldOp]:
    """The connection's held ops, once the expired holds are dropped."""
    from syncd.state import holds

    holds.expire(db, name, now=_now())
    return holds.rows(db, name, members=True)


@held_app.command("list")
def list_held(
    config: ConfigOption,
    connection: ConnectionOption = None,
    person: PersonOption = None,
    group: GroupOption = None,
    kind: KindOption = None,
    check: CheckOption = None,
    rejected: Annotated[
        bool, typer.Option("--rejected", help="Show the rejected ops instead.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="Most rows shown per connection.")] = 100,
    output: Annotated[str, typer.Option("--format", help="`table` or `json`.")] = "table",
) -> None:
    """Show the held ops (or, with --rejected, the rejected ones) with why and until when."""
    from syncd.state import holds
    from syncd.state.machine import OpState

    chosen = _filters(None, person, group, kind, check)
    listing: list[tuple[str, list[HeldOp]]] = []
    now = _now()
    with _state(config, connection, read_only=True) as (_cfg, names, sessions):
        for name in names:
            with sessions() as db:
                state = OpState.REJECTED if rejected else OpState.HELD
                found = holds.rows(db, name, states=(state,), members=True)
            # An expired hold is dropped by the next run (or approve/reject): not listed.
            live = [row for row in found if row.until is None or row.until > now]
            listing.append((name, chosen.pick(live)))
    if output == "json":
        data = [{"connection": n, "ops": [row.to_dict() for row in rows]} for n, rows in listing]
        echo(json.dumps(data, indent=2))
        return
    console = cli_console()
    what = "rejected" if rejected else "held"
    for name, rows in listing:
        if not rows:
            console.print(f"{plain(name)}: no {what} ops", highlight=False)
            continue
        table = Table(title=f"{name}: {len(rows)} {what} op(s)", title_justify="left")
        for column in ("id", "op", "people", "groups", "limit", "until", "why"):
            table.add_column(column)
        for row in rows[:limit]:
            table.add_row(
                str(row.id),
                row.kind,
                plain(", ".join(row.people[:5]) + (" ..." if len(row.people) > 5 else "")),
                plain(", ".join(row.groups)),
                plain(row.check),
                row.until.isoformat(timespec="minutes") if row.until else "-",
                plain(row.reason),
            )
        console.print(table)
        if len(rows) > limit:
            console.print(f"  ... {len(rows) - limit} more (--limit, or --format json)")


def _by_person(db: Any, sessions: Any, name: str, rows: list[HeldOp], chosen: Filters) -> list[int]:
    """The ids to decide on: with ``--person``, a held team add of several people is split
    first, so only the people named are approved or rejected."""
    if not chosen.people:
        return [row.id for row in rows]
    from syncd.state.outbox import OutboxStore

    store = OutboxStore(sessions, name)
    ids = []
    for row in rows:
        if len(row.people) > 1:
            part = store.split_held(db, row.id, chosen.people, now=_now())
            if part is not None:
                ids.append(part)
                continue
        ids.append(row.id)
    return ids


def _decide(
    config: Path,
    connection: str | None,
    chosen: Filters,
    every: bool,
    verb: str,
) -> tuple[Config, dict[str, int], dict[str, int]]:
    """Apply ``verb`` (approve or reject) to the chosen held ops of each connection; returns
    the config, ops chosen and ops changed (with the ops that waited on them) per connection."""
    from syncd.state import holds

    if chosen.empty and not every:
        raise ConfigError(
            f"say which held ops to {verb}: ids, --person, --group, --kind or --check, "
            "or --all for every one"
        )
    picked: dict[str, int] = {}
    changed: dict[str, int] = {}
    with _state(config, connection) as (cfg, names, sessions):
        for name in names:
            with sessions.begin() as db:
                rows = chosen.pick(_held(db, name))
                ids = _by_person(db, sessions, name, rows, chosen)
                picked[name] = len(ids)
                if not ids:
                    changed[name] = 0
                elif verb == "approve":
                    changed[name] = holds.approve(db, name, ids, now=_now())
                else:
                    changed[name] = holds.reject(db, name, ids, now=_now())
    return cfg, picked, changed


@held_app.command("approve")
def approve(
    config: ConfigOption,
    ids: IdsArgument = None,
    connection: ConnectionOption = None,
    person: PersonOption = None,
    group: GroupOption = None,
    kind: KindOption = None,
    check: CheckOption = None,
    every: AllOption = False,
    send: Annotated[
        bool, typer.Option("--send", help="Send the approved ops now (else: the next drain).")
    ] = False,
) -> None:
    """Release held ops: they go to the LMS with the next drain (or now, with --send)."""
    chosen = _filters(ids, person, group, kind, check)
    cfg, picked, changed = _decide(config, connection, chosen, every, "approve")
    for name in picked:
        extra = changed[name] - picked[name]
        follow = f" (and {extra} that waited on them)" if extra > 0 else ""
        when = "now" if send else "with the next `syncd reconcile` (or `syncd run`'s drain)"
        echo(f"{name}: approved {picked[name]} held op(s){follow}; they go out {when}")
    if send:
        _send(cfg, [name for name, n in changed.items() if n])


def _send(cfg: Config, names: list[str]) -> None:
    from syncd.pipeline.drain import drain_connection

    engine = open_state(cfg.state.url, auto_upgrade=cfg.state.auto_upgrade)
    try:
        sessions = session_factory(engine)
        for name in names:
            report = drain_connection(cfg, name, sessions=sessions)
            stats = report.stats
            echo(f"{name}: {stats.done} done, {stats.dead} dead, {stats.retried} to retry")
    finally:
        engine.dispose()


@held_app.command("reject")
def reject(
    config: ConfigOption,
    ids: IdsArgument = None,
    connection: ConnectionOption = None,
    person: PersonOption = None,
    group: GroupOption = None,
    kind: KindOption = None,
    check: CheckOption = None,
    every: AllOption = False,
) -> None:
    """Keep held ops out of the LMS for as long as plans ask for them."""
    chosen = _filters(ids, person, group, kind, check)
    _cfg, picked, changed = _decide(config, connection, chosen, every, "reject")
    for name in picked:
        extra = changed[name] - picked[name]
        follow = f" (and {extra} that waited on them)" if extra > 0 else ""
        echo(
            f"{name}: rejected {picked[name]} held op(s){follow}; they stay out of the LMS "
            "until the export stops asking for them"
        )


def register(app: typer.Typer) -> None:
    """Add `syncd held` to the app."""
    app.add_typer(held_app, name="held")
