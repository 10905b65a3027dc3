"""The state database's tables: SQLAlchemy 2 declarative models, portable to SQLite and PG.

Everything that belongs to one LMS account is keyed by ``connection`` (the configuration's
connection name), so several connections share one database without seeing each other.

Portability rules kept here so that every store and query built on these models works the
same on SQLite and PostgreSQL:

- Times are :class:`UTCDateTime`: aware datetimes in, aware UTC datetimes out, on both
  databases (SQLite has no time zones and would hand back naive values).
- JSON is the generic ``sqlalchemy.JSON``: ``json`` on PostgreSQL (not ``jsonb``, which
  reorders object keys; ``attrs`` keep the vendor's field order), text on SQLite.
- State columns are short strings with named CHECK constraints instead of native enums, so
  adding a state is a one-line migration on both databases.
- Every constraint and index is named by :data:`NAMING`, so alembic autogenerate compares
  the database and these models without spurious differences.

Outbox dependencies live in their own table, ``outbox_deps``, not in a JSON list: "is every
dependency of this op done?" becomes an indexed ``NOT EXISTS`` join that both databases
plan well, where a JSON list would need ``json_each`` on SQLite and
``jsonb_array_elements`` on PostgreSQL and could use no index. The same table answers the
reverse question (which ops wait on this dead one, to block them) through its
``(connection, depends_on)`` index. See :class:`OutboxDep` for the ready query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint and index names; the migrations create exactly these names."""

# Lengths: names and keys are short identifiers; idempotency keys carry a subject (a group
# key or person key) plus a 16-character digest; remote ids are whatever the vendor uses.
NAME = 200
KEY = 500
SHORT = 32


def utcnow() -> datetime:
    """The current time, aware and in UTC: the only kind of time this database stores."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; naive values are refused, never guessed.

    PostgreSQL keeps ``timestamptz`` natively; SQLite stores the UTC wall time as text,
    which sorts and compares correctly because every value is in the same zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the state database stores aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def _check_in(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


# --------------------------------------------------------------------------- runs, files


class RunStatus(StrEnum):
    """How a run ended (or that it is still going)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    PARTIAL = "partial"


class Run(Base):
    """One execution of a stage (reconcile, plan, results pull, validate) for a connection.

    ``connection`` is empty for runs that concern a source only (``syncd validate``).
    ``message`` holds the refusal reason or error summary, never secrets.
    """

    __tablename__ = "runs"
    __table_args__ = (
        _check_in("status", RunStatus, "status"),
        Index(None, "connection", "kind", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str | None] = mapped_column(String(NAME))
    kind: Mapped[str] = mapped_column(String(SHORT))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(SHORT), default=RunStatus.RUNNING.value)
    planned: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    retried: Mapped[int] = mapped_column(default=0)
    dead: Mapped[int] = mapped_column(default=0)
    blocked: Mapped[int] = mapped_column(default=0)
    calls: Mapped[int] = mapped_column(default=0)
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    message: Mapped[str | None] = mapped_column(Text)


class SourceFile(Base):
    """One HRIS export as read: identity (hash, size, mtime) and row counts.

    The source-shrink safeguard compares a new file's ``rows_read`` with that of the last
    ``accepted`` file of the same source (the newest one a plan was enqueued from).
    The integrity gate compares its header, encoding, delimiter, empty shares and checksum
    with the last file the connection accepted; ``gate_check`` names the check that
    refused a file.
    """

    __tablename__ = "source_files"
    __table_args__ = (Index(None, "source", "accepted", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(NAME))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[datetime]
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted: Mapped[bool] = mapped_column(default=False)
    # The integrity gate's facts (plan/integrity.py), compared with the next export; None
    # on files recorded before the gate existed (those comparisons are skipped).
    header: Mapped[list[Any] | None] = mapped_column(JSON)
    encoding: Mapped[str | None] = mapped_column(String(SHORT))
    delimiter: Mapped[str | None] = mapped_column(String(8))
    empty_share: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inputs: Mapped[str | None] = mapped_column(String(64))
    gate_check: Mapped[str | None] = mapped_column(String(SHORT))
    """The integrity check that refused this file (None: it passed the gate)."""


class QuarantinedRow(Base):
    """A rejected HRIS row: where it was (file, line, column), why, and its values."""

    __tablename__ = "quarantine"
    __table_args__ = (Index(None, "source_file_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_files.id", ondelete="CASCADE")
    )
    path: Mapped[str] = mapped_column(Text)
    line: Mapped[int]
    column: Mapped[str | None] = mapped_column(String(NAME))
    reason: Mapped[str] = mapped_column(Text)
    key_value: Mapped[str | None] = mapped_column(String(KEY))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- the mirror


class AssignmentKind(StrEnum):
    """What can be assigned to a person."""

    COURSE = "course"
    LEARNING_PATH = "learning_path"


class MirrorUser(Base):
    """A person's LMS account as syncd last wrote or confirmed it.

    ``attrs`` is exactly what was last written/confirmed (LMS field -> string, in write
    order); ``attrs_hash`` is the plan's hash of it so an unchanged person costs one string
    comparison. ``remote_id`` is empty until the vendor has told us the account's id.
    """

    __tablename__ = "mirror_users"
    __table_args__ = (
        Index(None, "connection", "match_value"),
        Index(None, "connection", "remote_id"),
    )

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    remote_id: Mapped[str | None] = mapped_column(String(KEY))
    match_value: Mapped[str] = mapped_column(String(KEY))
    active: Mapped[bool] = mapped_column(default=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attrs_hash: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MirrorGroup(Base):
    """A team/group in the LMS, by its Roster key; ``parent_key`` is None at the top."""

    __tablename__ = "mirror_groups"

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    remote_id: Mapped[str | None] = mapped_column(String(KEY))
    name: Mapped[str] = mapped_column(String(KEY))
    parent_key: Mapped[str | None] = mapped_column(String(KEY))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MirrorMembership(Base):
    """A person in a group, as confirmed by the LMS.

    Keyed group first (the plan reads each group's members together), indexed by person
    too (the worker forgets a deleted user's memberships).
    """

    __tablename__ = "mirror_memberships"
    __table_args__ = (Index(None, "connection", "external_id"),)

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)


class MirrorAssignment(Base):
    """A course or learning path assigned to a person, as confirmed by the LMS.

    Indexed by course too: the plan reads each course's holders together
    (:mod:`syncd.state.mirror_query`), the worker writes one person's at a time.
    """

    __tablename__ = "mirror_assignments"
    __table_args__ = (
        _check_in("kind", AssignmentKind, "kind"),
        Index(None, "connection", "kind", "item_id", "external_id"),
    )

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    kind: Mapped[str] = mapped_column(String(SHORT), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)


# --------------------------------------------------------------------------- the outbox


class OutboxState(StrEnum):
    """Stored states of an outbox op (the machine itself is ``syncd.state.machine``)."""

    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"
    BLOCKED = "blocked"
    HELD = "held"
    REJECTED = "rejected"


class OutboxOp(Base):
    """One planned op in the durable queue; ``id`` is the FIFO order.

    ``payload`` is the op's plain data (``Op.to_payload()``); its dependencies are rows of
    :class:`OutboxDep`. ``next_attempt_at`` is always set (the enqueue time for a new op)
    so the claim query is one range scan of ``(connection, state, next_attempt_at, id)``.
    ``claimed_by``/``claimed_until`` are the worker's lease on the op. ``last_error`` is the
    vendor's reason, safe to print; ``result`` what the vendor answered (e.g. remote id).
    A ``held`` op waits for an operator: ``held_check`` names the safeguard (or
    ``dependency``, ``seat_budget``) that held it, ``held_reason`` says why in words and
    ``held_until`` is when the hold expires (the op is then dropped; the next plan decides
    again).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("connection", "idempotency_key"),
        _check_in("state", OutboxState, "state"),
        Index(None, "connection", "state", "next_attempt_at", "id"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    connection: Mapped[str] = mapped_column(String(NAME))
    idempotency_key: Mapped[str] = mapped_column(String(KEY))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(SHORT), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(NAME))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    held_check: Mapped[str | None] = mapped_column(String(64))
    held_reason: Mapped[str | None] = mapped_column(Text)
    held_until: Mapped[datetime | None]


class MirrorVersion(Base):
    """How many times a connection's mirror has changed: a saved plan records the number
    it was computed against, and ``syncd apply`` refuses when it has moved on."""

    __tablename__ = "mirror_versions"

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class OutboxDep(Base):
    """``op_id`` may run only once the op with key ``depends_on`` (same connection) is done.

    The worker's readiness test, indexed on both sides (``outbox``'s unique
    ``(connection, idempotency_key)`` and this table's primary key)::

        NOT EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox o2
                    ON o2.connection = d.connection AND o2.idempotency_key = d.depends_on
                    WHERE d.op_id = outbox.id AND o2.state <> 'done')

    A dependency whose key has no outbox row counts as met: the plan only names ops it also
    enqueues, so a missing row means the work was done and forgotten, never that it is due.
    """

    __tablename__ = "outbox_deps"
    __table_args__ = (Index(None, "connection", "depends_on"),)

    op_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    connection: Mapped[str] = mapped_column(String(NAME))


# --------------------------------------------------------------------------- results, cursors


class Result(Base):
    """A person's result on one learning item, as the LMS last reported it (one row each).

    Keyed on ``(connection, remote_user_id, item_kind, item_id)``; a pull upserts and
    writes a row only when something in it changed, stamping ``revision`` (the
    connection's pull counter, see :mod:`syncd.state.results`) and ``seen_at`` (when syncd
    recorded this version). ``external_id`` is the HRIS key (what the export is keyed
    by); None for a person syncd does not manage. ``previous_status`` is the status this
    version replaced; ``regressed_at`` when the record last went backwards (a reset
    course). ``updated_at`` is the vendor's own change time. ``raw`` keeps a few vendor
    fields.
    """

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("connection", "remote_user_id", "item_kind", "item_id"),
        Index(None, "connection", "external_id", "item_kind", "item_id"),
        Index(None, "connection", "revision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(NAME))
    remote_user_id: Mapped[str] = mapped_column(String(KEY))
    item_kind: Mapped[str] = mapped_column(String(SHORT))
    item_id: Mapped[str] = mapped_column(String(KEY))
    external_id: Mapped[str | None] = mapped_column(String(KEY))
    username: Mapped[str | None] = mapped_column(String(KEY))
    item_name: Mapped[str | None] = mapped_column(String(KEY))
    course_id: Mapped[str | None] = mapped_column(String(KEY))
    status: Mapped[str] = mapped_column(String(SHORT))
    completed: Mapped[bool] = mapped_column(default=False)
    passed: Mapped[bool | None]
    percentage: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[int | None] = mapped_column(Integer)
    assigned_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    previous_status: Mapped[str | None] = mapped_column(String(SHORT))
    regressed_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Cursor(Base):
    """A watermark (e.g. the end of the last results window pulled), one small row each."""

    __tablename__ = "cursors"

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    value: Mapped[str] = mapped_column(String(KEY))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------- leases


class Lease(Base):
    """Who owns something (a connection, a credential) until when; see ``syncd.state.leases``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]


# --------------------------------------------------------------------------- absences


class Absentee(Base):
    """A synced person missing from the connection's latest accepted export(s): how many in a
    row, since when, the last such export's checksum, and whether their deprovisioning still
    waits for confirmation (``syncd.plan.absence``; written by ``syncd.state.absence``)."""

    __tablename__ = "absences"

    connection: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    exports: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime]
    export: Mapped[str] = mapped_column(String(64))
    pending: Mapped[bool]


# --------------------------------------------------------------------------- the journal


class AppliedOp(Base):
    """One op the LMS confirmed, with what it changed as the mirror held it before: the
    journal ``syncd undo`` inverts (``syncd.state.journal``).

    Written in the transaction that marks the op done, so the journal never names an op
    the mirror does not reflect. ``before`` holds only what the op's own payload cannot
    tell (an update's old match value, a group's old name and parent, whether a user was
    active); ``payload`` is the op as sent.
    """

    __tablename__ = "applied_ops"
    __table_args__ = (Index(None, "connection", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(NAME))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    idempotency_key: Mapped[str] = mapped_column(String(KEY))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    before: Mapped[dict[str, Any]]
    done_at: Mapped[datetime]
