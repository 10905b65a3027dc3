"""`syncd db upgrade|current --config FILE`: the state database's schema revision.

The database is the configuration's ``state.url``; its password never reaches the output.
"""

from __future__ import annotations

import typer

from syncd import config as config_mod
from syncd.cli.console import echo
from syncd.cli.options import ConfigOption
from syncd.state import db as state_db

db_app = typer.Typer(help="Manage the state database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(config: ConfigOption) -> None:
    """Apply every pending migration (creating the database's tables the first time)."""
    url = config_mod.load(config).state.url
    before, after = state_db.upgrade(url)
    where = state_db.masked(url)
    if before == after:
        echo(f"state database {where}: already at revision {after} (up to date)")
    else:
        echo(
            f"state database {where}: upgraded from {before or 'an empty database'} "
            f"to revision {after}"
        )


@db_app.command("current")
def current(config: ConfigOption) -> None:
    """Show the database's revision and whether it is the one this syncd needs."""
    url = config_mod.load(config).state.url
    engine = state_db.create_engine_for(url)
    try:
        revision = state_db.current_revision(engine)
    finally:
        engine.dispose()
    head = state_db.head_revision()
    if revision == head:
        status = "up to date"
    elif revision is None:
        status = "empty: run `syncd db upgrade`"
    elif not state_db.known_revision(revision):
        status = f"unknown to this syncd, which needs {head}: upgrade syncd"
    else:
        status = f"this syncd needs {head}: run `syncd db upgrade`"
    echo(f"state database {state_db.masked(url)}: revision {revision or 'none'} ({status})")


def register(app: typer.Typer) -> None:
    """Add `syncd db ...`."""
    app.add_typer(db_app, name="db")
