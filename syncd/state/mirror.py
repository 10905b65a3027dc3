"""The mirror: what syncd has confirmed each LMS holds, loaded for the plan, changed by the worker.

Loading turns one connection's mirror rows into the plain :class:`~syncd.plan.model.Mirror`
the (SQLAlchemy-free) plan diffs against. It reads Core selects into DataFrames straight
from the DBAPI cursor, never through ORM objects or SQLAlchemy rows, and leaves ``attrs``
as JSON text for the plan to decode only where a hash changed: 100,000 users and their
memberships load in about half a second on SQLite and PostgreSQL alike. Missing texts are
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

import pandas as pd
from sqlalchemy import Connection, Select, Text, cast, delete, select, update
from sqlalchemy.orm import Session

from syncd.errors import StateError
from syncd.plan.hashing import hash_attrs
from syncd.plan.model import MIRROR_COLUMNS, Mirror
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


def load_mirror(db: Db, connection: str, *, decode_attrs: bool = False) -> Mirror:
    """The connection's mirror as the plan's frozen value (see :func:`load_mirror_frames`)."""
    return Mirror(**load_mirror_frames(db, connection, decode_attrs=decode_attrs))


def load_mirror_frames(
    db: Db, connection: str, *, decode_attrs: bool = False
) -> dict[str, pd.DataFrame]:
    """The four mirror frames (columns exactly as ``MIRROR_COLUMNS``), each sorted by key.

    ``users.attrs`` is each row's JSON text unless ``decode_attrs``: the plan decodes only
    the rows whose hash changed, which saves decoding every unchanged person.
    """
    users = _frame(
        db,
        select(
            MirrorUser.external_id,
            MirrorUser.remote_id,
            MirrorUser.match_value,
            MirrorUser.active,
            cast(MirrorUser.attrs, Text),
            MirrorUser.attrs_hash,
        )
        .where(MirrorUser.connection == connection)
        .order_by(MirrorUser.external_id),
        "users",
    )
    if decode_attrs:
        users["attrs"] = pd.Series(_decode_all(users["attrs"]), index=users.index, dtype=object)
    groups = _frame(
        db,
        select(MirrorGroup.key, MirrorGroup.remote_id, MirrorGroup.name, MirrorGroup.parent_key)
        .where(MirrorGroup.connection == connection)
        .order_by(MirrorGroup.key),
        "groups",
    )
    memberships = _frame(
        db,
        select(MirrorMembership.group_key, MirrorMembership.external_id)
        .where(MirrorMembership.connection == connection)
        .order_by(MirrorMembership.group_key, MirrorMembership.external_id),
        "memberships",
    )
    assignments = _frame(
        db,
        select(MirrorAssignment.external_id, MirrorAssignment.kind, MirrorAssignment.item_id)
        .where(MirrorAssignment.connection == connection)
        .order_by(MirrorAssignment.external_id, MirrorAssignment.kind, MirrorAssignment.item_id),
        "assignments",
    )
    return {
        "users": users,
        "groups": groups,
        "memberships": memberships,
        "assignments": assignments,
    }


def _frame(db: Db, statement: Select[Any], name: str) -> pd.DataFrame:
    """Rows of ``statement`` as a frame with the contract's columns; text columns never NaN.

    Rows are fetched from the DBAPI cursor itself: building a SQLAlchemy ``Row`` per record
    would double the load time, and these selects need none of its type processing (JSON
    is read as text, booleans are converted here).
    """
    connection = db.connection() if isinstance(db, Session) else db
    result = connection.execute(statement)
    try:
        records = result.cursor.fetchall()
    finally:
        result.close()
    columns = list(MIRROR_COLUMNS[name])
    frame = pd.DataFrame.from_records(records, columns=columns, nrows=len(records))
    for column in columns:
        if column == "active":
            frame[column] = frame[column].astype(bool)
        elif column == "attrs":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "{}")
        else:
            frame[column] = frame[column].astype("str").fillna("")
    return frame


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
