"""Import progress (issue 20): a job is written when its file starts importing (`RUNNING`), its rows read so far
and a heartbeat are updated while it runs, and its result is written when it ends. A running job whose heartbeat
has stopped (its process died) is read as `INTERRUPTED`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "import_jobs",
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="registry",
    )


def downgrade() -> None:
    op.drop_column("import_jobs", "heartbeat_at", schema="registry")
