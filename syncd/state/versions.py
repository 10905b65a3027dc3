"""A version number per connection's mirror, moved on by every change to it.

A saved plan (``syncd plan --out``) records the number it was computed against, and
``syncd apply`` refuses once it has moved: the LMS state syncd knows is no longer the one
the reviewer saw (another run confirmed ops, a drain, a ``--full`` correction, a reset
sandbox). Every writer of the mirror calls :func:`bump` in its own transaction, so the
number and the rows it stands for commit together.
"""

from __future__ import annotations

from sqlalchemy import select

from syncd.state.db import dialect_insert
from syncd.state.mirror_query import Db
from syncd.state.models import MirrorVersion


def current(db: Db, connection: str) -> int:
    """The connection's mirror version; 0 before its mirror first changed."""
    version = db.scalar(select(MirrorVersion.version).where(MirrorVersion.connection == connection))
    return int(version or 0)


def bump(db: Db, connection: str) -> None:
    """Move the connection's mirror version on by one, inside the caller's transaction.

    One upsert statement, so two writers on PostgreSQL serialise on the row instead of
    both reading the old number.
    """
    insert = dialect_insert(db, MirrorVersion).values(connection=connection, version=1)
    db.execute(
        insert.on_conflict_do_update(
            index_elements=[MirrorVersion.connection],
            set_={"version": MirrorVersion.version + 1},
        )
    )
