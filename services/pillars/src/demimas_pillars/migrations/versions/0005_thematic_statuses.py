"""Thematic statuses: which villages are in which partner ministry's thematic-village programme (domain/thematic.py),
at most one ACTIVE status per village and programme (the partial unique index), and the overlap query's path:
villages with an ACTIVE status, by programme and code.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = [
    """CREATE TABLE pillars.thematic_statuses (
    id uuid PRIMARY KEY, village_code text COLLATE "C" NOT NULL, programme text NOT NULL, agency text NOT NULL,
    since date NOT NULL, reference text NOT NULL, status text NOT NULL, version integer NOT NULL,
    ended_on date, end_reason text, updated_at timestamptz NOT NULL, updated_by text NOT NULL)""",
    """CREATE UNIQUE INDEX thematic_statuses_active ON pillars.thematic_statuses (village_code, programme)
    WHERE status = 'ACTIVE'""",
    """CREATE INDEX thematic_statuses_programme ON pillars.thematic_statuses (programme, village_code)
    WHERE status = 'ACTIVE'""",
    "CREATE INDEX thematic_statuses_village ON pillars.thematic_statuses (village_code, programme, since)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE pillars.thematic_statuses")
