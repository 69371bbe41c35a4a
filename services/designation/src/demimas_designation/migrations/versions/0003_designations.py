"""Designations with their transitions; one current (not revoked) designation per village.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "designation"


def upgrade() -> None:
    op.create_table(
        "designations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("decree_number", sa.Text(), nullable=False),
        sa.Column("decree_date", sa.Date(), nullable=False),
        sa.Column("programme", sa.Text(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], [f"{S}.proposals.id"]),
        sa.PrimaryKeyConstraint("id"),
        schema=S,
    )
    op.create_index(
        "designations_one_current_per_village",
        "designations",
        ["village_code"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status <> 'REVOKED'"),
    )
    op.create_table(
        "designation_transitions",
        sa.Column("designation_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("sub", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["designation_id"], [f"{S}.designations.id"]),
        sa.PrimaryKeyConstraint("designation_id", "seq"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("designation_transitions", schema=S)
    op.drop_table("designations", schema=S)
