"""Results as the pulls and the export need them: one normalized row per person and item.

The first schema's ``results`` table was never written (no pull existed), so it is
replaced rather than altered: the new one adds what HR reads (username, course id,
percentage, seconds tracked, assigned and expiry dates), what a regression needs
(``previous_status``, ``regressed_at``) and the connection's pull ``revision`` that an
export of "the changes since the last export" selects by (indexed), in place of
``pulled_at``; its index on the HRIS key also holds the item, in the export's order, so an
export of a million rows is read in order instead of sorted. The downgrade puts the first
shape back (empty, as it always was).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 200
KEY = 500
SHORT = 32
UNIQUE = "uq_results_connection_remote_user_id_item_kind_item_id"


def _time(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.drop_index("ix_results_connection_updated_at", table_name="results")
    op.drop_index("ix_results_connection_external_id", table_name="results")
    op.drop_table("results")
    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _str("connection", NAME),
        _str("remote_user_id", KEY),
        _str("item_kind", SHORT),
        _str("item_id", KEY),
        _str("external_id", KEY, nullable=True),
        _str("username", KEY, nullable=True),
        _str("item_name", KEY, nullable=True),
        _str("course_id", KEY, nullable=True),
        _str("status", SHORT),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("percentage", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        _time("assigned_at"),
        _time("started_at"),
        _time("completed_at"),
        _time("expires_at"),
        _time("updated_at"),
        _str("previous_status", SHORT, nullable=True),
        _time("regressed_at"),
        sa.Column("revision", sa.Integer(), nullable=False),
        _time("seen_at", nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
        sa.UniqueConstraint("connection", "remote_user_id", "item_kind", "item_id", name=UNIQUE),
    )
    op.create_index(
        "ix_results_connection_external_id_item_kind_item_id",
        "results",
        ["connection", "external_id", "item_kind", "item_id"],
    )
    op.create_index("ix_results_connection_revision", "results", ["connection", "revision"])


def downgrade() -> None:
    op.drop_index("ix_results_connection_revision", table_name="results")
    op.drop_index("ix_results_connection_external_id_item_kind_item_id", table_name="results")
    op.drop_table("results")
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
        _time("started_at"),
        _time("completed_at"),
        _time("updated_at"),
        _time("pulled_at", nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
        sa.UniqueConstraint("connection", "remote_user_id", "item_kind", "item_id", name=UNIQUE),
    )
    op.create_index("ix_results_connection_external_id", "results", ["connection", "external_id"])
    op.create_index("ix_results_connection_updated_at", "results", ["connection", "updated_at"])
