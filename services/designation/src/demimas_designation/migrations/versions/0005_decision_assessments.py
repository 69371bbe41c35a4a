"""The assessment that justified a decision, frozen when KP2MI approves or rejects a proposal (issue 20): the
criteria results (status, value, source, and the protection-case figures cited), the threshold in force and the
evidence the assessment read, as they were. JSONB: read and written whole, never queried inside.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "designation"


def upgrade() -> None:
    op.create_table(
        "decision_assessments",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("procedural_threshold", sa.Float(), nullable=False),
        sa.Column("results", postgresql.JSONB(), nullable=False),
        sa.Column("evidence", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], [f"{S}.proposals.id"]),
        sa.PrimaryKeyConstraint("proposal_id"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("decision_assessments", schema=S)
