"""Held and rejected ops, and a version number per connection's mirror.

A safeguard that trips no longer refuses the whole plan: the risky ops are stored
``held`` (with the check that held them, why, and until when the hold lasts) while the
safe ones go out; an operator approves (back to ``pending``) or rejects them
(``rejected``: kept, so a later plan asking for the same change does not send it).
``mirror_versions`` counts the changes to each connection's mirror, so a saved plan can
tell that the mirror it was computed against has moved on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 200
SHORT = 32
BEFORE = ("pending", "claimed", "done", "retry", "dead", "blocked")
AFTER = (*BEFORE, "held", "rejected")


def _states(states: Sequence[str]) -> str:
    return "state IN ({})".format(", ".join(f"'{s}'" for s in states))


CHECK = "ck_outbox_state"
"""The states check's name by the models' convention (0001 left it named
``ck_outbox_ck_outbox_state``: the convention applied to a full name)."""


def _drop_states_check(batch: BatchOperations) -> None:
    """Drop the states check under whichever name it has."""
    checks = sa.inspect(op.get_bind()).get_check_constraints("outbox")
    for name in {str(check["name"]) for check in checks} & {CHECK, f"ck_outbox_{CHECK}"}:
        batch.drop_constraint(op.f(name), type_="check")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        _drop_states_check(batch)
        batch.create_check_constraint(op.f(CHECK), _states(AFTER))
        batch.add_column(sa.Column("held_check", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("held_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "mirror_versions",
        sa.Column("connection", sa.String(length=NAME), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("connection", name="pk_mirror_versions"),
    )


def downgrade() -> None:
    op.drop_table("mirror_versions")
    op.execute("DELETE FROM outbox WHERE state IN ('held', 'rejected')")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("held_until")
        batch.drop_column("held_reason")
        batch.drop_column("held_check")
        batch.drop_constraint(op.f("ck_outbox_state"), type_="check")
        batch.create_check_constraint("state", _states(BEFORE))
