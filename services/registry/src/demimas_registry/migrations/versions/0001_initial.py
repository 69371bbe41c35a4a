"""Initial registry schema: villages reference, workers, movements, families, village statistics, and the
outbox / inbox / dead-letter tables of the event machinery.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from demimas_common.events.migrations import create_event_tables, drop_event_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "village_stats",
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("dimension", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("village_code", "dimension", "key"),
        schema="registry",
    )
    op.create_table(
        "villages",
        sa.Column("code", sa.Text(collation="C"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("district_code", sa.Text(collation="C"), nullable=False),
        sa.Column("district_name", sa.Text(), nullable=False),
        sa.Column("regency_code", sa.Text(collation="C"), nullable=False),
        sa.Column("regency_name", sa.Text(), nullable=False),
        sa.Column("province_code", sa.Text(collation="C"), nullable=False),
        sa.Column("province_name", sa.Text(), nullable=False),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
        schema="registry",
    )
    op.create_index("villages_regency", "villages", ["regency_code", "code"], unique=False, schema="registry")
    op.create_table(
        "workers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("nik", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("education", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("passport_number", sa.Text(), nullable=True),
        sa.Column("village_code", sa.Text(collation="C"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("nik_warnings", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("latest_departure_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_code"],
            ["registry.villages.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nik"),
        schema="registry",
    )
    op.create_index("workers_village", "workers", ["village_code", "id"], unique=False, schema="registry")
    op.create_index("workers_status", "workers", ["status", "id"], unique=False, schema="registry")
    op.create_table(
        "departures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("worker_id", sa.Uuid(), nullable=False),
        sa.Column("destination_country", sa.Text(), nullable=False),
        sa.Column("sector", sa.Text(), nullable=False),
        sa.Column("occupation", sa.Text(), nullable=False),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("procedural", sa.Boolean(), nullable=False),
        sa.Column("employer", sa.Text(), nullable=True),
        sa.Column("departure_date", sa.Date(), nullable=False),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["registry.workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="registry",
    )
    op.create_index("departures_worker", "departures", ["worker_id", "departure_date"], unique=False, schema="registry")
    op.create_table(
        "family_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("worker_id", sa.Uuid(), nullable=False),
        sa.Column("relation", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("consent_given_by", sa.Text(), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("consent_basis", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["registry.workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="registry",
    )
    op.create_index("family_worker", "family_members", ["worker_id"], unique=False, schema="registry")
    op.create_table(
        "returns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("worker_id", sa.Uuid(), nullable=False),
        sa.Column("departure_id", sa.Uuid(), nullable=True),
        sa.Column("return_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["departure_id"],
            ["registry.departures.id"],
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["registry.workers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        schema="registry",
    )
    op.create_index("returns_worker", "returns", ["worker_id", "return_date"], unique=False, schema="registry")
    create_event_tables("registry")


def downgrade() -> None:
    for table in ("village_stats", "family_members", "returns", "departures", "workers", "villages"):
        op.drop_table(table, schema="registry")
    drop_event_tables("registry")
