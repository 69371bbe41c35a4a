"""Proposals with their transitions (who, when, why) and evidence; one open proposal per village.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "designation"


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(collation="C"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decree_number", sa.Text(), nullable=True),
        sa.Column("decree_date", sa.Date(), nullable=True),
        sa.Column("eligibility_override", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        schema=S,
    )
    op.create_index(
        "proposals_one_open_per_village",
        "proposals",
        ["village_code"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status IN ('DRAFT', 'SUBMITTED', 'VERIFIED', 'ASSESSED')"),
    )
    op.create_index("proposals_village", "proposals", ["village_code"], schema=S)
    op.create_table(
        "proposal_transitions",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("sub", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["proposal_id"], [f"{S}.proposals.id"]),
        sa.PrimaryKeyConstraint("proposal_id", "seq"),
        schema=S,
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("sub", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], [f"{S}.proposals.id"]),
        sa.PrimaryKeyConstraint("id"),
        schema=S,
    )
    op.create_index("ix_designation_evidence_proposal_id", "evidence", ["proposal_id"], schema=S)


def downgrade() -> None:
    op.drop_table("evidence", schema=S)
    op.drop_table("proposal_transitions", schema=S)
    op.drop_table("proposals", schema=S)
