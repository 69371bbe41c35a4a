"""Initial designation schema: the village-stats projection (per-worker state and per-village counters) and the
outbox / inbox / dead-letter tables of the event machinery.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from demimas_common.events.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_states",
        sa.Column("worker_id", sa.Uuid(), nullable=False),
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("procedural", sa.Boolean(), nullable=True),
        sa.Column("procedural_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
        schema="designation",
    )
    op.create_table(
        "village_counts",
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("counter", sa.Text(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("village_code", "counter"),
        schema="designation",
    )
    create_event_tables("designation")


def downgrade() -> None:
    for table in ("village_counts", "worker_states"):
        op.drop_table(table, schema="designation")
    drop_event_tables("designation")
