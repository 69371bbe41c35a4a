"""Pillar progress of many villages at once (the gateway asks for a page of villages in one `_entities` call), read
from the rollups written with each activity: at most a year of days per village and pillar, and the last day each
registered participant took part (the window ends today, so `last_on >= window_from` means "took part in it"); and
the village's protection cases opened or resolved in the window (a few rows per village, from the `case-counts`
consumer's table)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import ARRAY, Text, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_pillars.domain.progress import CaseCounts, PillarFigures, VillageProgress, progress_of
from demimas_pillars.domain.vocabulary import OutputKind, ServicePillar

__all__ = ["progress_of_villages", "rebuild_rollups"]


# One round trip for the four aggregates (tagged rows), an index-only range scan each for the rollups.
_PROGRESS = text(
    """
    SELECT 'a' AS tag, village_code, pillar, NULL AS kind, sum(activities) AS n, sum(anonymous_reached) AS m,
           max(day) AS last
      FROM pillars.activity_daily
     WHERE village_code = ANY(:villages) AND day BETWEEN :window_from AND :window_to
     GROUP BY village_code, pillar
    UNION ALL
    SELECT 'p', village_code, pillar, NULL, count(*), NULL, NULL
      FROM pillars.participant_last
     WHERE village_code = ANY(:villages) AND last_on BETWEEN :window_from AND :window_to
     GROUP BY village_code, pillar
    UNION ALL
    SELECT 'o', village_code, pillar, kind, sum(value), NULL, NULL
      FROM pillars.output_daily
     WHERE village_code = ANY(:villages) AND day BETWEEN :window_from AND :window_to
     GROUP BY village_code, pillar, kind
    UNION ALL
    SELECT 'c', village_code, NULL, NULL, count(*) FILTER (WHERE opened_on BETWEEN :window_from AND :window_to),
           count(*) FILTER (WHERE resolved_on BETWEEN :window_from AND :window_to AND status IN ('RESOLVED', 'CLOSED')),
           NULL
      FROM pillars.protection_cases
     WHERE village_code = ANY(:villages)
       AND (opened_on BETWEEN :window_from AND :window_to OR resolved_on BETWEEN :window_from AND :window_to)
     GROUP BY village_code
    """
).bindparams(bindparam("villages", type_=ARRAY(Text)))


async def progress_of_villages(
    conn: AsyncConnection, villages: list[str], *, window_from: dt.date, window_to: dt.date
) -> dict[str, VillageProgress]:
    rows = await conn.execute(_PROGRESS, {"villages": villages, "window_from": window_from, "window_to": window_to})
    counted: list[tuple[str, str, int, int, dt.date]] = []
    reached: dict[tuple[str, str], int] = {}
    outputs: dict[tuple[str, str], dict[OutputKind, int]] = defaultdict(dict)
    cases: dict[str, CaseCounts] = {}
    for tag, v, pillar, kind, n, m, last in rows:
        if tag == "a":
            counted.append((v, pillar, int(n), int(m or 0), last))
        elif tag == "p":
            reached[(v, pillar)] = int(n)
        elif tag == "c":
            cases[v] = CaseCounts(opened=int(n), resolved=int(m))
        else:
            outputs[(v, pillar)][OutputKind(kind)] = int(n)
    figures: dict[str, list[PillarFigures]] = defaultdict(list)
    for v, pillar, n, anonymous, last in counted:
        people = anonymous + reached.get((v, pillar), 0)
        figures[v].append(PillarFigures(ServicePillar(pillar), n, people, last, outputs.get((v, pillar), {})))
    return {
        v: progress_of(v, figures.get(v, []), window_from=window_from, window_to=window_to, cases=cases.get(v))
        for v in villages
    }


_REBUILD = [
    "TRUNCATE pillars.activity_daily, pillars.output_daily, pillars.participant_last",
    """INSERT INTO pillars.activity_daily SELECT village_code, occurred_on, pillar, count(*), sum(anonymous_reached)
       FROM pillars.activities GROUP BY village_code, occurred_on, pillar""",
    """INSERT INTO pillars.output_daily SELECT village_code, occurred_on, pillar, kind, sum(value)
       FROM pillars.activity_outputs GROUP BY village_code, occurred_on, pillar, kind""",
    """INSERT INTO pillars.participant_last SELECT village_code, pillar, person_id, max(occurred_on)
       FROM pillars.activity_participants GROUP BY village_code, pillar, person_id""",
]


async def rebuild_rollups(conn: AsyncConnection) -> None:
    """Recompute the rollups from the activities (after a bulk load that bypassed `ActivityRepository.add`)."""
    for statement in _REBUILD:
        await conn.execute(text(statement))
