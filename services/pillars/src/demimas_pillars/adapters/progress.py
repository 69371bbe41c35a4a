"""Pillar progress of many villages at once (the gateway asks for a page of villages in one `_entities` call): three
grouped statements over the window, each served by its `(village_code, occurred_on)` covering index."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import ColumnElement, Table, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_pillars.adapters.tables import activities, activity_outputs, activity_participants
from demimas_pillars.domain.progress import PillarFigures, VillageProgress, progress_of
from demimas_pillars.domain.vocabulary import OutputKind, ServicePillar

__all__ = ["progress_of_villages"]


async def progress_of_villages(
    conn: AsyncConnection, villages: list[str], *, window_from: dt.date, window_to: dt.date
) -> dict[str, VillageProgress]:
    def within(t: Table) -> ColumnElement[bool]:
        return and_(t.c.village_code.in_(villages), t.c.occurred_on >= window_from, t.c.occurred_on <= window_to)

    a, o, p = activities, activity_outputs, activity_participants
    counted = await conn.execute(
        select(a.c.village_code, a.c.pillar, func.count(), func.sum(a.c.anonymous_reached), func.max(a.c.occurred_on))
        .where(within(a))
        .group_by(a.c.village_code, a.c.pillar)
    )
    registered = await conn.execute(
        select(p.c.village_code, p.c.pillar, func.count(func.distinct(p.c.person_id)))
        .where(within(p))
        .group_by(p.c.village_code, p.c.pillar)
    )
    reached = {(v, pillar): int(n) for v, pillar, n in registered}
    produced = await conn.execute(
        select(o.c.village_code, o.c.pillar, o.c.kind, func.sum(o.c.value))
        .where(within(o))
        .group_by(o.c.village_code, o.c.pillar, o.c.kind)
    )
    outputs: dict[tuple[str, str], dict[OutputKind, int]] = defaultdict(dict)
    for v, pillar, kind, total in produced:
        outputs[(v, pillar)][OutputKind(kind)] = int(total)
    figures: dict[str, list[PillarFigures]] = defaultdict(list)
    for v, pillar, n, anonymous, last in counted:
        people = int(anonymous or 0) + reached.get((v, pillar), 0)
        figures[v].append(PillarFigures(ServicePillar(pillar), int(n), people, last, outputs.get((v, pillar), {})))
    return {v: progress_of(v, figures.get(v, []), window_from=window_from, window_to=window_to) for v in villages}
