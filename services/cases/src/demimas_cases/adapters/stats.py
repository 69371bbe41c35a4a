"""A village's case statistics, read from the cases of that village (a village has tens of cases, not thousands:
the `cases_village` index makes this a few index reads, no rollup needed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case as when
from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_cases.adapters.tables import cases
from demimas_cases.domain.vocabulary import CaseKind

__all__ = ["VillageCaseStats", "village_stats"]

DONE = ("RESOLVED", "CLOSED")


@dataclass
class VillageCaseStats:
    open_by_kind: dict[CaseKind, int] = field(default_factory=dict)
    closed_by_kind: dict[CaseKind, int] = field(default_factory=dict)
    median_days_to_resolution: float | None = None
    overdue: int = 0


async def village_stats(conn: AsyncConnection, codes: Sequence[str], now: dt.datetime) -> dict[str, VillageCaseStats]:
    c = cases.c
    out = {code: VillageCaseStats() for code in codes}
    done = c.status.in_(DONE)
    counts = select(c.village_code, c.kind, done.label("done"), func.count()).where(c.village_code.in_(codes))
    for code, kind, is_done, n in await conn.execute(counts.group_by(c.village_code, c.kind, done)):
        target = out[code].closed_by_kind if is_done else out[code].open_by_kind
        target[CaseKind(kind)] = int(n)
    days = extract("epoch", c.resolved_at - c.opened_at) / 86400.0
    median = (
        select(c.village_code, func.percentile_cont(0.5).within_group(days))
        .where(c.village_code.in_(codes), c.resolved_at.is_not(None))
        .group_by(c.village_code)
    )
    for code, value in await conn.execute(median):
        out[code].median_days_to_resolution = round(float(value), 2)
    overdue = select(c.village_code, func.sum(when((c.next_due_at < now, 1), else_=0))).where(c.village_code.in_(codes))
    for code, n in await conn.execute(overdue.group_by(c.village_code)):
        out[code].overdue = int(n or 0)
    return out
