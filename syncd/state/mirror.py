"""The mirror: what syncd has confirmed each LMS holds, loaded for the plan, changed by the worker.

Loading turns one connection's mirror rows into the plain :class:`~syncd.plan.model.Mirror`
the (SQLAlchemy-free) plan diffs against. Each table comes as one aggregate row per
column (all texts joined, and their lengths: :mod:`syncd.state.mirror_query`) that Arrow
cuts into values, never one Python object per row, and ``attrs`` stay JSON text for the plan
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
from sqlalchemy import Boolean, Text, cast, delete, select, update

from syncd.errors import StateError
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, MIRROR_LABELS, Mirror, label_column, label_dtype
from syncd.plan.users import NOT_LOADED
from syncd.state import mirror_query, versions
from syncd.state.db import changed_rows, dialect_insert
from syncd.state.mirror_query import Db
from syncd.state.models import (
    AssignmentKind,
    MirrorAssignment,
    MirrorGroup,
    MirrorMembership,
    MirrorUser,
)

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
    if decode_attrs and not attrs:
        raise ValueError("decode_attrs needs the attrs loaded")
    return mirror_frames(
        mirror_query.fetch_all(db, connection, attrs=attrs), decode_attrs=decode_attrs
    )


def mirror_frames(
    fetched: Mapping[str, mirror_query.Fetched], *, decode_attrs: bool = False
) -> dict[str, pd.DataFrame]:
    """The frames of :func:`load_mirror_frames` from tables already fetched.

    A million people and their assignments are several million rows: fetched one Python
    tuple per row they take seconds. So the database hands each column over as one text
    (:mod:`syncd.state.mirror_query`) that Arrow cuts into values: a handful of objects in
    all.
    """
    frames: dict[str, pd.DataFrame] = {}
    for name, table in fetched.items():
        if table.groups is not None:
            values = _ungrouped(table)
        elif table.joined is not None:
            values = _cut(table)
        else:
            assert table.records is not None
            frame = pd.DataFrame.from_records(
                table.records, columns=list(table.table.columns), nrows=len(table.records)
            )
            values = {c: frame[c] for c in table.table.columns}
        frames[name] = _as_frame(name, values)
    users = frames["users"]
    if decode_attrs and len(users):
        users["attrs"] = pd.Series(_decode_all(users["attrs"]), index=users.index, dtype=object)
    return frames


def _cut(table: mirror_query.Fetched) -> dict[str, pa.Array | np.ndarray]:
    """Each joined column as one Arrow text array (``active`` as a bool array).

    The fetch has checked the separators; byte lengths that do not add up would mean the
    database answered something else than it was asked.
    """
    assert table.joined is not None
    count = table.count
    found: dict[str, pa.Array | np.ndarray] = {}
    for name, column in table.table.columns.items():
        raw = table.joined[name]
        cut: pa.Array | np.ndarray | None
        if isinstance(column.type, Boolean):
            cut = np.frombuffer(raw, dtype=np.uint8) == ord("1")
        elif name in mirror_query.WIDE:
            cut = _measured(raw[0], raw[1], count)
        else:
            cut = _split(raw, count)
        if cut is None or len(cut) != count:
            raise _uncut(table, name)
        found[name] = cut
    return found


def _uncut(table: mirror_query.Fetched, column: str) -> StateError:
    """The database answered something else than it was asked: lengths or separators
    that do not match the row count."""
    return StateError(
        f"mirror table {table.table.model.__tablename__}: column {column} does not "
        f"cut into its {table.count} values"
    )


def _ungrouped(table: mirror_query.Fetched) -> dict[str, pa.Array | pd.Categorical]:
    """A grouped table's columns, one value per row, group after group.

    The ``by`` columns become categoricals (each label made once, the rows only codes);
    the joined column is cut as one text.
    """
    assert table.groups is not None
    groups = table.groups
    name = table.table.member
    values = _split(mirror_query.SEP.encode("utf-8").join(g.joined for g in groups), table.count)
    if len(values) != table.count:
        raise _uncut(table, name)
    sizes = [g.count for g in groups]
    found: dict[str, pa.Array | pd.Categorical] = {name: values}
    for at, column in enumerate(table.table.by):
        labels = sorted({g.labels[at] for g in groups})
        code = {label: i for i, label in enumerate(labels)}
        per_group = np.array([code[g.labels[at]] for g in groups], dtype=np.int32)
        found[column] = pd.Categorical.from_codes(
            np.repeat(per_group, sizes), dtype=label_dtype(labels)
        )
    return found


def _split(data: bytes, count: int) -> pa.Array:
    """A joined column's values (``count`` of them; none when there are no rows)."""
    if not count:
        return pa.array([], pa.large_string())
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    return pc.split_pattern(whole, mirror_query.SEP).flatten()


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
        if column in MIRROR_LABELS.get(name, ()):
            frame[column] = pd.Series(raw if isinstance(raw, pd.Categorical) else label_column(raw))
        elif isinstance(raw, np.ndarray) and raw.dtype == bool:
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
    versions.bump(db, connection)
