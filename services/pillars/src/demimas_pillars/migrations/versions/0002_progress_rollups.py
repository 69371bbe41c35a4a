"""Progress rollups: per village, pillar and day the activities and anonymous people reached, and the summed outputs;
per village, pillar and registered person the last day they took part. `pillarProgress` then sums at most a year of
days instead of scanning every activity (a busy village has thousands a year), and a person counts once per pillar
in the window because the window always ends today (no activity lies in the future). The figures ride in the
primary keys (INCLUDE), so a year of a busy village is an index-only scan, not a heap page per day. Backfilled from
the activities already recorded; the village/date indexes of outputs and participants (only progress used them) are
dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = """
CREATE TABLE pillars.activity_daily (
    village_code text COLLATE "C" NOT NULL, day date NOT NULL, pillar text NOT NULL,
    activities integer NOT NULL, anonymous_reached integer NOT NULL,
    PRIMARY KEY (village_code, day, pillar) INCLUDE (activities, anonymous_reached));
CREATE TABLE pillars.output_daily (
    village_code text COLLATE "C" NOT NULL, day date NOT NULL, pillar text NOT NULL, kind text NOT NULL,
    value bigint NOT NULL, PRIMARY KEY (village_code, day, pillar, kind) INCLUDE (value));
CREATE TABLE pillars.participant_last (
    village_code text COLLATE "C" NOT NULL, pillar text NOT NULL, person_id uuid NOT NULL, last_on date NOT NULL,
    PRIMARY KEY (village_code, pillar, person_id));
CREATE INDEX participant_last_village_day ON pillars.participant_last (village_code, last_on) INCLUDE (pillar);
INSERT INTO pillars.activity_daily
    SELECT village_code, occurred_on, pillar, count(*), sum(anonymous_reached) FROM pillars.activities
    GROUP BY village_code, occurred_on, pillar;
INSERT INTO pillars.output_daily
    SELECT village_code, occurred_on, pillar, kind, sum(value) FROM pillars.activity_outputs
    GROUP BY village_code, occurred_on, pillar, kind;
INSERT INTO pillars.participant_last
    SELECT village_code, pillar, person_id, max(occurred_on) FROM pillars.activity_participants
    GROUP BY village_code, pillar, person_id;
DROP INDEX pillars.activity_outputs_village_date;
DROP INDEX pillars.activity_participants_village_date
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("CREATE INDEX activity_outputs_village_date ON pillars.activity_outputs (village_code, occurred_on) "
               "INCLUDE (pillar, kind, value)")  # fmt: skip
    op.execute("CREATE INDEX activity_participants_village_date ON pillars.activity_participants "
               "(village_code, occurred_on) INCLUDE (pillar, person_id)")  # fmt: skip
    for table in ("participant_last", "output_daily", "activity_daily"):
        op.execute(f"DROP TABLE pillars.{table}")
