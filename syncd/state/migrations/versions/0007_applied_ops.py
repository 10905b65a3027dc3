"""The journal of applied ops: each op the LMS confirmed, with its before-image.

``syncd undo RUN_ID`` builds the inverse of a run from these rows: what each op changed,
as the mirror held it before the op was confirmed. Written in the transaction that marks
the op done.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-13
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 200
KEY = 500


def upgrade() -> None:
    op.create_table(
        "applied_ops",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=NAME), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=KEY), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_applied_ops_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_applied_ops"),
    )
    op.create_index("ix_applied_ops_connection_run_id", "applied_ops", ["connection", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_applied_ops_connection_run_id", table_name="applied_ops")
    op.drop_table("applied_ops")
