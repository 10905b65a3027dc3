"""Absence confirmation: who is missing from a connection's recent accepted exports.

One small row per synced person missing from the latest accepted export: in how many
consecutive accepted exports, since when, the checksum of the last one (the same file read
again counts once) and whether their deprovisioning still waits. Written only with an
accepted reconcile's ops; rows of people back in the export are deleted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 200
KEY = 500


def upgrade() -> None:
    op.create_table(
        "absences",
        sa.Column("connection", sa.String(length=NAME), nullable=False),
        sa.Column("external_id", sa.String(length=KEY), nullable=False),
        sa.Column("exports", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("export", sa.String(length=64), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("connection", "external_id", name="pk_absences"),
    )


def downgrade() -> None:
    op.drop_table("absences")
