"""Protection cases for the pillar progress: the `case-counts` consumer keeps each case of the cases service as its
last status and version, its opening day and latest resolution day (domain/cases.py); `pillarProgress` counts a
village's cases opened and resolved in its window through the two indexes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = [
    """CREATE TABLE pillars.protection_cases (
    case_id uuid PRIMARY KEY, village_code text COLLATE "C" NOT NULL, kind text NOT NULL, status text NOT NULL,
    version integer NOT NULL, from_overdue boolean NOT NULL, opened_on date, resolved_on date,
    resolved_version integer NOT NULL)""",
    "CREATE INDEX protection_cases_opened ON pillars.protection_cases (village_code, opened_on)",
    "CREATE INDEX protection_cases_resolved ON pillars.protection_cases (village_code, resolved_on)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE pillars.protection_cases")
