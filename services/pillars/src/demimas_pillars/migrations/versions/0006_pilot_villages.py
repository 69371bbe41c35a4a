"""Multi-village pilots: `pilot_villages` holds every village of a pilot (the lead, still `pilots.village_code`, among
them, backfilled from each existing pilot), a milestone may concern one of them (`milestones.village_code`), and
`milestones.overdue_notified_on` marks the milestones whose `demimas.pillars.milestone.overdue` event was written
(set in the transaction that writes the event to the outbox, so that the periodic job emits it once across replicas).

Revision ID: 0006
Revises: 0004 (the thematic statuses' 0005 is built in parallel; the two are chained at merge)
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = [
    """CREATE TABLE pillars.pilot_villages (
    pilot_id uuid NOT NULL REFERENCES pillars.pilots (id), village_code text COLLATE "C" NOT NULL,
    lead boolean NOT NULL, added_at timestamptz NOT NULL, PRIMARY KEY (pilot_id, village_code))""",
    "CREATE INDEX pilot_villages_village ON pillars.pilot_villages (village_code, pilot_id)",
    "CREATE UNIQUE INDEX pilot_villages_one_lead ON pillars.pilot_villages (pilot_id) WHERE lead",
    """INSERT INTO pillars.pilot_villages (pilot_id, village_code, lead, added_at)
    SELECT id, village_code, true, created_at FROM pillars.pilots""",
    'ALTER TABLE pillars.milestones ADD COLUMN village_code text COLLATE "C"',
    "ALTER TABLE pillars.milestones ADD COLUMN overdue_notified_on date",
    """CREATE INDEX milestones_overdue_pending ON pillars.milestones (due_date)
    WHERE completed_on IS NULL AND overdue_notified_on IS NULL""",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX pillars.milestones_overdue_pending")
    op.execute("ALTER TABLE pillars.milestones DROP COLUMN overdue_notified_on")
    op.execute("ALTER TABLE pillars.milestones DROP COLUMN village_code")
    op.execute("DROP TABLE pillars.pilot_villages")
