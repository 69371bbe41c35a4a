"""The cases service's reads of personal data (`demimas.cases.personal_data.accessed`) join a worker's access log:
a partial GIN index on the workers they name, as 0001 made for the registry's reads. Only the new type's rows are
indexed (none exist before the cases service runs), so the registry's index is left as it is rather than rebuilt
over every read it already holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX records_cases_accessed_workers ON audit.records USING gin ((event -> 'data' -> 'workerIds')) "
        "WHERE type = 'demimas.cases.personal_data.accessed'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX audit.records_cases_accessed_workers")
