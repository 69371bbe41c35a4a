"""Case counts kept by a trigger, for `cases { totalCount }` without counting rows.

`case_counts` holds how many cases there are per region, status, kind and phase, for every level of a village's
Kemendagri code ('' for the whole country, the province, the regency, the district and the village itself) and
twice over: under agency '' every case (what KP2MI, BP3MI and DISNAKER see in their region), and under each agency a
case was referred to (what KemenPPPA, Kemenimipas and BNN see). A count for a region prefix and filter is then one
index lookup and a sum over at most 7 x 7 x 3 rows, however many cases the region has (adapters/counts.py).

A row trigger on `cases` applies the change of each inserted, updated (only when one of the counted columns
changed) or deleted case in one statement whose rows are sorted by key, so that concurrent transactions lock the
count rows in the same order (no deadlock between two of them). `rebuild_case_counts()` recomputes the whole table
from `cases` (the backfill below; the benchmark's bulk load, which copies with the triggers off, calls it too).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DDL = [
    """CREATE TABLE cases.case_counts (
        region text COLLATE "C" NOT NULL, agency text NOT NULL, status text NOT NULL, kind text NOT NULL,
        phase text NOT NULL, n bigint NOT NULL, PRIMARY KEY (region, agency, status, kind, phase))""",
    """CREATE FUNCTION cases.case_count_keys(village text, referred text[])
        RETURNS TABLE (region text, agency text) LANGUAGE sql IMMUTABLE AS $$
        SELECT DISTINCT r, a
        FROM unnest(ARRAY['', left(village, 2), left(village, 5), left(village, 8), village]) AS r
        CROSS JOIN unnest(array_prepend('', coalesce(referred, '{}'))) AS a
    $$""",
    """CREATE FUNCTION cases.count_cases() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND (OLD.village_code, OLD.status, OLD.kind, OLD.phase, OLD.referred_to)
                IS NOT DISTINCT FROM (NEW.village_code, NEW.status, NEW.kind, NEW.phase, NEW.referred_to) THEN
            RETURN NULL;
        END IF;
        INSERT INTO cases.case_counts AS t (region, agency, status, kind, phase, n)
        SELECT k.region, k.agency, d.status, d.kind, d.phase, sum(d.n)
        FROM (
            SELECT OLD.village_code AS village, OLD.referred_to AS referred, OLD.status AS status,
                   OLD.kind AS kind, OLD.phase AS phase, -1 AS n
            WHERE TG_OP IN ('UPDATE', 'DELETE')
            UNION ALL
            SELECT NEW.village_code, NEW.referred_to, NEW.status, NEW.kind, NEW.phase, 1
            WHERE TG_OP IN ('UPDATE', 'INSERT')
        ) AS d CROSS JOIN LATERAL cases.case_count_keys(d.village, d.referred) AS k
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(d.n) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (region, agency, status, kind, phase) DO UPDATE SET n = t.n + excluded.n;
        RETURN NULL;
    END
    $$""",
    """CREATE FUNCTION cases.rebuild_case_counts() RETURNS void LANGUAGE sql AS $$
        DELETE FROM cases.case_counts;
        INSERT INTO cases.case_counts (region, agency, status, kind, phase, n)
        SELECT k.region, k.agency, c.status, c.kind, c.phase, count(*)
        FROM cases.cases AS c CROSS JOIN LATERAL cases.case_count_keys(c.village_code, c.referred_to) AS k
        GROUP BY 1, 2, 3, 4, 5;
    $$""",
    "LOCK TABLE cases.cases IN SHARE ROW EXCLUSIVE MODE",
    """CREATE TRIGGER cases_count AFTER INSERT OR UPDATE OR DELETE ON cases.cases
        FOR EACH ROW EXECUTE FUNCTION cases.count_cases()""",
    "SELECT cases.rebuild_case_counts()",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER cases_count ON cases.cases")
    op.execute("DROP FUNCTION cases.rebuild_case_counts()")
    op.execute("DROP FUNCTION cases.count_cases()")
    op.execute("DROP FUNCTION cases.case_count_keys(text, text[])")
    op.execute("DROP TABLE cases.case_counts")
