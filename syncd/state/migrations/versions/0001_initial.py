"""Initial schema: runs, source files, quarantine, the mirror, outbox, results, cursors, leases.

Written against plain SQLAlchemy types (not syncd's Python-side ones, e.g. ``UTCDateTime``
is ``DateTime(timezone=True)`` here) so that this script means the same forever, whatever
later code does. Names follow ``syncd.state.models.NAMING``.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 200
KEY = 500
SHORT = 32


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _str("source", NAME),
        sa.Column("path", sa.Text(), nullable=False),
        _str("sha256", 64),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _time("mtime"),
        _int("rows_read"),
        _int("rows_accepted"),
        _int("rows_rejected"),
        _time("read_at"),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_source_files"),
    )
    op.create_index(
        "ix_source_files_source_accepted_id", "source_files", ["source", "accepted", "id"]
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _str("connection", NAME, nullable=True),
        _str("kind", SHORT),
        _time("started_at"),
        _time("finished_at", nullable=True),
        _str("status", SHORT),
        _int("planned"),
        _int("done"),
        _int("retried"),
        _int("dead"),
        _int("blocked"),
        _int("calls"),
        _int("source_file_id", nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'refused', 'partial')",
            name="ck_runs_status",
        ),
        sa.ForeignKeyConstraint(
            ["source_file_id"], ["source_files.id"], name="fk_runs_source_file_id_source_files"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index(
        "ix_runs_connection_kind_started_at", "runs", ["connection", "kind", "started_at"]
    )

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _int("source_file_id", nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        _int("line"),
        _str("column", NAME, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _str("key_value", KEY, nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["source_file_id"],
            ["source_files.id"],
            name="fk_quarantine_source_file_id_source_files",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
    )
    op.create_index("ix_quarantine_source_file_id_line", "quarantine", ["source_file_id", "line"])

    op.create_table(
        "mirror_users",
        _str("connection", NAME),
        _str("external_id", KEY),
        _str("remote_id", KEY, nullable=True),
        _str("match_value", KEY),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("attrs", sa.JSON(), nullable=False),
        _str("attrs_hash", 128),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("connection", "external_id", name="pk_mirror_users"),
    )
    op.create_index(
        "ix_mirror_users_connection_match_value", "mirror_users", ["connection", "match_value"]
    )
    op.create_index(
        "ix_mirror_users_connection_remote_id", "mirror_users", ["connection", "remote_id"]
    )

    op.create_table(
        "mirror_groups",
        _str("connection", NAME),
        _str("key", KEY),
        _str("remote_id", KEY, nullable=True),
        _str("name", KEY),
        _str("parent_key", KEY, nullable=True),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("connection", "key", name="pk_mirror_groups"),
    )

    op.create_table(
        "mirror_memberships",
        _str("connection", NAME),
        _str("group_key", KEY),
        _str("external_id", KEY),
        sa.PrimaryKeyConstraint(
            "connection", "group_key", "external_id", name="pk_mirror_memberships"
        ),
    )

    op.create_table(
        "mirror_assignments",
        _str("connection", NAME),
        _str("external_id", KEY),
        _str("kind", SHORT),
        _str("item_id", KEY),
        sa.CheckConstraint(
            "kind IN ('course', 'learning_path')", name="ck_mirror_assignments_kind"
        ),
        sa.PrimaryKeyConstraint(
            "connection", "external_id", "kind", "item_id", name="pk_mirror_assignments"
        ),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _int("run_id"),
        _str("connection", NAME),
        _str("idempotency_key", KEY),
        _str("kind", 64),
        sa.Column("payload", sa.JSON(), nullable=False),
        _str("state", SHORT),
        _int("attempts"),
        _time("next_attempt_at"),
        _str("claimed_by", NAME, nullable=True),
        _time("claimed_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(
            "state IN ('pending', 'claimed', 'done', 'retry', 'dead', 'blocked')",
            name="ck_outbox_state",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_outbox_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint(
            "connection", "idempotency_key", name="uq_outbox_connection_idempotency_key"
        ),
    )
    op.create_index(
        "ix_outbox_connection_state_next_attempt_at_id",
        "outbox",
        ["connection", "state", "next_attempt_at", "id"],
    )
    op.create_index("ix_outbox_run_id", "outbox", ["run_id"])

    op.create_table(
        "outbox_deps",
        _int("op_id"),
        _str("depends_on", KEY),
        _str("connection", NAME),
        sa.ForeignKeyConstraint(
            ["op_id"], ["outbox.id"], name="fk_outbox_deps_op_id_outbox", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("op_id", "depends_on", name="pk_outbox_deps"),
    )
    op.create_index(
        "ix_outbox_deps_connection_depends_on", "outbox_deps", ["connection", "depends_on"]
    )

    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _str("connection", NAME),
        _str("external_id", KEY, nullable=True),
        _str("remote_user_id", KEY),
        _str("item_kind", SHORT),
        _str("item_id", KEY),
        _str("item_name", KEY, nullable=True),
        _str("status", 64, nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        _time("started_at", nullable=True),
        _time("completed_at", nullable=True),
        _time("updated_at", nullable=True),
        _time("pulled_at"),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
        sa.UniqueConstraint(
            "connection",
            "remote_user_id",
            "item_kind",
            "item_id",
            name="uq_results_connection_remote_user_id_item_kind_item_id",
        ),
    )
    op.create_index("ix_results_connection_external_id", "results", ["connection", "external_id"])
    op.create_index("ix_results_connection_updated_at", "results", ["connection", "updated_at"])

    op.create_table(
        "cursors",
        _str("connection", NAME),
        _str("name", NAME),
        _str("value", KEY),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("connection", "name", name="pk_cursors"),
    )

    op.create_table(
        "leases",
        _str("name", KEY),
        _str("holder", NAME),
        _time("expires_at"),
        _time("acquired_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes on both databases.
    for table in (
        "leases",
        "cursors",
        "results",
        "outbox_deps",
        "outbox",
        "mirror_assignments",
        "mirror_memberships",
        "mirror_groups",
        "mirror_users",
        "quarantine",
        "runs",
        "source_files",
    ):
        op.drop_table(table)
