"""Thematic statuses in PostgreSQL: written and read back whole, a village's list, and the overlap query (villages
with an ACTIVE status in every programme asked for, designated or not per the `portfolios` projection of the
designation events), by village code with a keyset cursor."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.db.keyset import in_region
from demimas_common.errors import Conflict, NotFound
from demimas_pillars.adapters.tables import portfolios, thematic_statuses
from demimas_pillars.domain.portfolio import PortfolioStatus
from demimas_pillars.domain.thematic import ThematicStatus
from demimas_pillars.domain.vocabulary import ThematicProgramme, ThematicStatusState

__all__ = ["OverlapFilter", "OverlapVillage", "ThematicStatusRepository"]

ACTIVE = ThematicStatusState.ACTIVE.value
_ORDER = {p: i for i, p in enumerate(ThematicProgramme)}
t = thematic_statuses


def _status(r: Any) -> ThematicStatus:
    g = r._mapping
    return ThematicStatus(
        g["id"], g["village_code"], ThematicProgramme(g["programme"]), g["agency"], g["since"], g["reference"],
        ThematicStatusState(g["status"]), g["version"], g["updated_at"], g["ended_on"], g["end_reason"],
    )  # fmt: skip


@dataclass(frozen=True)
class OverlapFilter:
    designated: bool | None = None
    programmes: tuple[ThematicProgramme, ...] = ()
    region: str | None = None
    caller_region: str | None = None


@dataclass(frozen=True)
class OverlapVillage:
    village_code: str
    designated: bool
    programmes: tuple[ThematicProgramme, ...]
    """The village's ACTIVE programmes, all of them (not only those asked for), in their order."""


class ThematicStatusRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, s: ThematicStatus, by: str) -> None:
        """CONFLICT (`concurrent_change`) when another request made the village's ACTIVE status in the programme
        between this one's read and its write."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert(t).values(
                        id=s.id, village_code=s.village_code, programme=s.programme.value, agency=s.agency,
                        since=s.since, reference=s.reference, status=s.status.value, version=s.version,
                        ended_on=s.ended_on, end_reason=s.end_reason, updated_at=s.updated_at, updated_by=by,
                    )
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(
                f"{s.village_code} was put in {s.programme.value} by another request at the same time; read its "
                "thematicStatuses and try again",
                reason="concurrent_change",
            ) from None

    async def save(self, s: ThematicStatus, by: str) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.id == s.id)
            .values(since=s.since, reference=s.reference, status=s.status.value, version=s.version,
                    ended_on=s.ended_on, end_reason=s.end_reason, updated_at=s.updated_at, updated_by=by)
        )  # fmt: skip

    async def get(self, status_id: uuid.UUID, *, for_update: bool = False) -> ThematicStatus:
        """NotFound for an unknown id."""
        stmt = select(t).where(t.c.id == status_id)
        row = (await self._conn.execute(stmt.with_for_update() if for_update else stmt)).first()
        if row is None:
            raise NotFound(f"no thematic status {status_id}", field="id")
        return _status(row)

    async def active(self, village_code: str, programme: ThematicProgramme) -> ThematicStatus | None:
        """The village's ACTIVE status in the programme, locked until the end of the transaction."""
        stmt = (
            select(t)
            .where(t.c.village_code == village_code, t.c.programme == programme.value, t.c.status == ACTIVE)
            .with_for_update()
        )
        row = (await self._conn.execute(stmt)).first()
        return _status(row) if row is not None else None

    async def of_villages(self, codes: Sequence[str], *, include_ended: bool) -> dict[str, list[ThematicStatus]]:
        """Each village's statuses by programme (in the programmes' order), the newest first within one."""
        where: list[ColumnElement[bool]] = [t.c.village_code.in_(list(codes))]
        if not include_ended:
            where.append(t.c.status == ACTIVE)
        found: dict[str, list[ThematicStatus]] = defaultdict(list)
        for r in await self._conn.execute(select(t).where(*where)):
            found[r.village_code].append(_status(r))
        for statuses in found.values():
            statuses.sort(key=lambda s: (_ORDER[s.programme], -s.since.toordinal(), s.status != ACTIVE, str(s.id)))
        return found

    def _overlap(self, f: OverlapFilter) -> Any:
        """One row per village with an ACTIVE status matching `f`: its code, ACTIVE programmes and designation."""
        designated = func.coalesce(portfolios.c.status == PortfolioStatus.OPEN, literal(False))
        where: list[ColumnElement[bool]] = [
            t.c.status == ACTIVE, in_region(t.c.village_code, f.region), in_region(t.c.village_code, f.caller_region)
        ]  # fmt: skip
        if f.designated is not None:
            where.append(designated.is_(f.designated))
        stmt = (
            select(
                t.c.village_code.label("village_code"),
                func.array_agg(t.c.programme).label("programmes"),
                designated.label("designated"),
            )
            .select_from(t.outerjoin(portfolios, portfolios.c.village_code == t.c.village_code))
            .where(and_(true(), *where))
            .group_by(t.c.village_code, portfolios.c.status)
        )
        wanted = sorted({p.value for p in f.programmes})
        if wanted:
            hits = func.count().filter(t.c.programme.in_(wanted))
            stmt = stmt.having(hits == len(wanted))
        return stmt

    async def overlap_page(
        self, f: OverlapFilter, *, first: int, after: str | None
    ) -> tuple[list[OverlapVillage], bool]:
        """Up to `first` villages after the code `after`, by code; and whether more follow."""
        stmt = self._overlap(f)
        if after is not None:
            stmt = stmt.where(t.c.village_code > after)
        rows = list(await self._conn.execute(stmt.order_by(t.c.village_code).limit(first + 1)))
        found = [
            OverlapVillage(r.village_code, bool(r.designated),
                           tuple(sorted((ThematicProgramme(p) for p in r.programmes), key=_ORDER.__getitem__)))
            for r in rows[:first]
        ]  # fmt: skip
        return found, len(rows) > first

    async def overlap_count(self, f: OverlapFilter) -> int:
        inner = self._overlap(f).subquery()
        return int((await self._conn.execute(select(func.count()).select_from(inner))).scalar_one())
