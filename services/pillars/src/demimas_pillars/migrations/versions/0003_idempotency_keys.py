"""Idempotency keys: a create sent again with the key of an earlier attempt (its answer lost) returns what that
attempt made instead of making it twice. One row per agency and key (the primary key is the unique index two
concurrent attempts meet on), with the operation, a SHA-256 fingerprint of its input (the same key with another input
is refused) and the id of the row it made. Written in the create's transaction, so a key exists if and only if its
row does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE pillars.idempotency_keys (
    agency text NOT NULL, key text COLLATE "C" NOT NULL, operation text NOT NULL, fingerprint text NOT NULL,
    resource_id uuid NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (agency, key))
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP TABLE pillars.idempotency_keys")
