"""Alembic environment for syncd's state database.

Run through ``syncd.state.db`` (``syncd db upgrade``), which hands over an open connection
in ``config.attributes["connection"]``; the plain ``alembic`` command line works too with
``-x url=...`` or ``sqlalchemy.url``. Batch mode is on so that later ALTERs work on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from syncd.state.db import create_engine_for
from syncd.state.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database URL: alembic -x url=sqlite:///syncd.db ...")
    return url


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine_for(_url())
    try:
        with engine.begin() as own:
            _configure(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
