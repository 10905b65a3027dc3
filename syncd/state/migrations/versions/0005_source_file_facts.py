"""Keep what the export integrity gate compares with each accepted export.

The gate (``syncd/plan/integrity.py``) judges a new export against the last one the
connection accepted: its header, encoding, delimiter, share of empty values per mapped
column, and a digest of the configuration and day it was planned under (the same file
under a new mapping is news). ``gate_check`` names the check that refused a file, which
the metrics scrape counts. Every column is nullable: files recorded before this revision
have no facts, and the gate skips those comparisons rather than failing them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHORT = 32
COLUMNS = ("header", "encoding", "delimiter", "empty_share", "inputs", "gate_check")


def upgrade() -> None:
    with op.batch_alter_table("source_files") as batch:
        batch.add_column(sa.Column("header", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("encoding", sa.String(length=SHORT), nullable=True))
        batch.add_column(sa.Column("delimiter", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("empty_share", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("inputs", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("gate_check", sa.String(length=SHORT), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_files") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
