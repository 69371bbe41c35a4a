"""Format 2 of the chain: records carry one digest per hashed column (event, stream sequence, recording time) and
their hash covers those digests, so the store's own facts are in the chain too. Existing records keep format 1
(`digests` NULL): their hashes, the signed checkpoints over them and exports of them verify as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Table-level grants (INSERT, SELECT) and revocations (UPDATE, DELETE, TRUNCATE) cover the new column as well.
    op.execute("ALTER TABLE audit.records ADD COLUMN digests bytea")


def downgrade() -> None:
    written = op.get_bind().scalar(text("SELECT count(*) FROM audit.records WHERE digests IS NOT NULL"))
    if written:
        raise RuntimeError(
            f"{written} audit records are in format 2: without their digests they would no longer verify; "
            "keep revision 0002 (export the chain first if the store must be rebuilt)"
        )
    op.execute("ALTER TABLE audit.records DROP COLUMN digests")
