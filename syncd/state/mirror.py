"""The mirror: what syncd has confirmed each LMS holds, loaded for the plan, changed by the worker.

Loading turns one connection's mirror rows into the plain :class:`~syncd.plan.model.Mirror`
the (SQLAlchemy-free) plan diffs against. Each table comes as one aggregate row per
column (all texts joined, and their lengths) that Arrow takes over without copying, never
one Python object per row (see :func:`_frame`), and ``attrs`` stay JSON text for the plan
to decode only where a hash changed: a million users with their memberships and courses
load in a couple of seconds on SQLite. Missing texts are
``""`` in the frames (a user whose remote id is not known yet, a group at the top), never
NaN, so the plan compares plain strings.

The ``apply``-style functions record a change the LMS has confirmed. Each is one or two
statements meant to run inside the caller's transaction (the worker marks the op done in
the same one), and each is idempotent: replaying a confirmed change after a crash leaves
the mirror as it was. ``attrs_hash`` is recomputed with the plan's own
:func:`~syncd.plan.hashing.hash_attrs` whenever the key, match value or attrs change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    LargeBinary,
    Text,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import QueryableAttribute, Session

from syncd.errors import StateError
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, Mirror
from syncd.plan.users import NOT_LOADED
from syncd.state.db import changed_rows, dialect_insert
from syncd.state.models import (
    AssignmentKind,
    MirrorAssignment,
    MirrorGroup,
    MirrorMembership,
    MirrorUser,
)

Db = Session | Connection

# --------------------------------------------------------------------------- loading


def load_mirror(
    db: Db, connection: str, *, decode_attrs: bool = False, attrs: bool = True
) -> Mirror:
    """The connection's mirror as the plan's frozen value (see :func:`load_mirror_frames`)."""
    return Mirror(**load_mirror_frames(db, connection, decode_attrs=decode_attrs, attrs=attrs))


def load_mirror_frames(
    db: Db, connection: str, *, decode_attrs: bool = False, attrs: bool = True
) -> dict[str, pd.DataFrame]:
    """The four mirror frames (columns exactly as ``MIRROR_COLUMNS``), each sorted by key.

    ``users.attrs`` is each row's JSON text unless ``decode_attrs``: the plan decodes only
    the rows whose hash changed, which saves decoding every unchanged person. Without
    ``attrs`` every cell is :data:`~syncd.plan.users.NOT_LOADED` and the caller fetches the
    rows the diff needs with :func:`with_user_attrs`, in the same transaction: the attrs
    are most of the mirror's bytes (160 MB for a million people) and the diff reads about
    one in a hundred.
    """
    columns: dict[str, Column] = {
        "external_id": MirrorUser.external_id,
        "remote_id": MirrorUser.remote_id,
        "match_value": MirrorUser.match_value,
        "active": MirrorUser.active,
        "attrs": cast(MirrorUser.attrs, Text),
        "attrs_hash": MirrorUser.attrs_hash,
    }
    if not attrs:
        if decode_attrs:
            raise ValueError("decode_attrs needs the attrs loaded")
        del columns["attrs"]
    users = _frame(db, MirrorUser, connection, columns, (MirrorUser.external_id,), "users")
    if decode_attrs and len(users):
        users["attrs"] = pd.Series(_decode_all(users["attrs"]), index=users.index, dtype=object)
    groups = _frame(
        db,
        MirrorGroup,
        connection,
        {
            "key": MirrorGroup.key,
            "remote_id": MirrorGroup.remote_id,
            "name": MirrorGroup.name,
            "parent_key": MirrorGroup.parent_key,
        },
        (MirrorGroup.key,),
        "groups",
    )
    memberships = _frame(
        db,
        MirrorMembership,
        connection,
        {"group_key": MirrorMembership.group_key, "external_id": MirrorMembership.external_id},
        (MirrorMembership.group_key, MirrorMembership.external_id),
        "memberships",
    )
    assignments = _frame(
        db,
        MirrorAssignment,
        connection,
        {
            "external_id": MirrorAssignment.external_id,
            "kind": MirrorAssignment.kind,
            "item_id": MirrorAssignment.item_id,
        },
        (MirrorAssignment.external_id, MirrorAssignment.kind, MirrorAssignment.item_id),
        "assignments",
    )
    return {
        "users": users,
        "groups": groups,
        "memberships": memberships,
        "assignments": assignments,
    }


Column = ColumnElement[Any] | QueryableAttribute[Any]
Columns = Mapping[str, Column]


def _frame(
    db: Db,
    model: type[Any],
    connection: str,
    columns: Columns,
    order: tuple[Column, ...],
    name: str,
) -> pd.DataFrame:
    """One connection's rows of ``model`` as a frame with the contract's columns.

    A million people and their assignments are several million rows: fetched one Python
    tuple per row they take seconds. So the database hands each column over as one text
    (see :func:`_joined`) that Arrow cuts into values: a handful of objects in all.
    """
    where = model.connection == connection
    conn = db.connection() if isinstance(db, Session) else db
    joined = _joined(conn, columns, where, order)
    if joined is not None:
        return _as_frame(name, joined)
    statement = select(*columns.values()).where(where).order_by(*order)
    result = conn.execute(statement)
    try:
        records = result.cursor.fetchall()
    finally:
        result.close()
    frame = pd.DataFrame.from_records(records, columns=list(columns), nrows=len(records))
    return _as_frame(name, {c: frame[c] for c in columns})


_SEP = "\x1e"
"""Between the values of a joined column (JSON escapes it; keys and names do not hold it)."""

_WIDE = frozenset({"attrs"})
"""Columns joined without separators and cut by their byte lengths instead: splitting
would copy their many megabytes once more, measuring costs the database little."""


def _as_text(column: Column) -> ColumnElement[Any]:
    """The column as text for aggregating: booleans as 1/0, NULL as "" (aggregates skip
    NULLs, which would shift every later value)."""
    if isinstance(column.type, Boolean):
        return case((column, "1"), else_="0")
    if getattr(column, "nullable", True):
        return func.coalesce(column, "")
    return column.expression if isinstance(column, QueryableAttribute) else column


def _joined(
    conn: Connection,
    columns: Columns,
    where: ColumnElement[bool],
    order: tuple[Column, ...],
) -> dict[str, pa.Array | np.ndarray] | None:
    """Each column as one Arrow text array (``active`` as a bool array), from one SELECT.

    The database joins each column's values into one text (``group_concat``/``string_agg``)
    with ``_SEP`` between them, or, for ``_WIDE`` columns, with nothing between and their
    byte lengths alongside. The aggregates of one SELECT see the rows in the same order,
    so the columns stay aligned, and the row count comes along: a value that happens to
    hold the separator makes a split come out longer, and None sends the caller down the
    row-by-row path (as does a database this does not know how to ask).
    """
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return None

    def joined(text: ColumnElement[Any], sep: str) -> ColumnElement[Any]:
        if dialect == "sqlite":
            return cast(func.group_concat(text, sep), LargeBinary)
        return func.convert_to(
            func.string_agg(text, aggregate_order_by(literal(sep), *order)), "UTF8"
        )

    def lengths(text: ColumnElement[Any]) -> ColumnElement[Any]:
        if dialect == "sqlite":
            return func.group_concat(func.length(cast(text, LargeBinary)), ",")
        size = cast(func.octet_length(text), Text)
        return func.string_agg(size, aggregate_order_by(literal(","), *order))

    aggregates: list[ColumnElement[Any]] = []
    for name, column in columns.items():
        text = _as_text(column)
        if isinstance(column.type, Boolean):
            aggregates.append(joined(text, ""))
        elif name in _WIDE:
            aggregates += [joined(text, ""), lengths(text)]
        else:
            aggregates.append(joined(text, _SEP))
    statement = select(func.count(), *aggregates).where(where)
    if dialect == "sqlite":
        # SQLite (before 3.44) cannot order inside group_concat, and an ordered subquery
        # costs a third more; a range condition on the leading key column makes it walk
        # the primary-key index, which yields the rows in key order.
        statement = statement.where(order[0] >= "")
    result = conn.execute(statement)
    try:
        row = result.cursor.fetchone()
        assert row is not None, "an aggregate SELECT always has one row"
        count, *values = row
    finally:
        result.close()
    found: dict[str, pa.Array | np.ndarray] = {}
    for name, column in columns.items():
        data = bytes(values.pop(0) or b"")
        cut: pa.Array | np.ndarray | None
        if isinstance(column.type, Boolean):
            cut = np.frombuffer(data, dtype=np.uint8) == ord("1")
        elif name in _WIDE:
            cut = _measured(data, values.pop(0) or "", count)
        else:
            cut = _split(data, count)
        if cut is None or len(cut) != count:
            return None
        found[name] = cut
    return found


def _split(data: bytes, count: int) -> pa.Array:
    """A joined column's values (``count`` of them; none when there are no rows)."""
    if not count:
        return pa.array([], pa.large_string())
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    return pc.split_pattern(whole, _SEP).flatten()


def _measured(data: bytes, lengths: str, count: int) -> pa.Array | None:
    """An Arrow text array over ``data`` as it is (no copy), cut by the byte ``lengths``.

    None when the pieces do not add up.
    """
    if not count:
        return pa.array([], pa.large_string())
    pieces = pc.split_pattern(pa.array([lengths], pa.large_string()), ",").flatten()
    sizes = pc.cast(pieces, pa.int64()).to_numpy()
    if len(sizes) != count:
        return None
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    if offsets[-1] != len(data):
        return None
    array = pa.Array.from_buffers(
        pa.large_string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    array.validate(full=True)
    return array


def _as_frame(name: str, values: Mapping[str, Any]) -> pd.DataFrame:
    """The contract's dtypes: text columns as ``str`` without NaN, ``active`` as bool.

    A users ``attrs`` column not in ``values`` comes out as :data:`NOT_LOADED` cells.
    """
    frame: dict[str, pd.Series] = {}
    for column in MIRROR_COLUMNS[name]:
        if column == "attrs" and column not in values:
            rows = len(next(iter(values.values()))) if values else 0
            frame[column] = pd.Series(np.full(rows, NOT_LOADED, dtype=object), dtype=object)
            continue
        raw = values[column]
        if isinstance(raw, np.ndarray) and raw.dtype == bool:
            frame[column] = pd.Series(raw)
        elif isinstance(raw, pa.Array):
            empty = pc.equal(raw, "")
            if column == "attrs" and pc.any(empty).as_py():
                raw = pc.if_else(empty, "{}", raw)
            frame[column] = pd.Series(raw, dtype="str")
        elif column == "active":
            frame[column] = pd.Series(raw, dtype=object).astype(bool)
        else:
            series = pd.Series(raw, dtype=object).where(pd.notna(raw), "")
            if column == "attrs":
                series = series.where(series != "", "{}")
            frame[column] = series.astype("str")
    return pd.DataFrame(frame)


def with_user_attrs(db: Db, connection: str, mirror: Mirror, rows: np.ndarray) -> Mirror:
    """``mirror`` with the JSON text of the users at positions ``rows`` filled in.

    For a mirror loaded without ``attrs``: run it in the transaction that loaded the rest
    (the caller keeps the session open, and on PostgreSQL asks for REPEATABLE READ), so the
    texts belong to the hashes the diff compared. A row that is gone raises: that would
    mean another snapshot.
    """
    if not len(rows):
        return mirror
    users = mirror.users
    wanted = users["external_id"].iloc[rows].astype("str").tolist()
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _ATTRS_CHUNK):
        chunk = wanted[start : start + _ATTRS_CHUNK]
        result = db.execute(
            select(MirrorUser.external_id, cast(MirrorUser.attrs, Text)).where(
                MirrorUser.connection == connection, MirrorUser.external_id.in_(chunk)
            )
        )
        found.update((external_id, text) for external_id, text in result)
    missing = [external_id for external_id in wanted if external_id not in found]
    if missing:
        raise StateError(
            f"mirror of {connection} changed while it was read ({len(missing)} users gone)",
            connection=connection,
        )
    cells = users["attrs"].to_numpy(dtype=object, copy=True)
    cells[rows] = [found[external_id] or "{}" for external_id in wanted]
    users = users.assign(attrs=pd.Series(cells, index=users.index, dtype=object))
    return Mirror(users, mirror.groups, mirror.memberships, mirror.assignments)


_ATTRS_CHUNK = 5_000
"""Keys per ``IN (...)`` (well under SQLite's 32,766 parameters)."""


def _decode_all(texts: pd.Series) -> list[dict[str, str]]:
    """Decode every attrs JSON text in one ``json.loads`` (each is one JSON object)."""
    if texts.empty:
        return []
    decoded = json.loads("[" + ",".join(texts.tolist()) + "]")
    if len(decoded) != len(texts) or not all(isinstance(d, dict) for d in decoded):
        raise StateError("mirror_users.attrs holds a value that is not one JSON object")
    return decoded


# --------------------------------------------------------------------------- users


def upsert_user(
    db: Db,
    connection: str,
    external_id: str,
    *,
    match_value: str,
    attrs: Mapping[str, str],
    active: bool,
    remote_id: str | None,
    now: datetime,
) -> None:
    """Record a user as created, linked or adopted: every column replaced.

    A ``remote_id`` of None keeps the one already recorded (if any).
    """
    values = {
        "connection": connection,
        "external_id": external_id,
        "remote_id": remote_id or None,
        "match_value": match_value,
        "active": active,
        "attrs": dict(attrs),
        "attrs_hash": hash_attrs(external_id, match_value, attrs),
        "updated_at": now,
    }
    statement = dialect_insert(db, MirrorUser).values(values)
    changed = {k: statement.excluded[k] for k in values if k not in ("connection", "external_id")}
    if remote_id is None:
        changed.pop("remote_id")
    db.execute(
        statement.on_conflict_do_update(index_elements=["connection", "external_id"], set_=changed)
    )


def update_user(
    db: Db,
    connection: str,
    external_id: str,
    *,
    attrs: Mapping[str, str],
    match_value: str | None = None,
    now: datetime,
) -> None:
    """Merge confirmed field changes into a user's attrs (and a new match value, if any).

    Fields already recorded keep their place in the write order; new fields go last.
    """
    row = db.execute(
        select(MirrorUser.match_value, MirrorUser.attrs).where(
            MirrorUser.connection == connection, MirrorUser.external_id == external_id
        )
    ).one_or_none()
    if row is None:
        raise StateError(
            f"mirror of {connection} has no user {external_id} to update",
            connection=connection,
            external_id=external_id,
        )
    merged = {**row.attrs, **attrs}
    match = row.match_value if match_value is None else match_value
    db.execute(
        update(MirrorUser)
        .where(MirrorUser.connection == connection, MirrorUser.external_id == external_id)
        .values(
            attrs=merged,
            match_value=match,
            attrs_hash=hash_attrs(external_id, match, merged),
            updated_at=now,
        )
    )


def set_active(db: Db, connection: str, external_id: str, active: bool, *, now: datetime) -> None:
    """Record a confirmed deactivation or reactivation."""
    _update_user(db, connection, external_id, active=active, updated_at=now)


def set_remote_id(
    db: Db, connection: str, external_id: str, remote_id: str, *, now: datetime
) -> None:
    """Record the account id the vendor reported for a user."""
    _update_user(db, connection, external_id, remote_id=remote_id, updated_at=now)


def _update_user(db: Db, connection: str, external_id: str, **values: Any) -> None:
    result = db.execute(
        update(MirrorUser)
        .where(MirrorUser.connection == connection, MirrorUser.external_id == external_id)
        .values(**values)
    )
    if changed_rows(result) == 0:
        raise StateError(
            f"mirror of {connection} has no user {external_id}",
            connection=connection,
            external_id=external_id,
        )


def delete_user(db: Db, connection: str, external_id: str) -> None:
    """Forget a user deleted from the LMS, with their memberships and assignments."""
    for model in (MirrorMembership, MirrorAssignment, MirrorUser):
        db.execute(
            delete(model).where(model.connection == connection, model.external_id == external_id)
        )


# --------------------------------------------------------------------------- groups


def upsert_group(
    db: Db,
    connection: str,
    key: str,
    *,
    name: str,
    parent_key: str | None,
    remote_id: str | None,
    now: datetime,
) -> None:
    """Record a group as created, linked or updated; a ``remote_id`` of None keeps the known one."""
    values = {
        "connection": connection,
        "key": key,
        "remote_id": remote_id or None,
        "name": name,
        "parent_key": parent_key or None,
        "updated_at": now,
    }
    statement = dialect_insert(db, MirrorGroup).values(values)
    changed = {k: statement.excluded[k] for k in ("remote_id", "name", "parent_key", "updated_at")}
    if remote_id is None:
        changed.pop("remote_id")
    db.execute(statement.on_conflict_do_update(index_elements=["connection", "key"], set_=changed))


def add_memberships(db: Db, connection: str, group_key: str, external_ids: Iterable[str]) -> None:
    """Record members added to a group (already recorded ones are left as they are)."""
    rows = [
        {"connection": connection, "group_key": group_key, "external_id": external_id}
        for external_id in dict.fromkeys(external_ids)
    ]
    if rows:
        db.execute(dialect_insert(db, MirrorMembership).on_conflict_do_nothing(), rows)


def remove_membership(db: Db, connection: str, group_key: str, external_id: str) -> None:
    """Record a member removed from a group."""
    db.execute(
        delete(MirrorMembership).where(
            MirrorMembership.connection == connection,
            MirrorMembership.group_key == group_key,
            MirrorMembership.external_id == external_id,
        )
    )


# --------------------------------------------------------------------------- assignments


def add_assignments(
    db: Db, connection: str, external_id: str, kind: str, item_ids: Iterable[str]
) -> None:
    """Record courses or learning paths assigned to a person (known ones are kept)."""
    kind = AssignmentKind(kind).value
    rows = [
        {"connection": connection, "external_id": external_id, "kind": kind, "item_id": item}
        for item in dict.fromkeys(item_ids)
    ]
    if rows:
        db.execute(dialect_insert(db, MirrorAssignment).on_conflict_do_nothing(), rows)


def remove_assignment(db: Db, connection: str, external_id: str, kind: str, item_id: str) -> None:
    """Record a course or learning path unassigned from a person."""
    db.execute(
        delete(MirrorAssignment).where(
            MirrorAssignment.connection == connection,
            MirrorAssignment.external_id == external_id,
            MirrorAssignment.kind == AssignmentKind(kind).value,
            MirrorAssignment.item_id == item_id,
        )
    )


def clear(db: Db, connection: str) -> None:
    """Forget a connection's whole mirror (before a full reconcile rebuilds it from a listing)."""
    for model in (MirrorMembership, MirrorAssignment, MirrorGroup, MirrorUser):
        db.execute(delete(model).where(model.connection == connection))
