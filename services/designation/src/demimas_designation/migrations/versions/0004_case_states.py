"""The case-stats projection: each protection case's last known state, from the cases service's events, for the
SUSTAINED_PROTECTION criterion (domain/case_stats.py). Escalations and the versions that answered them are JSONB:
they are read and written whole with the case, never queried inside; `overdue` is derived from them at each write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "designation"


def upgrade() -> None:
    op.create_table(
        "case_states",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_overdue", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_version", sa.Integer(), nullable=False),
        sa.Column("resolution_days", sa.Float(), nullable=True),
        sa.Column("escalations", postgresql.JSONB(), nullable=False),
        sa.Column("answers", postgresql.JSONB(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        schema=S,
    )
    op.create_index("ix_designation_case_states_village_code", "case_states", ["village_code"], schema=S)


def downgrade() -> None:
    op.drop_table("case_states", schema=S)
