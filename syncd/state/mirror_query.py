"""The mirror's tables fetched as they come from the database, one aggregate row per table.

Split from :mod:`syncd.state.mirror` (which turns these rows into the plan's frames) so
that fetching needs SQLAlchemy alone: ``syncd plan`` starts the queries in a second thread
before it imports pandas and Arrow, which takes a third of a second that the database
spends answering. Nothing here imports numpy, pandas or pyarrow.

Each table comes as one row of aggregates, one per column: all the column's values joined
into one text (``group_concat``/``string_agg``) with :data:`SEP` between them, or, for the
:data:`WIDE` columns, with nothing between and their byte lengths alongside; booleans as
one ``1``/``0`` byte each. The aggregates of one SELECT see the rows in the same order, so
the columns stay aligned, and the row count comes along to check the cutting against.
Memberships and assignments come grouped instead (:attr:`Table.by`): one row per group or
course, with its holders' keys joined. A few dozen groups and courses share millions of
rows, so their names are sent once each, not once per row, and an index in that order
(the primary key of memberships, one of its own for assignments) yields the rows grouped
without sorting: half the database's time for a million people's courses.
A database this does not know how to ask this way, or a table with a value that holds the
separator (the cut would come out longer), is read row by row instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    LargeBinary,
    Text,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import QueryableAttribute, Session

from syncd.state.models import MirrorAssignment, MirrorGroup, MirrorMembership, MirrorUser

Db = Session | Connection
Column = ColumnElement[Any] | QueryableAttribute[Any]
Columns = Mapping[str, Column]

_DIALECTS = ("sqlite", "postgresql")
"""Databases asked for joined columns; any other is read row by row."""

SEP = "\x1e"
"""Between the values of a joined column (JSON escapes it; keys and names do not hold it)."""

WIDE = frozenset({"attrs"})
"""Columns joined without separators and cut by their byte lengths instead: splitting
would copy their many megabytes once more, measuring costs the database little."""


@dataclass(frozen=True)
class Table:
    """One table's rows for one connection: its columns and how they were fetched."""

    model: type[Any]
    columns: Columns
    order: tuple[Column, ...]
    by: tuple[str, ...] = ()
    """Columns with few distinct values (a group, a course) that the rows come grouped by;
    the table's one other column is joined per group (see :class:`Group`)."""

    @property
    def member(self) -> str:
        """A grouped table's one column besides :attr:`by`: what each group holds."""
        (name,) = (n for n in self.columns if n not in self.by)
        return name


def tables(*, attrs: bool = True) -> dict[str, Table]:
    """The four mirror tables with the columns of the plan's contract, in key order.

    Without ``attrs`` the users' JSON texts (most of the mirror's bytes) are left out.
    """
    users: dict[str, Column] = {
        "external_id": MirrorUser.external_id,
        "remote_id": MirrorUser.remote_id,
        "match_value": MirrorUser.match_value,
        "active": MirrorUser.active,
        "attrs": cast(MirrorUser.attrs, Text),
        "attrs_hash": MirrorUser.attrs_hash,
    }
    if not attrs:
        del users["attrs"]
    return {
        "users": Table(MirrorUser, users, (MirrorUser.external_id,)),
        "groups": Table(
            MirrorGroup,
            {
                "key": MirrorGroup.key,
                "remote_id": MirrorGroup.remote_id,
                "name": MirrorGroup.name,
                "parent_key": MirrorGroup.parent_key,
            },
            (MirrorGroup.key,),
        ),
        "memberships": Table(
            MirrorMembership,
            {"group_key": MirrorMembership.group_key, "external_id": MirrorMembership.external_id},
            (MirrorMembership.group_key, MirrorMembership.external_id),
            by=("group_key",),
        ),
        "assignments": Table(
            MirrorAssignment,
            {
                "kind": MirrorAssignment.kind,
                "item_id": MirrorAssignment.item_id,
                "external_id": MirrorAssignment.external_id,
            },
            (MirrorAssignment.kind, MirrorAssignment.item_id, MirrorAssignment.external_id),
            by=("kind", "item_id"),
        ),
    }


@dataclass(frozen=True)
class Group:
    """The rows of a grouped table that share their ``by`` values (``labels``): ``count``
    of them, whose other column's values are ``joined`` with :data:`SEP` between."""

    labels: tuple[str, ...]
    count: int
    joined: bytes


@dataclass(frozen=True)
class Fetched:
    """One table as the database gave it.

    ``joined``: the row count and each column's aggregate (bytes, or for a WIDE column
    (bytes, comma-separated byte lengths)); for a grouped table (:attr:`Table.by`) the
    ``groups`` instead. Both None when the rows came one by one, in ``records``.
    """

    table: Table
    count: int
    joined: dict[str, Any] | None
    records: list[tuple[Any, ...]] | None = None
    groups: list[Group] | None = None


def fetch(db: Db, connection: str, table: Table) -> Fetched:
    """One connection's rows of ``table``, as one aggregate row where the dialect allows."""
    where = table.model.connection == connection
    conn = db.connection() if isinstance(db, Session) else db
    found = _fetch_grouped(conn, table, where) if table.by else _fetch_joined(conn, table, where)
    if found is not None:
        return found
    statement = select(*table.columns.values()).where(where).order_by(*table.order)
    records = _rows(conn, statement)
    return Fetched(table, len(records), None, records)


def fetch_all(db: Db, connection: str, *, attrs: bool = True) -> dict[str, Fetched]:
    """The four mirror tables of one connection (see :func:`tables`)."""
    return {name: fetch(db, connection, table) for name, table in tables(attrs=attrs).items()}


def _as_text(column: Column) -> ColumnElement[Any]:
    """The column as text for aggregating: booleans as 1/0, NULL as "" (aggregates skip
    NULLs, which would shift every later value)."""
    if isinstance(column.type, Boolean):
        return case((column, "1"), else_="0")
    if getattr(column, "nullable", True):
        return func.coalesce(column, "")
    return column.expression if isinstance(column, QueryableAttribute) else column


def _rows(conn: Connection, statement: Any) -> list[tuple[Any, ...]]:
    """The statement's rows as the DBAPI gives them (no SQLAlchemy Row per row)."""
    result = conn.execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _joined(dialect: str, text: Column, sep: str, order: Sequence[Column]) -> ColumnElement[Any]:
    """All the values of ``text`` as one bytes value, ``sep`` between them, in ``order``
    (PostgreSQL is told it; SQLite joins them in the order it walks the rows)."""
    if dialect == "sqlite":
        return cast(func.group_concat(text, sep), LargeBinary)
    return func.convert_to(func.string_agg(text, aggregate_order_by(literal(sep), *order)), "UTF8")


def _cuts_into(data: bytes, count: int) -> bool:
    """Whether ``data`` joined with :data:`SEP` cuts into exactly ``count`` values (not
    when a value holds the separator)."""
    return (data.count(SEP.encode("utf-8")) + 1 if count else 0) == count


def _fetch_joined(conn: Connection, table: Table, where: ColumnElement[bool]) -> Fetched | None:
    dialect = conn.dialect.name
    if dialect not in _DIALECTS:
        return None
    order = table.order

    def joined(text: ColumnElement[Any], sep: str) -> ColumnElement[Any]:
        return _joined(dialect, text, sep, order)

    def lengths(text: ColumnElement[Any]) -> ColumnElement[Any]:
        if dialect == "sqlite":
            return func.group_concat(func.length(cast(text, LargeBinary)), ",")
        size = cast(func.octet_length(text), Text)
        return func.string_agg(size, aggregate_order_by(literal(","), *order))

    aggregates: list[ColumnElement[Any]] = []
    for name, column in table.columns.items():
        text = _as_text(column)
        if isinstance(column.type, Boolean):
            aggregates.append(joined(text, ""))
        elif name in WIDE:
            aggregates += [joined(text, ""), lengths(text)]
        else:
            aggregates.append(joined(text, SEP))
    statement = select(func.count(), *aggregates).where(where)
    if dialect == "sqlite":
        # SQLite (before 3.44) cannot order inside group_concat, and an ordered subquery
        # costs a third more; a range condition on the leading key column makes it walk
        # the primary-key index, which yields the rows in key order.
        statement = statement.where(order[0] >= "")
    ((count, *values),) = _rows(conn, statement)  # an aggregate SELECT has one row
    by_column: dict[str, Any] = {}
    for name, column in table.columns.items():
        data = bytes(values.pop(0) or b"")
        if name in WIDE:
            by_column[name] = (data, values.pop(0) or "")
            continue
        cuts = len(data) == count if isinstance(column.type, Boolean) else _cuts_into(data, count)
        if not cuts:
            return None  # a value holds the separator: ask row by row
        by_column[name] = data
    return Fetched(table, int(count), by_column)


def _fetch_grouped(conn: Connection, table: Table, where: ColumnElement[bool]) -> Fetched | None:
    """One row per distinct ``by`` values, with the other column's values joined.

    Groups come in key order, and so do the keys inside each (the plan treats them as a
    set, but a frame in a stable order is easier to read and test): SQLite walks the
    index in that order anyway, PostgreSQL is asked for it.
    """
    dialect = conn.dialect.name
    if dialect not in _DIALECTS:
        return None
    member = table.columns[table.member]
    joined = _joined(dialect, member, SEP, (member,))
    by = [table.columns[n] for n in table.by]
    statement = select(*by, func.count(), joined).where(where).group_by(*by).order_by(*by)
    groups: list[Group] = []
    for *labels, count, data in _rows(conn, statement):
        data = bytes(data or b"")
        if not _cuts_into(data, count):
            return None  # a value holds the separator: ask row by row
        groups.append(Group(tuple(labels), int(count), data))
    return Fetched(table, sum(g.count for g in groups), None, groups=groups)
