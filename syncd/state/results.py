"""The results table and the three small counters of each connection's pulls.

A pull writes in batches, each in its own transaction with a fresh **revision** (a
per-connection counter): a row is inserted, or updated only when something HR reads
changed, and either way stamped with the batch's revision. That makes "what changed" a
question the database answers (``revision > N``): how many records of a batch were real
changes, and which rows an export of "the changes since the last export" takes. One
process pulls a connection at a time (the connection lease), so revisions commit in order.

The **watermark** is the end of the last window whose records are all committed; it moves
in its own transaction after them, never ahead. Cursors are small rows in ``cursors``.

``external_id`` comes with the record when the vendor carries the HRIS key (SCORM Cloud,
Enabley); otherwise it is filled from the mirror by the vendor's user id after each batch,
in SQL, so a pull holds no map of every person. A record that names no external id (or
no assignment or start date: see ``KEPT``) never blanks one already known.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, Table, and_, case, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from syncd.state.db import dialect_insert
from syncd.state.models import Cursor, MirrorUser, Result, UTCDateTime

WATERMARK = "results.watermark"
REVISION = "results.revision"
EXPORTED = "results.exported"

VALUES = (
    "username",
    "item_name",
    "course_id",
    "status",
    "completed",
    "passed",
    "percentage",
    "score",
    "seconds",
    "completed_at",
    "expires_at",
    "updated_at",
)
"""The columns whose change is a real change (``raw`` and syncd's own stamps are not)."""

KEPT = ("external_id", "assigned_at", "started_at")
"""Columns a record that lacks them never blanks, only fills or changes: not every read
of a vendor carries them (Litmos' backfill rows have no assignment or start date, a
Litmos result row no HRIS key), and none of them legitimately goes back to unknown."""

FILLED = ("assigned_at", "started_at")
"""Of ``KEPT``, the dates whose first value is filled in quietly (the row is updated, its
revision kept): a later read knowing the assignment date of a result the backfill had is
not a change HR has to import again. A changed date is a change."""

KEY = ("connection", "remote_user_id", "item_kind", "item_id")

RESULTS = cast(Table, Result.__table__)

BEHIND = ("not_started", "in_progress")
"""Statuses a finished record (completed, passed, failed, expired) goes back to when the
LMS resets it: such a change is recorded as a regression."""


def _cursor(db: Session, connection: str, name: str) -> str | None:
    row = db.get(Cursor, (connection, name))
    return row.value if row is not None else None


def _set_cursor(db: Session, connection: str, name: str, value: str) -> None:
    row = db.get(Cursor, (connection, name))
    if row is None:
        db.add(Cursor(connection=connection, name=name, value=value))
    else:
        row.value = value
    db.flush()


def watermark(db: Session, connection: str) -> datetime | None:
    """The end of the last fully committed results window (None before the first)."""
    value = _cursor(db, connection, WATERMARK)
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def set_watermark(db: Session, connection: str, at: datetime) -> None:
    _set_cursor(db, connection, WATERMARK, at.astimezone(UTC).isoformat())


def next_revision(db: Session, connection: str) -> int:
    """The connection's next pull revision, taken in the caller's write transaction."""
    revision = int(_cursor(db, connection, REVISION) or 0) + 1
    _set_cursor(db, connection, REVISION, str(revision))
    return revision


def last_revision(db: Session, connection: str) -> int:
    return int(_cursor(db, connection, REVISION) or 0)


def exported_revision(db: Session, connection: str) -> int:
    """The revision the last export of this connection's changes reached (0: none yet)."""
    return int(_cursor(db, connection, EXPORTED) or 0)


def set_exported_revision(db: Session, connection: str, revision: int) -> None:
    _set_cursor(db, connection, EXPORTED, str(revision))


def _changed(table: Any, new: Any) -> ColumnElement[bool]:
    """A real change: a new revision, exported again as a change."""
    differs = [table.c[name].is_distinct_from(new[name]) for name in VALUES]
    learned_id = and_(
        new.external_id.is_not(None), table.c.external_id.is_distinct_from(new.external_id)
    )
    moved = [
        and_(new[name].is_not(None), table.c[name].is_not(None), table.c[name] != new[name])
        for name in FILLED
    ]
    return or_(*differs, learned_id, *moved)


def _filled(table: Any, new: Any) -> ColumnElement[bool]:
    return or_(*(and_(table.c[name].is_(None), new[name].is_not(None)) for name in FILLED))


def upsert(
    db: Session,
    connection: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    revision: int,
    now: datetime,
) -> int:
    """Insert or update ``rows`` (plain column values, as :mod:`syncd.results.rows`
    makes them), writing only real changes; how many rows were new or changed."""
    if not rows:
        return 0
    table = RESULTS
    statement = dialect_insert(db, table)
    new = statement.excluded
    changed = _changed(table, new)
    status_changed = table.c.status.is_distinct_from(new.status)
    # Spelled out, not IN (...): an expanding IN cannot run as one executemany.
    went_back = and_(
        *(table.c.status != status for status in BEHIND),
        or_(*(new.status == status for status in BEHIND)),
    )
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            **{name: new[name] for name in VALUES},
            **{name: func.coalesce(new[name], table.c[name]) for name in KEPT},
            "previous_status": case(
                (status_changed, table.c.status), else_=table.c.previous_status
            ),
            "regressed_at": case((went_back, new.seen_at), else_=table.c.regressed_at),
            "raw": new.raw,
            "revision": case((changed, new.revision), else_=table.c.revision),
            "seen_at": case((changed, new.seen_at), else_=table.c.seen_at),
        },
        where=or_(changed, _filled(table, new)),
    )
    stamped = [
        {**row, "connection": connection, "revision": revision, "seen_at": now} for row in rows
    ]
    db.connection().execute(statement, stamped)
    _resolve_people(db, connection, revision)
    count = select(func.count()).where(Result.connection == connection, Result.revision == revision)
    return int(db.execute(count).scalar_one())


def _resolve_people(db: Session, connection: str, revision: int) -> None:
    """Give the batch's rows without an HRIS key the one the mirror has for the account."""
    known = (
        select(MirrorUser.external_id)
        .where(MirrorUser.connection == connection, MirrorUser.remote_id == Result.remote_user_id)
        .limit(1)
        .scalar_subquery()
    )
    db.execute(
        update(Result)
        .where(
            Result.connection == connection,
            Result.revision == revision,
            Result.external_id.is_(None),
        )
        .values(external_id=known)
        .execution_options(synchronize_session=False)
    )


EXPORT_COLUMNS = (
    "connection",
    "external_id",
    "remote_user_id",
    "item_kind",
    "item_id",
    *VALUES,
    "assigned_at",
    "started_at",
    "previous_status",
    "regressed_at",
    "revision",
    "seen_at",
)
"""The columns an export may read."""


def export_rows(
    db: Session,
    connections: Sequence[str],
    columns: Sequence[str] = EXPORT_COLUMNS,
    *,
    after: Mapping[str, int] | None = None,
    upto: Mapping[str, int] | None = None,
    seen_since: datetime | None = None,
    batch: int = 5000,
) -> Generator[tuple[Any, ...], None, None]:
    """``columns`` of the rows an export writes (dates in UTC, naive on SQLite),
    streamed: people syncd manages (an HRIS key known), of ``connections``, with a
    revision above ``after[connection]`` and at most ``upto[connection]`` when given, seen
    at or after ``seen_since``, ordered by person and item (the order of their index: no
    sort) so that two exports of one state are the same file. Read through Core, not the
    ORM: a million rows are plain tuples."""
    unknown = [name for name in columns if name not in EXPORT_COLUMNS]
    if unknown:
        raise ValueError(f"not export columns: {unknown}")
    # Dates without the aware-UTC wrapper of the model (naive UTC on SQLite, aware on
    # PostgreSQL): a million rows times several dates is most of an export's reading.
    chosen = [
        type_coerce(RESULTS.c[name], DateTime()).label(name)
        if isinstance(RESULTS.c[name].type, UTCDateTime)
        else RESULTS.c[name]
        for name in columns
    ]
    connection = db.connection()
    for name in connections:
        query = select(*chosen).where(
            RESULTS.c.connection == name, RESULTS.c.external_id.is_not(None)
        )
        if after and after.get(name):
            query = query.where(RESULTS.c.revision > after[name])
        if upto is not None:
            query = query.where(RESULTS.c.revision <= upto.get(name, 0))
        if seen_since is not None:
            query = query.where(RESULTS.c.seen_at >= seen_since)
        query = query.order_by(RESULTS.c.external_id, RESULTS.c.item_kind, RESULTS.c.item_id)
        # Closed even when the reader stops early (a refused XLSX): PostgreSQL streams
        # through a server-side cursor that must not outlive the export.
        with connection.execute(query.execution_options(yield_per=batch)) as result:
            for row in result:
                yield tuple(row)


def unmanaged_count(db: Session, connection: str) -> int:
    """Results of accounts syncd does not manage (no HRIS key): left out of exports."""
    query = select(func.count()).where(
        Result.connection == connection, Result.external_id.is_(None)
    )
    return int(db.execute(query).scalar_one())


FINISHED = ("completed", "passed", "expired")
"""Statuses of an item the person finished: an expired certificate was completed once."""

_AS_COURSE = "registration"
"""SCORM Cloud's result item: a registration on the course named by ``course_id``."""


def completed_items(db: Session, connection: str) -> tuple[bool, list[tuple[str, str, str]]]:
    """Whether results were ever pulled for ``connection`` (a committed window or a row),
    and the (external_id, kind, item_id) of every item a managed person finished, named
    as the mirror's assignments name them (a registration as its course).

    The leaver and mover policies never unassign these (:mod:`syncd.plan.learning`);
    before the first pull nobody can tell, and they unassign nothing.
    """
    finished = or_(Result.completed.is_(True), Result.status.in_(FINISHED))
    query = (
        select(Result.external_id, Result.item_kind, Result.item_id, Result.course_id)
        .where(Result.connection == connection, Result.external_id.is_not(None), finished)
        .order_by(Result.external_id, Result.item_kind, Result.item_id)
    )
    items: list[tuple[str, str, str]] = []
    for found in db.execute(query):
        external_id, kind, item_id, course_id = str(found[0]), found[1], found[2], found[3]
        if kind == _AS_COURSE:
            if course_id:
                items.append((external_id, "course", course_id))
        elif kind in ("course", "learning_path"):
            items.append((external_id, kind, item_id))
    pulled = bool(items) or watermark(db, connection) is not None
    if not pulled:
        any_row = select(Result.id).where(Result.connection == connection).limit(1)
        pulled = db.execute(any_row).first() is not None
    return pulled, items
