"""Index the mirror's assignments by course and its memberships by person.

`syncd plan` fetches each course's or learning path's holders as one joined text (a few
rows for millions of assignments). Walking the first index yields the rows already
grouped, so the database neither sorts them nor joins the kind and item id of every row:
half the time of reading a million people's courses on SQLite. The second lets the worker
forget a deleted user's memberships without scanning every membership of the connection
(their primary key starts with the group).

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

INDEXES = {
    "ix_mirror_assignments_connection_kind_item_id_external_id": (
        "mirror_assignments",
        ["connection", "kind", "item_id", "external_id"],
    ),
    "ix_mirror_memberships_connection_external_id": (
        "mirror_memberships",
        ["connection", "external_id"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
