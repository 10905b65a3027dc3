"""Index the mirror's assignments by course: the plan reads them one course at a time.

`syncd plan` fetches each course's or learning path's holders as one joined text (a few
rows for millions of assignments). Walking this index yields the rows already grouped,
so the database neither sorts them nor joins the kind and item id of every row: half the
time of reading a million people's courses on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_mirror_assignments_connection_kind_item_id_external_id"


def upgrade() -> None:
    op.create_index(INDEX, "mirror_assignments", ["connection", "kind", "item_id", "external_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="mirror_assignments")
