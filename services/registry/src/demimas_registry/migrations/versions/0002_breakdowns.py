"""MigrantStats breakdowns (issue 20): `departures.occupation_code` (KBJI 2014, optional), and the village counters
of the new dimensions backfilled from the rows: `education` and `sex` of every worker, `sector` and `occupation`
(KBJI major group, UNCLASSIFIED without a code) of the latest departure of every worker abroad. From here on they
move by delta with every change, as the others do (domain/stats.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = ("education", "sex", "sector", "occupation")

BACKFILL = """
INSERT INTO registry.village_stats (village_code, dimension, key, count)
SELECT village_code, dimension, key, n FROM (
    SELECT village_code, 'education' AS dimension, education AS key, count(*) AS n
      FROM registry.workers GROUP BY village_code, education
    UNION ALL
    SELECT village_code, 'sex', sex, count(*) FROM registry.workers GROUP BY village_code, sex
    UNION ALL
    SELECT w.village_code, 'sector', d.sector, count(*)
      FROM registry.workers w JOIN registry.departures d ON d.id = w.latest_departure_id
     WHERE w.status = 'ABROAD' GROUP BY w.village_code, d.sector
    UNION ALL
    SELECT w.village_code, 'occupation', coalesce(left(d.occupation_code, 1), 'UNCLASSIFIED'), count(*)
      FROM registry.workers w JOIN registry.departures d ON d.id = w.latest_departure_id
     WHERE w.status = 'ABROAD' GROUP BY w.village_code, coalesce(left(d.occupation_code, 1), 'UNCLASSIFIED')
) AS counted
ORDER BY village_code COLLATE "C", dimension COLLATE "C", key COLLATE "C"
ON CONFLICT (village_code, dimension, key) DO UPDATE SET count = EXCLUDED.count
"""


def upgrade() -> None:
    op.add_column("departures", sa.Column("occupation_code", sa.Text(), nullable=True), schema="registry")
    # Writers wait while the counters are counted, so none is missed or counted twice.
    op.execute("LOCK TABLE registry.workers, registry.departures IN SHARE MODE")
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM registry.village_stats WHERE dimension = ANY(:dims)").bindparams(dims=list(DIMENSIONS))
    )
    op.drop_column("departures", "occupation_code", schema="registry")
